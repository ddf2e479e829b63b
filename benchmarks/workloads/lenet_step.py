"""One SGD step of the deeplearning.net LeNet-5 on a batch of 500 MNIST-shaped images, float32:
conv 20 filters 5x5 -> 2x2 max pooling -> +bias, tanh -> conv 50 filters 5x5 -> 2x2 max
pooling -> +bias, tanh -> 800-500 tanh layer -> 500-10 softmax, mean cross-entropy.

The NumPy engine is a hand-written forward and backward pass (im2col windows and matmul for
the convolutions, a reshape for the pooling); theanine differentiates `conv2d` and `pool_2d`;
PyTensor 3 has no convolution or pooling Op for images, so its graph builds the same im2col
windows from 25 slices and a dot, and pools with a reshape and `max` (the fastest graph it
offers), in both of its modes (C and Numba); JAX uses `lax.conv_general_dilated` and
`lax.reduce_window` under `jit`.  Each engine's first step (cost and the 8 updated
parameters) is checked against the NumPy step before timing.

The cases are one thread and two threads: each runs in a fresh process whose OpenMP, OpenBLAS
and XLA pools have that many threads (one thread: the process is also pinned to one CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as the child script: make `harness` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import (  # noqa: E402
    Context,
    Measurement,
    jax_engines,
    jax_sgd,
    measure,
    mismatch,
    symbolic_engines,
    symbolic_sgd,
)

NAME = "lenet_step"
DESCRIPTION = ("SGD step of LeNet-5 (conv 20x5x5, pool, conv 50x5x5, pool, tanh 500, "
               "softmax 10), batch 500, 1x28x28, float32; 1 and 2 threads")
BATCH, SIDE, K, F1, F2, N_HID, N_OUT = 500, 28, 5, 20, 50, 500, 10
LEARNING_RATE = 0.1
PARAMS = ("W0", "b0", "W1", "b1", "W2", "b2", "W3", "b3")
THREADS = (1, 2)

Maker = Callable[[], tuple[Callable[[], Any], Callable[[], list[np.ndarray]]]]


def case(threads: int) -> str:
    return f"train step ({threads} thread{'s' if threads > 1 else ''})"


def make_data(seed: int = 0) -> dict[str, np.ndarray]:
    """Images in [0, 1), one-hot labels, and the tutorial's uniform initialisation (the output
    layer too, so that every gradient is non-zero from the first step)."""
    rng = np.random.default_rng(seed)

    def uniform(shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    labels = rng.integers(0, N_OUT, BATCH)
    return {
        "x": rng.random((BATCH, 1, SIDE, SIDE), dtype=np.float32),
        "y": np.eye(N_OUT, dtype=np.float32)[labels],
        "W0": uniform((F1, 1, K, K), K * K, F1 * K * K // 4),
        "b0": np.zeros(F1, np.float32),
        "W1": uniform((F2, F1, K, K), F1 * K * K, F2 * K * K // 4),
        "b1": np.zeros(F2, np.float32),
        "W2": uniform((F2 * 16, N_HID), F2 * 16, N_HID),
        "b2": np.zeros(N_HID, np.float32),
        "W3": uniform((N_HID, N_OUT), N_HID, N_OUT),
        "b3": np.zeros(N_OUT, np.float32),
    }


# NumPy: the hand-written step ---------------------------------------------------------------
def _windows(x: np.ndarray) -> np.ndarray:
    """(batch * rows * cols, channels * K * K): the K x K window of every output position."""
    w = np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(2, 3))
    b, c, oh, ow = w.shape[:4]
    return w.transpose(0, 2, 3, 1, 4, 5).reshape(b * oh * ow, c * K * K)


def _conv(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(conv2d(x, w) with flipped filters as Theano computes it, the windows of x)."""
    cols = _windows(x)
    b, oh, ow = x.shape[0], x.shape[2] - K + 1, x.shape[3] - K + 1
    flipped = w[:, :, ::-1, ::-1].reshape(w.shape[0], -1)
    out = (cols @ flipped.T).reshape(b, oh, ow, -1).transpose(0, 3, 1, 2)
    return out, cols


