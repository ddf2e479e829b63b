"""Graph rewriting: the stage registry and the pass that applies the selected rewrites.

Rewrites come from plugins through `theanine_register_rewrites` (the core's own ones too, see
`theanine.rewriting.builtin`).  A rewriter is a `NodeRewriter` (see `rewriting.basic`), an object
with `apply(fgraph)`, or a callable `rewriter(fgraph)`.  Stages run in position order; within
a stage, rewrites run in their `position` order, then registration order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from theanine.graph.fg import FunctionGraph
from theanine.rewriting.basic import EquilibriumRewriter, NodeRewriter, node_rewriter

#: stage name -> position.  Later issues fill the stages between merge and final_merge.
STAGES: dict[str, float] = {
    "merge": 0, "canonicalize": 1, "stabilize": 1.5, "specialize": 2, "fusion": 49,
    "inplace": 50, "lowering": 90, "final_merge": 100,
}

#: which rewrite tags each optimizer setting runs
OPTIMIZER_TAGS: dict[str | None, frozenset[str]] = {
    "fast_run": frozenset({"fast_run"}),
    "fast_compile": frozenset({"fast_compile"}),
    None: frozenset(),
}


def selected_rewrites(registrations: Iterable[Any], optimizer: str | None,
                      including: Iterable[str] = (), excluding: Iterable[str] = (),
                      backend: Any = None) -> list[Any]:
    """The registrations that `optimizer`, the include/exclude lists and the backend select."""
    wanted = set(OPTIMIZER_TAGS[optimizer]) | set(including)
    if backend is not None:
        wanted |= set(getattr(backend, "required_tags", ()))
    refused = set(excluding)
    if backend is not None:
        refused |= set(getattr(backend, "incompatible_tags", ()))
    chosen = []
    for reg in registrations:
        labels = {reg.name, *reg.tags}
        if reg.stage not in STAGES:
            raise ValueError(f"rewrite {reg.name!r} from plugin {reg.plugin!r} names unknown "
                             f"stage {reg.stage!r}; stages: {', '.join(STAGES)}")
        if labels & wanted and not labels & refused:
            chosen.append(reg)
    return sorted(chosen, key=lambda r: (STAGES[r.stage],
                                         r.position if r.position is not None else 0))


def rewrite_graph(fgraph: FunctionGraph, optimizer: str | None,
                  including: Iterable[str] = (), excluding: Iterable[str] = (),
                  backend: Any = None) -> FunctionGraph:
    """Apply the selected rewrites to `fgraph` in place and return it.

    Consecutive node rewriters of a stage run together to a fixed point; graph rewriters run
    once, in position order.  Every replacement is recorded with the reason `plugin:name`.
    """
    from theanine.plugins import get_registry
    from theanine.rewriting.provenance import tracker_of

    tracker_of(fgraph)
    group: list[tuple[NodeRewriter, str]] = []
    stage = None

    def flush() -> None:
        if group:
            EquilibriumRewriter(list(group)).apply(fgraph)
            group.clear()

    for reg in selected_rewrites(get_registry().rewrites, optimizer, including, excluding,
                                 backend):
        if reg.stage != stage:
            flush()
            stage = reg.stage
        if isinstance(reg.rewriter, NodeRewriter):
            group.append((reg.rewriter, f"{reg.plugin}:{reg.name}"))
            continue
        flush()
        getattr(reg.rewriter, "apply", reg.rewriter)(fgraph)
    flush()
    return fgraph

__all__ = ["STAGES", "NodeRewriter", "node_rewriter", "rewrite_graph", "selected_rewrites"]
