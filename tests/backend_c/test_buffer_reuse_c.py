"""Large elementwise and product outputs are kept for the next call and reused only when
nothing else holds them: a result the user keeps, a view of it, or a value fed back as an input
is never overwritten."""

from __future__ import annotations

import numpy as np
from c_checks import require_c

import theanine
import theanine.tensor as T

require_c()

N = 40_000  # 320 KB of float64: above the reuse threshold


def _double():
    x = T.dvector("x")
    return theanine.function([x], T.exp(x) * 2, backend="c")


def test_results_the_user_keeps_are_never_overwritten():
    f = _double()
    v = np.linspace(-1, 1, N)
    kept = [f(v + k) for k in range(4)]
    for k, r in enumerate(kept):
        np.testing.assert_allclose(r, np.exp(v + k) * 2)


def test_a_view_of_a_result_keeps_it_alive():
    f = _double()
    v = np.linspace(-1, 1, N)
    view = f(v)[::3]
    f(v + 5)
    np.testing.assert_allclose(view, (np.exp(v) * 2)[::3])


def test_a_result_fed_back_as_input():
    x = T.dvector("x")
    f = theanine.function([x], x * 0.5 + 1, backend="c")
    v = np.zeros(N)
    want = v.copy()
    for _ in range(5):
        v = f(v)
        want = want * 0.5 + 1
        np.testing.assert_allclose(v, want)


def test_a_dropped_result_is_reused():
    f = _double()
    v = np.linspace(-1, 1, N)
    address = f(v).__array_interface__["data"][0]  # dropped at once
    r = f(v)
    assert r.__array_interface__["data"][0] == address
    np.testing.assert_allclose(r, np.exp(v) * 2)


def _product():
    x, w = T.dmatrix("x"), T.dmatrix("w")
    return theanine.function([x, w], T.dot(x, w), backend="c")


def test_products_reuse_a_dropped_result_and_never_one_the_user_keeps():
    f = _product()
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(300, 64)), rng.normal(size=(64, 128))  # 300 KB results
    address = f(x, w).__array_interface__["data"][0]  # dropped at once
    r = f(x, w)
    assert r.__array_interface__["data"][0] == address
    kept = [f(x + k, w) for k in range(3)] + [r]
    for k, got in enumerate(kept[:3]):
        np.testing.assert_allclose(got, (x + k) @ w, rtol=1e-12)
    np.testing.assert_allclose(kept[3], x @ w, rtol=1e-12)
    fed_back = f(x, np.eye(64))  # (300, 64): a result fed back as the next call's input
    for _ in range(3):
        fed_back = f(fed_back, np.eye(64) * 2)
    np.testing.assert_allclose(fed_back, x * 8, rtol=1e-12)
