"""`T.xlogx`: x log x and x log y with the 0 * log 0 = 0 convention, against NumPy/SciPy."""

import numpy as np
import scipy.special as sp

import theanine as th
import theanine.tensor as T
from theanine.tensor import xlogx


def test_xlogx_and_xlogy0_as_scipy():
    x, y = T.dvector("x"), T.dvector("y")
    f = th.function([x, y], [xlogx.xlogx(x), xlogx.xlogy0(x, y)])
    xv = np.array([0.0, 0.5, 1.0, 3.0, 0.0])
    yv = np.array([0.0, 2.0, 0.25, 1.5, -1.0])
    got_xx, got_xy = f(xv, yv)
    np.testing.assert_allclose(got_xx, sp.xlogy(xv, xv))
    np.testing.assert_allclose(got_xy, sp.xlogy(xv, yv))
    assert np.isfinite(got_xy).all()


def test_xlogx_gradient_matches_finite_differences_and_is_finite_at_zero():
    x = T.dvector("x")
    g = th.function([x], th.grad(T.sum(xlogx.xlogx(x)), x))
    xv = np.array([0.25, 1.0, 2.0])
    np.testing.assert_allclose(g(xv), 1.0 + np.log(xv))
    assert np.isfinite(g(np.array([0.0]))).all()
