"""Tensors (`import theanine.tensor as T`): types, constructors and the op library."""

from theanine.tensor import nnet
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
    transpose,
    zeros,
    zeros_like,
)
from theanine.tensor.constructors import CONSTRUCTORS, tensor
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.join import Join, concatenate, join, stack
from theanine.tensor.math import (
    Argmax,
    BatchedDot,
    Dot,
    Reduce,
    abs,
    abs_,
    add,
    all,
    and_,
    any,
    argmax,
    argmin,
    batched_dot,
    cast,
    ceil,
    clip,
    cos,
    dot,
    eq,
    exp,
    expm1,
    floor,
    ge,
    gt,
    int_div,
    invert,
    le,
    log,
    log1p,
    lt,
    max,
    maximum,
    mean,
    min,
    minimum,
    mod,
    mul,
    neg,
    neq,
    or_,
    outer,
    pow,
    prod,
    sgn,
    sigmoid,
    sign,
    sin,
    softplus,
    sqr,
    sqrt,
    square,
    sub,
    sum,
    switch,
    tanh,
    true_div,
    where,
    xor,
)
from theanine.tensor.shape_ops import (
    Eye,
    Repeat,
    Split,
    expand_dims,
    eye,
    identity_like,
    repeat,
    shape_padaxis,
    shape_padleft,
    shape_padright,
    split,
    squeeze,
    swapaxes,
    tile,
)
from theanine.tensor.sort import ArgSort, Sort, argsort, sort
from theanine.tensor.subtensor import (
    IncSubtensor,
    Subtensor,
    inc_subtensor,
    set_subtensor,
    take,
)
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorConstant, TensorVariable

globals().update(CONSTRUCTORS)


def __getattr__(name: str):
    # `T.grad` and friends live in theanine.gradient; imported on first use.
    if name in ("grad", "jacobian", "hessian", "verify_grad"):
        from theanine import gradient

        return getattr(gradient, name)
    raise AttributeError(f"module 'theanine.tensor' has no attribute {name!r}")


__all__ = [n for n in dir() if not n.startswith("_")]
