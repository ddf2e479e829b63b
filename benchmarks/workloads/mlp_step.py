"""One SGD step of an MLP 784-500-10 on a batch of 128, float32: two GEMMs forward, three
backward, and the elementwise and reduction glue between them (tanh, softmax, cross-entropy).

The NumPy engine is the hand-written forward and backward pass (the reference); the others
differentiate the same cost symbolically.  Every engine gets the NumPy batch on every call
and keeps its weights (shared variables, or the JAX engine's device state).  Each engine's
first step (cost and the four updated parameters) is checked against the NumPy step's with
float32 tolerances before timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import (
    Context,
    Measurement,
    jax_engines,
    jax_sgd,
    measure,
    mismatch,
    symbolic_engines,
    symbolic_sgd,
)

NAME = "mlp_step"
DESCRIPTION = "SGD step of an MLP 784-500-10 (tanh, softmax cross-entropy), batch 128, float32"
BATCH, N_IN, N_HID, N_OUT = 128, 784, 500, 10
LEARNING_RATE = 0.1
PARAMS = ("W1", "b1", "W2", "b2")

#: make() -> (step, params): `step()` trains once and returns the cost, `params()` reads
#: the current (W1, b1, W2, b2)
Maker = Callable[[], tuple[Callable[[], Any], Callable[[], list[np.ndarray]]]]


def make_data(seed: int = 0, batch: int = BATCH) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_OUT, batch)
    return {
        "x": rng.standard_normal((batch, N_IN)).astype(np.float32),
        "y": np.eye(N_OUT, dtype=np.float32)[labels],
        "W1": (rng.standard_normal((N_IN, N_HID)) / np.sqrt(N_IN)).astype(np.float32),
        "b1": np.zeros(N_HID, np.float32),
        "W2": (rng.standard_normal((N_HID, N_OUT)) / np.sqrt(N_HID)).astype(np.float32),
        "b2": np.zeros(N_OUT, np.float32),
    }


def _numpy(d: dict[str, np.ndarray]) -> Maker:
    def make():
        x, y = d["x"], d["y"]
        W1, b1, W2, b2 = (d[k].copy() for k in PARAMS)

        def step():
            h = np.tanh(x @ W1 + b1)
            z = h @ W2 + b2
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            p = e / e.sum(axis=1, keepdims=True)
            cost = -np.mean(np.sum(y * np.log(p), axis=1))
            dz = (p - y) / np.float32(BATCH)
            dh = (dz @ W2.T) * (1 - h * h)
            lr = np.float32(LEARNING_RATE)
            W2[...] -= lr * (h.T @ dz)
            b2[...] -= lr * dz.sum(axis=0)
            W1[...] -= lr * (x.T @ dh)
            b1[...] -= lr * dh.sum(axis=0)
            return cost

        return step, lambda: [W1, b1, W2, b2]
    return make


def _symbolic(d: dict[str, np.ndarray]) -> Callable[..., Maker]:
    def build(lib: Any, T: Any, **compile_kw: Any) -> Maker:
        softmax = T.nnet.softmax if hasattr(T, "nnet") else T.special.softmax  # PyTensor's home

        def cost_of(x, y, W1, b1, W2, b2):
            h = T.tanh(T.dot(x, W1) + b1)
            p = softmax(T.dot(h, W2) + b2, axis=1)  # PyTensor's default axis is None
            return -T.mean(T.sum(y * T.log(p), axis=1))

        def make():
            return symbolic_sgd(lib, T, d, PARAMS, LEARNING_RATE, cost_of,
                                T.matrix("x", dtype="float32"), **compile_kw)
        return make
    return build


def _jax(d: dict[str, np.ndarray]) -> Callable[[Any], Maker]:
    def build(jax: Any) -> Maker:
        jnp = jax.numpy

        def loss(params, x, y):
            W1, b1, W2, b2 = params
            h = jnp.tanh(x @ W1 + b1)
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h @ W2 + b2, axis=1), axis=1))

        return jax_sgd(jax, loss, d, PARAMS, LEARNING_RATE)
    return build


def run(ctx: Context) -> list[Measurement]:
    d = make_data()
    makers: list[tuple[str, Maker | str]] = []
    if ctx.wants("numpy"):
        makers.append(("numpy", _numpy(d)))
    makers += symbolic_engines(ctx, _symbolic(d)) + jax_engines(ctx, _jax(d))
    reference_step, reference_params = _numpy(d)()
    expected = [reference_step(), *reference_params()]
    rows = []
    for engine, make in makers:
        if isinstance(make, str):
            rows.append(Measurement(NAME, "train step", engine, note=make))
            continue
        checked_step, checked_params = make()
        wrong = mismatch([checked_step(), *checked_params()], expected, rtol=1e-4, atol=1e-5)
        if wrong:
            rows.append(Measurement(NAME, "train step", engine, note=wrong))
            continue
        step, _ = make()
        rows.append(measure(ctx, NAME, "train step", engine, step))
    return rows
