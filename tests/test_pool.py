"""Pooling (issue 12): pool_2d / pool_3d, their gradient Ops and max_pool_2d_same_size
against a loop over windows written here (Theano's definition of each mode), numerical
gradients, shape inference, Theano's deprecated names and the errors users see."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.tensor.signal import downsample
from theanine.tensor.signal import pool as P
from theanine.testing import check_backends, check_infer_shape, verify_grad

MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]


# The reference ------------------------------------------------------------------------------
def _n_windows(v, w, s, p, ignore_border):
    if ignore_border:
        return max((v + 2 * p - w) // s + 1, 0)
    if s >= w:
        return (v - 1) // s + 1
    return max(0, (v - 1 - w + s) // s) + 1


def _window(j, v, w, s, p, mode):
    """Window j of an axis of extent v, in padded coordinates: Theano clips it to the padded
    axis, and to the real elements unless the mode averages over the padding too."""
    start, end = j * s, min(j * s + w, v + 2 * p)
    if mode != "average_inc_pad":
        start, end = max(start, p), min(end, v + p)
    return start, end


def naive_pool(x, ws, ignore_border, stride=None, pad=None, mode="max"):
    nd = len(ws)
    stride = stride or ws
    pad = pad or (0,) * nd
    img = x.shape[-nd:]
    padded = np.zeros(x.shape[:-nd] + tuple(v + 2 * p for v, p in zip(img, pad)))
    padded[(Ellipsis,) + tuple(slice(p, p + v) for p, v in zip(pad, img))] = x
    out_shape = tuple(_n_windows(*a, ignore_border) for a in zip(img, ws, stride, pad))
    out = np.zeros(x.shape[:-nd] + out_shape)
    for lead in np.ndindex(*x.shape[:-nd]):
        for o in np.ndindex(*out_shape):
            bounds = [_window(o[i], img[i], ws[i], stride[i], pad[i], mode) for i in range(nd)]
            region = padded[lead + tuple(slice(a, b) for a, b in bounds)]
            if mode == "max":
                out[lead + o] = region.max()
            elif mode == "sum":
                out[lead + o] = region.sum()
            else:
                out[lead + o] = region.mean()
    return out


def naive_max_pool_grad(x, gz, ws, ignore_border, stride=None, pad=None):
    """Each window's gradient goes to the element(s) of the window equal to its maximum."""
    nd = len(ws)
    stride = stride or ws
    pad = pad or (0,) * nd
    maxout = naive_pool(x, ws, ignore_border, stride, pad)
    gx = np.zeros(x.shape)
    img = x.shape[-nd:]
    for lead in np.ndindex(*x.shape[:-nd]):
        for o in np.ndindex(*maxout.shape[-nd:]):
            bounds = [_window(o[i], img[i], ws[i], stride[i], pad[i], "max") for i in range(nd)]
            for at in itertools.product(*[range(a - p, b - p) for (a, b), p in
                                          zip(bounds, pad)]):
                if x[lead + at] == maxout[lead + o]:
                    gx[lead + at] += gz[lead + o]
    return gx


CASES = [  # ws, ignore_border, stride, pad
    ((2, 2), True, None, (0, 0)),
    ((2, 2), False, None, (0, 0)),
    ((3, 2), False, (1, 2), (0, 0)),
    ((3, 3), False, (2, 2), (0, 0)),
    ((2, 3), True, (1, 1), (0, 0)),
    ((3, 3), True, (2, 1), (1, 2)),
    ((2, 2), True, (3, 3), (1, 1)),
]


# Forward ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ws, ignore_border, stride, pad", CASES)
def test_pool_2d_matches_the_window_loop(mode, ws, ignore_border, stride, pad, rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(2, 3, 7, 6))
    out = P.pool_2d(x, ws=ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=mode)
    got = theanine.function([x], out)(xv)
    want = naive_pool(xv, ws, ignore_border, stride, pad, mode)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("ndim", [2, 3, 5])
@pytest.mark.parametrize("mode", MODES)
def test_pool_2d_pools_the_last_two_dimensions_of_any_rank(ndim, mode, rng):
    x = T.tensor("float32", (False,) * ndim, name="x")
    xv = rng.normal(size=(2, 3, 4, 5, 7)[-ndim:]).astype("float32")
    out = P.pool_2d(x, ws=(2, 3), ignore_border=False, stride=(2, 2), mode=mode)
    got = theanine.function([x], out)(xv)
    assert got.dtype == "float32"
    want = naive_pool(xv, (2, 3), False, (2, 2), None, mode)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_pool_3d_matches_the_window_loop(mode, rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(2, 5, 4, 6))
    out = P.pool_3d(x, ws=(2, 2, 3), ignore_border=True, stride=(2, 1, 2), pad=(1, 0, 1),
                    mode=mode)
    got = theanine.function([x], out)(xv)
    np.testing.assert_allclose(got, naive_pool(xv, (2, 2, 3), True, (2, 1, 2), (1, 0, 1),
                                               mode), rtol=1e-12)


