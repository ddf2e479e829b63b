"""The fuzz table's elementwise part: every scalar op of `theanine.scalar.basic` lifted to
tensors, Python operators, literals on either side, switch, clip and cast."""

from __future__ import annotations

from typing import Any

from theanine.testing.fuzz.domains import (
    ALL,
    BOOL,
    COMPLEX,
    FLOATS,
    INTS,
    NUMBERS,
    REAL,
    Code,
    OpSpec,
)
from theanine.testing.fuzz.generate import Context

REAL_FLOATISH = INTS + FLOATS
INEXACT = FLOATS + COMPLEX

# name, domain, dtypes, smooth (finite differences meaningful), differentiable
_UNARY: list[tuple[str, str, tuple[str, ...], bool, bool]] = [
    ("neg", "any", NUMBERS + COMPLEX, True, True),
    ("abs", "any", NUMBERS + COMPLEX, False, True),
    ("sgn", "any", NUMBERS, False, True),
    ("exp", "any", ALL, True, True),
    ("log", "positive", REAL_FLOATISH + COMPLEX, True, True),
    ("log1p", "nonneg", REAL_FLOATISH, True, True),
    ("expm1", "any", REAL_FLOATISH, True, True),
    ("sqrt", "positive", REAL_FLOATISH + COMPLEX, True, True),
    ("sqr", "any", ALL, True, True),
    ("tanh", "any", REAL_FLOATISH + COMPLEX, True, True),
    ("sin", "any", ALL, True, True),
    ("cos", "any", ALL, True, True),
    ("sigmoid", "any", NUMBERS, True, True),
    ("softplus", "any", NUMBERS, True, True),
    ("floor", "any", REAL, False, True),
    ("ceil", "any", REAL, False, True),
    ("trunc", "any", REAL, False, True),
    ("round_half_to_even", "any", NUMBERS, False, True),
    ("round_half_away_from_zero", "any", NUMBERS, False, True),
    ("inv", "nonzero", REAL_FLOATISH + COMPLEX, True, True),
    ("exp2", "any", REAL_FLOATISH, True, True),
    ("log2", "positive", REAL_FLOATISH, True, True),
    ("log10", "positive", REAL_FLOATISH, True, True),
    ("tan", "unit", REAL_FLOATISH, True, True),
    ("arcsin", "unit", FLOATS, True, True),
    ("arccos", "unit", FLOATS, True, True),
    ("arctan", "any", REAL_FLOATISH, True, True),
    ("sinh", "any", REAL_FLOATISH, True, True),
    ("cosh", "any", REAL_FLOATISH, True, True),
    ("arcsinh", "any", REAL_FLOATISH, True, True),
    ("arccosh", "ge1", FLOATS, True, True),
    ("arctanh", "unit", FLOATS, True, True),
    ("erf", "any", ("float32", "float64"), True, True),
    ("erfc", "any", ("float32", "float64"), True, True),
    ("erfinv", "unit", ("float32", "float64"), True, True),
    ("gamma", "positive", ("float32", "float64"), True, True),
    ("gammaln", "positive", ("float32", "float64"), True, True),
    ("psi", "positive", ("float32", "float64"), True, True),
    ("tri_gamma", "positive", ("float64",), True, True),
    ("isnan", "any", FLOATS, False, False),
    ("isinf", "any", FLOATS, False, False),
    ("real", "any", COMPLEX + FLOATS, True, True),
    ("imag", "any", COMPLEX, True, True),
    ("conj", "any", COMPLEX, True, True),
    ("angle", "any", COMPLEX, False, True),
    ("invert", "any", BOOL + INTS, False, False),
]

# name, expression, dtypes, domain of the second argument, smooth, differentiable
_BINARY: list[tuple[str, str, tuple[str, ...], str, bool, bool]] = [
    ("add", "T.add({0}, {1})", ALL, "any", True, True),
    ("sub", "T.sub({0}, {1})", NUMBERS + COMPLEX, "any", True, True),
    ("mul", "T.mul({0}, {1})", ALL, "any", True, True),
    ("true_div", "T.true_div({0}, {1})", NUMBERS + COMPLEX, "nonzero", True, True),
    ("int_div", "T.int_div({0}, {1})", NUMBERS, "nonzero", False, True),
    ("mod", "T.mod({0}, {1})", NUMBERS, "nonzero", False, True),
    ("maximum", "T.maximum({0}, {1})", REAL, "any", False, True),
    ("minimum", "T.minimum({0}, {1})", REAL, "any", False, True),
    # not smooth: a branch cut where the first argument is 0 and the second negative
    ("arctan2", "T.arctan2({0}, {1})", FLOATS, "any", False, True),
    ("complex", "T.complex({0}, {1})", ("float32", "float64"), "any", True, True),
    ("lt", "T.lt({0}, {1})", REAL, "any", False, False),
    ("gt", "{0} > {1}", REAL, "any", False, False),
    ("le", "{0} <= {1}", REAL, "any", False, False),
    ("ge", "T.ge({0}, {1})", REAL, "any", False, False),
    ("eq", "T.eq({0}, {1})", ALL, "any", False, False),
    ("neq", "T.neq({0}, {1})", ALL, "any", False, False),
    ("and", "{0} & {1}", BOOL + INTS, "any", False, False),
    ("or", "T.or_({0}, {1})", BOOL + INTS, "any", False, False),
    ("xor", "T.xor({0}, {1})", BOOL + INTS, "any", False, False),
    ("op_add", "{0} + {1}", ALL, "any", True, True),
    ("op_sub", "{0} - {1}", NUMBERS, "any", True, True),
    ("op_mul", "{0} * {1}", ALL, "any", True, True),
    ("op_div", "{0} / {1}", NUMBERS, "nonzero", True, True),
]


