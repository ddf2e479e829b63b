"""A tanh RNN over 100 steps with `scan`: the loop's own overhead against a hand-written loop.

h_t = tanh(x_t W_xh + h_{t-1} W_hh + b) for T=100, batch 32, input 64, hidden 128, float32.
Cases: `forward` (every hidden state), `forward+grad` (the summed last hidden state and its
gradient w.r.t. W_hh, i.e. backpropagation through time), and `per-step overhead`: 1000
steps of `h + x_t` on 4 floats, where the arithmetic is negligible, so the time per step is
what the loop machinery costs (shown per step in the note).

Every engine gets the same NumPy arrays on every call; results are checked against the NumPy
loop with float32 tolerances before timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import Context, Measurement, jax_engines, measure, mismatch, symbolic_engines

NAME = "rnn"
DESCRIPTION = "tanh RNN with scan, T=100, batch 32, 64 -> 128, float32 (forward; +grad W_hh)"

T_STEPS, BATCH, N_IN, N_HID = 100, 32, 64, 128
OVERHEAD_STEPS, OVERHEAD_SIZE = 1000, 4

#: engine -> {case: callable}, or the reason the engine is missing
Engines = list[tuple[str, dict[str, Callable[[], Any]] | str]]


def make_data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def f32(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return {"x": f32(T_STEPS, BATCH, N_IN), "h0": np.zeros((BATCH, N_HID), np.float32),
            "w_xh": f32(N_IN, N_HID, scale=0.1), "w_hh": f32(N_HID, N_HID, scale=0.1),
            "b": f32(N_HID, scale=0.1), "ox": f32(OVERHEAD_STEPS, OVERHEAD_SIZE),
            "oh0": np.zeros(OVERHEAD_SIZE, np.float32)}


# NumPy: the hand-written loops ------------------------------------------------------------
def numpy_forward(d: dict[str, np.ndarray]) -> np.ndarray:
    x, w_xh, w_hh, b = d["x"], d["w_xh"], d["w_hh"], d["b"]
    hs = np.empty((T_STEPS, BATCH, N_HID), np.float32)
    h = d["h0"]
    for t in range(T_STEPS):
        h = np.tanh(x[t] @ w_xh + h @ w_hh + b)
        hs[t] = h
    return hs


def numpy_forward_grad(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    hs = numpy_forward(d)
    w_hh = d["w_hh"]
    g_w = np.zeros_like(w_hh)
    g_h = np.ones((BATCH, N_HID), np.float32)
    for t in range(T_STEPS - 1, -1, -1):
        g_pre = g_h * (1 - hs[t] * hs[t])
        g_w += (hs[t - 1] if t else d["h0"]).T @ g_pre
        g_h = g_pre @ w_hh.T
    return hs[-1].sum(), g_w


def numpy_overhead(d: dict[str, np.ndarray]) -> np.ndarray:
    x = d["ox"]
    hs = np.empty_like(x)
    h = d["oh0"]
    for t in range(OVERHEAD_STEPS):
        h = h + x[t]
        hs[t] = h
    return hs


# theanine and PyTensor share Theano's API --------------------------------------------------
def symbolic(lib: Any, T: Any, d: dict[str, np.ndarray], **compile_kw: Any
             ) -> dict[str, Callable[[], Any]]:
    x, h0 = T.tensor3("x", dtype="float32"), T.matrix("h0", dtype="float32")
    w_xh, w_hh = T.matrix("w_xh", dtype="float32"), T.matrix("w_hh", dtype="float32")
    b = T.vector("b", dtype="float32")

    def step(x_t, h_prev, w_xh, w_hh, b):
        return T.tanh(T.dot(x_t, w_xh) + T.dot(h_prev, w_hh) + b)

    h, _ = lib.scan(step, sequences=[x], outputs_info=[h0], non_sequences=[w_xh, w_hh, b])
    cost = h[-1].sum()
    args = [d["x"], d["h0"], d["w_xh"], d["w_hh"], d["b"]]
    inputs = [x, h0, w_xh, w_hh, b]
    forward = lib.function(inputs, h, **compile_kw)
    with_grad = lib.function(inputs, [cost, lib.grad(cost, w_hh)], **compile_kw)
    ox, oh0 = T.matrix("ox", dtype="float32"), T.vector("oh0", dtype="float32")
    oh, _ = lib.scan(lambda x_t, h: h + x_t, sequences=[ox], outputs_info=[oh0])
    overhead = lib.function([ox, oh0], oh, **compile_kw)
    return {"forward": lambda: forward(*args), "forward+grad": lambda: with_grad(*args),
            "per-step overhead": lambda: overhead(d["ox"], d["oh0"])}


def jax_engine(jax: Any, d: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    jnp = jax.numpy

    def run_rnn(x, h0, w_xh, w_hh, b):
        def step(h, x_t):
            h = jnp.tanh(x_t @ w_xh + h @ w_hh + b)
            return h, h
        return jax.lax.scan(step, h0, x)[1]

    def last_sum(w_hh, x, h0, w_xh, b):
        return run_rnn(x, h0, w_xh, w_hh, b)[-1].sum()

    forward = jax.jit(run_rnn)
    with_grad = jax.jit(jax.value_and_grad(last_sum))
    overhead = jax.jit(lambda x, h0: jax.lax.scan(lambda h, x_t: (h + x_t, h + x_t), h0, x)[1])
    args = [d["x"], d["h0"], d["w_xh"], d["w_hh"], d["b"]]

    def ready(value: Any) -> Any:
        return jax.tree_util.tree_map(lambda a: np.asarray(a.block_until_ready()), value)

    return {"forward": lambda: ready(forward(*args)),
            "forward+grad": lambda: ready(with_grad(d["w_hh"], d["x"], d["h0"], d["w_xh"],
                                                    d["b"])),
            "per-step overhead": lambda: ready(overhead(d["ox"], d["oh0"]))}


def _engines(ctx: Context, d: dict[str, np.ndarray]) -> Engines:
    return (symbolic_engines(ctx, lambda lib, T, **kw: symbolic(lib, T, d, **kw))
            + jax_engines(ctx, lambda jax: jax_engine(jax, d)))


def run(ctx: Context) -> list[Measurement]:
    d = make_data()
    reference = {"forward": lambda: numpy_forward(d),
                 "forward+grad": lambda: numpy_forward_grad(d),
                 "per-step overhead": lambda: numpy_overhead(d)}
    expected = {case: fn() for case, fn in reference.items()}
    engines = _engines(ctx, d)
    rows = []
    for case, fn in reference.items():
        if ctx.wants("numpy"):
            rows.append(_per_step(measure(ctx, NAME, case, "numpy", fn)))
        for engine, cases in engines:
            if isinstance(cases, str):
                rows.append(Measurement(NAME, case, engine, note=cases))
                continue
            # float32 rounding over 100 steps
            wrong = mismatch(cases[case](), expected[case], rtol=2e-4, atol=2e-4)
            if wrong:
                rows.append(Measurement(NAME, case, engine, note=wrong))
                continue
            rows.append(_per_step(measure(ctx, NAME, case, engine, cases[case])))
    return rows


def _per_step(row: Measurement) -> Measurement:
    """Note the time per step of the loop-overhead case."""
    if row.case == "per-step overhead" and row.seconds is not None:
        row.note = f"{row.seconds / OVERHEAD_STEPS * 1e6:.2f} µs per step"
    return row
