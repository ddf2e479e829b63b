"""`a + a**10` on 1e7 float64: NumPy makes a temporary and calls `pow`; a fusing compiler does
one pass with the power unrolled into multiplications."""

from __future__ import annotations

import numpy as np
from harness import Context, Measurement

from workloads._elementwise import run_elementwise

NAME = "pow_fused"
DESCRIPTION = "a + a**10 on 1e7 float64"
SIZE = 10_000_000


def run(ctx: Context) -> list[Measurement]:
    a = np.random.default_rng(0).uniform(-1.5, 1.5, SIZE)
    return run_elementwise(ctx, NAME, "1e7", a, lambda v, exp: v + v**10)
