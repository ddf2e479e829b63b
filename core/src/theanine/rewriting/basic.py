"""Node rewriters and the equilibrium engine that runs them to a fixed point.

A node rewriter looks at one Apply node and returns replacements for its outputs (a list in
output order, or a dict {old output: new variable}), or None when its pattern does not match.
It declares the Op types it tracks, so the engine only offers it nodes of those types: a stage
whose tracked Ops are absent from the graph costs one dictionary lookup per node.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from theanine.graph.basic import Apply, Variable
from theanine.graph.fg import FunctionGraph

Replacement = Sequence[Variable] | dict[Variable, Variable] | None


class NodeRewriter:
    """A rewrite of single nodes whose Op is an instance of one of `tracks` (None: any Op)."""

    def __init__(self, fn: Callable[[FunctionGraph, Apply], Replacement],
                 tracks: Sequence[type] | None, name: str | None = None):
        self.fn = fn
        self.tracks = tuple(tracks) if tracks is not None else None
        self.name = name or fn.__name__
        self.__doc__ = fn.__doc__

    def transform(self, fgraph: FunctionGraph, node: Apply) -> Replacement:
        return self.fn(fgraph, node)

    def __repr__(self) -> str:
        return f"<node rewriter {self.name}>"


def node_rewriter(tracks: Sequence[type] | None, name: str | None = None
                  ) -> Callable[[Callable[[FunctionGraph, Apply], Replacement]], NodeRewriter]:
    """Decorator: `@node_rewriter([Elemwise])` turns `fn(fgraph, node)` into a NodeRewriter."""
    def wrap(fn: Callable[[FunctionGraph, Apply], Replacement]) -> NodeRewriter:
        return NodeRewriter(fn, tracks, name)
    return wrap


class RewriteError(RuntimeError):
    """A rewrite produced an invalid replacement."""


def apply_replacement(fgraph: FunctionGraph, node: Apply, result: Replacement,
                      reason: str) -> bool:
    """Validate and apply what a node rewriter returned; True if the graph changed."""
    if not result:
        return False
    pairs = list(result.items()) if isinstance(result, dict) else list(zip(node.outputs, result))
    if not isinstance(result, dict) and len(result) != len(node.outputs):
        raise RewriteError(f"{reason} returned {len(result)} replacement(s) for the "
                           f"{len(node.outputs)} output(s) of {node}")
    changed = False
    for old, new in pairs:
        if new is None or new is old or old not in fgraph.variables:
            continue
        if old.type != new.type:
            new = _fit_type(old, new, reason)
        fgraph.replace(old, new, reason=reason)
        changed = True
    return changed


def _fit_type(old: Variable, new: Variable, reason: str) -> Variable:
    """Accept a replacement whose broadcast pattern is more specific; refuse anything else."""
    from theanine.tensor.basic import Rebroadcast

    ot, nt = old.type, new.type
    if getattr(ot, "dtype", None) == getattr(nt, "dtype", None) and \
            getattr(ot, "ndim", None) == getattr(nt, "ndim", None):
        return Rebroadcast(ot.broadcastable)(new)
    raise RewriteError(f"{reason} tried to replace {old} ({ot}) with {new} ({nt})")


class _Worklist:
    """A FunctionGraph feature that queues every node imported while rewriting."""

    def __init__(self, nodes: Iterable[Apply]):
        self.queue: deque[Apply] = deque(nodes)

    def on_import(self, fgraph: FunctionGraph, node: Apply, reason: str | None) -> None:
        self.queue.append(node)

    def on_change_input(self, fgraph: FunctionGraph, client: Any, i: int, old: Variable,
                        new: Variable, reason: str | None) -> None:
        if client != "output":
            self.queue.append(client)  # its new input may complete a pattern


class EquilibriumRewriter:
    """Apply node rewriters until none fires (or `max_steps` replacements have been made).

    Nodes are visited from a work queue seeded in topological order; every node a replacement
    imports is queued again, so the work grows with the changes made, not with passes over the
    whole graph.
    """

    def __init__(self, rewriters: Sequence[tuple[NodeRewriter, str]], max_steps: int = 100_000):
        self.rewriters = list(rewriters)  # (rewriter, provenance label)
        self.max_steps = max_steps
        self._by_type: dict[type, list[tuple[NodeRewriter, str]]] = {}
        self._generic = [(r, label) for r, label in self.rewriters if r.tracks is None]

    def _for_op(self, op_type: type) -> list[tuple[NodeRewriter, str]]:
        found = self._by_type.get(op_type)
        if found is None:
            found = [(r, label) for r, label in self.rewriters
                     if r.tracks is not None and issubclass(op_type, r.tracks)]
            found += self._generic
            self._by_type[op_type] = found
        return found

    def apply(self, fgraph: FunctionGraph) -> int:
        work = _Worklist(fgraph.toposort())
        fgraph.attach_feature(work)
        steps = 0
        try:
            while work.queue:
                node = work.queue.popleft()
                if node not in fgraph.apply_nodes:
                    continue
                for rewriter, label in self._for_op(type(node.op)):
                    result = rewriter.transform(fgraph, node)
                    if result and apply_replacement(fgraph, node, result, label):
                        steps += 1
                        if steps >= self.max_steps:
                            raise RewriteError(f"rewriting did not settle after {steps} "
                                               "replacements; a rewrite probably undoes another")
                        break
                    if node not in fgraph.apply_nodes:
                        break
        finally:
            fgraph.remove_feature(work)
        return steps


def run_node_rewriter(fgraph: FunctionGraph, rewriter: NodeRewriter, label: str | None = None
                      ) -> int:
    """Run a single node rewriter to equilibrium (tests and one-off use)."""
    return EquilibriumRewriter([(rewriter, label or rewriter.name)]).apply(fgraph)

