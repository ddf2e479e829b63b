"""`import X` in a fresh interpreter: what every user pays before their first line runs.

Each sample is one `python -c "import X"` subprocess, so the figure includes the interpreter's
own start-up; the `python` row (no import) shows that part.  The samples run with bytecode
caching on (PYTHONDONTWRITEBYTECODE removed from their environment), as an installed package
runs: the warm-up writes the `.pyc` files, the samples read them.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import time

from harness import Context, Measurement

NAME = "import_time"
DESCRIPTION = "fresh-interpreter `import X` (a subprocess per sample)"

_MODULES = [("python", None), ("numpy", "numpy"), ("theanine", "theanine"),
            ("pytensor", "pytensor"), ("jax", "jax")]


_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _sample(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, env=_ENV)
    return time.perf_counter() - start


def run(ctx: Context) -> list[Measurement]:
    rows = []
    for engine, module in _MODULES:
        if engine != "python" and not ctx.wants(engine):
            continue
        if module is not None and importlib.util.find_spec(module) is None:
            rows.append(Measurement(NAME, "import", engine, note="not installed"))
            continue
        statement = "pass" if module is None else f"import {module}"
        _sample(statement)  # warm the OS file cache and write bytecode: the first start is not
        # representative
        samples = [_sample(statement) for _ in range(ctx.repeat)]
        rows.append(Measurement(NAME, "import", engine, statistics.median(samples),
                                min(samples), 1, note="startup only" if module is None else ""))
    return rows
