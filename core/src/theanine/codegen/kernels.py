"""What a C-family backend generates, described without any dialect: fused elementwise loops
and reductions.

A description is a frozen value (hashable, comparable): the same description renders to the
same source, so kernels are shared between graphs and found again in the compiled-artifact
cache.  `ScalarProgram` is the loop body: a straight-line program of scalar ops, the form
`Composite` already has (a single scalar op is a one-step program).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: (scalar op, operand refs, result dtype); a ref < n_inputs names an input, n_inputs + j step j
Step = tuple[Any, tuple[int, ...], str]


@dataclass(frozen=True)
class ScalarProgram:
    """Inputs of `in_dtypes`, then `steps`; the result is the last step's value."""

    in_dtypes: tuple[str, ...]
    steps: tuple[Step, ...]

    @classmethod
    def of(cls, scalar_op: Any, in_dtypes: tuple[str, ...], out_dtype: str) -> ScalarProgram:
        """The program of an Elemwise's scalar op: its own steps for a Composite."""
        steps = getattr(scalar_op, "steps", None)
        if steps is None:
            steps = ((scalar_op, tuple(range(len(in_dtypes))), out_dtype),)
        return cls(tuple(in_dtypes), tuple(steps))

    @property
    def out_dtype(self) -> str:
        return self.steps[-1][2]

    def dtype_of(self, ref: int) -> str:
        n = len(self.in_dtypes)
        return self.in_dtypes[ref] if ref < n else self.steps[ref - n][2]


@dataclass(frozen=True)
class ElemwiseKernel:
    """out[idx] = program(in_0[idx], ...) over an `ndim`-dimensional index space.

    `scalar_inputs[k]`: input k is broadcastable in every dimension (read once, as a scalar);
    `inner_broadcast[k]`: input k is broadcastable in the last dimension (constant along the
    inner loop).  `inplace`: the output buffer is one of the inputs (no `restrict`).
    `across_rows`: some input is a view that reorders its dimensions (`x.T`), so its
    elements along the result's rows lie far apart (a renderer may add a tiled walk for it).
    """

    program: ScalarProgram
    ndim: int
    scalar_inputs: tuple[bool, ...]
    inner_broadcast: tuple[bool, ...]
    inplace: bool = False
    across_rows: bool = False

    @property
    def nin(self) -> int:
        return len(self.program.in_dtypes)


#: reduction kinds: (identity as a C literal or None, combining expression)
REDUCTIONS = {
    "sum": ("0", "({a} + {b})"),
    "prod": ("1", "({a} * {b})"),
    "max": (None, "max({a}, {b})"),
    "min": (None, "min({a}, {b})"),
    "all": ("1", "({a} && {b})"),
    "any": ("0", "({a} || {b})"),
}


@dataclass(frozen=True)
class ReduceKernel:
    """out[keep] = reduce over red of x[keep, red] (the input is viewed with the kept
    dimensions first); accumulates in `acc_dtype`.  max/min of an empty set is refused
    before the kernel runs, as NumPy does."""

    kind: str
    in_dtype: str
    acc_dtype: str
    out_dtype: str
    n_keep: int
    n_red: int


def accumulator_dtype(kind: str, in_dtype: str, out_dtype: str) -> str:
    """The dtype a reduction accumulates in: the input's for max/min, bool for all/any, and
    for sum/prod the output's, widened to float64 for float16/float32 (Theano's `acc_dtype`:
    a sequential float32 sum would lose more than NumPy's pairwise one)."""
    if kind in ("all", "any"):
        return "bool"
    if kind in ("max", "min"):
        return in_dtype
    if out_dtype in ("float16", "float32"):
        return "float64"
    return str(np.dtype(out_dtype))
