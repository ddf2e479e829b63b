"""Tensor math: elementwise functions, reductions and argmax; the products live in
`tensor.products` and are re-exported here."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.scalar import basic as ps
from theanine.tensor.basic import alloc, as_tensor_variable, constant
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def _elemwise(scalar_op: ps.ScalarOp) -> Elemwise:
    return Elemwise(scalar_op)


# Elementwise ------------------------------------------------------------------------------
#: `add(a, b, c)` and `mul(...)` are n-ary (`Elemwise.__call__` folds them into binary nodes)
add = _elemwise(ps.add)
sub = _elemwise(ps.sub)
mul = _elemwise(ps.mul)
true_div = _elemwise(ps.true_div)
int_div = _elemwise(ps.int_div)
mod = _elemwise(ps.mod)
pow = _elemwise(ps.pow)
maximum = _elemwise(ps.maximum)
minimum = _elemwise(ps.minimum)
neg = _elemwise(ps.neg)
abs = _elemwise(ps.abs_)
abs_ = abs
sgn = _elemwise(ps.sgn)
sign = sgn
exp = _elemwise(ps.exp)
log = _elemwise(ps.log)
log1p = _elemwise(ps.log1p)
expm1 = _elemwise(ps.expm1)
sqrt = _elemwise(ps.sqrt)
sqr = _elemwise(ps.sqr)
square = sqr
tanh = _elemwise(ps.tanh)
sin = _elemwise(ps.sin)
cos = _elemwise(ps.cos)
sigmoid = _elemwise(ps.sigmoid)
softplus = _elemwise(ps.softplus)
relu_op = _elemwise(ps.relu)
floor = _elemwise(ps.floor)
ceil = _elemwise(ps.ceil)
trunc = _elemwise(ps.trunc)
round_half_to_even = _elemwise(ps.round_half_to_even)
round_half_away_from_zero = _elemwise(ps.round_half_away_from_zero)
inv = _elemwise(ps.inv)
exp2 = _elemwise(ps.exp2)
log2 = _elemwise(ps.log2)
log10 = _elemwise(ps.log10)
tan = _elemwise(ps.tan)
arcsin = _elemwise(ps.arcsin)
arccos = _elemwise(ps.arccos)
arctan = _elemwise(ps.arctan)
arctan2 = _elemwise(ps.arctan2)
sinh = _elemwise(ps.sinh)
cosh = _elemwise(ps.cosh)
arcsinh = _elemwise(ps.arcsinh)
arccosh = _elemwise(ps.arccosh)
arctanh = _elemwise(ps.arctanh)
erf = _elemwise(ps.erf)
erfc = _elemwise(ps.erfc)
erfinv = _elemwise(ps.erfinv)
gamma = _elemwise(ps.gamma)
gammaln = _elemwise(ps.gammaln)
psi = _elemwise(ps.psi)
tri_gamma = _elemwise(ps.tri_gamma)
tetra_gamma = _elemwise(ps.tetra_gamma)
isnan = _elemwise(ps.isnan)
isinf = _elemwise(ps.isinf)
real = _elemwise(ps.real)
imag = _elemwise(ps.imag)
conj = _elemwise(ps.conj)
angle = _elemwise(ps.angle)
_complex = _elemwise(ps.complex_)
lt = _elemwise(ps.lt)
gt = _elemwise(ps.gt)
le = _elemwise(ps.le)
ge = _elemwise(ps.ge)
eq = _elemwise(ps.eq)
neq = _elemwise(ps.neq)
and_ = _elemwise(ps.and_)
or_ = _elemwise(ps.or_)
xor = _elemwise(ps.xor)
invert = _elemwise(ps.invert)
_switch = _elemwise(ps.switch)


def switch(cond: Any, ift: Any, iff: Any) -> TensorVariable:
    """Elementwise `ift if cond else iff` (NumPy `where`)."""
    return _switch(cond, ift, iff)


where = switch


def round(a: Any, mode: str | None = None) -> TensorVariable:
    """Round to the nearest integer value; `mode` says how ties go.

    Theano's default is "half_away_from_zero" (C's `round`); "half_to_even" is NumPy's
    `np.round`.
    """
    mode = mode or "half_away_from_zero"
    if mode == "half_away_from_zero":
        return round_half_away_from_zero(a)
    if mode == "half_to_even":
        return round_half_to_even(a)
    raise ValueError(f"round: mode must be 'half_away_from_zero' or 'half_to_even', got "
                     f"{mode!r}")


def complex(real_part: Any, imag_part: Any) -> TensorVariable:
    """The complex tensor real_part + i * imag_part (both real)."""
    return _complex(real_part, imag_part)


# NumPy spellings of Theano's names
true_divide = true_div
floor_divide = int_div
subtract = sub
multiply = mul
negative = neg
power = pow
remainder = mod
absolute = abs
reciprocal = inv
conjugate = conj
less = lt
greater = gt
less_equal = le
greater_equal = ge
equal = eq
not_equal = neq
bitwise_and = and_
bitwise_or = or_
bitwise_xor = xor
bitwise_not = invert
digamma = psi


def cast(x: Any, dtype: str) -> TensorVariable:
    """`x` converted to `dtype` (no node if it already has it)."""
    x = as_tensor_variable(x)
    dtype = str(np.dtype(dtype)) if dtype != "floatX" else _floatx()
    if x.dtype == dtype:
        return x
    return Elemwise(ps.Cast(dtype))(x)


def _floatx() -> str:
    from theanine.config import config

    return config.floatX


def clip(x: Any, a_min: Any, a_max: Any) -> TensorVariable:
    return minimum(maximum(x, a_min), a_max)


# Reductions -------------------------------------------------------------------------------
def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Variable):
        raise TypeError("reduction axis must be a Python int or tuple of ints, not a variable")
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of {ndim} dimension(s)")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def _keep_dims(x: TensorVariable, reduced: TensorVariable, axes: Sequence[int]) -> TensorVariable:
    """Re-insert the reduced `axes` as broadcastable dimensions."""
    order: list[int | str] = []
    k = 0
    for d in range(x.ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    return DimShuffle(reduced.broadcastable, order)(reduced)


def default_acc_dtype(kind: str, dtype: str) -> str:
    """The dtype a reduction accumulates in when none is asked for: Theano's `acc_dtype`
    (float16 sums in float32, float32 in float64, complex64 in complex128) for sum/prod,
    the result's dtype for the others."""
    if kind not in ("sum", "prod"):
        return dtype
    return {"float16": "float32", "float32": "float64", "complex64": "complex128"}.get(dtype, dtype)


