"""`until`: the stopping condition a scan step may return (Theano's `scan_module.until`).

A step returns `outputs, until(cond)` or `outputs, updates, until(cond)`; the loop then stops
after the first step whose `cond` is true (that step's outputs are kept), or after `n_steps`.
"""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Variable


class until:
    """Wraps the scalar condition after which a scan stops."""

    def __init__(self, condition: Any):
        from theanine.tensor.basic import as_tensor_variable

        try:
            cond = as_tensor_variable(condition)
        except TypeError as exc:
            raise TypeError(f"until: the condition must be a scalar expression, got "
                            f"{condition!r}: {exc}") from None
        if cond.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {cond} ({cond.type})")
        self.condition: Variable = cond

    def __repr__(self) -> str:
        return f"until({self.condition})"
