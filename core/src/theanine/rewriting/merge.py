"""Merging: equal constants and equal computations on the same inputs become one node.

Merging respects in-place nodes.  An in-place node may overwrite a value only when it is that
value's sole reader (`rewriting.inplace.DestroyHandler`); merging two equal nodes gives the
kept node's outputs the clients of both, so if either node's output is overwritten, merging
them would hand an overwritten buffer to the other readers.  Such pairs are left unmerged.
(`final_merge` runs after `inplace` so that it can merge what `lowering` and plugins' late
stages create; a merge also runs just before `inplace`, so duplicates are merged while no
node overwrites anything yet and in-place decisions are made on the merged graph.)
"""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph


def _overwritten(fgraph: FunctionGraph, var: Variable) -> bool:
    """Whether some client of `var` destroys it (writes its result into `var`'s buffer)."""
    for client, i in fgraph.clients.get(var, ()):
        if client != "output" and any(i in ins for ins in client.op.destroy_map.values()):
            return True
    return False


def _mergeable(fgraph: FunctionGraph, node: Apply, kept: Apply) -> bool:
    return all(old.type == new.type for old, new in zip(node.outputs, kept.outputs)) and not any(
        _overwritten(fgraph, v) for v in (*node.outputs, *kept.outputs))


class MergeRewriter:
    """Common-subexpression elimination over the whole graph, in one topological pass."""

    name = "merge"

    def __init__(self, name: str = "merge") -> None:
        self.name = name

    def apply(self, fgraph: FunctionGraph) -> None:
        reason = f"theanine.rewriting.builtin:{self.name}"
        canonical: dict[Any, Variable] = {}
        for var in list(fgraph.variables):
            if isinstance(var, Constant) and var in fgraph.variables:
                key = ("const", var.signature())
                kept = canonical.setdefault(key, var)
                if kept is not var:
                    fgraph.replace(var, kept, reason=reason)
        seen: dict[Any, list[Apply]] = {}
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes:
                continue
            candidates = seen.setdefault((node.op, tuple(node.inputs)), [])
            kept = next((k for k in candidates if _mergeable(fgraph, node, k)), None)
            if kept is None:
                candidates.append(node)
                continue
            for old, new in zip(node.outputs, kept.outputs):
                fgraph.replace(old, new, reason=reason)
