"""conv2d forward on a 16x3x224x224 float32 batch with 64 filters of 3x3 ('valid', flipped as
Theano convolves), and its physical reference: one sgemm of the same FLOPs.

The reference row (`im2col gemm`) times NumPy's matmul of the (64, 27) filter matrix by the
(27, 16 * 222 * 222) window matrix, precomputed: the product an im2col convolution cannot
avoid, without building the windows or laying out the result.  NumPy's row builds the windows
with `sliding_window_view` and multiplies; theanine runs `conv2d`; PyTensor 3 has no image
convolution Op, so its graph is the same im2col from 9 slices and a dot; JAX runs
`lax.conv_general_dilated` under `jit`.  Every engine's output is checked against NumPy's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import Context, Measurement, jax_engines, measure, symbolic_engines

NAME = "conv_forward"
DESCRIPTION = "conv2d forward 16x3x224x224 by 64x3x3x3 (valid), float32; vs its im2col gemm"
CASE = "16x3x224x224 * 64x3x3x3"
GEMM_ENGINE = "im2col gemm"
B, C, S, F, K = 16, 3, 224, 64, 3
OUT = S - K + 1


def make_data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((B, C, S, S), dtype=np.float32),
            "w": rng.standard_normal((F, C, K, K), dtype=np.float32)}


def numpy_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(2, 3))
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * K * K, -1)  # (27, B*OUT*OUT)
    out = w[:, :, ::-1, ::-1].reshape(F, -1) @ cols
    return np.ascontiguousarray(out.reshape(F, B, OUT, OUT).transpose(1, 0, 2, 3))


def _symbolic(d: dict[str, np.ndarray]) -> Any:
    def build(lib: Any, T: Any, **compile_kw: Any) -> Any:
        x, w = T.tensor4("x", dtype="float32"), T.tensor4("w", dtype="float32")
        if lib.__name__ == "pytensor":
            cols = T.stack([x[:, :, u:u + OUT, v:v + OUT] for u in range(K) for v in range(K)],
                           axis=-1)  # (B, C, OUT, OUT, K*K)
            cols = cols.dimshuffle(0, 2, 3, 1, 4).reshape((B * OUT * OUT, C * K * K))
            flipped = w[:, :, ::-1, ::-1].reshape((F, C * K * K))
            out = T.dot(cols, flipped.T).reshape((B, OUT, OUT, F)).dimshuffle(0, 3, 1, 2)
        else:
            out = T.nnet.conv2d(x, w, input_shape=(B, C, S, S), filter_shape=(F, C, K, K))
        f = lib.function([x, w], out, **compile_kw)
        return lambda: f(d["x"], d["w"])
    return build


def _jax(d: dict[str, np.ndarray]) -> Any:
    def build(jax: Any) -> Any:
        x, w = jax.numpy.asarray(d["x"]), jax.numpy.asarray(d["w"][:, :, ::-1, ::-1])
        conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(
            x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW")))
        return lambda: conv(x, w).block_until_ready()
    return build


def run(ctx: Context) -> list[Measurement]:
    d = make_data()
    expected = numpy_conv(d["x"], d["w"])
    engines: list[tuple[str, Any]] = []
    if ctx.wants("numpy"):
        cols = np.lib.stride_tricks.sliding_window_view(d["x"], (K, K), axis=(2, 3)) \
            .transpose(1, 4, 5, 0, 2, 3).reshape(C * K * K, -1).copy()
        flat = d["w"].reshape(F, -1).copy()
        out = np.empty((F, cols.shape[1]), np.float32)
        rows = [measure(ctx, NAME, CASE, GEMM_ENGINE, lambda: np.matmul(flat, cols, out=out))]
        rows[0].note = f"{2 * F * C * K * K * cols.shape[1] / 1e9:.2f} GFLOP"
        engines.append(("numpy", lambda: numpy_conv(d["x"], d["w"])))
    else:
        rows = []
    engines += symbolic_engines(ctx, _symbolic(d)) + jax_engines(ctx, _jax(d))
    for engine, fn in engines:
        if isinstance(fn, str):
            rows.append(Measurement(NAME, CASE, engine, note=fn))
            continue
        rows.append(measure(ctx, NAME, CASE, engine, fn, expected=expected, rtol=1e-4,
                            atol=1e-4))
    return rows
