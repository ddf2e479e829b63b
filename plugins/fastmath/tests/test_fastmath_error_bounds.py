"""Each approximation swept over its float32 domain, on every installed backend, against the
exact function computed by NumPy in float64: the documented bound must hold everywhere, and
the special values (0, infinities, NaN, overflow, underflow) must come out as documented."""

from __future__ import annotations

import numpy as np
import pytest
from theanine_fastmath import ERROR_BOUNDS, fast_exp, fast_log, fast_tanh

import theanine
import theanine.tensor as T


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * v))  # no overflow for any float64


CASES = {
    "fast_exp": (fast_exp, np.exp, (-90.0, 90.0)),
    "fast_log": (fast_log, np.log, (0.0, 4.0)),
    "fast_tanh": (fast_tanh, np.tanh, (-10.0, 10.0)),
    "ultra_fast_sigmoid": (T.nnet.ultra_fast_sigmoid, _sigmoid, (-8.0, 8.0)),
    "hard_sigmoid": (T.nnet.hard_sigmoid, _sigmoid, (-8.0, 8.0)),
}


def _sweep(lo: float, hi: float) -> np.ndarray:
    """Every 2053rd float32 bit pattern (all exponents, both signs, subnormals) plus a dense
    grid where the function varies."""
    bits = np.arange(0, 2**32, 2053, dtype=np.uint64).astype(np.uint32).view(np.float32)
    grid = np.linspace(lo, hi, 400_001, dtype=np.float32)
    return np.concatenate([bits[np.isfinite(bits)], grid])


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_bound_holds_over_the_domain(theanine_backend, name):
    build, exact_fn, (lo, hi) = CASES[name]
    bound = ERROR_BOUNDS[name]
    x = T.fvector("x")
    f = theanine.function([x], build(x))
    values = _sweep(lo, hi)
    got = f(values)
    assert got.dtype == np.float32
    with np.errstate(all="ignore"):
        exact = exact_fn(values.astype(np.float64))
    exact32 = exact.astype(np.float32)  # what float32 can represent (overflow -> inf)
    checked = np.isfinite(exact32) & ~np.isnan(exact)
    if name == "fast_exp":
        checked &= exact >= 2.0**-126  # below: flushed to zero (checked separately)
    err = np.abs(got[checked].astype(np.float64) - exact[checked])
    allowed = bound.absolute + bound.relative * np.abs(exact[checked])
    worst = np.argmax(err - allowed)
    assert np.all(err <= allowed), (
        f"{name}: error {err[worst]:.3g} at x={values[checked][worst]!r} exceeds "
        f"{allowed[worst]:.3g}")
    rest = ~checked
    if name == "fast_exp":
        flushed = rest & (exact < 2.0**-126)
        assert np.all(got[flushed] == 0)
        rest &= ~flushed
    # outside the bound's reach the result is exactly the float32 value (inf, -inf, NaN)
    np.testing.assert_array_equal(got[rest], exact32[rest])


SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.0,
                     -1.0, 88.7, 88.73, -87.3, -87.4, -103.0, 1.1754944e-38], dtype=np.float32)


@pytest.mark.parametrize("name", ["fast_exp", "fast_log", "fast_tanh"])
def test_special_values(theanine_backend, name):
    build, exact_fn, _ = CASES[name]
    x = T.fvector("x")
    got = theanine.function([x], build(x))(SPECIALS)
    with np.errstate(all="ignore"):
        exact = exact_fn(SPECIALS.astype(np.float64)).astype(np.float32)
    nonfinite = ~np.isfinite(exact) | (exact == 0)
    if name == "fast_exp":
        nonfinite &= SPECIALS > -87.3  # exp(-87.4) and below: flushed to 0 (asserted below)
        assert np.all(got[SPECIALS < -87.34] == 0)
    np.testing.assert_array_equal(got[nonfinite], exact[nonfinite])
    if name != "fast_log":  # odd/even symmetry and signed zeros
        assert np.signbit(got[1]) == np.signbit(exact[1])


@pytest.mark.parametrize("build", [fast_exp, fast_log, fast_tanh])
def test_refuses_other_dtypes(build):
    with pytest.raises(TypeError, match=r"float32 only: got d of dtype float64"):
        build(T.dvector("d"))


@pytest.mark.parametrize("name, exact_grad, lo, hi", [
    ("fast_exp", np.exp, -20.0, 20.0),
    ("fast_log", lambda v: 1 / v, 0.01, 100.0),
    ("fast_tanh", lambda v: 1 - np.tanh(v) ** 2, -4.0, 4.0),
])
def test_gradients_follow_the_exact_derivative(theanine_backend, name, exact_grad, lo, hi):
    """Used directly, the approximations differentiate through their own graphs; the result
    approximates the exact derivative (to within the derivative of the error)."""
    build = CASES[name][0]
    x = T.fvector("x")
    g = theanine.function([x], T.grad(build(x).sum(), x))
    values = np.linspace(lo, hi, 10_001, dtype=np.float32)
    exact = exact_grad(values.astype(np.float64))
    np.testing.assert_allclose(g(values), exact, rtol=5e-4, atol=1e-6)
