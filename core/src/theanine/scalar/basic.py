"""Scalar operations: the one source of truth for elementwise math.

Each `ScalarOp` carries two things every backend reads:
- `impl`: a NumPy (u)func applied to whole arrays by the Python backend,
- `c_expr`: a C-family expression template (`{0}`, `{1}` are the operands, the only fields) that
  the C, CUDA and OpenCL renderers turn into loop bodies; the helpers it calls (`sgn`,
  `floor_div`, `py_mod`, `cast_<dtype>`, ...) are defined by each renderer.

Gradients are a transformation of these ops, not part of them: the table's rules are tensor
expressions, so they live in the tensor layer (`theanine.tensor.scalar_grads`), keyed by op.  A
scalar op defined elsewhere (a plugin's) may carry its own rule, `ScalarOp(..., grad=rule)`.

Helpers the renderers must provide beyond C99 <math.h>/<complex.h>: `sgn`, `floor_div`, `py_mod`,
`cast_<dtype>`, `erfinv`, `digamma`, `trigamma`, `round_half_away` and `make_complex`.

`theanine.tensor.elemwise.Elemwise` lifts a ScalarOp to tensors with broadcasting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


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
        if impl is not None:  # SciPyOp provides `impl` as a property
            self.impl = impl
        self.nin = nin
        self.c_expr = c_expr
        self._grad = grad
        self.symbol = symbol
        self.precedence = precedence

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

    def __reduce_ex__(self, protocol: Any) -> Any:
        """The table's ops pickle as references to the module's singletons, so an unpickled
        op is the very object rewrites compare with and the gradient table is keyed by; other
        ops pickle their state."""
        if _BY_NAME.get(self.name) is self:
            return (by_name, (self.name,))
        return super().__reduce_ex__(protocol)

    def __getstate__(self) -> dict:
        # caches: the props key (rebuilt on demand) and generated programs (not picklable)
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cached")
                and k != "_program"}

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

    def loop_dtypes(self, operands: Sequence[Any]) -> list[np.dtype] | None:
        """The input dtypes of the loop NumPy's ufunc runs for `operands` (dtypes, or the
        Python types int/float/complex/bool for weak literals); None when the impl is not a
        ufunc or no loop fits (plain promotion then decides)."""
        if self.weak_literal_inputs is not None or not isinstance(self.impl, np.ufunc) \
                or self.impl.nin != len(operands):
            return None
        try:
            resolved = self.impl.resolve_dtypes(tuple(operands) + (None,) * self.impl.nout)
        except (TypeError, ValueError):
            return None
        return list(resolved[:self.nin])

    def grad(self, inputs: Sequence[Any], outputs: Sequence[Any], output_grads: Sequence[Any]
             ) -> list[Any]:
        """The op's own rule (given to the constructor) applied, else None per input (the
        table's ops have their rules in `theanine.tensor.scalar_grads`)."""
        if self._grad is None:
            return [None] * self.nin
        return self._grad(inputs, outputs, output_grads)


class Probed(ScalarOp):
    """A scalar op whose impl is not a ufunc (np.real, np.round, ...): its output dtype is the
    one the impl itself gives on empty arrays, so it follows NumPy without a table of ours."""

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        try:
            r = self.impl(*[np.empty(0, dtype=d) for d in dtypes])
        except TypeError as exc:
            raise TypeError(f"{self.name} is not defined for dtypes "
                            f"{', '.join(map(str, dtypes))}: {exc}") from None
        return [str(np.asarray(r).dtype)]


class Reciprocal(ScalarOp):
    """1 / x elementwise (Theano's `inv`): integers give floats, as `1 / x` does in NumPy."""

    def __init__(self) -> None:
        super().__init__("inv", _np_inv, "(1.0 / {0})")

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return true_div.output_dtypes([dtypes[0], dtypes[0]])


