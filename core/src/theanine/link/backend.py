"""The Backend protocol, choosing a backend by name or by speed, and the per-node hook seam
that debugging modes (NanGuardMode, MonitorMode, DebugMode) use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph

#: A linked program: takes the values of `fgraph.inputs` in order and returns the values of
#: `fgraph.outputs` in order.
Program = Callable[..., Sequence[Any]]
#: One node's computation: takes its input values, returns its output values.
Thunk = Callable[..., Sequence[Any]]
#: `hook(i, node, thunk) -> thunk`: wraps the thunk of node `i` of `fgraph.toposort()`.
NodeHook = Callable[[int, Apply, Thunk], Thunk]


@runtime_checkable
class Backend(Protocol):
    """What a backend plugin registers.

    `priority` orders backends for `backend=auto` (the highest available one wins);
    `required_tags` / `incompatible_tags` tell the rewriter which rewrite tags the backend
    needs and refuses; an optional `fast_run_tags` names opt-in rewrites that pay off on it,
    run under the `fast_run` optimizer only.  An optional `verify() -> (ok, why)` is the full
    check where `is_available` may answer before a slow probe finishes (the C backend's, on a
    cold cache): `theanine plugins` asks it.
    """

    name: str
    priority: int
    required_tags: frozenset[str]
    incompatible_tags: frozenset[str]

    def is_available(self) -> tuple[bool, str]:
        """(True, "") or (False, why): probes the toolchain lazily, never at import."""
        ...

    def link(self, fgraph: FunctionGraph) -> Program:
        """Turn a rewritten graph into something that runs.  A backend that can run a
        debugging mode also takes `node_hook: NodeHook | None` (see `link_program`)."""
        ...


class _Recording(threading.local):
    recorder: Any = None


_RECORDING = _Recording()


def compile_recorder() -> Any:
    """Where a backend reports what linking costs while a profiled function links in this
    thread (`compile.profiling.ProfileStats`: `add(phase, seconds, backend=True)`,
    `count(name, n)`), else None.  A backend that builds in the background keeps the value
    it read in `link`."""
    return _RECORDING.recorder


def link_program(backend: Backend, fgraph: FunctionGraph, node_hook: NodeHook | None = None,
                 recorder: Any = None) -> Program:
    """`backend.link(fgraph)`, with every node's thunk run through `node_hook` when a debugging
    mode (or the profiler) gives one (a backend that can run debugging modes takes
    `node_hook=` in `link`); `recorder` is what `compile_recorder()` returns meanwhile."""
    previous, _RECORDING.recorder = _RECORDING.recorder, recorder
    try:
        if node_hook is None:
            return backend.link(fgraph)
        import inspect

        if "node_hook" not in inspect.signature(backend.link).parameters:
            raise TypeError(f"backend {backend.name!r} cannot run a debugging mode "
                            "(NanGuardMode, MonitorMode, DebugMode) or a profile: its link() "
                            "takes no node_hook; use backend='python' or 'c'")
        return backend.link(fgraph, node_hook=node_hook)  # type: ignore[call-arg]
    finally:
        _RECORDING.recorder = previous


def select_backend(name: str | None = None) -> Backend:
    """The backend called `name`, or, for None / 'auto', the fastest available one."""
    from theanine.config import config
    from theanine.plugins import get_registry

    registry = get_registry()
    name = name or config.backend
    if name == "auto":
        candidates = sorted((b for b, _ in registry.backends.values()),
                            key=lambda b: getattr(b, "priority", 0), reverse=True)
        passed_over = []
        for backend in candidates:
            ok, reason = backend.is_available()
            if ok:
                if passed_over:
                    _warn_once(backend.name, passed_over)
                return backend
            passed_over.append(f"{backend.name} ({reason})")
        raise RuntimeError("no backend is available; `theanine plugins` says why")
    backend = registry.get_backend(name)
    ok, reason = backend.is_available()
    if not ok:
        raise RuntimeError(f"backend {name!r} is not available: {reason}")
    return backend


_WARNED: set[tuple[str, ...]] = set()


def _warn_once(chosen: str, passed_over: list[str]) -> None:
    """One warning per process for `auto` settling below a faster backend, saying why."""
    key = (chosen, *passed_over)
    if key in _WARNED:
        return
    _WARNED.add(key)
    import sys
    import warnings

    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("theanine"):
        frame, level = frame.f_back, level + 1  # point at the user's line, not ours
    warnings.warn(f"backend=auto uses {chosen!r}: faster backends are unavailable: "
                  f"{'; '.join(passed_over)}", RuntimeWarning, stacklevel=level)
