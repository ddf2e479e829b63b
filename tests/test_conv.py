"""Convolution (issue 12): conv2d / conv3d and their gradient Ops against a direct loop over
output positions written here, numerical gradients, shape inference and the errors users see;
the old `nnet.conv.conv2d`; and examples/lenet.py, which must train."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.tensor.nnet import abstract_conv as ac
from theanine.tensor.nnet import conv as old_conv
from theanine.testing import check_backends, check_infer_shape, verify_grad


# The reference ------------------------------------------------------------------------------
def _pads(border_mode, kshape, dilation):
    dil = [(k - 1) * d + 1 for k, d in zip(kshape, dilation)]
    if border_mode == "valid":
        return [0] * len(kshape)
    if border_mode == "full":
        return [k - 1 for k in dil]
    if border_mode == "half":
        return [k // 2 for k in dil]
    if isinstance(border_mode, int):
        return [border_mode] * len(kshape)
    return list(border_mode)


def naive_conv(x, w, border_mode="valid", subsample=None, dilation=None, groups=1, flip=True):
    """out[b, k, o] = sum over channels c of k's group and kernel offsets u of
    xpad[b, c, o * stride + u * dilation] * w'[k, c, u], one output element at a time
    (w' is w flipped along its spatial axes when `flip`)."""
    nd = x.ndim - 2
    subsample = subsample or (1,) * nd
    dilation = dilation or (1,) * nd
    kshape = w.shape[2:]
    if flip:
        w = w[(Ellipsis,) + (slice(None, None, -1),) * nd]
    pads = _pads(border_mode, kshape, dilation)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pads])
    out_shape = [(xp.shape[2 + i] - (kshape[i] - 1) * dilation[i] - 1) // subsample[i] + 1
                 for i in range(nd)]
    k_per_group, c_per_group = w.shape[0] // groups, w.shape[1]
    out = np.zeros((x.shape[0], w.shape[0], *out_shape))
    for b, k in itertools.product(range(x.shape[0]), range(w.shape[0])):
        first = (k // k_per_group) * c_per_group
        for o in np.ndindex(*out_shape):
            total = 0.0
            for c in range(c_per_group):
                for u in np.ndindex(*kshape):
                    at = tuple(o[i] * subsample[i] + u[i] * dilation[i] for i in range(nd))
                    total += xp[(b, first + c) + at] * w[(k, c) + u]
            out[(b, k) + o] = total
    return out


def _tensor(nd, name, dtype="float64"):
    return T.tensor(dtype, (False,) * nd, name=name)


# Forward ------------------------------------------------------------------------------------
BORDER_MODES = ["valid", "full", "half", 1, (2, 1)]


@pytest.mark.parametrize("border_mode", BORDER_MODES)
@pytest.mark.parametrize("subsample", [(1, 1), (2, 3)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1)])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_matches_the_direct_loop(border_mode, subsample, dilation, groups, rng):
    x, w = _tensor(4, "x"), _tensor(4, "w")
    xv = rng.normal(size=(2, 4, 7, 8))
    wv = rng.normal(size=(4, 4 // groups, 3, 2))
    out = ac.conv2d(x, w, border_mode=border_mode, subsample=subsample,
                    filter_dilation=dilation, num_groups=groups)
    got = theanine.function([x, w], out)(xv, wv)
    want = naive_conv(xv, wv, border_mode, subsample, dilation, groups)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("border_mode", ["valid", "half", (1, 0)])
def test_filter_flip_false_is_a_cross_correlation(border_mode, rng):
    x, w = _tensor(4, "x"), _tensor(4, "w")
    xv, wv = rng.normal(size=(1, 2, 5, 6)), rng.normal(size=(3, 2, 3, 3))
    got = theanine.function([x, w], ac.conv2d(x, w, border_mode=border_mode,
                                              filter_flip=False))(xv, wv)
    np.testing.assert_allclose(got, naive_conv(xv, wv, border_mode, flip=False), rtol=1e-10)


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
def test_conv2d_keeps_the_float_dtype(dtype, rtol, rng):
    x, w = _tensor(4, "x", dtype), _tensor(4, "w", dtype)
    xv = rng.normal(size=(3, 3, 9, 9)).astype(dtype)
    wv = rng.normal(size=(5, 3, 4, 4)).astype(dtype)
    out = ac.conv2d(x, w, border_mode="full", subsample=(2, 2))
    assert out.dtype == dtype
    got = theanine.function([x, w], out)(xv, wv)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, naive_conv(xv, wv, "full", (2, 2)), rtol=rtol, atol=rtol)


def test_mixed_dtypes_compute_in_the_wider_one(rng):
    x, w = _tensor(4, "x", "float32"), _tensor(4, "w", "float64")
    out = ac.conv2d(x, w)
    assert out.dtype == "float64"
    xv, wv = rng.normal(size=(1, 1, 4, 4)).astype("float32"), rng.normal(size=(1, 1, 2, 2))
    np.testing.assert_allclose(theanine.function([x, w], out)(xv, wv), naive_conv(xv, wv),
                               rtol=1e-12)


@pytest.mark.parametrize("border_mode", ["valid", "full", "half", (1, 0, 2)])
@pytest.mark.parametrize("subsample, dilation, groups", [((1, 1, 1), (1, 1, 1), 1),
                                                         ((2, 1, 2), (1, 2, 1), 2)])
def test_conv3d_matches_the_direct_loop(border_mode, subsample, dilation, groups, rng):
    x, w = _tensor(5, "x"), _tensor(5, "w")
    xv = rng.normal(size=(2, 2, 5, 6, 5))
    wv = rng.normal(size=(2, 2 // groups, 2, 3, 2))
    out = ac.conv3d(x, w, border_mode=border_mode, subsample=subsample,
                    filter_dilation=dilation, num_groups=groups)
    got = theanine.function([x, w], out)(xv, wv)
    np.testing.assert_allclose(got, naive_conv(xv, wv, border_mode, subsample, dilation, groups),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("border_mode", ["valid", "full"])
@pytest.mark.parametrize("subsample", [(1, 1), (2, 2)])
def test_old_conv_module(border_mode, subsample, rng):
    x, w = _tensor(4, "x"), _tensor(4, "w")
    xv, wv = rng.normal(size=(2, 3, 8, 7)), rng.normal(size=(4, 3, 3, 2))
    out = old_conv.conv2d(x, w, image_shape=(2, 3, 8, 7), filter_shape=(4, 3, 3, 2),
                          border_mode=border_mode, subsample=subsample)
    got = theanine.function([x, w], out)(xv, wv)
    np.testing.assert_allclose(got, naive_conv(xv, wv, border_mode, subsample), rtol=1e-10)


def test_old_conv_module_refuses_what_it_never_had():
    x, w = _tensor(4, "x"), _tensor(4, "w")
    with pytest.raises(ValueError, match="'valid' or 'full'"):
        old_conv.conv2d(x, w, border_mode="half")
    with pytest.raises(TypeError, match="imshp_logical"):
        old_conv.conv2d(x, w, imshp_logical=(3, 8, 7))


@pytest.mark.parametrize("border_mode", BORDER_MODES)
@pytest.mark.parametrize("subsample", [(1, 1), (3, 2)])
@pytest.mark.parametrize("dilation", [(1, 1), (1, 2)])
def test_get_conv_output_shape_matches_the_loop(border_mode, subsample, dilation, rng):
    xv, wv = rng.normal(size=(2, 1, 9, 8)), rng.normal(size=(3, 1, 3, 2))
    want = naive_conv(xv, wv, border_mode, subsample, dilation).shape
    bm = (border_mode,) * 2 if isinstance(border_mode, int) else border_mode
    assert ac.get_conv_output_shape(xv.shape, wv.shape, bm, subsample, dilation) == want


# Gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("border_mode, subsample, dilation, groups", [
    ("valid", (1, 1), (1, 1), 1),
    ("full", (2, 1), (1, 1), 1),
    ("half", (1, 1), (2, 1), 2),
    ((1, 2), (2, 2), (1, 1), 1),
    (1, (1, 2), (1, 2), 2),
])
@pytest.mark.parametrize("flip", [True, False])
def test_conv2d_gradients_are_numerical(border_mode, subsample, dilation, groups, flip, rng):
    xv = rng.normal(size=(2, 2, 6, 5))
    wv = rng.normal(size=(2, 2 // groups, 3, 2))

    def fn(x, w):
        return ac.conv2d(x, w, border_mode=border_mode, subsample=subsample,
                         filter_dilation=dilation, num_groups=groups, filter_flip=flip)

    verify_grad(fn, [xv, wv], rng=rng)


def test_conv3d_gradients_are_numerical(rng):
    def fn(x, w):
        return ac.conv3d(x, w, border_mode="half", subsample=(2, 1, 1))

    verify_grad(fn, [rng.normal(size=(1, 2, 4, 3, 4)), rng.normal(size=(2, 2, 2, 3, 2))],
                rng=rng)


@pytest.mark.parametrize("border_mode, subsample, groups", [("valid", (1, 1), 1),
                                                            ("full", (2, 1), 2),
                                                            ((1, 1), (2, 3), 1)])
def test_gradient_ops_are_the_adjoints_of_the_loop(border_mode, subsample, groups, rng):
    """<conv(x, w), top> = <x, grad_wrt_inputs(top, w)> = <w, grad_wrt_weights(x, top)>,
    with conv computed by the direct loop."""
    xv = rng.normal(size=(2, 4, 7, 6))
    wv = rng.normal(size=(2, 4 // groups, 3, 3))
    y = naive_conv(xv, wv, border_mode, subsample, groups=groups)
    topv = rng.normal(size=y.shape)
    top, x, w = _tensor(4, "top"), _tensor(4, "x"), _tensor(4, "w")
    params = dict(border_mode=border_mode, subsample=subsample, num_groups=groups)
    gi = ac.conv2d_grad_wrt_inputs(top, w, input_shape=(None, None, x.shape[2], x.shape[3]),
                                   **params)
    gw = ac.conv2d_grad_wrt_weights(x, top, filter_shape=wv.shape, **params)
    gi_v, gw_v = theanine.function([top, w, x], [gi, gw])(topv, wv, xv)
    assert gi_v.shape == xv.shape and gw_v.shape == wv.shape
    pairing = np.sum(y * topv)
    np.testing.assert_allclose(np.sum(xv * gi_v), pairing, rtol=1e-10)
    np.testing.assert_allclose(np.sum(wv * gw_v), pairing, rtol=1e-10)


@pytest.mark.parametrize("border_mode, subsample", [("half", (2, 2)), ("valid", (1, 2))])
def test_gradient_ops_have_gradients(border_mode, subsample, rng):
    """Each gradient Op is differentiable in each of its inputs (second-order code)."""
    xv, wv = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 2))
    top_shape = naive_conv(xv, wv, border_mode, subsample).shape
    topv = rng.normal(size=top_shape)
    params = dict(border_mode=border_mode, subsample=subsample)
    verify_grad(lambda w, top: ac.conv2d_grad_wrt_inputs(top, w, xv.shape, **params),
                [wv, topv], rng=rng)
    verify_grad(lambda x, top: ac.conv2d_grad_wrt_weights(x, top, wv.shape, **params),
                [xv, topv], rng=rng)


def test_second_order_through_grad(rng):
    def fn(x, w):
        y = ac.conv2d(x, w, border_mode="full", subsample=(1, 2))
        gx, gw = theanine.grad((T.tanh(y) ** 2).sum(), [x, w])
        return (gx ** 2).sum() + (gw * w).sum()

    verify_grad(fn, [rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 2, 2, 3))], rng=rng)


def test_each_op_agrees_with_perform_on_every_backend(rng):
    params = dict(border_mode=(1, 0), subsample=(2, 1), filter_dilation=(1, 2), num_groups=2)
    xv = rng.normal(size=(2, 4, 7, 6)).astype("float32")
    wv = rng.normal(size=(4, 2, 3, 2)).astype("float32")
    topv = rng.normal(size=naive_conv(xv, wv, (1, 0), (2, 1), (1, 2), 2).shape)
    topv = topv.astype("float32")
    assert check_backends(ac.AbstractConv2d(**params), [xv, wv])
    assert check_backends(ac.AbstractConv2d_gradWeights(**params), [xv, topv, np.array([3, 2])])
    assert check_backends(ac.AbstractConv2d_gradInputs(**params), [wv, topv, np.array([7, 6])])


# Shapes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("border_mode", BORDER_MODES)
def test_inferred_shapes_follow_symbolic_sizes(border_mode, rng):
    xv, wv = rng.normal(size=(2, 4, 7, 9)), rng.normal(size=(6, 2, 3, 4))
    params = dict(border_mode=border_mode, subsample=(2, 3), filter_dilation=(1, 2),
                  num_groups=2)
    check_infer_shape(lambda x, w: ac.conv2d(x, w, **params), [xv, wv])
    topv = rng.normal(size=naive_conv(xv, wv, border_mode, (2, 3), (1, 2), 2).shape)
    check_infer_shape(lambda w, top: ac.conv2d_grad_wrt_inputs(
        top, w, (None, None, 7, 9), **params), [wv, topv])
    check_infer_shape(lambda x, top: ac.conv2d_grad_wrt_weights(
        x, top, (None, None, 3, 4), **params), [xv, topv])


def test_one_graph_serves_every_image_size(rng):
    x, w = _tensor(4, "x"), _tensor(4, "w")
    out = ac.conv2d(x, w, border_mode="half", subsample=(2, 2))
    f = theanine.function([x, w], [out, out.shape])
    wv = rng.normal(size=(2, 1, 3, 3))
    for size in [(5, 5), (8, 3), (3, 11)]:
        xv = rng.normal(size=(1, 1, *size))
        got, shape = f(xv, wv)
        want = naive_conv(xv, wv, "half", (2, 2))
        assert tuple(shape) == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10)


# Errors -------------------------------------------------------------------------------------
def test_inputs_of_the_wrong_rank_are_named():
    with pytest.raises(TypeError, match=r"input images .*4-d tensor \(NCHW\).*3 dimension"):
        ac.conv2d(T.dtensor3("images"), _tensor(4, "w"))
    with pytest.raises(TypeError, match=r"filters kernels .*5-d tensor"):
        ac.conv3d(_tensor(5, "x"), _tensor(4, "kernels"))


def test_channel_mismatch_names_both_variables(rng):
    x, w = _tensor(4, "images"), _tensor(4, "kernels")
    f = theanine.function([x, w], ac.conv2d(x, w))
    with pytest.raises(ValueError, match=r"images has 3 channels.*kernels.*expect 2"):
        f(rng.normal(size=(1, 3, 5, 5)), rng.normal(size=(4, 2, 3, 3)))


def test_filters_larger_than_the_input_are_refused(rng):
    x, w = _tensor(4, "images"), _tensor(4, "kernels")
    f = theanine.function([x, w], ac.conv2d(x, w, filter_dilation=(2, 2)))
    with pytest.raises(ValueError, match=r"kernels.*do not fit in the input images"):
        f(rng.normal(size=(1, 1, 4, 9)), rng.normal(size=(1, 1, 3, 3)))


def test_shape_hints_are_checked(rng):
    x, w = _tensor(4, "images"), _tensor(4, "w")
    f = theanine.function([x, w], ac.conv2d(x, w, input_shape=(None, 1, 6, 6)))
    with pytest.raises(ValueError, match=r"images has shape \(1, 1, 5, 6\).*\(None, 1, 6, 6\)"):
        f(rng.normal(size=(1, 1, 5, 6)), rng.normal(size=(1, 1, 2, 2)))
    with pytest.raises(ValueError, match="3 channels but filter_shape"):
        ac.conv2d(x, w, input_shape=(None, 3, 6, 6), filter_shape=(4, 2, 3, 3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(border_mode="same"), "border_mode must be one of"),
    (dict(border_mode=(1, 2, 3)), "tuple of 2 ints"),
    (dict(subsample=(0, 1)), "subsample must be a tuple of 2 ints >= 1"),
    (dict(filter_dilation=(1,)), "filter_dilation"),
    (dict(num_groups=0), "num_groups"),
    (dict(num_groups=3, filter_shape=(4, 1, 3, 3)), "cannot be split"),
])
def test_bad_parameters_are_refused_when_building(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ac.conv2d(_tensor(4, "x"), _tensor(4, "w"), **kwargs)


def test_gradient_shapes_that_do_not_match_are_refused(rng):
    top, w = _tensor(4, "top"), _tensor(4, "w")
    f = theanine.function([top, w], ac.conv2d_grad_wrt_inputs(top, w, (1, 1, 6, 6)))
    with pytest.raises(ValueError, match=r"output gradient top has shape \(1, 1, 3, 3\).*"
                                         r"gives \(1, 1, 4, 4\)"):
        f(rng.normal(size=(1, 1, 3, 3)), rng.normal(size=(1, 1, 3, 3)))
    with pytest.raises(ValueError, match="input_shape must give all 4 extents"):
        ac.conv2d_grad_wrt_inputs(top, w, (6, 6))


def test_gradient_functions_take_a_symbolic_shape(rng):
    x, w, top = _tensor(4, "x"), _tensor(4, "w"), _tensor(4, "top")
    xv, wv = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2))
    topv = rng.normal(size=naive_conv(xv, wv, "full", (2, 1)).shape)
    params = dict(border_mode="full", subsample=(2, 1))
    gi = ac.conv2d_grad_wrt_inputs(top, w, x.shape, **params)
    gw = ac.conv2d_grad_wrt_weights(x, top, w.shape, **params)
    gi_v, gw_v = theanine.function([x, w, top], [gi, gw])(xv, wv, topv)
    pairing = np.sum(naive_conv(xv, wv, "full", (2, 1)) * topv)
    np.testing.assert_allclose(np.sum(xv * gi_v), pairing, rtol=1e-10)
    np.testing.assert_allclose(np.sum(wv * gw_v), pairing, rtol=1e-10)


# The LeNet example --------------------------------------------------------------------------
def test_lenet_example_trains():
    path = Path(__file__).resolve().parents[1] / "examples" / "lenet.py"
    spec = importlib.util.spec_from_file_location("lenet", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    costs = example.main(n_epochs=2, n_train=200, batch_size=50, verbose=False)
    assert all(np.isfinite(costs))
    assert np.mean(costs[-2:]) < costs[0] - 0.2
