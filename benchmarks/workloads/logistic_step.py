"""One training step of the tutorial's logistic regression (`theanine demo`'s graph).

400 x 784 float64 inputs, a forward pass, the cross-entropy, its gradient and the in-place
update of w and b.  Every engine receives the NumPy data on every call, as the tutorial does.
Before timing, each engine's first step is checked against the NumPy reference's.

The tutorial's w ~ N(0, 1) saturates the sigmoid, so the cross-entropy is only finite when
written with softplus: theanine and PyTensor get there by their stabilize rewrites from the
tutorial's graph; the NumPy and JAX versions are written that way by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import Context, Measurement, jax_engines, measure, symbolic_engines

from theanine.demo import L2, LEARNING_RATE, N_SAMPLES, make_dataset

NAME = "logistic_step"
DESCRIPTION = "one training step of the demo's logistic regression (400 x 784, float64)"

#: make(w0) -> (step, current w): `step()` trains once, `current_w()` reads the weights.
Maker = Callable[[np.ndarray], tuple[Callable[[], Any], Callable[[], np.ndarray]]]


def _numpy(x: np.ndarray, y: np.ndarray) -> Maker:
    def make(w0: np.ndarray):
        w, b = w0.copy(), np.zeros(())

        def step():
            z = x @ w + b
            xent = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
            dz = (0.5 + 0.5 * np.tanh(0.5 * z) - y) / N_SAMPLES
            w[...] = w - LEARNING_RATE * (x.T @ dz + 2 * L2 * w)
            b[...] = b - LEARNING_RATE * dz.sum()
            return z > 0, xent

        return step, lambda: w
    return make


def training_graph(lib: Any, T: Any, w0: np.ndarray) -> tuple[list, list, list]:
    """The tutorial's graph as `function`'s (inputs, outputs, updates); theanine and PyTensor
    share Theano's API, so one builder serves."""
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = lib.shared(w0.copy(), name="w"), lib.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + L2 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    return [x, y], [p_1 > 0.5, xent], [(w, w - LEARNING_RATE * gw), (b, b - LEARNING_RATE * gb)]


def _symbolic(lib: Any, T: Any, x_data: np.ndarray, y_data: np.ndarray, **compile_kw) -> Maker:
    def make(w0: np.ndarray):
        inputs, outputs, updates = training_graph(lib, T, w0)
        train = lib.function(inputs, outputs, updates=updates, **compile_kw)
        return (lambda: train(x_data, y_data)), updates[0][0].get_value
    return make


def jax_maker(jax: Any, x_data: np.ndarray, y_data: np.ndarray) -> Maker:
    jnp = jax.numpy

    def loss(w, b, x, y):
        z = x @ w + b
        xent = y * jax.nn.softplus(-z) + (1 - y) * jax.nn.softplus(z)
        return xent.mean() + L2 * (w ** 2).sum(), (z > 0, xent)

    @jax.jit
    def train(w, b, x, y):
        (_, (pred, xent)), (gw, gb) = jax.value_and_grad(loss, (0, 1), has_aux=True)(w, b, x, y)
        return w - LEARNING_RATE * gw, b - LEARNING_RATE * gb, pred, xent

    def make(w0: np.ndarray):
        state = [jnp.asarray(w0), jnp.asarray(0.0)]

        def step():
            state[0], state[1], pred, xent = train(state[0], state[1], x_data, y_data)
            xent.block_until_ready()
            return pred, xent

        return step, lambda: np.asarray(state[0])
    return make


def run(ctx: Context) -> list[Measurement]:
    x, y_int, w0 = make_dataset(seed=0)
    y = y_int.astype(np.float64)
    makers: list[tuple[str, Maker | str]] = (
        symbolic_engines(ctx, lambda lib, T, **kw: _symbolic(lib, T, x, y, **kw))
        + jax_engines(ctx, lambda jax: jax_maker(jax, x, y)))

    reference_step, reference_w = _numpy(x, y)(w0)
    pred, xent = reference_step()
    expected = (pred, xent, reference_w().copy())
    rows = []
    if ctx.wants("numpy"):
        step, _ = _numpy(x, y)(w0)
        rows.append(measure(ctx, NAME, "train step", "numpy", step))
    for engine, make in makers:
        if isinstance(make, str):
            rows.append(Measurement(NAME, "train step", engine, note=make))
            continue
        checked_step, checked_w = make(w0)
        first = checked_step()
        step, _ = make(w0)
        rows.append(measure(ctx, NAME, "train step", engine, step,
                            result=lambda first=first, w=checked_w: (*first, w()),
                            expected=expected))
    return rows
