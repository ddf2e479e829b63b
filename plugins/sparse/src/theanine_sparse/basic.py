"""Structural sparse Ops: a matrix's components and back (`csm_properties`, `CSM`), dense and
sparse conversions, format changes, transpose and cast.

Gradients with respect to a sparse variable are *structured* unless an Op says otherwise: they
live on the stored entries of that variable (Theano's convention), which is also what a
numerical check can perturb.  `csm_properties(x)` exposes the stored values as a dense vector
so that the elementwise functions of `theanine_sparse.math` are tensor graphs on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

import theanine.tensor as T
from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.type import TensorType
from theanine_sparse.type import FORMATS, SparseType, as_sparse_variable

_MATRIX = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}
_INT32_MAX = np.iinfo(np.int32).max


class SparseOp(Op):
    """An Op with a sparse output.  Constant folding would wrap its value as a tensor
    constant, so such Ops are not folded."""

    foldable = False


def structure(value: Any) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of each stored entry of a CSR or CSC value, in storage order."""
    major = np.repeat(np.arange(len(value.indptr) - 1), np.diff(value.indptr))
    return (major, value.indices) if value.format == "csr" else (value.indices, major)


def _check_format(format: str) -> str:
    if format not in FORMATS:
        raise ValueError(f"sparse format must be one of {FORMATS}, got {format!r}")
    return format


class CSMProperties(Op):
    """(data, indices, indptr, shape) of a CSR/CSC matrix: its stored values, their minor
    indices (int32), the offsets of each major row/column (int32) and its shape (int64)."""

    view_map = {0: [0], 1: [0], 2: [0]}

    def make_node(self, x: Any) -> Apply:
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (False,))(), T.ivector(), T.ivector(),
                                 T.lvector()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if max(x.shape) > _INT32_MAX or x.nnz > _INT32_MAX:
            raise ValueError(f"csm_properties: a sparse matrix of shape {x.shape} with "
                             f"{x.nnz} entries does not fit 32-bit indices")
        output_storage[0][0] = x.data
        output_storage[1][0] = x.indices.astype(np.int32, copy=False)
        output_storage[2][0] = x.indptr.astype(np.int32, copy=False)
        output_storage[3][0] = np.array(x.shape, dtype="int64")

    def grad(self, inputs, output_grads):
        (x,) = inputs
        data, indices, indptr, shape = self(x)
        g_data = output_grads[0] if output_grads[0] is not None else T.zeros_like(data)
        return [CSM(x.format)(g_data, indices, indptr, shape)]


csm_properties = CSMProperties()


def csm_data(x: Any) -> Variable:
    return csm_properties(as_sparse_variable(x))[0]


def csm_indices(x: Any) -> Variable:
    return csm_properties(as_sparse_variable(x))[1]


def csm_indptr(x: Any) -> Variable:
    return csm_properties(as_sparse_variable(x))[2]


def csm_shape(x: Any) -> Variable:
    return csm_properties(as_sparse_variable(x))[3]


def _int_vector(v: Any, what: str, op: str) -> Variable:
    v = T.as_tensor_variable(v)
    if v.ndim != 1 or v.dtype[0] not in "iu":
        raise TypeError(f"{op}: {what} must be an integer vector, got {v} ({v.type})")
    return v


