"""What every workload shares: the timer, the result record, and the engines to compare.

An engine is one implementation of a workload: `numpy` (a hand-written reference, the
baseline of every ratio), `theanine[<backend>]` for each registered theanine backend,
`pytensor[cvm]` (PyTensor's C backend) and `jax` when they are installed.  A workload reports
one `Measurement` per (case, engine), with a note instead of a time when the engine is missing,
unavailable or wrong.

Timings are of each engine's steady state: theanine's native backends run with `tiered=False`
(native code from the first call, never the Python stand-in that tiered compilation runs while
compiling), and PyTensor runs its C backend (`mode="CVM"`), not its default (Numba) linker.
"""

from __future__ import annotations

import ctypes.util
import importlib
import importlib.util
import os
import statistics
import timeit
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ENGINE_FAMILIES = ("numpy", "theanine", "pytensor", "jax")

#: PyTensor's C backend: its C thunks run by the C virtual machine.  Its default linker in
#: PyTensor >= 2.x is Numba, a different engine.
PYTENSOR_MODE = "CVM"
PYTENSOR_ENGINE = "pytensor[cvm]"


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
    #: theanine backends to run (None: every registered one)
    theanine_only: tuple[str, ...] | None = None
    _modules: dict[str, Any] = field(default_factory=dict)

    def wants(self, family: str) -> bool:
        return family in self.families

    def optional(self, name: str) -> Any | None:
        """Import an optional engine (None when not installed), configured for float64."""
        if name not in self._modules:
            module = None
            if importlib.util.find_spec(name) is not None:
                if name == "pytensor":
                    _pytensor_blas_default()
                module = importlib.import_module(name)
                if name == "jax":
                    module.config.update("jax_enable_x64", True)
            self._modules[name] = module
        return self._modules[name]

    def theanine_backends(self) -> Iterator[tuple[str, str | None]]:
        """(backend name, None) for available backends, (name, reason) for the others.

        Also turns tiered compilation off, so that every theanine function a workload builds
        runs its backend's own code from the first call (see the module's docstring).
        """
        from theanine.config import config
        from theanine.plugins import get_registry

        config.tiered = False
        registered = get_registry().backends
        for name in sorted(registered if self.theanine_only is None else self.theanine_only):
            if name not in registered:
                yield name, f"no backend {name!r} is registered"
                continue
            ok, reason = registered[name][0].is_available()
            yield name, None if ok else reason or "unavailable"


def _pytensor_blas_default() -> None:
    """Give PyTensor's C backend OpenBLAS when the user configured no BLAS and it is installed.

    Without `blas__ldflags` PyTensor's C dot products fall back to slow NumPy calls and it
    warns; `apt-get install libopenblas-dev` provides the library (see the README).
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "blas__ldflags" in flags or not ctypes.util.find_library("openblas"):
        return
    os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "blas__ldflags=-lopenblas") if f)


def engine_threads() -> int:
    """Threads an OpenMP or OpenBLAS pool uses by default here: OMP_NUM_THREADS, else the
    CPUs this process may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0]
    return int(env) if env.isdigit() else len(os.sched_getaffinity(0))


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
            result: Callable[[], Any] | None = None, expected: Any = None,
            rtol: float = 1e-7, atol: float = 1e-9) -> Measurement:
    """Time `fn`, after checking that `result()` (default: `fn()`) matches `expected`."""
    if expected is not None:
        wrong = mismatch((result or fn)(), expected, rtol, atol)
        if wrong:
            return Measurement(workload, case, engine, note=wrong)
    median, best, number = time_call(fn, ctx.repeat, ctx.min_time)
    return Measurement(workload, case, engine, median, best, number)


def mismatch(got: Any, expected: Any, rtol: float = 1e-7, atol: float = 1e-9) -> str | None:
    """`WRONG RESULT: why` when `got` differs from `expected` (values or lists of them)."""
    try:
        for g, e in zip(_as_list(got), _as_list(expected), strict=True):
            np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(e, dtype=float),
                                       rtol=rtol, atol=atol)
    except (AssertionError, ValueError) as exc:
        return f"WRONG RESULT: {str(exc).strip().splitlines()[0]}"
    return None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


#: what an engine builder gives: the workload's callable(s), or why the engine has none
Built = Any


def symbolic_engines(ctx: Context, build: Callable[..., Built]) -> list[tuple[str, Built]]:
    """`theanine[<backend>]` for every backend and `pytensor[cvm]`, each as
    `build(lib, T, **compile_kw)` (Theano's API serves both libraries) or the reason the engine
    is missing."""
    engines: list[tuple[str, Built]] = []
    if ctx.wants("theanine"):
        import theanine
        import theanine.tensor as T

        for backend, reason in ctx.theanine_backends():
            engines.append((f"theanine[{backend}]", f"unavailable: {reason}" if reason
                            else build(theanine, T, backend=backend)))
    if ctx.wants("pytensor"):
        pytensor = ctx.optional("pytensor")
        if pytensor is None:
            engines.append((PYTENSOR_ENGINE, "not installed"))
        else:
            import pytensor.tensor as pt

            engines.append((PYTENSOR_ENGINE, build(pytensor, pt, mode=PYTENSOR_MODE)))
    return engines


def jax_engines(ctx: Context, build: Callable[[Any], Built]) -> list[tuple[str, Built]]:
    """`jax` as `build(jax)` (float64 enabled), or "not installed"; nothing if not wanted."""
    if not ctx.wants("jax"):
        return []
    jax = ctx.optional("jax")
    return [("jax", build(jax) if jax is not None else "not installed")]


def jax_sgd(jax: Any, loss: Callable[..., Any], d: dict[str, Any], params: Sequence[str],
            learning_rate: float) -> Callable[[], Any]:
    """A `make()` for the JAX engine of an SGD workload: a jitted step of `loss(params, x, y)`
    on `d['x']`, `d['y']`, keeping the parameters (named `params` in `d`) on the device."""
    jnp = jax.numpy

    @jax.jit
    def train(state, x, y):
        cost, grads = jax.value_and_grad(loss)(state, x, y)
        return cost, [v - np.float32(learning_rate) * g for v, g in zip(state, grads)]

    def make():
        state = [jnp.asarray(d[k]) for k in params]

        def step():
            cost, state[:] = train(state, d["x"], d["y"])
            return cost.block_until_ready()

        return step, lambda: [np.asarray(v) for v in state]
    return make


def symbolic_sgd(lib: Any, T: Any, d: dict[str, Any], params: Sequence[str],
                 learning_rate: float, cost_of: Callable[..., Any], x: Any,
                 **compile_kw: Any) -> tuple[Callable[[], Any], Callable[[], list]]:
    """The (step, weights) of a theanine or PyTensor engine of an SGD workload: shared
    parameters (named `params` in `d`), `cost_of(x, y, *shared)` on `d['x']`, `d['y']`."""
    y = T.matrix("y", dtype="float32")
    shared = [lib.shared(d[k].copy(), name=k) for k in params]
    cost = cost_of(x, y, *shared)
    grads = T.grad(cost, shared)
    train = lib.function([x, y], cost, updates=[
        (v, v - np.float32(learning_rate) * g) for v, g in zip(shared, grads)], **compile_kw)
    return (lambda: train(d["x"], d["y"])), lambda: [v.get_value() for v in shared]


def format_seconds(s: float | None) -> str:
    """`12.3 ms`: three significant digits in the largest unit that keeps a value >= 1."""
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
