"""What every workload shares: the timer, the result record, and the engines to compare.

An engine is one implementation of a workload: `numpy` (a hand-written reference, the
baseline of every ratio), `theanine[<backend>]` for each registered theanine backend, and
`pytensor` and `jax` when they are installed.  A workload reports one `Measurement` per
(case, engine), with a note instead of a time when the engine is missing, unavailable or wrong.
"""

from __future__ import annotations

import importlib
import importlib.util
import statistics
import timeit
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ENGINE_FAMILIES = ("numpy", "theanine", "pytensor", "jax")


@dataclass
class Measurement:
    """One row of the table: seconds per call (median and min over the repeats)."""

    workload: str
    case: str
    engine: str
    seconds: float | None = None
    best_seconds: float | None = None
    calls_per_repeat: int = 0
    note: str = ""


@dataclass
class Context:
    """The run's settings, handed to every workload."""

    repeat: int = 7
    min_time: float = 0.2
    families: tuple[str, ...] = ENGINE_FAMILIES
    _modules: dict[str, Any] = field(default_factory=dict)

    def wants(self, family: str) -> bool:
        return family in self.families

    def optional(self, name: str) -> Any | None:
        """Import an optional engine (None when not installed), configured for float64."""
        if name not in self._modules:
            module = None
            if importlib.util.find_spec(name) is not None:
                module = importlib.import_module(name)
                if name == "jax":
                    module.config.update("jax_enable_x64", True)
            self._modules[name] = module
        return self._modules[name]

    def theanine_backends(self) -> Iterator[tuple[str, str | None]]:
        """(backend name, None) for available backends, (name, reason) for the others."""
        from theanine.plugins import get_registry

        for name, (backend, _plugin) in sorted(get_registry().backends.items()):
            ok, reason = backend.is_available()
            yield name, None if ok else reason or "unavailable"


def time_call(fn: Callable[[], Any], repeat: int, min_time: float) -> tuple[float, float, int]:
    """(median, min) seconds per call of `fn`, and the calls per repeat.

    Calls per repeat grow 1, 2, 5, 10, ... until one repeat lasts `min_time`, so that the
    clock's resolution and the loop's own cost are negligible against what is measured.
    """
    timer = timeit.Timer(fn)
    number = 1
    while True:
        for factor in (1, 2, 5):
            n = number * factor
            if timer.timeit(n) >= min_time:
                runs = [t / n for t in timer.repeat(repeat=repeat, number=n)]
                return statistics.median(runs), min(runs), n
        number *= 10


def measure(ctx: Context, workload: str, case: str, engine: str, fn: Callable[[], Any],
            result: Callable[[], Any] | None = None, expected: Any = None) -> Measurement:
    """Time `fn`, after checking that `result()` (default: `fn()`) matches `expected`."""
    if expected is not None:
        got = (result or fn)()
        try:
            for g, e in zip(_as_list(got), _as_list(expected), strict=True):
                np.testing.assert_allclose(np.asarray(g, dtype=float),
                                           np.asarray(e, dtype=float), rtol=1e-7, atol=1e-9)
        except (AssertionError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0]
            return Measurement(workload, case, engine, note=f"WRONG RESULT: {first}")
    median, best, number = time_call(fn, ctx.repeat, ctx.min_time)
    return Measurement(workload, case, engine, median, best, number)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
