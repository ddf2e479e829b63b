"""Merging: equal constants and equal computations on the same inputs become one node."""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Constant, Variable
from theanine.graph.fg import FunctionGraph


class MergeRewriter:
    """Common-subexpression elimination over the whole graph, in one topological pass."""

    name = "merge"

    def apply(self, fgraph: FunctionGraph) -> None:
        canonical: dict[Any, Variable] = {}
        for var in list(fgraph.variables):
            if isinstance(var, Constant) and var in fgraph.variables:
                key = ("const", var.signature())
                kept = canonical.setdefault(key, var)
                if kept is not var:
                    fgraph.replace(var, kept, reason=f"theanine.rewriting.builtin:{self.name}")
        seen: dict[Any, Any] = {}
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes:
                continue
            key = (node.op, tuple(node.inputs))
            kept = seen.setdefault(key, node)
            if kept is node:
                continue
            for old, new in zip(node.outputs, kept.outputs):
                if old.type == new.type:
                    fgraph.replace(old, new, reason=f"theanine.rewriting.builtin:{self.name}")
