"""`theanine.d3viz(f, 'graph.html')`: an interactive HTML view of a compiled function.

The page shows the compiled graph beside the graph as written; hovering a box gives its types,
shapes (from test values, shared values, constants and `infer_shape`) and the rewrites that
made it (what `theanine.explain` prints); a fused node expands to its scalar steps.  The page is
one file (SVG drawn by a small script of ours from embedded JSON): nothing is downloaded.

As in Theano, `theanine.d3viz.d3viz(f, path)` works too: this module is callable.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from theanine.d3viz.layout import ENGINES, place
from theanine.d3viz.model import GraphView, compiled_view, original_view, variables_view
from theanine.d3viz.page import render


def views_of(fct: Any) -> tuple[list[GraphView], str]:
    """The graphs to show for `fct` (a compiled function, a variable or a list of them) and a
    one-line summary."""
    from theanine.compile.function import Function
    from theanine.graph.basic import Variable

    if isinstance(fct, Function):
        views = [compiled_view(fct), original_view(fct)]
        name = f"function {fct.name!r}" if fct.name else "a compiled function"
        n_up = len(fct.updated)
        summary = (f"{name}: {len(fct.specs)} input(s), {fct.n_out} output(s)"
                   + (f", {n_up} update(s)" if n_up else "")
                   + "; left the graph it runs, right the graph as written")
        return views, summary
    outputs = list(fct) if isinstance(fct, list | tuple) else [fct]
    if not outputs or not all(isinstance(v, Variable) for v in outputs):
        raise TypeError(f"d3viz expects a compiled function (theanine.function(...)), a "
                        f"symbolic variable or a list of them, got {type(fct).__name__} "
                        f"{fct!r}"[:240])
    return [variables_view(outputs)], f"{len(outputs)} variable(s), not compiled"


def d3viz(fct: Any, outfile: str | os.PathLike[str], copy_deps: bool = True,
          layout: str = "auto", title: str | None = None) -> str:
    """Write the HTML view of `fct` to `outfile` and return its path.

    `layout`: 'auto' (graphviz's `dot` when installed, else the built-in layered layout),
    'dot' or 'layered'.  `copy_deps` is Theano's (it copied d3.js beside the page); the page
    needs no other file here, so it is accepted and changes nothing.
    """
    if not isinstance(outfile, str | os.PathLike):
        raise TypeError(f"d3viz outfile must be a file path such as 'graph.html', got "
                        f"{type(outfile).__name__} {outfile!r}"[:200])
    views, summary = views_of(fct)
    for view in views:
        place(view, layout)
    path = os.fspath(outfile)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    page = render(views, title or f"theanine graph: {summary.split(':')[0]}", summary)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path


class _CallableModule(types.ModuleType):
    """`theanine.d3viz(...)` and `theanine.d3viz.d3viz(...)` both work."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return d3viz(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["ENGINES", "d3viz", "views_of"]