class SciPyOp(ScalarOp):
    """A `scipy.special` function, imported on first use (scipy.special takes longer to import
    than theanine itself).  Output dtypes follow the SciPy ufunc named `dtypes_of`."""

    def __init__(self, name: str, attr: str, c_expr: str | None, leading_args: tuple = (),
                 dtypes_of: str | None = None):
        super().__init__(name, None, c_expr)
        self._attr = attr
        self._leading_args = leading_args
        self._dtypes_of = dtypes_of or attr

    @property
    def impl(self) -> Callable[..., Any]:  # type: ignore[override]
        import scipy.special

        fn = getattr(scipy.special, self._attr)
        if self._leading_args:
            lead = self._leading_args
            return lambda *args: fn(*lead, *args)
        return fn

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        import scipy.special

        ufunc = getattr(scipy.special, self._dtypes_of)
        try:
            resolved = ufunc.resolve_dtypes(tuple(np.dtype(d) for d in dtypes) + (None,))
        except TypeError as exc:
            raise TypeError(f"{self.name} is not defined for dtypes "
                            f"{', '.join(map(str, dtypes))}: {exc}") from None
        return [str(resolved[-1])]


class Cast(ScalarOp):
    """Conversion to `dtype` (NumPy `astype` semantics)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))
        super().__init__(f"cast_{self.dtype}", self._cast,
                         c_expr=f"cast_{self.dtype}({{0}})")

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Cast, (self.dtype,))

    def _cast(self, x: Any) -> Any:
        return np.asarray(x).astype(self.dtype)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return [self.dtype]


class Switch(ScalarOp):
    """`cond ? a : b` elementwise (NumPy `where`)."""

    __props__ = ()
    weak_literal_inputs = (1, 2)  # `switch(c, int8_x, 0)` stays int8 whatever c's dtype

    def __init__(self) -> None:
        super().__init__("switch", np.where, c_expr="({0} ? {1} : {2})", nin=3)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return [str(np.result_type(np.dtype(dtypes[1]), np.dtype(dtypes[2])))]


class Comparison(ScalarOp):
    """An elementwise comparison (bool result).

    As in NumPy 2, a Python int outside the range of the other operand's dtype is compared
    exactly (`int8_x < 300` is all True) instead of being an error.
    """

    exact_literals = True


class FloatResult(ScalarOp):
    """A unary op defined by a Python function built on `exp` (sigmoid, softplus): its dtype
    is the one NumPy's `exp` gives (bool and int8 → float16, int16 → float32, ...)."""

    __props__ = ("name",)

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return exp.output_dtypes(dtypes)


# NumPy implementations ------------------------------------------------------------------
def _as_float(x: Any) -> Any:
    """Integers and booleans are computed in the float dtype `exp` gives them (the output
    dtype `FloatResult` gives)."""
    x = np.asarray(x)
    return x if x.dtype.kind in "fc" else x.astype(np.exp.resolve_dtypes((x.dtype, None))[1])


def _np_sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)): exact to an ulp or two everywhere (no cancellation) in one
    transcendental pass; exp overflowing to inf gives the right limit, 0, so it is silenced."""
    x = _as_float(x)
    if x.dtype == np.float16:  # exp(12) overflows float16: compute in float32, round once
        return _np_sigmoid(x.astype(np.float32)).astype(np.float16)
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
    """max(x, 0) with 0 a weak literal: the dtype is x's (int64 for bool, as in NumPy)."""
    return np.maximum(x, 0)


def _np_inv(x: Any) -> Any:
    return np.true_divide(1, x)


def _np_round_half_away(x: Any) -> Any:
    """Round to nearest, ties away from zero (C `round`).  Computed from the exact fractional
    part: `trunc(x + copysign(0.5, x))` rounds 0.49999999999999994 up."""
    x = np.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError("rounding half away from zero is not defined for complex numbers")
    if x.dtype.kind not in "f":
        return np.trunc(x)  # integers unchanged; bool becomes float16, as np.trunc does
    t = np.trunc(x)
    with np.errstate(invalid="ignore"):  # inf - inf: infinities stay as they are
        away = np.abs(x - t) >= 0.5
    return np.where(away, t + np.sign(x), t).astype(x.dtype, copy=False)


