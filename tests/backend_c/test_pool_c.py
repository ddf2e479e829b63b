"""2-d pooling and its gradients on backend c against `perform` on the Python backend: every
mode, window, stride, padding and ignore_border setting, both float dtypes, leading dimensions
of any rank, NaN and ties (bit for bit: the kernels add in perform's order); and wrong shapes
refused before native code runs."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import assert_ulp_close, compile_both, hows, report, require_c

import theanine
import theanine.tensor as T
from theanine.tensor.signal.pool import AveragePoolGrad, MaxPoolGrad, Pool, pool_2d, pool_3d

require_c()

MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
GEOMETRIES = [  # ws, ignore_border, stride, pad
    ((2, 2), True, None, (0, 0)),
    ((3, 2), False, None, (0, 0)),
    ((3, 3), True, (1, 2), (1, 2)),
    ((2, 3), False, (3, 1), (0, 0)),
    ((4, 1), True, (2, 1), (3, 0)),
    ((2, 2), True, (3, 4), (1, 1)),  # gaps: elements of no window (the non-overlapping path)
]


def _compiled(mode, ws, ignore_border, stride, pad, dtype, ndim=4):
    """(Python, C) functions of x, g -> [pool(x), d sum(pool(x) * g) / dx], with the pooling
    nodes checked to run natively on C."""
    x = T.TensorType(dtype, (False,) * ndim)("x")
    g = T.TensorType(dtype, (False,) * ndim)("g")
    out = pool_2d(x, ws=ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=mode)
    fp, fc = compile_both([x, g], [out, theanine.grad((out * g).sum(), x)])
    native = hows(fc, Pool) + hows(fc, MaxPoolGrad) + hows(fc, AveragePoolGrad)
    assert set(native) == {"native"}, report(fc).summary()
    return fp, fc, out.owner.op


def _compare(fp, fc, op, x, rng, what):
    pooled = x.shape[:-2] + op._geometry(x.shape[-2:])[0]
    g = rng.standard_normal(pooled).astype(x.dtype)
    for name, want, got in zip(("pool", "grad"), fp(x, g), fc(x, g)):
        assert_ulp_close(want, got, 0, f"{what} {name}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ws,ignore_border,stride,pad", GEOMETRIES)
def test_pool_and_gradient_match_perform(mode, ws, ignore_border, stride, pad, rng):
    fp, fc, op = _compiled(mode, ws, ignore_border, stride, pad, "float32")
    _compare(fp, fc, op, rng.standard_normal((2, 3, 7, 9)).astype("float32"), rng, mode)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ndim", [2, 3, 5])
@pytest.mark.parametrize("mode", MODES)
def test_dtypes_and_leading_dimensions(dtype, ndim, mode, rng):
    fp, fc, op = _compiled(mode, (2, 3), True, (1, 2), (1, 1), dtype, ndim)
    x = rng.standard_normal((2,) * (ndim - 2) + (6, 7)).astype(dtype)
    _compare(fp, fc, op, x, rng, mode)


def test_nan_and_ties_follow_perform(rng):
    fp, fc, op = _compiled("max", (2, 2), False, (1, 1), (0, 0), "float64")
    x = rng.integers(0, 3, (2, 2, 5, 5)).astype("float64")  # many tied maxima
    x[0, 0, 1, 1] = np.nan
    _compare(fp, fc, op, x, rng, "ties and NaN")
    pooled = fc(x, np.zeros((2, 2, 4, 4)))[0]
    assert np.isnan(pooled[0, 0, :2, :2]).all() and not np.isnan(pooled[0, 0, 2:]).any()


@pytest.mark.parametrize("mode", MODES)
def test_non_overlapping_windows_over_long_rows_and_signed_zeros(mode, rng):
    """The gradient's path for windows that do not overlap spreads each row's windows in
    blocks of 512 elements: rows longer than that, ties and NaN in windows, and gradients of
    -0 (which both paths return as +0, from 0 + the one term)."""
    fp, fc, op = _compiled(mode, (2, 3), False, None, (0, 0), "float32")
    x = rng.integers(0, 3, (2, 3, 5, 1100)).astype("float32")
    x[0, 1, 2, 700] = np.nan
    pooled = x.shape[:-2] + op._geometry(x.shape[-2:])[0]
    g = rng.standard_normal(pooled).astype("float32")
    g[0, 0, 0, :50] = -0.0
    for name, want, got in zip(("pool", "grad"), fp(x, g), fc(x, g)):
        assert_ulp_close(want, got, 0, f"{mode} {name}")
        assert not np.signbit(got[np.asarray(got) == 0]).any(), name


def test_pool_3d_and_integers_fall_back_to_perform():
    x5 = T.tensor5("x5")
    _, f3 = compile_both([x5], pool_3d(x5, ws=(2, 2, 2), ignore_border=True))
    assert hows(f3, Pool) == ["fallback"]
    xi = T.itensor4("xi")
    _, fi = compile_both([xi], pool_2d(xi, ws=(2, 2), ignore_border=True))
    assert hows(fi, Pool) == ["fallback"]


def test_gradient_of_the_wrong_shape_is_refused(rng):
    x, gz, mx = T.tensor4("x"), T.tensor4("gz"), T.tensor4("mx")
    _, fa = compile_both([x, gz], AveragePoolGrad(True, "average_inc_pad", 2, (2, 2))(x, gz))
    _, fm = compile_both([x, mx, gz], MaxPoolGrad(True, "max", 2, (2, 2))(x, mx, gz))
    assert hows(fa, AveragePoolGrad) == ["native"] and hows(fm, MaxPoolGrad) == ["native"]
    xv = rng.standard_normal((2, 3, 6, 6)).astype("float32")
    good, bad = np.zeros((2, 3, 3, 3), "float32"), np.zeros((2, 3, 3, 2), "float32")
    with pytest.raises(ValueError, match=r"output gradient gz has shape \(2, 3, 3, 2\)"):
        fa(xv, bad)
    with pytest.raises(ValueError, match=r"pooled output mx has shape \(2, 3, 3, 2\)"):
        fm(xv, bad, good)
    with pytest.raises(ValueError, match=r"output gradient gz has shape \(2, 3, 3, 2\)"):
        fm(xv, good, bad)
