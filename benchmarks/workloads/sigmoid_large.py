"""`1 / (1 + exp(-x))` on a 4000 x 4000 float64 matrix: one fused, memory-bound loop over
16M elements (128 MB in, 128 MB out), where native code, vector math and threads show."""

from __future__ import annotations

import numpy as np
from harness import Context, Measurement

from workloads._elementwise import run_elementwise

NAME = "sigmoid_large"
DESCRIPTION = "1/(1+exp(-x)) on a 4000 x 4000 float64 matrix"
SHAPE = (4000, 4000)


def run(ctx: Context) -> list[Measurement]:
    x = np.random.default_rng(0).standard_normal(SHAPE)
    return run_elementwise(ctx, NAME, "4000x4000", x, lambda v, exp: 1 / (1 + exp(-v)))
