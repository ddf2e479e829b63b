"""Stamp each collective node with its graph's sequence of collectives.

The handshake compares a digest of that sequence across ranks at every collective, so two
ranks that compiled different graphs (another collective, another order, another shape
pattern) fail at the first collective of the call with both sequences named, instead of
deadlocking or mixing data somewhere later.  Runs last (after `final_merge`), on the graph the
backend links.
"""

from __future__ import annotations

from theanine.distributed.handshake import GraphOrder
from theanine.distributed.ops import Collective, any_made
from theanine.graph.fg import FunctionGraph


class StampCollectiveOrder:
    """Graph rewriter: tag every collective with its `GraphOrder` (no replacement)."""

    name = "distributed_order"

    def apply(self, fgraph: FunctionGraph) -> None:
        if not any_made() or not any(isinstance(n.op, Collective) for n in fgraph.apply_nodes):
            return  # most graphs: no walk in order
        nodes = [n for n in fgraph.toposort() if isinstance(n.op, Collective)]
        described = tuple(f"{n.op}({', '.join(str(i.type) for i in n.inputs)})"
                          for n in nodes)
        for i, node in enumerate(nodes):
            node.tag["collective_order"] = GraphOrder(i, described)
