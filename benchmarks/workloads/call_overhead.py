"""x + y on two float64 scalars: the fixed cost of one compiled-function call.

The arithmetic is negligible, so this measures argument checking, dispatch and result
wrapping.  Two cases: inputs given as 0-d arrays and as Python floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import Context, Measurement, jax_engines, measure, symbolic_engines

NAME = "call_overhead"
DESCRIPTION = "x + y on two float64 scalars (0-d arrays, Python floats)"

_CASES = {"0-d arrays": (np.array(1.5), np.array(2.25)), "python floats": (1.5, 2.25)}


def _symbolic(lib: Any, T: Any, **compile_kw: Any) -> Any:
    x, y = T.dscalar("x"), T.dscalar("y")
    return lib.function([x, y], x + y, **compile_kw)


def _jax(jax: Any) -> Any:
    add = jax.jit(lambda a, b: a + b)
    return lambda a, b: add(a, b).block_until_ready()


def run(ctx: Context) -> list[Measurement]:
    engines: list[tuple[str, Any]] = []  # (name, f(a, b) or the reason it is missing)
    if ctx.wants("numpy"):
        engines.append(("numpy", np.add))
    engines += symbolic_engines(ctx, _symbolic) + jax_engines(ctx, _jax)

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
