"""Scalar operations: the one source of truth for elementwise math.

Each `ScalarOp` carries three things every backend reads:
- `impl`: a NumPy (u)func applied to whole arrays by the Python backend,
- `c_expr`: a C-family expression template (`{0}`, `{1}` are the operands, the only fields) that
  the C, CUDA and OpenCL renderers turn into loop bodies; the helpers it calls (`sgn`,
  `floor_div`, `py_mod`, `cast_<dtype>`, ...) are defined by each renderer,
- `grad(inputs, outputs, output_grads)`: the gradient, written with tensor-level functions on the
  (already broadcast) tensor variables of the enclosing `Elemwise` node.

`theanine.tensor.elemwise.Elemwise` lifts a ScalarOp to tensors with broadcasting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _tm():
    """The tensor math module (imported late: tensor depends on scalar, not the reverse)."""
    from theanine.tensor import math

    return math


class ScalarOp:
    """An elementwise operation on scalars. Identity: class plus `__props__`."""

    __props__: tuple[str, ...] = ("name",)
    nin: int = 1
    nout: int = 1
    #: infix symbol and precedence for pretty printing (None: printed as a call)
    symbol: str | None = None
    precedence: int = 0
    c_expr: str | None = None
    #: the inputs whose dtypes Python literals adopt (None: all of them)
    weak_literal_inputs: tuple[int, ...] | None = None
    #: whether a literal that does not fit the adopted dtype keeps its own (exact) dtype
    exact_literals: bool = False

    def __init__(self, name: str, impl: Callable[..., Any], c_expr: str | None = None,
                 grad: Callable[..., list] | None = None, nin: int = 1, symbol: str | None = None,
                 precedence: int = 0):
        self.name = name
        self.impl = impl
        self.nin = nin
        self.c_expr = c_expr
        self._grad = grad
        self.symbol = symbol
        self.precedence = precedence
        self.differentiable = grad is not None

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def _key(self) -> tuple:
        key = self.__dict__.get("_cached_key")
        if key is None:
            key = self.__dict__["_cached_key"] = (type(self), self._props())
        return key

    def __eq__(self, other: object) -> bool:
        # hot in rewriting (`op == ps.mul`): identity first, then the cached props key
        return self is other or (isinstance(other, ScalarOp) and self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    @property
    def accepts_out(self) -> bool:
        """Whether `impl(*inputs, out=buffer)` writes its result into `buffer` (what an
        inplace Elemwise needs)."""
        return isinstance(self.impl, np.ufunc)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        """Output dtype(s) for the given input dtypes, by NumPy's own ufunc rules."""
        dts = [np.dtype(d) for d in dtypes]
        if isinstance(self.impl, np.ufunc):
            try:
                resolved = self.impl.resolve_dtypes(tuple(dts) + (None,) * self.impl.nout)
            except TypeError as exc:
                raise TypeError(f"{self.name} is not defined for dtypes "
                                f"{', '.join(map(str, dtypes))}: {exc}") from None
            return [str(d) for d in resolved[self.nin:]]
        return [str(np.result_type(*dts))]

    def grad(self, inputs: Sequence[Any], outputs: Sequence[Any], output_grads: Sequence[Any]
             ) -> list[Any]:
        if self._grad is None:
            return [None] * self.nin
        return self._grad(inputs, outputs, output_grads)


