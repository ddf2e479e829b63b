"""The HTML form of a `ProfileStats`: one self-contained page (inline CSS and SVG, no scripts,
nothing fetched) with a bar per node, per Op and per compile phase, so the slow parts stand
out at a glance; hovering a bar shows its numbers (SVG `<title>`)."""

from __future__ import annotations

from html import escape
from typing import Any

_ROW, _LABEL, _BAR = 22, 420, 420

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font: 12px monospace; } .note { color: #666; }
"""


def _bars(rows: list[tuple[str, float, str]], color: str) -> str:
    """A horizontal bar chart: (label, seconds, hover text) per row, longest bar = largest."""
    if not rows:
        return '<p class="note">nothing recorded</p>'
    top = max(seconds for _, seconds, _ in rows) or 1.0
    height = _ROW * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LABEL + _BAR + 120}" '
             f'height="{height}" role="img">']
    for k, (label, seconds, hover) in enumerate(rows):
        y = k * _ROW + 2
        width = max(1.0, _BAR * seconds / top)
        shown = label if len(label) <= 58 else label[:55] + "..."
        parts.append(f'<g><title>{escape(hover)}</title>'
                     f'<text x="{_LABEL - 6}" y="{y + 15}" text-anchor="end">'
                     f'{escape(shown)}</text>'
                     f'<rect x="{_LABEL}" y="{y + 3}" width="{width:.1f}" height="{_ROW - 6}" '
                     f'fill="{color}"/>'
                     f'<text x="{_LABEL + width + 6:.1f}" y="{y + 15}">{seconds:.3e}s</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def render_html(p: Any) -> str:
    """The page for profile `p`."""
    calls = p.fct_callcount
    total = p.thunk_time
    facts = [("calls to Function.__call__", f"{calls}"),
             ("time in Function.__call__", f"{p.fct_call_time:.6e}s"),
             ("time in the program", f"{p.vm_call_time:.6e}s"),
             ("time in nodes (thunks)", f"{total:.6e}s ({_pct(total, p.fct_call_time)} of the "
                                        "calls)"),
             ("per call", f"{p.fct_call_time / calls:.6e}s" if calls else "n/a"),
             ("total compile time", f"{p.compile_time:.6e}s"),
             ("nodes", f"{p.n_nodes} (backend {', '.join(p.backends)})")]
    facts += [(name, str(n)) for name, n in p.counts.items()]
    table = "".join(f'<tr><th>{escape(k)}</th><td class="num">{escape(v)}</td></tr>'
                    for k, v in facts)
    nodes = [(f"[{r.index}] {r.node}", r.seconds,
              f"{r.node}\n{r.seconds:.4e}s in {r.calls} calls ({r.per_call:.3e}s each, "
              f"{_pct(r.seconds, total)}); runs {r.kind}"
              + (f"\nuser expression: {r.node.tag['source']}" if "source" in r.node.tag else ""))
             for r in p.node_times()]
    ops = [(g.name, g.seconds, f"{g.name}: {g.seconds:.4e}s over {g.n_nodes} node(s), "
                               f"{g.calls} calls ({_pct(g.seconds, total)})")
           for g in p.op_times()]
    phases = [(name, t, f"{name}: {t:.4e}s") for name, t in p.compile_phases.items()]
    phases += [(f"  {name}", t, f"inside linking: {name}: {t:.4e}s")
               for name, t in p.backend_phases.items()]
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in p.notes)
    title = escape(p.message or "theanine function")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Profile: {title}</title><style>{_STYLE}</style></head><body>"
            f"<h1>Profile: {title}</h1><table>{table}</table>{notes}"
            f"<h2>Time per node (slowest first)</h2>{_bars(nodes, '#3b7dd8')}"
            f"<h2>Time per Op</h2>{_bars(ops, '#d8843b')}"
            f"<h2>Compile time</h2>{_bars(phases, '#4fa35a')}"
            "</body></html>\n")
