"""theanine-sparse: Theano's `theano.sparse` for theanine (import it as `theanine.sparse`).

Sparse variables hold scipy.sparse CSR or CSC matrices.  See the README for the API and the
gradient conventions (structured vs full).
"""

from theanine_sparse.basic import (
    CSC,
    CSM,
    CSR,
    Cast,
    CSMProperties,
    DenseFromSparse,
    SparseFromDense,
    ToFormat,
    Transpose,
    cast,
    csc_from_dense,
    csm_data,
    csm_indices,
    csm_indptr,
    csm_properties,
    csm_shape,
    csr_from_dense,
    dense_from_sparse,
    sp_ones_like,
    to_format,
    transpose,
)
from theanine_sparse.math import (
    SpSum,
    abs_,
    add,
    arcsin,
    arcsinh,
    arctan,
    arctanh,
    ceil,
    expm1,
    floor,
    log1p,
    mul,
    neg,
    sgn,
    sin,
    sinh,
    sp_sum,
    sqr,
    sqrt,
    structured_exp,
    structured_log,
    structured_pow,
    structured_sigmoid,
    sub,
    tan,
    tanh,
    trunc,
)
from theanine_sparse.products import SparseDenseProduct, SparseDot, dot, structured_dot
from theanine_sparse.type import (
    SparseConstant,
    SparseSharedVariable,
    SparseType,
    SparseVariable,
    as_sparse_or_tensor_variable,
    as_sparse_variable,
    constant,
    csc_matrix,
    csr_matrix,
    matrix,
)

as_sparse = as_sparse_variable
true_dot = dot

__all__ = [
    "CSC", "CSM", "CSMProperties", "CSR", "Cast", "DenseFromSparse", "SpSum",
    "SparseConstant", "SparseDenseProduct", "SparseDot", "SparseFromDense",
    "SparseSharedVariable", "SparseType", "SparseVariable", "ToFormat", "Transpose", "abs_",
    "add", "arcsin", "arcsinh", "arctan", "arctanh", "as_sparse", "as_sparse_or_tensor_variable",
    "as_sparse_variable", "cast", "ceil", "constant", "csc_from_dense", "csc_matrix",
    "csm_data", "csm_indices", "csm_indptr", "csm_properties", "csm_shape", "csr_from_dense",
    "csr_matrix", "dense_from_sparse", "dot", "expm1", "floor", "log1p", "matrix", "mul",
    "neg", "sgn", "sin", "sinh", "sp_ones_like", "sp_sum", "sqr", "sqrt", "structured_dot",
    "structured_exp", "structured_log", "structured_pow", "structured_sigmoid", "sub", "tan",
    "tanh", "to_format", "transpose", "true_dot", "trunc",
]
