"""`theanine demo`: the logistic regression of the Theano tutorial, trained on one backend.

It exercises the whole pipeline a user meets first (constructors, shared variables, `grad`,
`function` with updates) and prints what a user asks about a backend: its name, how long
compiling took, how fast a training step runs and whether the model learned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

N_SAMPLES = 400
N_FEATURES = 784
DEFAULT_STEPS = 1000
LEARNING_RATE = 0.1
L2 = 0.01


@dataclass
class DemoResult:
    """What one run measured, plus the final parameters so callers can check them."""

    backend: str
    steps: int
    compile_seconds: float
    steps_per_second: float
    accuracy: float
    w: np.ndarray
    b: float

    def report(self) -> str:
        return "\n".join([
            f"backend:           {self.backend}",
            f"compile time:      {self.compile_seconds * 1e3:.1f} ms",
            f"training speed:    {self.steps_per_second:,.0f} steps/s ({self.steps} steps)",
            f"training accuracy: {self.accuracy:.1%}",
        ])


def make_dataset(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, labels, initial w) drawn in the tutorial's order from `RandomState(seed)`.

    With w ~ N(0, 1), |x.w| is about 28 and p_1 rounds to exactly 0 or 1 for many rows: the
    training only stays finite because the stabilize rewrites turn log(sigmoid) into softplus.
    """
    rng = np.random.RandomState(seed)
    x = rng.randn(N_SAMPLES, N_FEATURES)
    y = rng.randint(size=N_SAMPLES, low=0, high=2)
    w0 = rng.randn(N_FEATURES)
    return x, y, w0


def run(backend: str | None = None, steps: int = DEFAULT_STEPS, seed: int = 0) -> DemoResult:
    """Compile the tutorial's train/predict functions on `backend` and train for `steps`."""
    import theanine as theano
    import theanine.tensor as T
    from theanine.link.backend import select_backend

    if steps < 1:
        raise ValueError(f"steps must be a positive number of training steps, got {steps}")
    backend_name = select_backend(backend).name
    data_x, data_y, w0 = make_dataset(seed)

    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(w0, name="w")
    b = theano.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + L2 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])

    start = time.perf_counter()
    train = theano.function(inputs=[x, y], outputs=[prediction, xent],
                            updates=((w, w - LEARNING_RATE * gw), (b, b - LEARNING_RATE * gb)),
                            backend=backend_name)
    predict = theano.function(inputs=[x], outputs=prediction, backend=backend_name)
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(steps):
        train(data_x, data_y)
    train_seconds = time.perf_counter() - start

    accuracy = float(np.mean(np.asarray(predict(data_x)) == data_y))
    return DemoResult(backend=backend_name, steps=steps, compile_seconds=compile_seconds,
                      steps_per_second=steps / train_seconds, accuracy=accuracy,
                      w=np.asarray(w.get_value()), b=float(b.get_value()))
