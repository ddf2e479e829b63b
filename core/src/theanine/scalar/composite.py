"""`Composite`: several scalar ops fused into one, so a chain of elementwise nodes becomes a
single node (one loop in the native backends).

The fused computation is a straight-line program: `steps[k] = (scalar_op, refs, dtype)` where
each ref is an input index (< nin) or `nin + j` for the result of step j; the last step is the
output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.scalar.basic import ScalarOp

Step = tuple[ScalarOp, tuple[int, ...], str]


class Composite(ScalarOp):
    """A scalar op defined by a program of other scalar ops."""

    __props__ = ("nin", "steps")

    def __init__(self, nin: int, steps: Sequence[Step]):
        self.steps = tuple(steps)
        name = "Composite{" + ",".join(op.name for op, _, _ in self.steps) + "}"
        # No c_expr: native renderers walk `steps` and emit one temporary per step (inlining
        # would repeat shared subexpressions, exponentially in the worst case).
        super().__init__(name, self._run, c_expr=None, grad=self._grad, nin=nin)

    def _run(self, *inputs: Any, out: Any = None) -> Any:
        values = list(inputs)
        last = len(self.steps) - 1
        for k, (op, refs, dtype) in enumerate(self.steps):
            args = [values[i] for i in refs]
            r = op.impl(*args, out=out) if k == last and out is not None else op.impl(*args)
            values.append(np.asarray(r, dtype=dtype) if getattr(r, "dtype", None) != dtype
                          else r)
        return values[-1]

    @property
    def accepts_out(self) -> bool:
        return self.steps[-1][0].accepts_out

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return [self.steps[-1][2]]

    def expand(self, inputs: Sequence[Any]) -> Any:
        """The same computation as a graph of Elemwise nodes on tensor `inputs`."""
        from theanine.tensor.elemwise import Elemwise

        values = list(inputs)
        for op, refs, _ in self.steps:
            values.append(Elemwise(op)(*[values[i] for i in refs]))
        return values[-1]

    def _grad(self, inputs, outputs, output_grads):
        from theanine.gradient import grad

        expanded = self.expand(inputs)
        return grad(None, list(inputs), known_grads={expanded: output_grads[0]},
                    disconnected_inputs="ignore")
