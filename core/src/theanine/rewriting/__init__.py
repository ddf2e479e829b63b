"""Graph rewriting: the stage registry and the pass that applies the selected rewrites.

Rewrites come from plugins through `theanine_register_rewrites` (the core's own ones too, see
`theanine.rewriting.builtin`).  A rewriter is a `NodeRewriter` (see `rewriting.basic`), an object
with `apply(fgraph)`, or a callable `rewriter(fgraph)`.  Stages run in position order; within
a stage, rewrites run in their `position` order, then registration order.

Which optimizer runs a registration (`registration_tags`): `fast_run` unless its tags name the
optimizers it runs under, as PyTensor's `register_canonicalize` does; the tags it gives add to
that.  An opt-in registration runs under none and only when its name or a tag is included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
#: the tags that name an optimizer: a registration giving none of them runs under `fast_run`
OPTIMIZER_LEVELS: frozenset[str] = frozenset().union(*OPTIMIZER_TAGS.values())


def registration_tags(stage: str, tags: tuple[str, ...] | list[str], opt_in: bool
                      ) -> tuple[str, ...]:
    """The tags a registration is selected by: `tags`, plus `fast_run` when they name no
    optimizer and the rewrite is not opt-in.  ValueError (the caller names the plugin) for an
    unknown stage, tags that are not a tuple (or list) of strings, or an opt-in rewrite that names
    an optimizer (it would not be opt-in)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    if not isinstance(tags, tuple | list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"tags={tags!r}; expected a tuple of strings")
    tags = tuple(tags)
    levels = OPTIMIZER_LEVELS.intersection(tags)
    if opt_in and levels:
        raise ValueError(f"opt_in=True and tags naming the optimizer(s) "
                         f"{', '.join(sorted(levels))}: an opt-in rewrite runs only when "
                         f"included; drop those tags or opt_in")
    return tags if opt_in or levels else ("fast_run", *tags)


def selected_rewrites(registrations: Iterable[Any], optimizer: str | None,
                      including: Iterable[str] = (), excluding: Iterable[str] = (),
                      backend: Any = None) -> list[Any]:
    """The registrations that `optimizer`, the include/exclude lists and the backend select:
    its `required_tags` always, its `fast_run_tags` (opt-in rewrites that pay off there) under
    `fast_run`."""
    wanted = set(OPTIMIZER_TAGS[optimizer]) | set(including)
    if backend is not None:
        wanted |= set(getattr(backend, "required_tags", ()))
        if optimizer == "fast_run":
            wanted |= set(getattr(backend, "fast_run_tags", ()))
    refused = set(excluding)
    if backend is not None:
        refused |= set(getattr(backend, "incompatible_tags", ()))
    chosen = []
    for reg in registrations:
        labels = {reg.name, *reg.tags}
        if labels & wanted and not labels & refused:
            chosen.append(reg)
    return sorted(chosen, key=lambda r: (STAGES[r.stage],
                                         r.position if r.position is not None else 0))


def rewrite_graph(fgraph: FunctionGraph, optimizer: str | None,
                  including: Iterable[str] = (), excluding: Iterable[str] = (),
                  backend: Any = None,
                  on_stage: Callable[[str, float], None] | None = None) -> FunctionGraph:
    """Apply the selected rewrites to `fgraph` in place and return it.

    Consecutive node rewriters of a stage run together to a fixed point; graph rewriters run
    once, in position order.  Every replacement is recorded with the reason `plugin:name`.
    `on_stage(stage, seconds)` is told how long each stage took (the profiler's).
    """
    import time

    from theanine.plugins import get_registry
    from theanine.rewriting.provenance import tracker_of

    tracker_of(fgraph)
    group: list[tuple[NodeRewriter, str]] = []
    stage = None
    started = time.perf_counter()

    def flush() -> None:
        if group:
            EquilibriumRewriter(list(group)).apply(fgraph)
            group.clear()

    def stage_done() -> None:
        nonlocal started
        if on_stage is not None and stage is not None:
            now = time.perf_counter()
            on_stage(str(stage), now - started)
            started = now

    for reg in selected_rewrites(get_registry().rewrites, optimizer, including, excluding,
                                 backend):
        if reg.stage != stage:
            flush()
            stage_done()
            stage = reg.stage
        if isinstance(reg.rewriter, NodeRewriter):
            group.append((reg.rewriter, f"{reg.plugin}:{reg.name}"))
            continue
        flush()
        getattr(reg.rewriter, "apply", reg.rewriter)(fgraph)
    flush()
    stage_done()
    return fgraph

__all__ = ["OPTIMIZER_LEVELS", "STAGES", "NodeRewriter", "node_rewriter", "registration_tags",
           "rewrite_graph", "selected_rewrites"]
