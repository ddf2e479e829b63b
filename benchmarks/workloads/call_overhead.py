"""x + y on two float64 scalars: the fixed cost of one compiled-function call.

The arithmetic is negligible, so this measures argument checking, dispatch and result
wrapping.  Two cases: inputs given as 0-d arrays and as Python floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import Context, Measurement, measure

NAME = "call_overhead"
DESCRIPTION = "x + y on two float64 scalars (0-d arrays, Python floats)"

_CASES = {"0-d arrays": (np.array(1.5), np.array(2.25)), "python floats": (1.5, 2.25)}


def _theanine(backend: str) -> Any:
    import theanine
    import theanine.tensor as T

    x, y = T.dscalar("x"), T.dscalar("y")
    return theanine.function([x, y], x + y, backend=backend)


def _pytensor(pytensor: Any) -> Any:
    import pytensor.tensor as pt

    x, y = pt.dscalar("x"), pt.dscalar("y")
    return pytensor.function([x, y], x + y)


def run(ctx: Context) -> list[Measurement]:
    engines: list[tuple[str, Any]] = []  # (name, f(a, b) or the reason it is missing)
    if ctx.wants("numpy"):
        engines.append(("numpy", np.add))
    if ctx.wants("theanine"):
        for backend, reason in ctx.theanine_backends():
            engines.append((f"theanine[{backend}]",
                            f"unavailable: {reason}" if reason else _theanine(backend)))
    if ctx.wants("pytensor"):
        pytensor = ctx.optional("pytensor")
        engines.append(("pytensor", _pytensor(pytensor) if pytensor else "not installed"))
    if ctx.wants("jax"):
        jax = ctx.optional("jax")
        if jax is None:
            engines.append(("jax", "not installed"))
        else:
            add = jax.jit(lambda a, b: a + b)
            engines.append(("jax", lambda a, b: add(a, b).block_until_ready()))

    rows = []
    for case, (a, b) in _CASES.items():
        expected = np.add(a, b)
        for engine, f in engines:
            if isinstance(f, str):
                rows.append(Measurement(NAME, case, engine, note=f))
            else:
                rows.append(measure(ctx, NAME, case, engine, lambda f=f, a=a, b=b: f(a, b),
                                    expected=expected))
    return rows