def _conv_grads(x_shape: tuple, cols: np.ndarray, w: np.ndarray, g: np.ndarray,
                need_x: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(d cost / d w, d cost / d x or None) from the output gradient g."""
    n_f = w.shape[0]
    g_mat = g.transpose(0, 2, 3, 1).reshape(-1, n_f)
    g_w = (g_mat.T @ cols).reshape(w.shape)[:, :, ::-1, ::-1]
    if not need_x:
        return g_w, None
    b, c, oh, ow = x_shape[0], x_shape[1], g.shape[2], g.shape[3]
    d_cols = (g_mat @ w[:, :, ::-1, ::-1].reshape(n_f, -1)).reshape(b, oh, ow, c, K, K)
    g_x = np.zeros(x_shape, np.float32)
    for u in range(K):
        for v in range(K):
            g_x[:, :, u:u + oh, v:v + ow] += d_cols[..., u, v].transpose(0, 3, 1, 2)
    return g_w, g_x


def _pool(x: np.ndarray) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _pool_grad(x: np.ndarray, pooled: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The output gradient, sent to the element(s) equal to their window's maximum."""
    def up(a: np.ndarray) -> np.ndarray:
        return a.repeat(2, axis=2).repeat(2, axis=3)
    return np.where(x == up(pooled), up(g), np.float32(0))


def _numpy(d: dict[str, np.ndarray]) -> Maker:
    def make():
        x, y = d["x"], d["y"]
        W0, b0, W1, b1, W2, b2, W3, b3 = params = [d[k].copy() for k in PARAMS]

        def step():
            c1, cols1 = _conv(x, W0)
            p1 = _pool(c1)
            h1 = np.tanh(p1 + b0[:, None, None])
            c2, cols2 = _conv(h1, W1)
            p2 = _pool(c2)
            h2 = np.tanh(p2 + b1[:, None, None])
            flat = h2.reshape(BATCH, -1)
            h3 = np.tanh(flat @ W2 + b2)
            z = h3 @ W3 + b3
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            p = e / e.sum(axis=1, keepdims=True)
            cost = -np.mean(np.sum(y * np.log(p), axis=1))
            dz = (p - y) / np.float32(BATCH)
            dh3 = (dz @ W3.T) * (1 - h3 * h3)
            d_flat = dh3 @ W2.T
            dp2 = d_flat.reshape(h2.shape) * (1 - h2 * h2)
            gW1, dh1 = _conv_grads(h1.shape, cols2, W1, _pool_grad(c2, p2, dp2), True)
            dp1 = dh1 * (1 - h1 * h1)
            gW0, _ = _conv_grads(x.shape, cols1, W0, _pool_grad(c1, p1, dp1), False)
            grads = [gW0, dp1.sum(axis=(0, 2, 3)), gW1, dp2.sum(axis=(0, 2, 3)),
                     flat.T @ dh3, dh3.sum(axis=0), h3.T @ dz, dz.sum(axis=0)]
            lr = np.float32(LEARNING_RATE)
            for v, g in zip(params, grads):
                v -= lr * g
            return cost

        return step, lambda: params
    return make


# The symbolic engines ------------------------------------------------------------------------
def _pytensor_layers(T: Any) -> tuple[Callable, Callable]:
    """PyTensor 3 has no image convolution or pooling Op: im2col from slices, and a reshape."""
    def conv(x, w, image_shape, filter_shape):
        b, c, h, wd = image_shape
        oh, ow = h - K + 1, wd - K + 1
        cols = T.stack([x[:, :, u:u + oh, v:v + ow] for u in range(K) for v in range(K)],
                       axis=-1)  # (b, c, oh, ow, K*K)
        cols = cols.dimshuffle(0, 2, 3, 1, 4).reshape((b * oh * ow, c * K * K))
        flipped = w[:, :, ::-1, ::-1].reshape((filter_shape[0], c * K * K))
        out = T.dot(cols, flipped.T).reshape((b, oh, ow, filter_shape[0]))
        return out.dimshuffle(0, 3, 1, 2)

    def pool(x, shape):
        b, c, h, w = shape
        return x.reshape((b, c, h // 2, 2, w // 2, 2)).max(axis=(3, 5))

    return conv, pool


def _theanine_layers(T: Any) -> tuple[Callable, Callable]:
    from theanine.tensor.signal.pool import pool_2d

    def conv(x, w, image_shape, filter_shape):
        return T.nnet.conv2d(x, w, input_shape=image_shape, filter_shape=filter_shape)

    def pool(x, shape):
        return pool_2d(x, ws=(2, 2), ignore_border=True)

    return conv, pool


def _symbolic(d: dict[str, np.ndarray]) -> Callable[..., Maker]:
    def build(lib: Any, T: Any, **compile_kw: Any) -> Maker:
        is_pytensor = lib.__name__ == "pytensor"
        conv, pool = (_pytensor_layers if is_pytensor else _theanine_layers)(T)
        softmax = T.special.softmax if is_pytensor else T.nnet.softmax

        def cost_of(x, y, W0, b0, W1, b1, W2, b2, W3, b3):
            c1 = conv(x, W0, (BATCH, 1, SIDE, SIDE), (F1, 1, K, K))
            h1 = T.tanh(pool(c1, (BATCH, F1, 24, 24)) + b0.dimshuffle("x", 0, "x", "x"))
            c2 = conv(h1, W1, (BATCH, F1, 12, 12), (F2, F1, K, K))
            h2 = T.tanh(pool(c2, (BATCH, F2, 8, 8)) + b1.dimshuffle("x", 0, "x", "x"))
            h3 = T.tanh(T.dot(h2.flatten(2), W2) + b2)
            p = softmax(T.dot(h3, W3) + b3, axis=1)
            return -T.mean(T.sum(y * T.log(p), axis=1))

        def make():
            return symbolic_sgd(lib, T, d, PARAMS, LEARNING_RATE, cost_of,
                                T.tensor4("x", dtype="float32"), **compile_kw)
        return make
    return build


def _jax(d: dict[str, np.ndarray]) -> Callable[[Any], Maker]:
    def build(jax: Any) -> Maker:
        jnp, lax = jax.numpy, jax.lax

        def conv(x, w):  # conv_general_dilated correlates: flip for Theano's convolution
            return lax.conv_general_dilated(x, w[:, :, ::-1, ::-1], (1, 1), "VALID",
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))

        def pool(x):
            return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def loss(params, x, y):
            W0, b0, W1, b1, W2, b2, W3, b3 = params
            h1 = jnp.tanh(pool(conv(x, W0)) + b0[:, None, None])
            h2 = jnp.tanh(pool(conv(h1, W1)) + b1[:, None, None])
            h3 = jnp.tanh(h2.reshape(BATCH, -1) @ W2 + b2)
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h3 @ W3 + b3, axis=1), axis=1))

        return jax_sgd(jax, loss, d, PARAMS, LEARNING_RATE)
    return build


