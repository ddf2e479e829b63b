"""Compile time of seed 004's logistic-regression training function, each sample in a fresh
interpreter (`_compile_child.py`), so nothing compiled or loaded in this process helps.

Cases (median over the samples):
- `cold compile`: `function(...)` alone with an EMPTY cache directory; theanine with
  `tiered=False` (the native code is built before `function` returns).  JAX compiles lazily,
  so its figure is `jit` plus the first call, without a persistent cache.
- `warm compile`: the same in a fresh process after a warm-up process filled the cache
  (theanine's THEANINE_CACHE_DIR, PyTensor's compiledir, JAX's persistent compilation cache).
- `first result`: `function(...)` plus the first call, empty cache; theanine[c] here runs
  tiered (the default): the first calls run on the Python backend while C compiles.

Each cold sample gets its own fresh temporary cache directory.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import PYTENSOR_ENGINE, Context, Measurement

NAME = "compile_time"
DESCRIPTION = "compile time of the demo's logistic training function (fresh process per sample)"
CHILD = Path(__file__).with_name("_compile_child.py")
#: samples per figure: each is a process start, an import and a compile
SAMPLES = 5
CASES = ("cold compile", "warm compile", "first result")


def _sample(engine: str, cache: str, tiered: bool) -> dict[str, Any]:
    """Run one child with every engine's cache pointed into `cache`."""
    env = dict(os.environ, THEANINE_CACHE_DIR=os.path.join(cache, "theanine"))
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"compiledir={os.path.join(cache, 'pytensor')}"])
    done = subprocess.run([sys.executable, str(CHILD), engine, "1" if tiered else "0",
                           os.path.join(cache, "jax")], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"FAILED (exit {done.returncode}): {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cold(engine: str, tiered: bool, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        with tempfile.TemporaryDirectory(prefix="theanine-bench-cold-") as cache:
            out.append(_sample(engine, cache, tiered))
    return out


def _warm(engine: str, n: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="theanine-bench-warm-") as cache:
        _sample(engine, cache, tiered=False)  # fills the cache
        return [_sample(engine, cache, tiered=False) for _ in range(n)]


def _row(case: str, engine: str, samples: list[dict[str, Any]], key: str) -> Measurement:
    times = [s[key] for s in samples]
    note = samples[-1]["report"]
    return Measurement(NAME, case, engine, statistics.median(times), min(times), 1, note=note)


def _engines(ctx: Context) -> list[tuple[str, str | None]]:
    """(engine, None) to measure, or (engine, why it is missing)."""
    engines: list[tuple[str, str | None]] = []
    if ctx.wants("theanine"):
        engines += [(f"theanine[{b}]", f"unavailable: {r}" if r else None)
                    for b, r in ctx.theanine_backends()]
    if ctx.wants("pytensor"):
        found = ctx.optional("pytensor") is not None  # also sets PyTensor's BLAS default
        engines.append((PYTENSOR_ENGINE, None if found else "not installed"))
    if ctx.wants("jax"):
        engines.append(("jax", None if ctx.optional("jax") is not None else "not installed"))
    return engines


def run(ctx: Context) -> list[Measurement]:
    n = max(1, min(ctx.repeat, SAMPLES))
    rows = []
    for engine, missing in _engines(ctx):
        try:
            if missing:
                raise RuntimeError(missing)
            cold = _cold(engine, tiered=False, n=n)
            warm = _warm(engine, n)
            # tiering only changes native theanine backends; the others' cold samples serve
            first = _cold(engine, tiered=True, n=n) if engine == "theanine[c]" else cold
        except RuntimeError as exc:
            rows += [Measurement(NAME, case, engine, note=str(exc)) for case in CASES]
            continue
        rows += [_row("cold compile", engine, cold, "compile"),
                 _row("warm compile", engine, warm, "compile"),
                 _row("first result", engine, first, "first_result")]
    return rows
