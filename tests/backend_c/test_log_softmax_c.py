"""LogSoftmax's native row kernel against its `perform` and scipy: any axis, strided, reversed
and Fortran-ordered inputs, rows long enough for the OpenMP loop, rows holding inf/-inf/NaN,
empty arrays, and the classifier's gradient."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from c_checks import compile_both, hows, require_c

import theanine
import theanine.tensor as T
from theanine.tensor.nnet import LogSoftmax
from theanine.tensor.type import TensorType

require_c()


def _tol(dtype: str) -> dict:
    return {"rtol": 2e-6, "atol": 2e-6} if dtype == "float32" else {"rtol": 1e-12,
                                                                    "atol": 1e-13}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, axis", [((3, 4), -1), ((3, 4), 0), ((2, 3, 5), 1),
                                         ((6,), 0), ((300, 1000), 1), ((1000, 300), 0)])
def test_matches_perform_and_scipy(dtype, shape, axis):
    rng = np.random.default_rng(11)
    x = TensorType(dtype, (False,) * len(shape))("x")
    fp, fc = compile_both([x], T.nnet.log_softmax(x, axis=axis))
    assert hows(fc, LogSoftmax) == ["native"], fc.report()
    value = (8 * rng.standard_normal(shape)).astype(dtype)
    reversed_ = value[..., ::-1]
    for v in (value, reversed_, np.asfortranarray(value)):
        got = fc(v)
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, fp(v), **_tol(dtype))
        np.testing.assert_allclose(got, scipy.special.log_softmax(v.astype("float64"), axis),
                                   **_tol(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_strided_view_input(dtype):
    """x.T[:, ::-1] reaches the kernel as a view: rows of stride != 1, a negative step."""
    x = T.matrix("x", dtype=dtype)
    fp, fc = compile_both([x], T.nnet.log_softmax(x.T[:, ::-1]))
    assert hows(fc, LogSoftmax) == ["native"], fc.report()
    v = np.random.default_rng(2).standard_normal((5, 4)).astype(dtype)
    np.testing.assert_allclose(fc(v), fp(v), **_tol(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_with_infinities_and_nan(dtype):
    x = T.matrix("x", dtype=dtype)
    fp, fc = compile_both([x], T.nnet.log_softmax(x))
    v = np.array([[np.inf, 1, 2], [-np.inf, 1, 2], [-np.inf] * 3, [np.nan, 1, 2],
                  [1, np.nan, -np.inf], [-np.inf, np.inf, 1], [1, -np.inf, -np.inf]], dtype)
    with np.errstate(invalid="ignore"):
        want = fp(v)
    got = fc(v)
    np.testing.assert_allclose(got, want, equal_nan=True, **_tol(dtype))
    assert np.isnan(got[[0, 2, 3, 4, 5]]).all() and not np.isnan(got[[1, 6]]).any()


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_empty(shape):
    x = T.dmatrix("x")
    f = theanine.function([x], T.nnet.log_softmax(x), backend="c")
    got = f(np.zeros(shape))
    assert got.shape == shape and got.dtype == np.float64


def test_classifier_gradient_matches_perform():
    z, y = T.fmatrix("z"), T.fmatrix("y")
    cost = -T.mean(T.sum(y * T.log(T.nnet.softmax(z)), axis=1))
    fp, fc = compile_both([z, y], [cost, T.grad(cost, z)])
    assert "fallback" not in hows(fc), fc.report()
    rng = np.random.default_rng(3)
    zv = (4 * rng.standard_normal((128, 10))).astype("float32")
    yv = np.eye(10, dtype="float32")[rng.integers(0, 10, 128)]
    for got, want in zip(fc(zv, yv), fp(zv, yv)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
