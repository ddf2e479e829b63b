"""What the large elementwise workloads share: one expression, one big float64 array, every engine.

`expr(x, exp)` writes the expression once with the library's `exp` (NumPy's, theanine's,
PyTensor's or JAX's), so every engine computes the same formula.  NumPy and the symbolic engines
get the NumPy array on every call; JAX gets it once as a device array (a JAX user keeps data on
the device; copying 128 MB in on each call would time the copy).  Results are checked against
NumPy's before timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import (
    Context,
    Measurement,
    engine_threads,
    jax_engines,
    measure,
    symbolic_engines,
)

Expr = Callable[[Any, Callable[[Any], Any]], Any]


def _symbolic(expr: Expr, data: np.ndarray) -> Callable[..., Any]:
    def build(lib: Any, T: Any, **compile_kw: Any) -> Callable[[], Any]:
        x = {1: T.dvector, 2: T.dmatrix}[data.ndim]("x")
        f = lib.function([x], expr(x, T.exp), **compile_kw)
        return lambda: f(data)
    return build


def _jax(expr: Expr, data: np.ndarray) -> Callable[[Any], Any]:
    def build(jax: Any) -> Callable[[], Any]:
        f = jax.jit(lambda x: expr(x, jax.numpy.exp))
        on_device = jax.device_put(data)
        return lambda: f(on_device).block_until_ready()
    return build


def run_elementwise(ctx: Context, name: str, case: str, data: np.ndarray,
                    expr: Expr) -> list[Measurement]:
    """One row per engine for `expr` on `data`; the theanine[c] row notes its threads."""
    expected = expr(data, np.exp)
    engines: list[tuple[str, Any]] = []
    if ctx.wants("numpy"):
        engines.append(("numpy", lambda: expr(data, np.exp)))
    engines += symbolic_engines(ctx, _symbolic(expr, data)) + jax_engines(ctx, _jax(expr, data))
    rows = []
    for engine, fn in engines:
        if isinstance(fn, str):
            rows.append(Measurement(name, case, engine, note=fn))
            continue
        row = measure(ctx, name, case, engine, fn, expected=expected)
        if engine == "theanine[c]" and row.seconds is not None:
            row.note = f"{engine_threads()} OpenMP threads"
        rows.append(row)
    return rows
