"""Tensor fusion: the many small allreduces of a training step become one.

Every `Allreduce` of one reduction and dtype that does not depend on another of the group is
replaced by one n-input `Allreduce`, which reduces all its inputs in a single buffer (as
Horovod's tensor fusion and DDP's buckets do): one MPI call and one handshake per step instead
of one per parameter, whose latency would otherwise dominate small gradients.  The sum
allreduces join the step's `AllreduceGemm` weight updates of their level and dtype, if any:
one node, one collective.
"""

from __future__ import annotations

from collections import defaultdict

from theanine.distributed.ops import Allreduce, AllreduceGemm, any_made
from theanine.graph.basic import Apply, Variable
from theanine.graph.fg import FunctionGraph


class AllreduceFusion:
    """Graph rewriter: fuse independent allreduces of the same reduction and dtype, and the
    sum allreduces with the `AllreduceGemm` weight updates beside them."""

    name = "allreduce_fusion"

    def apply(self, fgraph: FunctionGraph) -> None:
        if not any_made() or sum(isinstance(n.op, Allreduce | AllreduceGemm)
                                 for n in fgraph.apply_nodes) < 2:
            return  # nothing to fuse: no walk in order
        groups: dict[tuple, list[Apply]] = defaultdict(list)
        for node, level in _levels(fgraph):
            op = node.op.op if isinstance(node.op, Allreduce) else "sum"
            groups[(op, node.outputs[0].dtype, level)].append(node)
        reason = f"theanine.distributed.plugin:{self.name}"
        for nodes in groups.values():
            if len(nodes) < 2:
                continue
            products = [n for n in nodes if isinstance(n.op, AllreduceGemm)]
            plain = [n for n in nodes if isinstance(n.op, Allreduce)]
            quads = [i for n in products for i in n.inputs[:4 * n.op.products]]
            extras = [i for n in products for i in n.inputs[4 * n.op.products:]] + \
                [i for n in plain for i in n.inputs]
            if products:
                fused = AllreduceGemm(len(quads) // 4).make_node(*quads, *extras)
            else:
                fused = Allreduce(plain[0].op.op).make_node(*extras)
            old = [o for n in products for o in n.outputs[:n.op.products]] + \
                [o for n in products for o in n.outputs[n.op.products:]] + \
                [o for n in plain for o in n.outputs]
            fgraph.replace_all(list(zip(old, fused.outputs)), reason=reason)


def _levels(fgraph: FunctionGraph) -> list[tuple[Apply, int]]:
    """Each allreduce with the number of allreduces on the longest path above it: two of one
    level never depend on each other, so they can run as one."""
    depth: dict[Variable, int] = {}
    found = []
    for node in fgraph.toposort():
        level = max((depth.get(i, 0) for i in node.inputs), default=0)
        if isinstance(node.op, Allreduce | AllreduceGemm):
            found.append((node, level))
            level += 1
        for out in node.outputs:
            depth[out] = level
    return found
