"""conv2d and its two gradient Ops on backend c (im2col / col2im in C, OpenBLAS gemm) against
`perform` on the Python backend: every border mode, stride, dilation, group count and filter
flip, both float dtypes, several chunks of images, strided operands, and the errors a wrong
shape gives before any native code runs."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import compile_both, hows, report, require_c

import theanine.tensor as T
from theanine.tensor.nnet import abstract_conv as ac

require_c()

CONV_OPS = (ac.AbstractConv, ac.AbstractConv_gradWeights, ac.AbstractConv_gradInputs)
RTOL = {"float32": 2e-5, "float64": 1e-12}


def _close(got, want, dtype, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale,
                               err_msg=what)


def _conv_and_grads(border_mode, subsample, dilation, groups, flip, dtype):
    x, w = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype)
    out = T.nnet.conv2d(x, w, border_mode=border_mode, subsample=subsample,
                        filter_dilation=dilation, num_groups=groups, filter_flip=flip)
    g = T.tensor4("g", dtype=dtype)
    cost = (out * g).sum()
    return [x, w, g], [out, *T.grad(cost, [x, w])]


def _check(inputs, outputs, values, dtype):
    fp, fc = compile_both(inputs, outputs)
    assert "fallback" not in hows(fc)
    assert {h for h in hows(fc, CONV_OPS[0]) + hows(fc, CONV_OPS[1]) + hows(fc, CONV_OPS[2])
            } == {"native"}, report(fc).summary()
    for name, want, got in zip(("conv", "d/dx", "d/dw"), fp(*values), fc(*values)):
        _close(got, want, dtype, name)


@pytest.mark.parametrize("border_mode", ["valid", "full", "half", 1, (2, 0)])
@pytest.mark.parametrize("subsample", [(1, 1), (2, 3)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1)])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_and_gradients_match_perform(border_mode, subsample, dilation, groups, rng):
    inputs, outputs = _conv_and_grads(border_mode, subsample, dilation, groups, True,
                                      "float32")
    x = rng.standard_normal((3, 4, 9, 11)).astype("float32")
    w = rng.standard_normal((6, 4 // groups, 3, 2)).astype("float32")
    top_shape = ac.get_conv_output_shape(x.shape, w.shape, border_mode, subsample, dilation)
    g = rng.standard_normal(top_shape).astype("float32")
    _check(inputs, outputs, [x, w, g], "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("flip", [True, False])
def test_dtypes_and_filter_flip(dtype, flip, rng):
    inputs, outputs = _conv_and_grads("half", (1, 1), (1, 1), 1, flip, dtype)
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    g = rng.standard_normal((2, 5, 7, 8)).astype(dtype)
    _check(inputs, outputs, [x, w, g], dtype)


@pytest.mark.parametrize("groups", [1, 3])
def test_many_chunks_of_images_in_parallel(groups, rng, monkeypatch):
    """Small chunks: several chunks per call, run in parallel, filter gradient summed over
    the chunks' partial sums, a short last chunk."""
    from theanine_c import conv

    monkeypatch.setattr(conv, "CHUNK_BYTES", 4096)
    inputs, outputs = _conv_and_grads("valid", (1, 2), (1, 1), groups, True, "float32")
    x = rng.standard_normal((23, 6, 10, 12)).astype("float32")
    w = rng.standard_normal((9, 6 // groups, 3, 3)).astype("float32")
    g = rng.standard_normal((23, 9, 8, 5)).astype("float32")
    _check(inputs, outputs, [x, w, g], "float32")


def test_strided_and_transposed_operands(rng):
    inputs, outputs = _conv_and_grads("full", (1, 1), (1, 1), 1, True, "float64")
    x = rng.standard_normal((4, 2, 6, 5))[::2, :, ::-1]
    w = np.asfortranarray(rng.standard_normal((3, 2, 2, 3)))
    g = rng.standard_normal((2, 3, 7, 7)).transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)
    _check(inputs, outputs, [x, w, g], "float64")


def test_matches_a_direct_loop(rng):
    """Independent of perform: one output element at a time."""
    x, w = T.tensor4("x"), T.tensor4("w")
    _, fc = compile_both([x, w], T.nnet.conv2d(x, w, border_mode=1, subsample=(2, 1)))
    xv = rng.standard_normal((2, 3, 6, 5)).astype("float32")
    wv = rng.standard_normal((4, 3, 3, 2)).astype("float32")
    xp = np.pad(xv, [(0, 0), (0, 0), (1, 1), (1, 1)]).astype(np.float64)
    flipped = wv[:, :, ::-1, ::-1].astype(np.float64)
    got = fc(xv, wv)
    want = np.zeros(got.shape)
    for b, k, i, j in np.ndindex(*got.shape):
        want[b, k, i, j] = (xp[b, :, 2 * i:2 * i + 3, j:j + 2] * flipped[k]).sum()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv3d_and_float16_fall_back_to_perform(rng):
    x, w = T.tensor5("x"), T.tensor5("w")
    _, fc = compile_both([x, w], T.nnet.conv3d(x, w))
    assert hows(fc, ac.AbstractConv) == ["fallback"]
    xh, wh = T.tensor4("xh", dtype="float16"), T.tensor4("wh", dtype="float16")
    _, fh = compile_both([xh, wh], T.nnet.conv2d(xh, wh))
    assert hows(fh, ac.AbstractConv) == ["fallback"]


def test_wrong_shapes_raise_before_native_code(rng):
    x, w = T.tensor4("x"), T.tensor4("w")
    w_ok = rng.standard_normal((4, 3, 3, 3)).astype("float32")
    _, f = compile_both([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match=r"the input x has 2 channels.*the filters w"):
        f(rng.standard_normal((2, 2, 6, 6)).astype("float32"), w_ok)
    with pytest.raises(ValueError, match="do not fit"):
        f(rng.standard_normal((1, 3, 2, 2)).astype("float32"), w_ok)
    _, hinted = compile_both([x, w], T.nnet.conv2d(x, w, input_shape=(2, 3, 6, 6)))
    with pytest.raises(ValueError, match=r"the input x has shape \(2, 3, 7, 6\).*declared"):
        hinted(rng.standard_normal((2, 3, 7, 6)).astype("float32"), w_ok)
    top = T.tensor4("top")
    _, fg = compile_both([top, w], ac.conv2d_grad_wrt_inputs(top, w, (2, 3, 6, 6)))
    assert hows(fg, ac.AbstractConv_gradInputs) == ["native"]
    with pytest.raises(ValueError, match=r"output gradient top has shape \(2, 4, 5, 4\)"):
        fg(rng.standard_normal((2, 4, 5, 4)).astype("float32"), w_ok)