class Reduce(Op):
    """Reduce over `axis` with a NumPy ufunc (`sum prod max min all any`); sum and prod
    accumulate in `acc_dtype` (default: `default_acc_dtype`) and round to `dtype` once."""

    __props__ = ("kind", "axis", "dtype", "acc_dtype")
    _UFUNCS = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
               "all": np.logical_and, "any": np.logical_or}

    def __init__(self, kind: str, axis: tuple[int, ...], dtype: str, acc_dtype: str | None = None):
        self.kind = kind
        self.axis = tuple(axis)
        self.dtype = dtype
        self.acc_dtype = str(np.dtype(acc_dtype)) if acc_dtype else default_acc_dtype(kind, dtype)
        self.ufunc = self._UFUNCS[kind]

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if builtins.any(a >= x.ndim for a in self.axis):
            raise ValueError(f"{self} applied to {x}, which has {x.ndim} dimension(s)")
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in self.axis)
        return Apply(self, [x], [TensorType(self.dtype, bcast)()])

    def _reduce(self, x: np.ndarray) -> np.ndarray:
        if self.kind in ("sum", "prod"):
            r = self.ufunc.reduce(x, axis=self.axis, dtype=self.acc_dtype)
        elif self.kind in ("max", "min"):
            try:
                r = self.ufunc.reduce(x, axis=self.axis)
            except ValueError:  # NumPy refuses to reduce an empty axis without an identity
                raise ValueError(f"{self.kind} over axis {list(self.axis)} of an empty array "
                                 f"(shape {x.shape}) is undefined") from None
        else:
            r = self.ufunc.reduce(x, axis=self.axis)
        return np.asarray(r, dtype=self.dtype)

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self._reduce(inputs[0])

    def python_thunk(self, node):
        reduce = self._reduce
        return lambda x: (reduce(x),)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc" or self.kind in ("all", "any"):
            return [None]
        gz_full = _keep_dims(x, gz, self.axis)
        if self.kind == "sum":
            g = gz_full
            if g.broadcastable != x.broadcastable:
                g = alloc(g, *[x.shape[d] for d in range(x.ndim)])
        elif self.kind == "prod":
            g = gz_full * self._prod_grad(x)
        else:  # max / min: the gradient goes to every position holding the extremum
            g = gz_full * eq(x, _keep_dims(x, outputs[0], self.axis))
        return [cast(g, x.dtype)]

    def _prod_grad(self, x: TensorVariable) -> TensorVariable:
        """d prod / d x_i = the product of the other entries, exact when x has zeros.

        Without zeros it is prod / x_i; at the only zero of a group it is the product of the
        nonzero entries; everywhere else in a group with a zero it is 0.
        """
        is_zero = eq(x, 0)
        n_zeros = _keep_dims(x, Reduce("sum", self.axis, "int64")(is_zero), self.axis)
        safe_x = switch(is_zero, 1, x)
        nonzero_prod = _keep_dims(x, Reduce("prod", self.axis, x.dtype)(safe_x), self.axis)
        at_zero = switch(eq(n_zeros, 1), nonzero_prod, 0)
        elsewhere = switch(eq(n_zeros, 0), nonzero_prod / safe_x, 0)
        return switch(is_zero, at_zero, elsewhere)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d not in self.axis)]


