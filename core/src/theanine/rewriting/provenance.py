"""Provenance: which rewrites built each node of a compiled graph (`theanine.explain`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph


class ProvenanceTracker:
    """A FunctionGraph feature: tags each node imported by a rewrite with the rewrite's reason
    (`plugin:rewrite`), counts the replacements each rewrite made, and passes a replaced
    node's `tag["source"]` (the user expression it computes) on to its replacement, and its
    `tag["trace"]` (the user's lines that built it) to every node of the replacement that has
    none (nodes built while compiling record no line of their own)."""

    def __init__(self) -> None:
        self.replacements: Counter[str] = Counter()

    def on_import(self, fgraph: FunctionGraph, node: Apply, reason: str | None) -> None:
        if reason and reason != "init":
            reasons = node.tag.setdefault("provenance", [])
            if reason not in reasons:
                reasons.append(reason)

    def on_change_input(self, fgraph: FunctionGraph, client: Any, i: int, old: Any, new: Any,
                        reason: str | None) -> None:
        # A replacement computes what it replaces, so it stands for the same user expression
        # (e.g. the inplace version of a fused node keeps the fused node's source text).
        source = old.owner.tag.get("source") if old.owner is not None else None
        if source is not None and new.owner is not None:
            new.owner.tag.setdefault("source", source)
        trace = old.owner.tag.get("trace") if old.owner is not None else None
        if trace is not None:
            _hand_on_trace(new, trace)
        if reason:
            self.replacements[reason] += 1
            if client != "output":
                rewired = client.tag.setdefault("rewired", [])
                if reason not in rewired:
                    rewired.append(reason)


def _hand_on_trace(new: Any, trace: Any) -> None:
    """Give `trace` to `new`'s owner and to the nodes above it that have no trace: the nodes
    a replacement added (the walk stops at nodes that have one, so it costs what was added)."""
    stack = [new.owner] if new.owner is not None else []
    seen: set[Apply] = set()
    while stack:
        node = stack.pop()
        if node in seen or "trace" in node.tag:
            continue
        seen.add(node)
        node.tag["trace"] = trace
        stack.extend(i.owner for i in node.inputs if i.owner is not None)


def tracker_of(fgraph: FunctionGraph) -> ProvenanceTracker:
    for f in fgraph.features:
        if isinstance(f, ProvenanceTracker):
            return f
    tracker = ProvenanceTracker()
    fgraph.attach_feature(tracker)
    return tracker


def explain(f: Any) -> str:
    """A readable account of a compiled function's graph: each node, in execution order, with
    the rewrites that produced it ('as written' for nodes the user's graph already had)."""
    fgraph = f.maker.fgraph
    report = getattr(getattr(f.maker, "program", None), "report", None)
    lines = [f"compiled graph: {len(fgraph.apply_nodes)} node(s), backend "
             f"{f.maker.backend.name}"]
    if report is not None:
        lines.append(report.summary())
    for k, node in enumerate(fgraph.toposort()):
        made_by = node.tag.get("provenance")
        origin = "by " + ", ".join(made_by) if made_by else "as written"
        if node.tag.get("rewired"):
            origin += "; inputs replaced by " + ", ".join(node.tag["rewired"])
        how = report.how(node) if report is not None else None
        if how:
            origin += f"; runs {how}"
        args = ", ".join(str(i) for i in node.inputs)
        lines.append(f"  [{k}] {node.op}({args}) -- {origin}")
    tracker = next((t for t in fgraph.features if isinstance(t, ProvenanceTracker)), None)
    if tracker and tracker.replacements:
        lines.append("replacements made:")
        for reason, n in tracker.replacements.most_common():
            lines.append(f"  {reason}: {n}")
    return "\n".join(lines)
