"""The HTML page: graph data as embedded JSON, built into SVG by the viewer script at load
time (one file, no network)."""

from __future__ import annotations

import html
import json

from theanine.d3viz.model import GraphView
from theanine.d3viz.viewer_js import SCRIPT, STYLE

_LEGEND = (("kind-apply", "Apply node"), ("fused", "fused node (click to expand)"),
           ("kind-input", "input"), ("kind-shared", "shared variable"),
           ("kind-constant", "constant"), ("kind-output", "output / update"))


def render(views: list[GraphView], title: str, summary: str) -> str:
    """The page showing `views` side by side."""
    payload = json.dumps({"title": title, "graphs": [v.as_dict() for v in views]})
    # JSON inside <script>: no "</script>" or "<!--" may appear, so escape every "<"
    payload = payload.replace("<", "\\u003c")
    legend = "".join(f'<span class="{cls}">{html.escape(text)}</span>'
                     for cls, text in _LEGEND)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary)}</p>
<p class="legend">{legend}
<label><input type="checkbox" id="expand-all"> expand every fused node</label></p>
<p>Hover a box for its types, shapes and the rewrites that made it; drag to pan, wheel to
zoom.</p>
<noscript><p>This view draws the graph with JavaScript; enable it to see the graph.</p></noscript>
</header>
<main id="panels"></main>
<div id="tip" hidden></div>
<script type="application/json" id="theanine-graph">{payload}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
