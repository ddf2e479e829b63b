"""Tensor fusion: the many small allreduces of a training step become one.

Every `Allreduce` of one reduction and dtype that does not depend on another of the group is
replaced by one n-input `Allreduce`, which reduces all its inputs in a single buffer (as
Horovod's tensor fusion and DDP's buckets do): one MPI call and one handshake per step instead
of one per parameter, whose latency would otherwise dominate small gradients.
"""

from __future__ import annotations

from collections import defaultdict

from theanine.distributed.ops import Allreduce, any_made
from theanine.graph.basic import Apply, Variable
from theanine.graph.fg import FunctionGraph


class AllreduceFusion:
    """Graph rewriter: fuse independent allreduces of the same reduction and dtype."""

    name = "allreduce_fusion"

    def apply(self, fgraph: FunctionGraph) -> None:
        if not any_made() or sum(isinstance(n.op, Allreduce) for n in fgraph.apply_nodes) < 2:
            return  # nothing to fuse: no walk in order
        groups: dict[tuple, list[Apply]] = defaultdict(list)
        for node, level in _levels(fgraph):
            groups[(node.op.op, node.outputs[0].dtype, level)].append(node)
        reason = f"theanine.distributed.plugin:{self.name}"
        for (op, _, _), nodes in groups.items():
            if len(nodes) < 2:
                continue
            inputs = [i for n in nodes for i in n.inputs]
            fused = Allreduce(op).make_node(*inputs)
            old = [o for n in nodes for o in n.outputs]
            fgraph.replace_all(list(zip(old, fused.outputs)), reason=reason)


def _levels(fgraph: FunctionGraph) -> list[tuple[Apply, int]]:
    """Each Allreduce with the number of Allreduces on the longest path above it: two of one
    level never depend on each other, so they can run as one."""
    depth: dict[Variable, int] = {}
    found = []
    for node in fgraph.toposort():
        level = max((depth.get(i, 0) for i in node.inputs), default=0)
        if isinstance(node.op, Allreduce):
            found.append((node, level))
            level += 1
        for out in node.outputs:
            depth[out] = level
    return found