# Running: one child process per thread count -------------------------------------------------
def _engines(ctx: Context, d: dict[str, np.ndarray]) -> list[tuple[str, Maker | str]]:
    makers: list[tuple[str, Maker | str]] = []
    if ctx.wants("numpy"):
        makers.append(("numpy", _numpy(d)))
    for engine, make in symbolic_engines(ctx, _symbolic(d)):
        makers.append((engine, make))
        if engine.startswith("pytensor") and not isinstance(make, str):
            pytensor = ctx.optional("pytensor")
            makers.append(("pytensor[numba]", _symbolic(d)(pytensor, pytensor.tensor,
                                                          mode="NUMBA")))
    return makers + jax_engines(ctx, _jax(d))


def measure_here(ctx: Context, threads: int) -> list[Measurement]:
    """Every wanted engine's step in this process, checked against NumPy's, then timed."""
    d = make_data()
    reference_step, reference_params = _numpy(d)()
    expected = [reference_step(), *reference_params()]
    rows = []
    for engine, make in _engines(ctx, d):
        if isinstance(make, str):
            rows.append(Measurement(NAME, case(threads), engine, note=make))
            continue
        try:
            checked_step, checked_params = make()
            got = [checked_step(), *checked_params()]
        except Exception as exc:  # an engine that cannot build this graph says why
            rows.append(Measurement(NAME, case(threads), engine,
                                    note=f"FAILED: {type(exc).__name__}: {exc}"[:200]))
            continue
        wrong = mismatch(got, expected, rtol=1e-3, atol=1e-5)
        if wrong:
            rows.append(Measurement(NAME, case(threads), engine, note=wrong))
            continue
        step, _ = make()
        rows.append(measure(ctx, NAME, case(threads), engine, step))
    return rows


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    if threads == 1:
        env["XLA_FLAGS"] = " ".join(
            [env.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false",
             "intra_op_parallelism_threads=1"]).strip()
    return env


def _pin_one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(ctx: Context) -> list[Measurement]:
    rows = []
    for threads in THREADS:
        if threads > len(os.sched_getaffinity(0)):
            rows.append(Measurement(NAME, case(threads), "-", note="fewer CPUs than threads"))
            continue
        config = json.dumps({"threads": threads, "families": ctx.families,
                             "theanine_only": ctx.theanine_only, "repeat": ctx.repeat,
                             "min_time": ctx.min_time})
        done = subprocess.run([sys.executable, os.path.abspath(__file__), config],
                              env=_child_env(threads), capture_output=True, text=True,
                              preexec_fn=_pin_one_cpu if threads == 1 else None)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append(Measurement(NAME, case(threads), "-", note=f"FAILED: {last}"))
            continue
        rows += [Measurement(**r) for r in json.loads(done.stdout.strip().splitlines()[-1])]
    return rows


def _child(config: str) -> None:
    c = json.loads(config)
    only = c["theanine_only"]
    ctx = Context(repeat=c["repeat"], min_time=c["min_time"], families=tuple(c["families"]),
                  theanine_only=tuple(only) if only is not None else None)
    print(json.dumps([asdict(r) for r in measure_here(ctx, c["threads"])]))


if __name__ == "__main__":
    _child(sys.argv[1])
