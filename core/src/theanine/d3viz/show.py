"""`theanine show TARGET`: find a compiled function (or a variable) in a user's module or script
and write its HTML view, so a graph can be looked at without editing the program."""

from __future__ import annotations

import importlib
import os
import runpy
import sys
from typing import Any


class ShowError(Exception):
    """The target could not be found or is not something d3viz draws."""


def load_target(spec: str) -> tuple[Any, str]:
    """The object `spec` names, and its name: `package.module:name` imports the module,
    `path/to/script.py:name` runs the script (as a module named `__theanine_show__`, so its
    `if __name__ == '__main__':` block does not run); `name` may be dotted (`model.train`)."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise ShowError(f"expected MODULE:NAME or SCRIPT.py:NAME (e.g. mymodel:train), got "
                        f"{spec!r}")
    if where.endswith(".py") or os.path.sep in where:
        if not os.path.isfile(where):
            raise ShowError(f"no script {where!r} (from {spec!r})")
        namespace: Any = runpy.run_path(where, run_name="__theanine_show__")
        get = namespace.get
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` does: modules of the current folder
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ShowError(f"cannot import module {where!r}: {exc}") from exc

        def get(name: str) -> Any:
            return getattr(module, name, None)
    first, *rest = attr.split(".")
    obj = get(first)
    for part in rest:
        obj = getattr(obj, part, None) if obj is not None else None
    if obj is None:
        raise ShowError(f"{where!r} defines no {attr!r}")
    return obj, attr


def show(spec: str, outfile: str | None = None, layout: str = "auto") -> str:
    """Write the HTML view of the function `spec` names (see `load_target`) to `outfile`
    (default: NAME.html in the current folder) and return its path."""
    from theanine.d3viz import d3viz

    obj, name = load_target(spec)
    try:
        return d3viz(obj, outfile or f"{name}.html", layout=layout, title=f"theanine show {spec}")
    except TypeError as exc:
        raise ShowError(f"{spec}: {exc}") from exc
