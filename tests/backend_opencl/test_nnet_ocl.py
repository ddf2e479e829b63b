"""Softmax, log-softmax and softmax's gradient as OpenCL kernels (one work-group per row),
against NumPy: any axis, long and short rows, strided inputs, NaN and infinite rows, empty
arrays, and unequal shapes refused; the cross-entropies (graphs of these) run without
fallback."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from helpers_ocl import native_function

import theanine.tensor as T
from theanine.tensor.nnet import LogSoftmax, Softmax, SoftmaxGrad
from theanine.tensor.type import TensorType


def _softmax(x, axis):
    if x.size == 0:
        return x.copy()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-7} if dtype == "float32" else {"rtol": 1e-12,
                                                                    "atol": 1e-15}


@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((3, 4), 0), ((5, 1000), 1),
                                        ((2, 3, 4), 1), ((6,), 0), ((0, 3), 1), ((3, 0), 1)])
def test_softmax_and_its_gradient_match_numpy(shape, axis, dtype, rng):
    x = TensorType(dtype, (False,) * len(shape))("x")
    g = TensorType(dtype, (False,) * len(shape))("g")
    xv = (3 * rng.standard_normal(shape)).astype(dtype)
    f = native_function([x], Softmax(axis)(x), Softmax)
    np.testing.assert_allclose(f(xv), _softmax(xv, axis), **_tol(dtype))
    sm = _softmax(xv, axis).astype(dtype)
    gv = rng.standard_normal(shape).astype(dtype)
    fg = native_function([g, x], SoftmaxGrad(axis)(g, x), SoftmaxGrad)
    np.testing.assert_allclose(fg(gv, sm), gv * sm - sm * (gv * sm).sum(axis, keepdims=True),
                               **_tol(dtype))


def test_strided_input_and_nan_rows(dtype, rng):
    x = T.matrix("x", dtype=dtype)
    f = native_function([x], T.nnet.softmax(x.T[:, ::-1]), Softmax)
    xv = rng.standard_normal((4, 5)).astype(dtype)
    np.testing.assert_allclose(f(xv), _softmax(xv.T[:, ::-1], -1), **_tol(dtype))
    xv[1, 2] = np.nan
    got = f(xv)
    assert np.isnan(got[2]).all() and not np.isnan(np.delete(got, 2, axis=0)).any()


@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((3, 4), 0), ((5, 1000), 1),
                                        ((2, 3, 4), 1), ((6,), 0), ((0, 3), 1), ((3, 0), 1)])
def test_log_softmax_matches_scipy(shape, axis, dtype, rng):
    x = TensorType(dtype, (False,) * len(shape))("x")
    xv = (8 * rng.standard_normal(shape)).astype(dtype)
    f = native_function([x], LogSoftmax(axis)(x), LogSoftmax)
    got = f(xv)
    assert got.dtype == dtype and got.shape == shape
    want = scipy.special.log_softmax(xv.astype("float64"), axis) if xv.size else xv
    np.testing.assert_allclose(got, want, **_tol(dtype))


def test_log_softmax_of_strided_input_and_special_rows(dtype, rng):
    """A transposed, reversed view read in place; rows holding +inf, NaN or only -inf give NaN
    (inf - inf, as the max-shifted expression does), a lone -inf stays -inf."""
    x = T.matrix("x", dtype=dtype)
    f = native_function([x], T.nnet.log_softmax(x.T[:, ::-1]), LogSoftmax)
    xv = (8 * rng.standard_normal((4, 5))).astype(dtype)
    want = scipy.special.log_softmax(xv.T[:, ::-1].astype("float64"), -1)
    np.testing.assert_allclose(f(xv), want, **_tol(dtype))
    xv[1, 0], xv[1, 1], xv[:, 2], xv[1, 3] = np.inf, np.nan, -np.inf, -np.inf
    got = f(xv)  # row k of the result is column k of xv reversed
    assert np.isnan(got[[0, 1, 2]]).all() and not np.isnan(got[[3, 4]]).any()
    assert got[3, 2] == -np.inf and np.isfinite(np.delete(got[3], 2)).all()


def test_unequal_shapes_are_refused():
    g, sm = T.dmatrix("g"), T.dmatrix("sm")
    f = native_function([g, sm], SoftmaxGrad(-1)(g, sm), SoftmaxGrad)
    with pytest.raises(ValueError, match="g has shape"):
        f(np.zeros((2, 3)), np.zeros((3, 2)))


def test_log_softmax_and_crossentropy_run_without_fallback(rng):
    """The classifier's graphs, forward and backward, all on the device."""
    import theanine as th

    x, b, y = T.dmatrix("x"), T.dvector("b"), T.lvector("y")
    nll, sm = T.nnet.crossentropy_softmax_1hot_with_bias(x, b, y)
    ls = T.nnet.logsoftmax(x)
    f = th.function([x, b, y], [nll, sm, ls, T.grad(nll.sum(), x)])
    assert " 0 fallback" in f.report(), f.report()
    xv, bv = rng.standard_normal((6, 4)), rng.standard_normal(4)
    yv = np.array([0, 3, 3, 1, 2, 0])
    got_nll, got_sm, got_ls, got_g = f(xv, bv, yv)
    p = _softmax(xv + bv, -1)
    np.testing.assert_allclose(got_nll, -np.log(p[np.arange(6), yv]), rtol=1e-12)
    np.testing.assert_allclose(got_sm, p, rtol=1e-12)
    np.testing.assert_allclose(got_ls, np.log(_softmax(xv, -1)), rtol=1e-12)
    np.testing.assert_allclose(got_g, p - np.eye(4)[yv], rtol=1e-10, atol=1e-14)
