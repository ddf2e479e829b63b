"""The reference: the unoptimized graph run node by node with each Op's `perform`.

Nothing here goes through rewrites or a backend's `link`, so it stays an independent oracle
for every compiled configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Constant, Variable


class ReferenceTypeError(AssertionError):
    """`perform` returned a value that does not fit its output's type."""


def _toposort(outputs: Sequence[Variable], known: Mapping[Variable, Any]) -> list[Apply]:
    order: list[Apply] = []
    seen: set[Apply] = set()
    stack: list[tuple[Apply, bool]] = [(o.owner, False) for o in reversed(outputs)
                                       if o.owner is not None and o not in known]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for i in reversed(node.inputs):
            if i.owner is not None and i not in known and i.owner not in seen:
                stack.append((i.owner, False))
    return order


def evaluate(outputs: Sequence[Variable], givens: Mapping[Variable, Any],
             memo: dict[Variable, Any] | None = None) -> list[Any]:
    """The values of `outputs` given the values of the graph's inputs.

    `memo` (variable -> value) is read and extended, so a caller that grows a graph step by
    step computes each node once.  Inputs are copied before an Op that declares a
    `destroy_map` sees them.
    """
    values: dict[Variable, Any] = memo if memo is not None else {}
    values.update(givens)
    with np.errstate(all="ignore"):
        for node in _toposort(outputs, values):
            args = [i.data if isinstance(i, Constant) else values[i] for i in node.inputs]
            destroyed = {i for ins in node.op.destroy_map.values() for i in ins}
            args = [np.array(a) if k in destroyed else a for k, a in enumerate(args)]
            storage: list[list[Any]] = [[None] for _ in node.outputs]
            node.op.perform(node, args, storage)
            for out, cell in zip(node.outputs, storage):
                if cell[0] is None:
                    raise ReferenceTypeError(f"{node.op}.perform did not set an output")
                values[out] = cell[0]
    return [o.data if isinstance(o, Constant) else values[o] for o in outputs]