_DISCRETE_RESULT = {"bool": "int64", "int8": "int64", "int16": "int64", "int32": "int64",
                    "uint8": "uint64", "uint16": "uint64", "uint32": "uint64"}


def _accumulator(kind: str, x: TensorVariable, dtype: str, acc_dtype: str | None) -> str:
    """The dtype sum/prod accumulate in.  Default: 64-bit for integers, Theano's widening for
    floats (never less than the result holds).  One asked for is checked as Theano checked
    it: a float accumulator for integer input is fine; otherwise it must hold every input
    value."""
    if kind not in ("sum", "prod"):
        return dtype
    if acc_dtype is None:
        if x.dtype in _DISCRETE_RESULT:
            return _DISCRETE_RESULT[x.dtype]
        return str(np.promote_types(default_acc_dtype(kind, x.dtype),
                                    default_acc_dtype(kind, dtype)))
    acc = str(np.dtype(acc_dtype))
    if (acc[0] in "fc" and x.dtype[0] not in "fc") or str(np.promote_types(x.dtype, acc)) == acc:
        return acc
    raise TypeError(f"{kind}({x}): acc_dtype {acc} cannot hold the values of {x} ({x.type}) "
                    f"without losing precision; pass an acc_dtype at least as wide as {x.dtype}")


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool, dtype: str | None = None,
            acc_dtype: str | None = None) -> TensorVariable:
    """`dtype` is the result's dtype, `acc_dtype` the one sum/prod accumulate in (Theano's
    meaning of both)."""
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    if dtype is None:
        if kind in ("sum", "prod"):
            dtype = _DISCRETE_RESULT.get(x.dtype, x.dtype)
        elif kind in ("all", "any"):
            dtype = "bool"
        else:
            dtype = x.dtype
    dtype = str(np.dtype(dtype))
    acc = _accumulator(kind, x, dtype, acc_dtype)
    out = Reduce(kind, axes, dtype, acc)(x)
    return _keep_dims(x, out, axes) if keepdims else out


