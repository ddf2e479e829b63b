"""`Composite`: several scalar ops fused into one, so a chain of elementwise nodes becomes a
single node (one loop in the native backends).

The fused computation is a straight-line program: `steps[k] = (scalar_op, refs, dtype)` where
each ref is an input index (< nin) or `nin + j` for the result of step j; the last step is the
output.

Its gradient (reverse accumulation over `steps`) is a rule of the tensor layer, like every
other scalar op's: `theanine.tensor.scalar_grads`.
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
        super().__init__(name, self._run, c_expr=None, nin=nin)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Composite, (self.nin, self.steps))

    def _run(self, *inputs: Any, out: Any = None) -> Any:
        program = self.__dict__.get("_program")
        if program is None:  # generated on first use: rewriting builds many that never run
            program = self.__dict__["_program"] = self._generate()
        return program(*inputs, out=out)

    def _generate(self) -> Any:
        """The steps as one straight-line Python function (a NumPy call per step, results in
        locals), which costs a fraction of interpreting the step list at every call."""
        names = [f"i{k}" for k in range(self.nin)]
        env: dict[str, Any] = {"asarray": np.asarray}
        lines = [f"def composite({', '.join(names)}, out=None):"]
        last = len(self.steps) - 1
        for k, (op, refs, dtype) in enumerate(self.steps):
            env[f"f{k}"] = op.impl
            env[f"d{k}"] = np.dtype(dtype)
            args = ", ".join(names[i] for i in refs)
            v = f"v{k}"
            if k == last:
                lines.append(f"    {v} = f{k}({args}) if out is None else f{k}({args}, out=out)")
            else:
                lines.append(f"    {v} = f{k}({args})")
            lines.append(f"    if getattr({v}, 'dtype', None) != d{k}: {v} = asarray({v}, d{k})")
            names.append(v)
        lines.append(f"    return {names[-1]}")
        exec(compile("\n".join(lines), f"<theanine-composite {self.name}>", "exec"), env)
        return env["composite"]

    @property
    def accepts_out(self) -> bool:
        return self.steps[-1][0].accepts_out

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        return [self.steps[-1][2]]