def _np_complex(re: Any, im: Any) -> Any:
    """re + i*im without going through `1j * im` (which turns an infinite im into nan); the
    dtype is that of `re + 1j * im` in NumPy (integers give complex128)."""
    re, im = np.asarray(re), np.asarray(im)
    if re.dtype.kind == "c" or im.dtype.kind == "c":
        raise TypeError("complex takes real parts, got complex values")
    out = np.empty(np.broadcast_shapes(re.shape, im.shape),
                   dtype=np.result_type(re.dtype, np.result_type(im.dtype, 1j)))
    out.real = re
    out.imag = im
    return out


# The table --------------------------------------------------------------------------------
add = ScalarOp("add", np.add, "({0} + {1})", nin=2, symbol="+", precedence=1)
sub = ScalarOp("sub", np.subtract, "({0} - {1})", nin=2, symbol="-", precedence=1)
mul = ScalarOp("mul", np.multiply, "({0} * {1})", nin=2, symbol="*", precedence=2)
true_div = ScalarOp("true_div", np.true_divide, "({0} / {1})", nin=2, symbol="/", precedence=2)
int_div = ScalarOp("int_div", np.floor_divide, "floor_div({0}, {1})", nin=2, symbol="//",
                   precedence=2)
mod = ScalarOp("mod", np.remainder, "py_mod({0}, {1})", nin=2, symbol="%", precedence=2)
pow = ScalarOp("pow", np.power, "pow({0}, {1})", nin=2, symbol="**", precedence=4)
maximum = ScalarOp("maximum", np.maximum, "max({0}, {1})", nin=2)
minimum = ScalarOp("minimum", np.minimum, "min({0}, {1})", nin=2)

neg = ScalarOp("neg", np.negative, "(-{0})", symbol="-", precedence=3)
abs_ = ScalarOp("abs", np.absolute, "fabs({0})")
sgn = ScalarOp("sgn", np.sign, "sgn({0})")
exp = ScalarOp("exp", np.exp, "exp({0})")
log = ScalarOp("log", np.log, "log({0})")
log1p = ScalarOp("log1p", np.log1p, "log1p({0})")
expm1 = ScalarOp("expm1", np.expm1, "expm1({0})")
sqrt = ScalarOp("sqrt", np.sqrt, "sqrt({0})")
sqr = ScalarOp("sqr", np.square, "({0} * {0})")
tanh = ScalarOp("tanh", np.tanh, "tanh({0})")
sin = ScalarOp("sin", np.sin, "sin({0})")
cos = ScalarOp("cos", np.cos, "cos({0})")
sigmoid = FloatResult("sigmoid", _np_sigmoid, "(1 / (1 + exp(-{0})))")
softplus = FloatResult("softplus", _np_softplus, "(max({0}, 0) + log1p(exp(-fabs({0}))))")
relu = Probed("relu", _np_relu, "max({0}, 0)")
floor = ScalarOp("floor", np.floor, "floor({0})")
ceil = ScalarOp("ceil", np.ceil, "ceil({0})")
trunc = ScalarOp("trunc", np.trunc, "trunc({0})")
round_half_to_even = Probed("round_half_to_even", np.round, "rint({0})")
round_half_away_from_zero = Probed("round_half_away_from_zero", _np_round_half_away,
                                   "round_half_away({0})")
inv = Reciprocal()

exp2 = ScalarOp("exp2", np.exp2, "exp2({0})")
log2 = ScalarOp("log2", np.log2, "log2({0})")
log10 = ScalarOp("log10", np.log10, "log10({0})")
tan = ScalarOp("tan", np.tan, "tan({0})")
arcsin = ScalarOp("arcsin", np.arcsin, "asin({0})")
arccos = ScalarOp("arccos", np.arccos, "acos({0})")
arctan = ScalarOp("arctan", np.arctan, "atan({0})")
arctan2 = ScalarOp("arctan2", np.arctan2, "atan2({0}, {1})", nin=2)
sinh = ScalarOp("sinh", np.sinh, "sinh({0})")
cosh = ScalarOp("cosh", np.cosh, "cosh({0})")
arcsinh = ScalarOp("arcsinh", np.arcsinh, "asinh({0})")
arccosh = ScalarOp("arccosh", np.arccosh, "acosh({0})")
arctanh = ScalarOp("arctanh", np.arctanh, "atanh({0})")