def sum(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
        acc_dtype: str | None = None) -> TensorVariable:
    """Sum over `axis`; the result has `dtype` (default: the input's, 64-bit for integers),
    the accumulator `acc_dtype` (default: float64 for float32 input, float32 for float16)."""
    return _reduce("sum", x, axis, keepdims, dtype, acc_dtype)


def prod(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None) -> TensorVariable:
    """Product over `axis`, with `sum`'s `dtype` and `acc_dtype`."""
    return _reduce("prod", x, axis, keepdims, dtype, acc_dtype)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("min", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("all", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("any", x, axis, keepdims)


def mean(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None) -> TensorVariable:
    """Arithmetic mean.  Integer inputs give float64 (as in NumPy); float inputs keep their
    dtype but sum in a wider accumulator (`sum`'s `acc_dtype`); `dtype` is the result's."""
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    if dtype is not None:
        out_dtype = str(np.dtype(dtype))
    else:
        out_dtype = x.dtype if x.dtype[0] in "fc" else "float64"
    if out_dtype[0] not in "fc":
        raise TypeError(f"mean({x}): dtype {out_dtype} is not a float or complex dtype")
    if acc_dtype is None and x.dtype[0] not in "fc":
        acc_dtype = "float64"  # as NumPy: integers are averaged in float64, never overflow
    total = sum(x, axis=axes, dtype=out_dtype, keepdims=keepdims, acc_dtype=acc_dtype)
    count = constant(1, dtype="int64")
    for a in axes:
        count = count * x.shape[a]
    return total / cast(count, out_dtype)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> TensorVariable:
    """Variance, mean(|x - mean(x)|**2) * n / (n - ddof), with NumPy's dtypes (integers give
    float64, complex gives the matching real dtype)."""
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    dev = x - mean(x, axis=axes, keepdims=True)
    sq = sqr(abs(dev)) if dev.dtype[0] == "c" else sqr(dev)
    total = sum(sq, axis=axes, keepdims=keepdims)
    count = constant(1, dtype="int64")
    for a in axes:
        count = count * x.shape[a]
    return total / cast(maximum(count - ddof, 0), total.dtype)  # as NumPy: n - ddof <= 0: inf/nan


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> TensorVariable:
    """Standard deviation: sqrt(var(x, axis, ddof, keepdims)).

    Where the variance is exactly 0 the gradient is 0 (std's minimum), not 0 * inf = NaN:
    whether a constant's variance rounds to 0 or to 1e-33 depends on the summation order,
    and the gradient must not flip between 0 and NaN with it."""
    v = var(x, axis=axis, ddof=ddof, keepdims=keepdims)
    spread = neq(v, 0)  # NaN stays NaN
    return switch(spread, sqrt(switch(spread, v, 1)), 0)


class LogSumExp(Op):
    """log(sum(exp(x))) over `axis`, computed without overflow (SciPy's `logsumexp`): the
    reduction is exact for large inputs and gives -inf over empty axes."""

    __props__ = ("axis",)

    def __init__(self, axis: tuple[int, ...]):
        self.axis = tuple(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if builtins.any(a >= x.ndim for a in self.axis):
            raise ValueError(f"logsumexp over axis {list(self.axis)} of {x}, which has "
                             f"{x.ndim} dimension(s)")
        if x.dtype[0] not in "fc":
            x = cast(x, "float64")
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in self.axis)
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        from scipy.special import logsumexp

        (x,) = inputs
        r = logsumexp(x, axis=self.axis) if self.axis else x.copy()  # over no axis: x
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].type.numpy_dtype)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if x.dtype[0] != "f":
            return [None]
        # d/dx logsumexp = softmax(x) along the reduced axes
        out = _keep_dims(x, outputs[0], self.axis)
        return [_keep_dims(x, output_grads[0], self.axis) * exp(x - out)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d not in self.axis)]


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """log(sum(exp(x), axis)), stable for large x (as `scipy.special.logsumexp`)."""
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    out = LogSumExp(axes)(x)
    return _keep_dims(x, out, axes) if keepdims else out


