"""The float32 approximations as graphs of elementwise ops, and their documented error bounds.

Each function builds its approximation from the core's scalar ops plus the three bit ops of
`theanine_fastmath.bits`, so that fusion compiles it into one kernel together with its
neighbours.  Every intermediate is clamped to where it is meaningful before it is computed,
so no branch that `switch` discards overflows or produces NaN (NumPy would warn).

`ERROR_BOUNDS` is the contract the tests sweep: measured over every float32 input of the
domain, with a margin; see the README for how each was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import theanine.tensor as T
from theanine.tensor import math as tm
from theanine_fastmath.bits import exponent, ldexp, mantissa

_LOG2E = 1.4426950408889634
# ln 2 = _LN2_HI + _LN2_LO, with _LN2_HI exact in 9 bits: n * _LN2_HI is exact for |n| < 2**15
_LN2_HI = 0.693359375
_LN2_LO = -2.1219444005469057e-04
# exp: largest argument with a finite float32 result, smallest with a normal one
EXP_MAX = 88.72283
EXP_MIN = -87.33654
# exp(r) on r in [0, ln 2], degree 4 (near-minimax in relative error)
_EXP_POLY = (1.000002384185791, 0.9997960329055786, 0.5025203824043274, 0.1561916172504425,
             0.05862950161099434)
# log(m) = 2s + s^3 (A + B s^2), s = (m - 1) / (m + 1), m in [sqrt(0.5), sqrt(2))
_LOG_A, _LOG_B = 0.6665227413177490, 0.4129570424556732
_FLT_MIN = 1.1754943508222875e-38
# tanh(x) = x + x^3 (C1 + C2 x^2 + C3 x^4) below _TANH_SMALL, (1 - e)/(1 + e), e = exp(-2|x|)
# above, and 1 (to float32 precision) from _TANH_ONE on
_TANH_SMALL, _TANH_ONE = 0.4, 9.0
_TANH_POLY = (-0.33331366, 0.13271026, -0.04755537)


@dataclass(frozen=True)
class ErrorBound:
    """|approx - exact| <= absolute + relative * |exact| over `domain` (float32 inputs)."""

    absolute: float
    relative: float
    domain: str


#: what the tests assert, function by function
ERROR_BOUNDS: dict[str, ErrorBound] = {
    "fast_exp": ErrorBound(0.0, 4e-6, "every float32; results below 2**-126 (x < -87.3365) "
                                      "are flushed to 0, so add FLT_MIN there"),
    "fast_log": ErrorBound(0.0, 1e-6, "every positive float32, subnormals included; 0, "
                                      "negatives, inf and NaN exactly as log"),
    "fast_tanh": ErrorBound(0.0, 5e-6, "every float32"),
    "ultra_fast_sigmoid": ErrorBound(0.028, 0.0, "every float"),
    "hard_sigmoid": ErrorBound(0.076, 0.0, "every float"),
}


def _float32(x: Any, name: str) -> Any:
    x = T.as_tensor_variable(x)
    if x.dtype != "float32":
        raise TypeError(f"{name} approximates float32 only: got {x} of dtype {x.dtype} "
                        f"(cast it, or use T.{name.removeprefix('fast_')} for other dtypes)")
    return x


def _exp_of_clamped(xc: Any) -> Any:
    """exp(xc) for xc in [EXP_MIN, EXP_MAX]: 2**n * p(r), n = floor(xc / ln 2), r in [0, ln 2)."""
    n = tm.minimum(tm.maximum(tm.floor(xc * _LOG2E), -126), 127)
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    c0, c1, c2, c3, c4 = _EXP_POLY
    p = c0 + r * (c1 + r * (c2 + r * (c3 + r * c4)))
    return ldexp(p, n)


def fast_exp(x: Any) -> Any:
    """exp(x) of a float32 tensor, relative error <= ERROR_BOUNDS['fast_exp']."""
    x = _float32(x, "fast_exp")
    xc = tm.switch(x > EXP_MIN, x, EXP_MIN)  # NaN -> EXP_MIN: no NaN reaches the exponent
    xc = tm.switch(xc < EXP_MAX, xc, EXP_MAX)
    y = tm.switch(x < EXP_MIN, 0, tm.switch(x > EXP_MAX, np.inf, _exp_of_clamped(xc)))
    return tm.switch(tm.isnan(x), x, y)


def fast_log(x: Any) -> Any:
    """log(x) of a float32 tensor, relative error <= ERROR_BOUNDS['fast_log']."""
    x = _float32(x, "fast_log")
    tiny = x < _FLT_MIN  # subnormal (or not positive): scaled into the normal range
    # exact either way, and never overflows
    xs = x * tm.switch(tiny, np.float32(2.0**23), np.float32(1))
    e = exponent(xs) - tm.switch(tiny, np.float32(23), np.float32(0))
    f = mantissa(xs) - 1  # exact: the mantissa is within a factor 2 of 1
    s = f / (f + 2)
    z = s * s
    log_m = s * 2 + (s * z) * (_LOG_A + z * _LOG_B)
    y = (e * _LN2_LO + log_m) + e * _LN2_HI
    finite_positive = tm.and_(x > 0, x < np.inf)
    inf, nan = np.float32(np.inf), np.float32(np.nan)
    special = tm.switch(tm.eq(x, 0), -inf, tm.switch(tm.eq(x, inf), inf, nan))
    return tm.switch(finite_positive, y, special)


def fast_tanh(x: Any) -> Any:
    """tanh(x) of a float32 tensor, relative error <= ERROR_BOUNDS['fast_tanh']."""
    x = _float32(x, "fast_tanh")
    a = tm.abs(x)
    small_x = tm.switch(a < _TANH_SMALL, x, 0)
    z = small_x * small_x
    c1, c2, c3 = _TANH_POLY
    small = small_x * (1 + z * (c1 + z * (c2 + z * c3)))  # keeps the sign of -0.0
    e = _exp_of_clamped(tm.switch(a < _TANH_ONE, a, _TANH_ONE) * -2)
    large = (1 - e) / (1 + e)
    y = tm.switch(a < _TANH_SMALL, small, tm.switch(x < 0, -large, large))
    return tm.switch(tm.isnan(x), x, y)
