"""The C backend: each node gets a native implementation, a host view, or its `perform`.

Linking has three steps.  Plan: for every node, in order, a plugin-registered impl for
(Op type, "c"), the Op's own `c_code(node)`, or the impls this package registers for the core's
Ops (Elemwise, Reduce, dot, Gemm, Scan); shape and view Ops run as NumPy views ("host"); anything
else falls back to `perform` inside the same program, governed by `config.impl_fallback`.
Build: the translation units of every node compile together, in parallel, through the artifact
cache.  Run: a straight-line Python program calls each node's thunk (the Python backend's
program generator, with these thunks), so errors name the failing node as they do there.

Tiered (`config.tiered`, the default): when some unit is not in the cache yet, `link` returns at
once a program that runs on the Python backend; a background thread, started when the first
call returns, compiles, and the program swaps itself to the native one between two calls when
the build is done.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from theanine.codegen.cstyle import Unsupported
from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph
from theanine.link.backend import NodeHook, compile_recorder
from theanine.link.native import CompileReport as NodeCompileReport
from theanine.link.native import NodeReport, ThunkProgram
from theanine.link.python import PythonBackend
from theanine_c.build import Library, Source, build_all, unit_key
from theanine_c.plan import NativePlan
from theanine_c.renderer import CRenderer
from theanine_c.toolchain import (
    Toolchain,
    ToolchainUnavailable,
    compiler_command,
    probe_soon,
    probed,
    toolchain,
)

#: set when the interpreter starts to exit, before the thread pools that builds use refuse new
#: work (threading's exit callbacks run newest first, and `theanine_c.build` imported
#: concurrent.futures, which registers the pools' shutdown, before this line): a background
#: build that fails from then on was cut short by the exit, not broken
_EXITING = threading.Event()
threading._register_atexit(_EXITING.set)


@dataclass
class CompileReport(NodeCompileReport):
    """The C backend's report: also which tier (Python while compiling, or native) runs."""

    tier: str = "native"

    def summary(self) -> str:
        return (f"backend c: {self.count('native')} native, {self.count('host')} host views, "
                f"{self.count('fallback')} fallback to perform{self.fallback_text()}")