def test_max_pool_2d_same_size(rng):
    x = T.dtensor3("x")
    xv = rng.normal(size=(2, 6, 5))
    got = theanine.function([x], P.max_pool_2d_same_size(x, (2, 2)))(xv)
    want = np.zeros_like(xv)  # ignore_border: the last column is in no whole patch
    for c, i, j in np.ndindex(2, 3, 2):
        patch = xv[c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        r, s = np.unravel_index(np.argmax(patch), patch.shape)
        want[c, 2 * i + r, 2 * j + s] = patch[r, s]
    np.testing.assert_array_equal(got, want)


def test_integer_max_pooling(rng):
    x = T.itensor4("x")
    xv = rng.integers(-50, 50, size=(1, 2, 5, 5)).astype("int32")
    out = P.pool_2d(x, ws=(2, 2), ignore_border=False)
    got = theanine.function([x], out)(xv)
    assert got.dtype == "int32"
    np.testing.assert_array_equal(got, naive_pool(xv, (2, 2), False))


# Gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ws, ignore_border, stride, pad", CASES)
def test_pool_gradients_are_numerical(mode, ws, ignore_border, stride, pad, rng):
    # a permutation keeps every window's maximum apart from the rest (finite differences)
    xv = rng.permutation(2 * 7 * 6).reshape(2, 7, 6) / 10.0
    verify_grad(lambda x: P.pool_2d(x, ws=ws, ignore_border=ignore_border, stride=stride,
                                    pad=pad, mode=mode), [xv], rng=rng)


@pytest.mark.parametrize("ws, ignore_border, stride, pad", CASES)
def test_max_pool_grad_matches_the_window_loop(ws, ignore_border, stride, pad, rng):
    x, gz = T.dtensor4("x"), T.dtensor4("gz")
    xv = rng.integers(0, 4, size=(1, 2, 7, 6)).astype("float64")  # many ties
    op = P.MaxPoolGrad(ignore_border, "max", 2, ws, stride, pad)
    maxout = P.Pool(ignore_border, "max", 2, ws, stride, pad)(x)
    gzv = rng.normal(size=naive_pool(xv, ws, ignore_border, stride, pad).shape)
    got = theanine.function([x, gz], op(x, maxout, gz))(xv, gzv)
    np.testing.assert_allclose(got, naive_max_pool_grad(xv, gzv, ws, ignore_border, stride,
                                                        pad), rtol=1e-12)


@pytest.mark.parametrize("ws, ignore_border, stride, pad", CASES[2:6])
def test_grad_of_max_pool_grad(ws, ignore_border, stride, pad, rng):
    """DownsampleFactorMaxGradGrad is MaxPoolGrad's adjoint in the output gradient, and
    second-order code through max pooling gets numerical gradients."""
    xv = rng.permutation(2 * 7 * 6).reshape(1, 2, 7, 6) / 10.0
    params = (ignore_border, "max", 2, ws, stride, pad)
    maxout_v = naive_pool(xv, ws, ignore_border, stride, pad)
    gzv, ggv = rng.normal(size=maxout_v.shape), rng.normal(size=xv.shape)
    x, mo, gg = T.dtensor4("x"), T.dtensor4("maxout"), T.dtensor4("gg")
    got = theanine.function([x, mo, gg], P.DownsampleFactorMaxGradGrad(*params)(x, mo, gg))(
        xv, maxout_v, ggv)
    gx = naive_max_pool_grad(xv, gzv, ws, ignore_border, stride, pad)
    np.testing.assert_allclose(np.sum(got * gzv), np.sum(gx * ggv), rtol=1e-10)

    verify_grad(lambda gz: P.MaxPoolGrad(*params)(xv, maxout_v, gz), [gzv], rng=rng)
    verify_grad(lambda g: P.DownsampleFactorMaxGradGrad(*params)(xv, maxout_v, g), [ggv],
                rng=rng)

    def second_order(x):
        gx = theanine.grad((P.Pool(*params)(x) ** 2).sum(), x)
        return (gx ** 2).sum()

    verify_grad(second_order, [xv], rng=rng)


@pytest.mark.parametrize("mode", ["sum", "average_inc_pad", "average_exc_pad"])
def test_average_pool_grad_has_a_gradient(mode, rng):
    xv = rng.normal(size=(2, 7, 6))
    params = (True, mode, 2, (3, 2), (2, 1), (1, 1))
    gzv = rng.normal(size=naive_pool(xv, (3, 2), True, (2, 1), (1, 1), mode).shape)
    verify_grad(lambda gz: P.AveragePoolGrad(*params)(xv, gz), [gzv], rng=rng)


@pytest.mark.parametrize("mode", MODES)
def test_each_op_agrees_with_perform_on_every_backend(mode, rng):
    params = (True, mode, 2, (3, 2), (2, 1), (1, 1))
    xv = rng.normal(size=(2, 3, 7, 6)).astype("float32")
    out = naive_pool(xv, (3, 2), True, (2, 1), (1, 1), mode).astype("float32")
    assert check_backends(P.Pool(*params), [xv])
    if mode == "max":
        assert check_backends(P.MaxPoolGrad(*params), [xv, out, out])
        assert check_backends(P.DownsampleFactorMaxGradGrad(*params), [xv, out, xv])
    else:
        assert check_backends(P.AveragePoolGrad(*params), [xv, out])


# Shapes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("ws, ignore_border, stride, pad", CASES)
def test_inferred_shapes_follow_symbolic_sizes(ws, ignore_border, stride, pad, rng):
    for size in [(7, 6), (2, 3), (1, 1)]:
        xv = rng.normal(size=(2, 3, *size))
        for mode in ("max", "average_exc_pad"):
            params = (ignore_border, mode, 2, ws, stride, pad)
            check_infer_shape(P.Pool(*params), [xv])
            gzv = np.ones(naive_pool(xv, ws, ignore_border, stride, pad, mode).shape)
            if mode == "max":
                maxv = naive_pool(xv, ws, ignore_border, stride, pad)
                check_infer_shape(P.MaxPoolGrad(*params), [xv, maxv, gzv])
                check_infer_shape(P.DownsampleFactorMaxGradGrad(*params), [xv, maxv, xv])
            else:
                check_infer_shape(P.AveragePoolGrad(*params), [xv, gzv])


def test_out_shape_is_theanos(rng):
    for ws, ignore_border, stride, pad in CASES:
        want = naive_pool(rng.normal(size=(1, 7, 6)), ws, ignore_border, stride, pad).shape
        assert tuple(P.Pool.out_shape((1, 7, 6), ws, ignore_border, stride, pad)) == want


# Theano's names -----------------------------------------------------------------------------
def test_downsample_max_pool_2d(rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(1, 2, 7, 7))
    out = downsample.max_pool_2d(x, (3, 3), ignore_border=True, st=(2, 2), padding=(1, 1))
    got = theanine.function([x], out)(xv)
    np.testing.assert_allclose(got, naive_pool(xv, (3, 3), True, (2, 2), (1, 1)))


def test_deprecated_keyword_names_warn_and_work(rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(1, 1, 6, 6))
    with pytest.warns(DeprecationWarning) as caught:
        out = P.pool_2d(x, ds=(2, 2), st=(1, 1), ignore_border=True, mode="sum")
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["ds", "st"]
    got = theanine.function([x], out)(xv)
    np.testing.assert_allclose(got, naive_pool(xv, (2, 2), True, (1, 1), None, "sum"))
    with pytest.raises(ValueError, match="ws or its old name ds"):
        P.pool_2d(x, ws=(2, 2), ds=(3, 3), ignore_border=True)


def test_missing_ignore_border_warns_and_defaults_to_false(rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(1, 1, 5, 5))
    with pytest.warns(DeprecationWarning, match="ignore_border"):
        out = P.pool_2d(x, ws=(2, 2))
    np.testing.assert_allclose(theanine.function([x], out)(xv), naive_pool(xv, (2, 2), False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.pool_2d(x, ws=(2, 2), ignore_border=True)


def test_theanos_calling_style_of_the_ops(rng):
    """Theano's Ops take the window at the call: Pool(ignore_border=True)(x, ws)."""
    x = T.dtensor4("x")
    xv = rng.normal(size=(1, 1, 4, 6))
    out = P.Pool(ignore_border=True, mode="average_exc_pad")(x, (2, 3), (1, 1), (1, 1))
    np.testing.assert_allclose(theanine.function([x], out)(xv),
                               naive_pool(xv, (2, 3), True, (1, 1), (1, 1), "average_exc_pad"))


# Errors -------------------------------------------------------------------------------------
def test_bad_pooling_arguments_are_refused():
    x = T.dtensor4("x")
    with pytest.raises(TypeError, match=r"input v must have at least 2 dimensions"):
        P.pool_2d(T.dvector("v"), ws=(2, 2), ignore_border=True)
    with pytest.raises(ValueError, match="mode must be one of"):
        P.pool_2d(x, ws=(2, 2), ignore_border=True, mode="median")
    with pytest.raises(ValueError, match=r"ws \(the window size\) must be a tuple of 2 ints"):
        P.pool_2d(x, ws=(2, 0), ignore_border=True)
    with pytest.raises(NotImplementedError, match="ignore_border=True"):
        P.pool_2d(x, ws=(2, 2), ignore_border=False, pad=(1, 1))
    with pytest.raises(NotImplementedError, match="smaller than the window"):
        P.pool_2d(x, ws=(2, 2), ignore_border=True, pad=(2, 1))
    with pytest.raises(TypeError, match="known when the graph is built"):
        P.pool_2d(x, ws=T.lvector("ws"), ignore_border=True)
    with pytest.raises(ValueError, match="window size"):
        P.pool_2d(x, ignore_border=True)


def test_gradient_of_the_wrong_shape_is_refused(rng):
    x, gz = T.dtensor4("x"), T.dtensor4("gz")
    f = theanine.function([x, gz], P.AveragePoolGrad(True, "sum", 2, (2, 2))(x, gz))
    with pytest.raises(ValueError, match=r"output gradient gz has shape \(1, 1, 3, 3\).*"
                                         r"\(1, 1, 2, 2\)"):
        f(rng.normal(size=(1, 1, 4, 4)), rng.normal(size=(1, 1, 3, 3)))