def _pow_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    base = ctx.pick(FLOATS, domain="positive")
    return [base, ctx.partner(base, FLOATS + INTS, "small")], {}


def _binary_sampler(dtypes: tuple[str, ...], domain2: str):
    def sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
        first = ctx.pick(dtypes)
        return [first, ctx.partner(first, dtypes, domain2)], {}
    return sample


def _literal_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS)
    c = int(ctx.rng.integers(-3, 4)) if ctx.chance(0.5) else float(ctx.rng.integers(-6, 7)) / 2
    return [x], {"c": c}


def _np_scalar_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(FLOATS + INTS)
    return [x], {"c": float(ctx.rng.integers(-4, 5)) / 2,
                 "t": Code(ctx.choice(["float64", "float32", "int64"]))}


def _switch_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    cond = ctx.pick(BOOL if ctx.chance(0.7) else REAL)
    a = ctx.partner(cond, REAL)
    b = ctx.partner(cond, (ctx.dtype(a),))
    return [cond, a, b], {}


def _clip_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS)
    return [x], {"lo": -1, "hi": float(ctx.rng.integers(0, 4)) / 2}


def _clip_tensor_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS)
    return [x, ctx.partner(x, (ctx.dtype(x),))], {"hi": 1.5}


def _cast_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(ALL)
    targets = COMPLEX if ctx.dtype(x) in COMPLEX else ALL
    return [x], {"dtype": ctx.choice(targets)}


def _nary_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS)
    return [x, ctx.partner(x, NUMBERS), ctx.partner(x, NUMBERS)], {}


#: ops that trigger a defect of `known.FOUND_DEFECTS`
_DEFECTS = {"tri_gamma": frozenset({"tri_gamma_grad"})}


def elemwise_specs() -> list[OpSpec]:
    specs = [OpSpec(name, f"T.{name}({{0}})", dtypes=dtypes, domain=domain, smooth=smooth,
                    differentiable=diff, weight=0.5, defects=_DEFECTS.get(name, frozenset()))
             for name, domain, dtypes, smooth, diff in _UNARY]
    specs.append(OpSpec("relu", "T.nnet.relu({0})", dtypes=REAL, smooth=False))
    specs += [OpSpec(name, expr, arity=2, dtypes=dtypes, sample=_binary_sampler(dtypes, dom2),
                     smooth=smooth, differentiable=diff)
              for name, expr, dtypes, dom2, smooth, diff in _BINARY]
    specs += [
        OpSpec("pow", "T.pow({0}, {1})", arity=2, dtypes=FLOATS, sample=_pow_sample),
        OpSpec("add3", "T.add({0}, {1}, {2})", arity=3, sample=_nary_sample),
        OpSpec("mul3", "T.mul({0}, {1}, {2})", arity=3, sample=_nary_sample),
        OpSpec("literal_right", "{0} * {c}", sample=_literal_sample, strict=True),
        OpSpec("literal_left", "{c} - {0}", sample=_literal_sample, strict=True),
        OpSpec("literal_pow", "{0} ** 2", dtypes=NUMBERS, weight=0.5, strict=True),
        OpSpec("numpy_scalar_left", "np.{t}({c}) * {0}", sample=_np_scalar_sample,
               strict=True, defects=frozenset({"numpy_scalar_left"})),
        OpSpec("sigmoid_bool", "T.sigmoid({0})", dtypes=BOOL, weight=0.2,
               numpy="1 / (1 + np.exp(-flt({0})))",
               defects=frozenset({"bool_float_dtype"})),
        OpSpec("softplus_bool", "T.softplus({0})", dtypes=BOOL, weight=0.2,
               numpy="np.log1p(np.exp(flt({0})))",
               defects=frozenset({"bool_float_dtype"})),
        OpSpec("bool_pow", "{0} ** 2", dtypes=BOOL, weight=0.2, strict=True,
               defects=frozenset({"bool_float_dtype"})),
        OpSpec("switch", "T.switch({0}, {1}, {2})", arity=3, sample=_switch_sample,
               smooth=False),
        OpSpec("clip", "T.clip({0}, {lo}, {hi})", sample=_clip_sample, smooth=False),
        OpSpec("clip_tensor", "T.clip({0}, {1}, {hi})", arity=2, smooth=False,
               sample=_clip_tensor_sample),
        OpSpec("cast", "T.cast({0}, {dtype})", sample=_cast_sample, smooth=False),
    ]
    return specs