class TieredProgram:
    """Runs the Python backend's program until the native one is built, then the native one.

    The build (`build()`, returning the native program, on a daemon thread) starts when the
    first call returns, not when the function is made: planning is Python and would hold the
    GIL against the first call, in bursts of the interpreter's switch interval (5 ms), so the
    first result would come later than on the Python backend; a function never called builds
    nothing.  A build that fails leaves the program on Python (`error`, `report.tier`), with a
    warning when `warn` (not for a build cut short by the interpreter's exit).
    """

    def __init__(self, first: Any, report: CompileReport, build: Callable[[], Any],
                 warn: bool = False):
        self._run = first
        self.report = report
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._build: Callable[[], Any] | None = build
        self._warn = warn
        self._starting = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        try:
            return self._run(*args)
        finally:
            if self._build is not None:
                self._start()

    def _start(self) -> None:
        with self._starting:
            build, self._build = self._build, None
        if build is not None:
            threading.Thread(target=self._finish, args=(build,), name="theanine-c-build",
                             daemon=True).start()

    def _finish(self, build: Callable[[], Any]) -> None:
        try:
            native = build()
        except BaseException as exc:  # keep running on the Python program
            self.error = exc
            self.report.tier = f"python (native build failed: {exc})"
            if self._warn and not _EXITING.is_set():
                warnings.warn(f"backend c: {exc}; the function runs on the Python backend",
                              RuntimeWarning, stacklevel=1)
        else:
            self._run = native
            self.report.tier = "native"
        self.ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the native program is in use (tests and benchmarks); starts the build
        if no call has yet."""
        self._start()
        return self.ready.wait(timeout)


class CBackend:
    name = "c"
    priority = 10
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()
    #: a scan's input projection as one product before the loop (`scan_pushout_seqs`)
    fast_run_tags: frozenset[str] = frozenset({"scan_pushout"})

    def __init__(self) -> None:
        self._renderer: CRenderer | None = None

    def is_available(self) -> tuple[bool, str]:
        """The probe's result when it is at hand; otherwise (a cold cache) only that a
        compiler exists.  Its probe then runs with a tiered function's first build, or, for
        native code from the first call, starts now in the background (`probe_soon`: the
        function's rewrites overlap it, and `link` waits for it).  A compiler that fails it
        leaves the function on the Python backend, with a warning (`verify` waits)."""
        from theanine.config import config

        try:
            if probed():
                toolchain()
            else:
                compiler_command()
                if not (config.tiered and config.impl_fallback in ("allow", "fallback")):
                    probe_soon()
        except ToolchainUnavailable as exc:
            return False, str(exc)
        return True, ""

    def verify(self) -> tuple[bool, str]:
        """The compiler's probe, run now if it has not been: what `theanine plugins` lists."""
        try:
            toolchain()
        except ToolchainUnavailable as exc:
            return False, str(exc)
        return True, ""

    @property
    def toolchain(self) -> Toolchain:
        return toolchain()

    @property
    def renderer(self) -> CRenderer:
        if self._renderer is None:
            tool = toolchain()
            self._renderer = CRenderer(openmp=tool.openmp, vector_math=tool.vector_math)
        return self._renderer

    # -- planning -----------------------------------------------------------------------

    def plan(self, node: Apply) -> tuple[str, Any, str]:
        """(how, what, why): ("native", NativePlan or thunk), ("host", thunk) or
        ("fallback", thunk, reason)."""
        from theanine.codegen.native import CCode
        from theanine.plugins import get_registry
        from theanine_c.third_party import ccode_plan

        op = node.op
        if op.lazy_branches(node) is not None:  # an `if` block of the program, no code of its own
            return "host", op.python_thunk(node), ""
        impl = get_registry().find_impl(type(op), self.name)
        try:
            if impl is not None:
                what = impl(node)
            elif callable(getattr(op, "c_code", None)):
                what = op.c_code(node)
            else:
                raise Unsupported(f"no C implementation of {type(op).__name__}")
            if isinstance(what, CCode):
                what = ccode_plan(node, what, self.renderer)
            if what is HOST:
                return "host", op.python_thunk(node), ""
            return "native", what, ""
        except Unsupported as exc:
            return "fallback", op.python_thunk(node), str(exc)

    def _plans(self, fgraph: FunctionGraph, hooked: bool = False
               ) -> tuple[dict[Apply, Any], CompileReport]:
        """`hooked`: a debugging mode looks at every node's outputs, so no reduction takes
        over its producer (whose thunk would hand on operands, not values)."""
        from theanine.config import config

        report = CompileReport()
        plans: dict[Apply, Any] = {}
        fused = {} if hooked else self._fused_reductions(fgraph)
        for node in fgraph.toposort():
            if node in fused:
                how, what, why = fused[node]
            else:
                how, what, why = self.plan(node)
            plans[node] = what
            report.nodes.append(NodeReport(str(node), how, why, node))
        if report.fallbacks and config.impl_fallback in ("warn", "raise"):
            message = report.summary()
            if config.impl_fallback == "raise":
                raise NotImplementedError(f"{message}; set impl_fallback=fallback to run these "
                                          "nodes with perform")
            warnings.warn(message, stacklevel=4)
        return plans, report

    def _fused_reductions(self, fgraph: FunctionGraph) -> dict[Apply, tuple[str, Any, str]]:
        """Plans for the reductions fused with their elementwise producer (see
        `fused_reduce`), and for those producers, when both would run this package's impls."""
        from theanine.plugins import get_registry
        from theanine.tensor.elemwise import Elemwise
        from theanine.tensor.math import Reduce
        from theanine_c import plugin
        from theanine_c.fused_reduce import deferred_thunk, fusable, fused_reduce_plan

        registry = get_registry()
        if (registry.find_impl(Elemwise, self.name) is not plugin._elemwise
                or registry.find_impl(Reduce, self.name) is not plugin._reduce):
            return {}
        plans: dict[Apply, tuple[str, Any, str]] = {}
        # a deferred producer reads its operands when the reduction runs: not one that must
        # read a graph input before another node overwrites it (`FunctionGraph.orderings`)
        first = {r for readers in fgraph.orderings().values() for r in readers}
        for node in fgraph.apply_nodes:
            if type(node.op) is not Reduce or node.inputs[0].owner is None:
                continue
            producer = node.inputs[0].owner
            if producer in first:
                continue
            var = node.inputs[0]
            clients = fgraph.clients.get(var, [])
            if type(producer.op) is not Elemwise or not fusable(
                    producer, node, len(clients), any(c[0] == "output" for c in clients)):
                continue
            try:
                plan = fused_reduce_plan(producer, node, self.renderer)
            except Unsupported:
                continue
            plans[node] = ("native", plan, "")
            plans[producer] = ("native", deferred_thunk(producer),
                               "fused into the reduction that reads it")
        return plans

    # -- linking ------------------------------------------------------------------------

    def link(self, fgraph: FunctionGraph, node_hook: NodeHook | None = None) -> Any:
        """The graph's program; `node_hook` as for the Python backend (debugging modes)."""
        from theanine.config import config

        recorder = compile_recorder()  # a profiled function's ProfileStats, else None
        if config.tiered and config.impl_fallback in ("allow", "fallback") and not probed():
            return self._link_in_background(fgraph, node_hook, recorder)
        try:
            plans, report = _timed(recorder, "c: plan and render kernels", self._plans, fgraph,
                                   node_hook is not None)
        except ToolchainUnavailable as exc:  # a cold cache's probe, run since is_available
            if config.impl_fallback == "raise":
                raise
            warnings.warn(f"backend c: {exc}; the function runs on the Python backend",
                          RuntimeWarning, stacklevel=2)
            return PythonBackend().link(fgraph, node_hook)
        sources = _unique_sources(plans.values())
        if config.tiered and sources and not self._all_cached(sources):
            report.tier = "python (compiling)"

            def build() -> Any:
                return self._native(fgraph, plans, sources, report, node_hook, recorder,
                                    " (in the background)")

            return TieredProgram(PythonBackend().link(fgraph, node_hook), report, build)
        native = self._native(fgraph, plans, sources, report, node_hook, recorder)
        native.report = report
        return native

    def _link_in_background(self, fgraph: FunctionGraph, node_hook: NodeHook | None,
                            recorder: Any = None) -> TieredProgram:
        """The first function of a cold cache: nothing native can be at hand, so even the
        compiler's probe and the planning run behind the Python program."""
        report = CompileReport(tier="python (compiling)")

        def build() -> Any:
            plans, planned = _timed(recorder, "c: plan and render kernels (in the background)",
                                    self._plans, fgraph, node_hook is not None)
            report.nodes = planned.nodes
            return self._native(fgraph, plans, _unique_sources(plans.values()), report,
                                node_hook, recorder, " (in the background)")

        return TieredProgram(PythonBackend().link(fgraph, node_hook), report, build, warn=True)

    def _all_cached(self, sources: Sequence[Source]) -> bool:
        from theanine_c.build import _LOADED, _cached_path

        tool = self.toolchain
        for s in sources:
            key = unit_key(tool, s)
            if key not in _LOADED and _cached_path(key) is None:
                return False
        return True

    def _native(self, fgraph: FunctionGraph, plans: dict[Apply, Any],
                sources: Sequence[Source], report: CompileReport,
                node_hook: NodeHook | None = None, recorder: Any = None, when: str = ""
                ) -> Any:
        """The native program; `recorder` (a profile) gets the build's time and how many
        kernel units were loaded already, found in the cache or compiled."""
        stats: dict[str, int] | None = None if recorder is None else {}
        built = _timed(recorder, "c: compile and load kernels" + when, build_all,
                       self.toolchain, sources, stats)
        for name, n in (stats or {}).items():
            recorder.count(f"c kernel units {name}", n)
        libs = dict(zip(sources, built))
        keep = [lib for lib in libs.values() if isinstance(lib, Library)]
        thunks: dict[Apply, Any] = {}
        for entry, (node, what) in zip(report.nodes, plans.items()):
            if not isinstance(what, NativePlan):
                thunks[node] = what
                continue
            loaded = [libs[s] for s in what.sources]
            failed = next((x for x in loaded if not isinstance(x, Library)), None)
            if failed is not None:
                entry.how, entry.why = "fallback", f"native build failed: {failed}"
                thunks[node] = node.op.python_thunk(node)
                continue
            thunks[node] = what.make_thunk(loaded)
        program = ThunkProgram(thunks).link(fgraph, node_hook)
        program.libraries = keep  # the kernels stay loaded while the program lives
        return program


def _timed(recorder: Any, phase: str, fn: Any, *args: Any) -> Any:
    """`fn(*args)`, its time added to `recorder`'s linking phases when there is one."""
    if recorder is None:
        return fn(*args)
    start = time.perf_counter()
    try:
        return fn(*args)
    finally:
        recorder.add(phase, time.perf_counter() - start, backend=True)


def _unique_sources(plans: Any) -> list[Source]:
    seen: dict[Source, None] = {}
    for p in plans:
        if isinstance(p, NativePlan):
            for s in p.sources:
                seen.setdefault(s, None)
    return list(seen)


#: what an impl returns for an Op that runs as a NumPy view or shape computation on the host
HOST = object()

BACKEND = CBackend()
