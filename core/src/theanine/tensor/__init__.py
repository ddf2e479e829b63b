"""Tensors (`import theanine.tensor as T`): types, constructors and the op library."""

from theanine.tensor import extra_ops, nlinalg, nnet, slinalg, xlogx
from theanine.tensor.basic import (
    Alloc,
    ARange,
    MakeVector,
    Rebroadcast,
    Reshape,
    Shape,
    alloc,
    arange,
    as_tensor_variable,
    constant,
    dimshuffle,
    fill,
    flatten,
    ones,
    ones_like,
    reshape,
    shape,
    tensor_copy,
    transpose,
    zeros,
    zeros_like,
)
from theanine.tensor.constant_value import (
    EmptyConstantError,
    NotScalarConstantError,
    get_scalar_constant_value,
)
from theanine.tensor.constructors import CONSTRUCTORS, tensor
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.extra_ops import (
    CumOp,
    bincount,
    choose,
    cov,
    cumprod,
    cumsum,
    diff,
    fill_diagonal,
    fill_diagonal_offset,
    iround,
    ptp,
    ravel_multi_index,
    unravel_index,
)
from theanine.tensor.join import (
    Join,
    concatenate,
    horizontal_stack,
    join,
    roll,
    stack,
    vertical_stack,
)
from theanine.tensor.locate import (
    diagonal,
    flatnonzero,
    nonzero,
    nonzero_values,
)
from theanine.tensor.math import (
    Argmax,
    BatchedDot,
    Dot,
    LogSumExp,
    MatMul,
    Reduce,
    TensorDot,
    abs,
    abs_,
    absolute,
    add,
    all,
    and_,
    angle,
    any,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    argmax,
    argmin,
    batched_dot,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cast,
    ceil,
    clip,
    complex,
    conj,
    conjugate,
    cos,
    cosh,
    digamma,
    dot,
    eq,
    equal,
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    gamma,
    gammaln,
    ge,
    greater,
    greater_equal,
    gt,
    imag,
    int_div,
    inv,
    invert,
    isinf,
    isnan,
    le,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logsumexp,
    lt,
    matmul,
    max,
    max_and_argmax,
    maximum,
    mean,
    min,
    minimum,
    mod,
    mul,
    multiply,
    neg,
    negative,
    neq,
    not_equal,
    or_,
    outer,
    pow,
    power,
    prod,
    psi,
    real,
    reciprocal,
    remainder,
    round,
    round_half_away_from_zero,
    round_half_to_even,
    sgn,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqr,
    sqrt,
    square,
    std,
    sub,
    subtract,
    sum,
    switch,
    tan,
    tanh,
    tensordot,
    tetra_gamma,
    tri_gamma,
    true_div,
    true_divide,
    trunc,
    var,
    where,
    xor,
)
from theanine.tensor.nlinalg import diag, trace
from theanine.tensor.shape_ops import (
    Eye,
    Repeat,
    SpecifyShape,
    Split,
    addbroadcast,
    expand_dims,
    eye,
    identity_like,
    patternbroadcast,
    repeat,
    shape_padaxis,
    shape_padleft,
    shape_padright,
    specify_shape,
    split,
    squeeze,
    swapaxes,
    tile,
    tri,
    tril,
    triu,
    unbroadcast,
)
from theanine.tensor.sharedvar import shared as _shared  # Theano's `T._shared`
from theanine.tensor.sort import ArgSort, Sort, argsort, sort
from theanine.tensor.subtensor import (
    AdvancedSubtensor,
    IncSubtensor,
    Subtensor,
    inc_subtensor,
    set_subtensor,
    take,
)
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorConstant, TensorVariable

globals().update(CONSTRUCTORS)

# Theano's dtype families (`x.dtype in T.float_dtypes`)
int_dtypes = ["int8", "int16", "int32", "int64"]
uint_dtypes = ["uint8", "uint16", "uint32", "uint64"]
integer_dtypes = int_dtypes + uint_dtypes
discrete_dtypes = ["bool"] + integer_dtypes
float_dtypes = ["float16", "float32", "float64"]
complex_dtypes = ["complex64", "complex128"]
continuous_dtypes = float_dtypes + complex_dtypes
all_dtypes = discrete_dtypes + continuous_dtypes


def __getattr__(name: str):
    # `T.grad` and friends live in theanine.gradient; imported on first use.
    if name in ("grad", "jacobian", "hessian", "verify_grad", "Rop", "Lop"):
        from theanine import gradient

        return getattr(gradient, name)
    if name in ("shared_randomstreams", "random"):  # `T.shared_randomstreams.RandomStreams`
        from importlib import import_module

        return import_module(f"theanine.tensor.{name}")
    raise AttributeError(f"module 'theanine.tensor' has no attribute {name!r}")


__all__ = [n for n in dir() if not n.startswith("_")]
