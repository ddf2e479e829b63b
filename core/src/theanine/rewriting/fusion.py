"""Elementwise fusion: a connected group of Elemwise nodes whose intermediate results are used
only inside the group becomes one Elemwise node over a `Composite` scalar op."""

from __future__ import annotations

from theanine.graph.basic import Apply, Variable
from theanine.graph.fg import FunctionGraph
from theanine.scalar.composite import Composite
from theanine.tensor.elemwise import Elemwise


def _fusable(node: Apply) -> bool:
    return isinstance(node.op, Elemwise) and len(node.outputs) == 1 \
        and not getattr(node.op, "destroy_map", None)


class FusionRewriter:
    """Grow a cluster upward from each Elemwise node (outputs first) and fuse it."""

    name = "elemwise_fusion"

    def apply(self, fgraph: FunctionGraph) -> None:
        done: set[Apply] = set()
        order = fgraph.toposort()
        position = {node: i for i, node in enumerate(order)}
        for node in reversed(order):
            if node in done or node not in fgraph.apply_nodes or not _fusable(node):
                continue
            cluster = self._cluster(fgraph, node)
            done.update(cluster)
            if len(cluster) > 1:
                self._fuse(fgraph, node, sorted(cluster, key=position.__getitem__))

    @staticmethod
    def _cluster(fgraph: FunctionGraph, root: Apply) -> list[Apply]:
        """root plus producers whose only client is inside the cluster."""
        members = {root}
        order = [root]
        stack = [root]
        while stack:
            node = stack.pop()
            for inp in node.inputs:
                prod = inp.owner
                if prod is None or prod in members or not _fusable(prod):
                    continue
                clients = fgraph.clients.get(inp, [])
                if all(c != "output" and c in members for c, _ in clients):
                    members.add(prod)
                    order.append(prod)
                    stack.append(prod)
        return order

    @staticmethod
    def _fuse(fgraph: FunctionGraph, root: Apply, ordered: list[Apply]) -> None:
        """Replace the cluster `ordered` (topologically sorted, root last) by one node."""
        members = set(ordered)
        inputs: list[Variable] = []
        slot: dict[Variable, int] = {}
        steps = []
        for node in ordered:
            for inp in node.inputs:
                if (inp.owner not in members) and inp not in slot:
                    slot[inp] = len(inputs)
                    inputs.append(inp)
        nin = len(inputs)
        for k, node in enumerate(ordered):
            refs = tuple(slot[i] for i in node.inputs)
            steps.append((node.op.scalar_op, refs, node.outputs[0].dtype))
            slot[node.outputs[0]] = nin + k
        fused = Elemwise(Composite(nin, steps))(*inputs)
        out = root.outputs[0]
        if fused.type != out.type:
            from theanine.tensor.basic import Rebroadcast

            fused = Rebroadcast(out.broadcastable)(fused)
        fgraph.replace(out, fused, reason="theanine.rewriting.builtin:elemwise_fusion")