class Cast(ScalarOp):
    """Conversion to `dtype` (NumPy `astype` semantics)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))
        super().__init__(f"cast_{self.dtype}", self._cast,
                         c_expr=f"cast_{self.dtype}({{0}})", grad=_cast_grad)

    def _cast(self, x: Any) -> Any:
        return np.asarray(x).astype(self.dtype)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return [self.dtype]


class Switch(ScalarOp):
    """`cond ? a : b` elementwise (NumPy `where`)."""

    __props__ = ()
    weak_literal_inputs = (1, 2)  # `switch(c, int8_x, 0)` stays int8 whatever c's dtype

    def __init__(self) -> None:
        super().__init__("switch", np.where, c_expr="({0} ? {1} : {2})", nin=3, grad=_switch_grad)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return [str(np.result_type(np.dtype(dtypes[1]), np.dtype(dtypes[2])))]


class Comparison(ScalarOp):
    """An elementwise comparison (bool result).

    As in NumPy 2, a Python int outside the range of the other operand's dtype is compared
    exactly (`int8_x < 300` is all True) instead of being an error.
    """

    exact_literals = True


class FloatResult(ScalarOp):
    """A scalar op defined by a Python function whose result is floating point."""

    __props__ = ("name",)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        dt = np.result_type(*[np.dtype(d) for d in dtypes])
        return [str(dt if dt.kind in "fc" else np.dtype("float64"))]


# Gradient rules ---------------------------------------------------------------------------
def _cast_grad(inputs, outputs, gz):
    (x,) = inputs
    if x.dtype[0] in "fc":
        return [_tm().cast(gz[0], x.dtype)]
    return [None]


def _switch_grad(inputs, outputs, gz):
    tm = _tm()
    cond, _, _ = inputs
    (g,) = gz
    return [None, tm.switch(cond, g, 0), tm.switch(cond, 0, g)]


def _g_add(i, o, gz):
    return [gz[0]] * len(i)


def _g_sub(i, o, gz):
    return [gz[0], -gz[0]]


def _g_mul(i, o, gz):
    x, y = i
    return [gz[0] * y, gz[0] * x]


def _g_true_div(i, o, gz):
    x, y = i
    return [gz[0] / y, -gz[0] * o[0] / y]


def _g_pow(i, o, gz):
    tm = _tm()
    x, y = i
    gx = gz[0] * y * x ** (y - 1)
    gy = gz[0] * o[0] * tm.log(x) if y.dtype[0] in "fc" else None
    return [gx, gy]


def _g_mod(i, o, gz):
    x, y = i
    return [gz[0], -gz[0] * _tm().int_div(x, y)]


def _g_zero(i, o, gz):
    """Piecewise-constant ops (floor, ceil, sgn, //): the gradient is zero almost everywhere,
    as in Theano, so costs built on them stay differentiable."""
    from theanine.tensor.basic import zeros_like

    return [zeros_like(x) for x in i]


def _g_maximum(i, o, gz):
    tm = _tm()
    x, y = i
    return [gz[0] * tm.ge(x, y), gz[0] * tm.lt(x, y)]


def _g_minimum(i, o, gz):
    tm = _tm()
    x, y = i
    return [gz[0] * tm.le(x, y), gz[0] * tm.gt(x, y)]


def _unary(rule: Callable[[Any, Any, Any], Any]) -> Callable[..., list]:
    """Adapt `rule(x, out, gz)` to the (inputs, outputs, output_grads) convention."""
    return lambda i, o, gz: [rule(i[0], o[0], gz[0])]


def _as_float(x: Any) -> Any:
    """Integers and booleans are computed in float64 (the output dtype `FloatResult` gives)."""
    x = np.asarray(x)
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


def _np_sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)): exact to an ulp or two everywhere (no cancellation) in one
    transcendental pass; exp overflowing to inf gives the right limit, 0, so it is silenced."""
    x = _as_float(x)
    t = np.negative(x, out=np.empty_like(x))  # an array even for 0-d x, to compute in place
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


def _np_softplus(x: Any) -> Any:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for every x."""
    x = _as_float(x)
    t = np.abs(x, out=np.empty_like(x))
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    t += np.maximum(x, 0)
    return t


def _np_relu(x: Any) -> Any:
    return np.maximum(x, 0).astype(x.dtype, copy=False)


# The table --------------------------------------------------------------------------------
add = ScalarOp("add", np.add, "({0} + {1})", _g_add, nin=2, symbol="+", precedence=1)
sub = ScalarOp("sub", np.subtract, "({0} - {1})", _g_sub, nin=2, symbol="-", precedence=1)
mul = ScalarOp("mul", np.multiply, "({0} * {1})", _g_mul, nin=2, symbol="*", precedence=2)
true_div = ScalarOp("true_div", np.true_divide, "({0} / {1})", _g_true_div, nin=2, symbol="/",
                    precedence=2)
int_div = ScalarOp("int_div", np.floor_divide, "floor_div({0}, {1})", _g_zero, nin=2, symbol="//",
                   precedence=2)
mod = ScalarOp("mod", np.remainder, "py_mod({0}, {1})", _g_mod, nin=2, symbol="%", precedence=2)
pow = ScalarOp("pow", np.power, "pow({0}, {1})", _g_pow, nin=2, symbol="**", precedence=4)
maximum = ScalarOp("maximum", np.maximum, "max({0}, {1})", _g_maximum, nin=2)
minimum = ScalarOp("minimum", np.minimum, "min({0}, {1})", _g_minimum, nin=2)

neg = ScalarOp("neg", np.negative, "(-{0})", _unary(lambda x, o, g: -g), symbol="-",
               precedence=3)
abs_ = ScalarOp("abs", np.absolute, "fabs({0})",
                _unary(lambda x, o, g: g * _tm().sgn(x)))
sgn = ScalarOp("sgn", np.sign, "sgn({0})", _g_zero)
exp = ScalarOp("exp", np.exp, "exp({0})", _unary(lambda x, o, g: g * o))
log = ScalarOp("log", np.log, "log({0})", _unary(lambda x, o, g: g / x))
log1p = ScalarOp("log1p", np.log1p, "log1p({0})", _unary(lambda x, o, g: g / (1 + x)))
expm1 = ScalarOp("expm1", np.expm1, "expm1({0})", _unary(lambda x, o, g: g * (o + 1)))
sqrt = ScalarOp("sqrt", np.sqrt, "sqrt({0})", _unary(lambda x, o, g: g * 0.5 / o))
sqr = ScalarOp("sqr", np.square, "({0} * {0})", _unary(lambda x, o, g: g * 2 * x))
tanh = ScalarOp("tanh", np.tanh, "tanh({0})", _unary(lambda x, o, g: g * (1 - o * o)))
sin = ScalarOp("sin", np.sin, "sin({0})", _unary(lambda x, o, g: g * _tm().cos(x)))
cos = ScalarOp("cos", np.cos, "cos({0})", _unary(lambda x, o, g: -g * _tm().sin(x)))
sigmoid = FloatResult("sigmoid", _np_sigmoid, "(1 / (1 + exp(-{0})))",
                      _unary(lambda x, o, g: g * o * (1 - o)))
softplus = FloatResult("softplus", _np_softplus, "(max({0}, 0) + log1p(exp(-fabs({0}))))",
                       _unary(lambda x, o, g: g * _tm().sigmoid(x)))
relu = ScalarOp("relu", _np_relu, "max({0}, 0)",
                _unary(lambda x, o, g: g * _tm().gt(x, 0)))
floor = ScalarOp("floor", np.floor, "floor({0})", _g_zero)
ceil = ScalarOp("ceil", np.ceil, "ceil({0})", _g_zero)

lt = Comparison("lt", np.less, "({0} < {1})", None, nin=2, symbol="<", precedence=0)
gt = Comparison("gt", np.greater, "({0} > {1})", None, nin=2, symbol=">", precedence=0)
le = Comparison("le", np.less_equal, "({0} <= {1})", None, nin=2, symbol="<=", precedence=0)
ge = Comparison("ge", np.greater_equal, "({0} >= {1})", None, nin=2, symbol=">=", precedence=0)
eq = Comparison("eq", np.equal, "({0} == {1})", None, nin=2, symbol="==", precedence=0)
neq = Comparison("neq", np.not_equal, "({0} != {1})", None, nin=2, symbol="!=", precedence=0)
and_ = ScalarOp("and", np.bitwise_and, "({0} & {1})", None, nin=2, symbol="&", precedence=0)
or_ = ScalarOp("or", np.bitwise_or, "({0} | {1})", None, nin=2, symbol="|", precedence=0)
xor = ScalarOp("xor", np.bitwise_xor, "({0} ^ {1})", None, nin=2, symbol="^", precedence=0)
invert = ScalarOp("invert", np.invert, "(~{0})", None, symbol="~", precedence=3)
switch = Switch()