erf = SciPyOp("erf", "erf", "erf({0})")
erfc = SciPyOp("erfc", "erfc", "erfc({0})")
erfinv = SciPyOp("erfinv", "erfinv", "erfinv({0})")
gamma = SciPyOp("gamma", "gamma", "tgamma({0})")
gammaln = SciPyOp("gammaln", "gammaln", "lgamma({0})")
psi = SciPyOp("psi", "psi", "digamma({0})")
# polygamma(2, x): the derivative of tri_gamma (no C expression: native backends fall back)
tetra_gamma = SciPyOp("tetra_gamma", "polygamma", None, leading_args=(2,), dtypes_of="gammaln")
# polygamma(1, x), real arguments only
tri_gamma = SciPyOp("tri_gamma", "polygamma", "trigamma({0})", leading_args=(1,),
                    dtypes_of="gammaln")

isnan = ScalarOp("isnan", np.isnan, "isnan({0})")
isinf = ScalarOp("isinf", np.isinf, "isinf({0})")
real = Probed("real", np.real, "creal({0})")
imag = Probed("imag", np.imag, "cimag({0})")
conj = ScalarOp("conj", np.conjugate, "conj({0})")
angle = Probed("angle", np.angle, "carg({0})")
complex_ = Probed("complex", _np_complex, "make_complex({0}, {1})", nin=2)

lt = Comparison("lt", np.less, "({0} < {1})", nin=2, symbol="<", precedence=0)
gt = Comparison("gt", np.greater, "({0} > {1})", nin=2, symbol=">", precedence=0)
le = Comparison("le", np.less_equal, "({0} <= {1})", nin=2, symbol="<=", precedence=0)
ge = Comparison("ge", np.greater_equal, "({0} >= {1})", nin=2, symbol=">=", precedence=0)
eq = Comparison("eq", np.equal, "({0} == {1})", nin=2, symbol="==", precedence=0)
neq = Comparison("neq", np.not_equal, "({0} != {1})", nin=2, symbol="!=", precedence=0)
and_ = ScalarOp("and", np.bitwise_and, "({0} & {1})", nin=2, symbol="&", precedence=0)
or_ = ScalarOp("or", np.bitwise_or, "({0} | {1})", nin=2, symbol="|", precedence=0)
xor = ScalarOp("xor", np.bitwise_xor, "({0} ^ {1})", nin=2, symbol="^", precedence=0)
invert = ScalarOp("invert", np.invert, "(~{0})", symbol="~", precedence=3)
switch = Switch()

#: the table's ops by name: what they pickle as (see `ScalarOp.__reduce_ex__`)
_BY_NAME: dict[str, ScalarOp] = {op.name: op for op in list(globals().values())
                                 if isinstance(op, ScalarOp)}


def by_name(name: str) -> ScalarOp:
    """The scalar op of the table called `name` (how a pickled one is restored)."""
    return _BY_NAME[name]


def upcast(dtype: str, *dtypes: str) -> str:
    """Theano's `scalar.upcast`: the dtype NumPy gives to arithmetic on arrays of these dtypes.

    Under `config.cast_policy == 'numpy+floatX'` a float64 result is kept at floatX unless one
    of the dtypes asked for float64 (or float32, when floatX is float16) explicitly.
    """
    from theanine.config import config

    names = [str(np.dtype(d)) for d in (dtype, *dtypes)]
    result = str(np.result_type(*names))
    if getattr(config, "cast_policy", "custom") != "numpy+floatX":
        return result
    floatx = config.floatX
    wider = {"float16": ("float32", "float64"), "float32": ("float64",)}.get(floatx, ())
    if result in wider and not any(n in wider for n in names):
        return floatx
    return result