class Argmax(Op):
    """Index of the maximum (or minimum, `kind='argmin'`) along one axis or the flattened
    array (`axis=None`)."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: int | None):
        self.kind = kind
        self.axis = axis
        self._fn = np.argmax if kind == "argmax" else np.argmin

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is None:
            bcast: tuple[bool, ...] = ()
        else:
            bcast = tuple(b for d, b in enumerate(x.broadcastable) if d != self.axis)
        return Apply(self, [x], [TensorType("int64", bcast)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.size == 0:
            raise ValueError(f"{self.kind} of an empty array (shape {x.shape}) is undefined")
        output_storage[0][0] = np.asarray(self._fn(x, axis=self.axis), dtype="int64")

    def grad(self, inputs, output_grads):
        return [None]

    def infer_shape(self, fgraph, node, input_shapes):
        if self.axis is None:
            return [()]
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d != self.axis)]


def _arg(kind: str, x: Any, axis: Any, keepdims: bool) -> TensorVariable:
    x = as_tensor_variable(x)
    if axis is None:
        out = Argmax(kind, None)(x)
        if keepdims:
            out = DimShuffle((), ["x"] * x.ndim)(out)
        return out
    axes = _normalize_axis(axis, x.ndim)
    if len(axes) == 1:
        out = Argmax(kind, axes[0])(x)
    elif len(axes) == x.ndim:
        out = Argmax(kind, None)(x)  # the index into the flattened (C-order) array
    else:
        out = Argmax(kind, x.ndim - len(axes))(_merge_trailing(x, axes))
    return _keep_dims(x, out, axes) if keepdims else out


def _merge_trailing(x: TensorVariable, axes: tuple[int, ...]) -> TensorVariable:
    """x with the `axes` moved last and merged into one (C order), as Theano's argmax over
    several axes indexed them."""
    from theanine.tensor.basic import reshape, stack

    keep = [d for d in range(x.ndim) if d not in axes]
    moved = DimShuffle(x.broadcastable, keep + list(axes))(x)
    return reshape(moved, stack([x.shape[d] for d in keep] + [constant(-1, dtype="int64")]),
                   ndim=len(keep) + 1)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Index of the maximum along `axis`: None (the flattened array), an int, or several
    axes (Theano's list form: the index into those axes flattened in C order)."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Index of the minimum; `axis` as in `argmax`."""
    return _arg("argmin", x, axis, keepdims)


def max_and_argmax(x: Any, axis: Any = None, keepdims: bool = False
                   ) -> list[TensorVariable]:
    """[max(x, axis), argmax(x, axis)], Theano's pair (`axis` as in `argmax`)."""
    return [max(x, axis=axis, keepdims=keepdims), argmax(x, axis=axis, keepdims=keepdims)]


# Products ---------------------------------------------------------------------------------
def _cj(v: TensorVariable) -> TensorVariable:
    """conj(v) for complex v (Theano's convention for complex gradients), else v itself."""
    return conj(v) if v.dtype[0] == "c" else v


def _grad_for(g: TensorVariable, x: TensorVariable) -> TensorVariable | None:
    """`g` as the gradient of `x`: cast to x's dtype, None for integer x."""
    return cast(g, x.dtype) if x.dtype[0] in "fc" else None


# the products, defined in their own module (which imports this one's functions); re-exported
from theanine.tensor.products import (  # noqa: E402, F401
    BatchedDot,
    Dot,
    MatMul,
    TensorDot,
    batched_dot,
    dot,
    matmul,
    outer,
    tensordot,
)
