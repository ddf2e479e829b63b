"""One compile-time sample in a fresh interpreter (run by `compile_time`, not imported by it).

    python _compile_child.py ENGINE TIERED JAX_CACHE_DIR

Builds seed 004's logistic-regression training graph (`logistic_step.training_graph`), then
times `function(...)` alone ("compile") and `function(...)` plus the first call ("first
result"), and prints them as JSON.  JAX compiles lazily, so both of its figures are `jit` plus
the first call.  The caches to use come from the environment the parent prepared
(THEANINE_CACHE_DIR, PYTENSOR_FLAGS) and, for JAX, the third argument ("" for none).

The imports leave garbage behind; the interpreter's first full collection (10-20 ms here)
would land in whichever timed region happens to trigger it, so one runs before the clock
starts, for every engine alike.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from theanine.demo import make_dataset  # noqa: E402
from workloads.logistic_step import jax_maker, training_graph  # noqa: E402


def _symbolic(engine: str, tiered: bool, x: Any, y: Any, w0: Any) -> dict[str, Any]:
    if engine.startswith("theanine"):
        import theanine as lib
        import theanine.tensor as T
        from theanine.config import config

        config.tiered = tiered
        compile_kw: dict[str, Any] = {"backend": engine[len("theanine["):-1]}
    else:
        import pytensor as lib
        import pytensor.tensor as T

        compile_kw = {"mode": "CVM"}
    inputs, outputs, updates = training_graph(lib, T, w0)
    start = time.perf_counter()
    train = lib.function(inputs, outputs, updates=updates, **compile_kw)
    compiled = time.perf_counter()
    train(x, y)
    done = time.perf_counter()
    report = getattr(getattr(train, "_program", None), "report", None)
    tier = getattr(report, "tier", None)  # the C backend's: Python while it compiles, or native
    text = "" if report is None else f"{tier}: {report.summary()}" if tier else report.summary()
    return {"compile": compiled - start, "first_result": done - start, "report": text}


def _jax(x: Any, y: Any, w0: Any, cache_dir: str) -> dict[str, Any]:
    import jax

    jax.config.update("jax_enable_x64", True)
    if cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    start = time.perf_counter()
    step, _ = jax_maker(jax, x, y)(w0)
    step()
    done = time.perf_counter()
    return {"compile": done - start, "first_result": done - start, "report": ""}


def main(engine: str, tiered: str, jax_cache_dir: str) -> None:
    x, y_int, w0 = make_dataset(seed=0)
    y = y_int.astype("float64")
    gc.collect()
    if engine == "jax":
        result = _jax(x, y, w0, jax_cache_dir)
    else:
        result = _symbolic(engine, tiered == "1", x, y, w0)
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