class CSM(SparseOp):
    """A CSR or CSC matrix from its components (Theano's `CSR`/`CSC`); the inverse of
    `csm_properties`.  Its gradient with respect to `data` reads the output's gradient at
    the positions the components describe."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = _check_format(format)

    def make_node(self, data: Any, indices: Any, indptr: Any, shape: Any) -> Apply:
        data = T.as_tensor_variable(data)
        if data.ndim != 1:
            raise TypeError(f"CSM: data must be a vector, got {data} ({data.type})")
        ints = [_int_vector(v, what, "CSM") for v, what in
                ((indices, "indices"), (indptr, "indptr"), (shape, "shape"))]
        return Apply(self, [data, *ints], [SparseType(self.format, data.dtype)()])

    def perform(self, node, inputs, output_storage):
        data, indices, indptr, shape = inputs
        if len(shape) != 2 or len(data) != len(indices):
            raise ValueError(f"CSM: got {len(data)} values for {len(indices)} indices and "
                             f"shape {tuple(shape)}; expected as many values as indices and a "
                             "shape of length 2")
        output_storage[0][0] = _MATRIX[self.format](
            (data, indices, indptr), shape=tuple(int(s) for s in shape), copy=True)

    def grad(self, inputs, output_grads):
        _, indices, indptr, shape = inputs
        return [CSMGrad(self.format)(output_grads[0], indices, indptr, shape), None, None, None]


CSR = CSM("csr")
CSC = CSM("csc")


class CSMGrad(Op):
    """The values of sparse `g` at the stored positions of a matrix whose components are
    (indices, indptr, shape) (0 where `g` stores nothing)."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = _check_format(format)

    def make_node(self, g: Any, indices: Any, indptr: Any, shape: Any) -> Apply:
        g = as_sparse_variable(g)
        ints = [_int_vector(v, what, "CSMGrad") for v, what in
                ((indices, "indices"), (indptr, "indptr"), (shape, "shape"))]
        return Apply(self, [g, *ints], [TensorType(g.dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        g, indices, indptr, shape = inputs
        frame = _MATRIX[self.format]((np.zeros(len(indices)), indices, indptr),
                                     shape=tuple(int(s) for s in shape))
        rows, cols = structure(frame)
        canonical = g.tocsr(copy=True)
        canonical.sum_duplicates()
        output_storage[0][0] = np.asarray(canonical[rows, cols], dtype=g.dtype).reshape(-1)

    def grad(self, inputs, output_grads):
        g, indices, indptr, shape = inputs
        scattered = CSM(self.format)(output_grads[0], indices, indptr, shape)
        return [to_format(scattered, g.format), None, None, None]


class DenseFromSparse(Op):
    """The dense matrix of a sparse one.  With `sparse_grad` (Theano's default), the gradient
    is structured: the output gradient read at the stored entries only."""

    __props__ = ("sparse_grad",)

    def __init__(self, sparse_grad: bool = True):
        self.sparse_grad = bool(sparse_grad)

    def make_node(self, x: Any) -> Apply:
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].toarray()

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if self.sparse_grad:
            from theanine_sparse.math import mul_sd

            return [mul_sd(sp_ones_like(x), gz)]
        return [SparseFromDense(x.format)(gz)]

    def infer_shape(self, fgraph, node, input_shapes):
        shape = csm_shape(node.inputs[0])
        return [(shape[0], shape[1])]


dense_from_sparse = DenseFromSparse()


class SparseFromDense(SparseOp):
    """The CSR or CSC matrix of a dense matrix's nonzero entries."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = _check_format(format)

    def make_node(self, x: Any) -> Apply:
        x = T.as_tensor_variable(x)
        if x.ndim != 2:
            raise TypeError(f"{self.format}_from_dense takes a matrix, got {x} ({x.type})")
        return Apply(self, [x], [SparseType(self.format, x.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _MATRIX[self.format](inputs[0])

    def grad(self, inputs, output_grads):
        return [DenseFromSparse(sparse_grad=False)(output_grads[0])]


csr_from_dense = SparseFromDense("csr")
csc_from_dense = SparseFromDense("csc")


class ToFormat(SparseOp):
    """The same matrix stored in the other format."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = _check_format(format)

    def make_node(self, x: Any) -> Apply:
        x = as_sparse_variable(x)
        return Apply(self, [x], [SparseType(self.format, x.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _MATRIX[self.format](inputs[0], copy=True)

    def grad(self, inputs, output_grads):
        return [to_format(output_grads[0], inputs[0].format)]


def to_format(x: Any, format: str) -> Variable:
    """`x` stored as `format` (x itself when it already is)."""
    x = as_sparse_variable(x)
    return x if x.format == format else ToFormat(format)(x)


class Transpose(SparseOp):
    """The transpose: a CSR matrix's transpose is CSC with the same arrays, and back."""

    def make_node(self, x: Any) -> Apply:
        x = as_sparse_variable(x)
        other = "csc" if x.format == "csr" else "csr"
        return Apply(self, [x], [SparseType(other, x.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].transpose(copy=True)

    def grad(self, inputs, output_grads):
        return [transpose(output_grads[0])]


transpose = Transpose()


class Cast(SparseOp):
    """The matrix with its values converted to `dtype`."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, x: Any) -> Apply:
        x = as_sparse_variable(x)
        return Apply(self, [x], [SparseType(x.format, self.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].astype(self.dtype)

    def grad(self, inputs, output_grads):
        (x,) = inputs
        if x.dtype[0] not in "fc":
            return [None]
        return [cast(output_grads[0], x.dtype)]


def cast(x: Any, dtype: str) -> Variable:
    """`x` with values of `dtype` (x itself when it has them)."""
    x = as_sparse_variable(x)
    return x if x.dtype == str(np.dtype(dtype)) else Cast(dtype)(x)


def sp_ones_like(x: Any) -> Variable:
    """A matrix with x's structure and 1 at every stored entry."""
    x = as_sparse_variable(x)
    data, indices, indptr, shape = csm_properties(x)
    return CSM(x.format)(T.ones_like(data), indices, indptr, shape)
