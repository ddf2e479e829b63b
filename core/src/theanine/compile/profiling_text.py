"""The text form of a `ProfileStats`: Theano's `ProfileStats.summary()` layout (a function
section with the call and compile times, then Class, Ops and Apply tables, slowest first)."""

from __future__ import annotations

from typing import Any


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def _function_section(p: Any) -> list[str]:
    lines = ["Function profiling", "==================", f"  Message: {p.message or '(none)'}",
             f"  Time in {p.fct_callcount} calls to Function.__call__: {p.fct_call_time:.6e}s"]
    if p.fct_callcount:
        lines += [f"  Time in Function.fn.__call__: {p.vm_call_time:.6e}s "
                  f"({_pct(p.vm_call_time, p.fct_call_time)})",
                  f"  Time in thunks: {p.thunk_time:.6e}s ({_pct(p.thunk_time, p.fct_call_time)})",
                  f"  Time per call: {p.fct_call_time / p.fct_callcount:.6e}s in __call__, "
                  f"{p.thunk_time / p.fct_callcount:.6e}s in thunks"]
    lines += [f"  Total compile time: {p.compile_time:.6e}s",
              f"    Number of Apply nodes: {p.n_nodes}  (backend {', '.join(p.backends)})"]
    for name, seconds in p.compile_phases.items():
        lines.append(f"    {name}: {seconds:.6e}s ({_pct(seconds, p.compile_time)})")
    for name, seconds in p.backend_phases.items():
        lines.append(f"      {name}: {seconds:.6e}s")
    for name, n in p.counts.items():
        lines.append(f"      {name}: {n}")
    lines += [f"  Note: {note}" for note in p.notes]
    return lines


def _group_section(title: str, groups: list[Any], total: float, limit: int) -> list[str]:
    label = "Class name" if title == "Class" else "Op name"
    lines = ["", title, "-" * len(title),
             f"<% time> <sum %> <apply time> <time per call> <type> <#call> <#apply> <{label}>"]
    running = 0.0
    for g in groups[:limit]:
        running += g.seconds
        lines.append(f"  {_pct(g.seconds, total):>6}  {_pct(running, total):>6}  "
                     f"{g.seconds:11.3e}s  {g.per_call:11.3e}s  {g.kind:>8} {g.calls:7d} "
                     f"{g.n_nodes:6d}   {g.name}")
    if len(groups) > limit:
        rest = sum(g.seconds for g in groups[limit:])
        lines.append(f"   ... (remaining {len(groups) - limit} {title} account for "
                     f"{_pct(rest, total)} ({rest:.3e}s) of the runtime)")
    return lines


def _apply_section(rows: list[Any], total: float, limit: int) -> list[str]:
    lines = ["", "Apply", "------",
             "<% time> <sum %> <apply time> <time per call> <#call> <id> <Apply name>"]
    running = 0.0
    for r in rows[:limit]:
        running += r.seconds
        source = r.node.tag.get("source")
        name = f"{r.node}" + (f"  [fused: {source}]" if source is not None else "")
        lines.append(f"  {_pct(r.seconds, total):>6}  {_pct(running, total):>6}  "
                     f"{r.seconds:11.3e}s  {r.per_call:11.3e}s  {r.calls:7d} {r.index:4d}   "
                     f"{name}")
        for k, out in enumerate(r.node.outputs):
            lines.append(f"      output {k}: {out.type}")
    if len(rows) > limit:
        rest = sum(r.seconds for r in rows[limit:])
        lines.append(f"   ... (remaining {len(rows) - limit} Apply instances account for "
                     f"{_pct(rest, total)} ({rest:.3e}s) of the runtime)")
    return lines


def summary_text(p: Any, n_ops: int, n_apply: int) -> str:
    """The whole report; `n_ops` / `n_apply` cap the Class/Ops and Apply tables."""
    lines = _function_section(p)
    total = p.thunk_time
    if p.apply_time:
        lines += _group_section("Class", p.class_times(), total, n_ops)
        lines += _group_section("Ops", p.op_times(), total, n_ops)
        lines += _apply_section(p.node_times(), total, n_apply)
    else:
        lines.append("  No node was timed (the function was not called, or its backend "
                     "takes no node hook)")
    return "\n".join(lines)
