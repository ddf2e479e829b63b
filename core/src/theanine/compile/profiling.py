"""Theano's `ProfileStats`: where a compiled function spends its time.

`function(profile=True)` (or `config.profile=True`, or a `ProfileMode`) gives the function a
`ProfileStats` as `f.profile`.  It records

- per node: time and calls, through the node-hook seam (`Mode.node_hook`,
  `link.backend.link_program`): every thunk is wrapped by a timer only in profiled functions, so
  unprofiled ones run exactly the program they ran before;
- per call: the time in `Function.__call__` and in the linked program;
- compiling: normalizing the arguments, building the FunctionGraph, each rewrite stage, linking,
  and what the backend reports inside linking (the C backend: planning and rendering kernels,
  native compiling, artifact cache hits and misses).

`summary()` prints Theano's layout (Class, Ops, Apply sections); `to_html(path)` writes a
self-contained HTML/SVG report (`profiling_html`).  With `config.profile` on, every profile made
meanwhile is printed at exit to `config.profiling__destination`.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from theanine.compile.function import Function
from theanine.config import config
from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph

_clock = time.perf_counter


@dataclass(frozen=True)
class NodeTime:
    """One node's share of the calls: `index` is its position in its graph's toposort."""

    index: int
    node: Apply
    seconds: float
    calls: int
    kind: str  # how the node ran: "py" (Python backend), "native", "host", "fallback"

    @property
    def per_call(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class GroupTime:
    """Nodes grouped by Op (or Op class): total time, calls, and how many nodes."""

    name: str
    seconds: float
    calls: int
    n_nodes: int
    kind: str

    @property
    def per_call(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0


class ProfileStats:
    """The profile of one or more compiled functions (Theano's attribute names where Theano
    had them: `fct_callcount`, `fct_call_time`, `vm_call_time`, `apply_time`,
    `apply_callcount`, `compile_time`, `optimizer_time`, `linker_time`)."""

    def __init__(self, message: str = "", atexit_print: bool | None = None):
        """`atexit_print`: print `summary()` at exit (default: when `config.profile` is on)."""
        self.message = message
        self.fct_callcount = 0
        self.fct_call_time = 0.0
        self.vm_call_time = 0.0
        #: node -> [seconds, calls]: one cell per node, updated by its timed thunk
        self._cells: dict[Apply, list[float]] = {}
        self._index: dict[Apply, int] = {}
        self._reports: list[Any] = []  # native backends' compile reports (how each node runs)
        #: top-level compile phases, in order: name -> seconds (they add up to compile_time)
        self.compile_phases: dict[str, float] = {}
        #: what the backend reported while linking (or building in the background)
        self.backend_phases: dict[str, float] = {}
        #: counters, e.g. the C backend's kernel units found in the cache or compiled
        self.counts: dict[str, int] = {}
        self.compile_time = 0.0
        self.n_nodes = 0
        self.backends: list[str] = []
        self.notes: list[str] = []
        if atexit_print if atexit_print is not None else config.profile:
            _AT_EXIT.append(self)

    # -- recording ---------------------------------------------------------------------------
    def node_hook(self, i: int, node: Apply, thunk: Any) -> Any:
        """The node-hook seam: `thunk` timed into this node's cell (a thread-unsafe `+=`: two
        threads calling the same function at once may lose an update)."""
        cell = self._cells.setdefault(node, [0.0, 0])
        self._index.setdefault(node, i)
        clock = _clock

        def timed(*values: Any) -> Any:
            start = clock()
            results = thunk(*values)
            cell[0] += clock() - start
            cell[1] += 1
            return results

        return timed

    def hook_over(self, inner: Any, backend: Any) -> Any:
        """The node hook of a profiled function: `node_hook`, around the mode's own hook
        (a debugging mode's) when it has one, whose time then counts as the node's; just
        `inner` on a backend whose `link` takes no hook (no per-node times, noted)."""
        import inspect

        if "node_hook" not in inspect.signature(backend.link).parameters:
            self.notes.append(f"backend {backend.name!r} takes no node hook: no per-node times")
            return inner
        if inner is None:
            return self.node_hook
        return lambda i, node, thunk: self.node_hook(i, node, inner(i, node, thunk))

    def add(self, phase: str, seconds: float, backend: bool = False) -> None:
        """Add `seconds` to a compile phase (`backend=True`: one inside linking)."""
        phases = self.backend_phases if backend else self.compile_phases
        phases[phase] = phases.get(phase, 0.0) + seconds

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = _clock()
        try:
            yield
        finally:
            self.add(name, _clock() - start)

    def linked(self, fgraph: FunctionGraph, program: Any, backend: str) -> None:
        """Note a linked graph: its size, its backend and how its nodes run."""
        self.n_nodes += len(fgraph.apply_nodes)
        if backend not in self.backends:
            self.backends.append(backend)
        report = getattr(program, "report", None)
        if report is not None:
            self._reports.append(report)

    # -- reading -----------------------------------------------------------------------------
    @property
    def apply_time(self) -> dict[Apply, float]:
        return {node: cell[0] for node, cell in self._cells.items()}

    @property
    def apply_callcount(self) -> dict[Apply, int]:
        return {node: int(cell[1]) for node, cell in self._cells.items()}

    @property
    def thunk_time(self) -> float:
        """The time spent in nodes, all calls together."""
        return sum(cell[0] for cell in self._cells.values())

    @property
    def optimizer_time(self) -> float:
        return sum(t for name, t in self.compile_phases.items() if name.startswith("rewrite"))

    @property
    def linker_time(self) -> float:
        return self.compile_phases.get("link", 0.0)

    def _kind(self, node: Apply) -> str:
        for report in self._reports:
            how = report.how(node)
            if how is not None:
                return how.split(" ")[0]
        return "py"

    def node_times(self) -> list[NodeTime]:
        """Every profiled node, slowest first."""
        rows = [NodeTime(self._index[node], node, cell[0], int(cell[1]), self._kind(node))
                for node, cell in self._cells.items()]
        return sorted(rows, key=lambda r: (-r.seconds, r.index))

    def _grouped(self, key: Any) -> list[GroupTime]:
        groups: dict[str, list[NodeTime]] = {}
        for row in self.node_times():
            groups.setdefault(key(row.node), []).append(row)
        out = [GroupTime(name, sum(r.seconds for r in rows), sum(r.calls for r in rows),
                         len(rows), "+".join(sorted({r.kind for r in rows})))
               for name, rows in groups.items()]
        return sorted(out, key=lambda g: -g.seconds)

    def op_times(self) -> list[GroupTime]:
        """Nodes grouped by Op (equal Ops together), slowest first."""
        return self._grouped(lambda node: str(node.op))

    def class_times(self) -> list[GroupTime]:
        """Nodes grouped by Op class, slowest first."""
        return self._grouped(lambda node: type(node.op).__name__)

    def op_time(self) -> dict[str, float]:
        """Theano's `op_time()`: Op -> seconds."""
        return {g.name: g.seconds for g in self.op_times()}

    def class_time(self) -> dict[str, float]:
        """Theano's `class_time()`: Op class name -> seconds."""
        return {g.name: g.seconds for g in self.class_times()}

    # -- reports -----------------------------------------------------------------------------
    def summary(self, file: IO[str] | None = None, n_ops_to_print: int | None = None,
                n_apply_to_print: int | None = None) -> None:
        """Print Theano's profile layout to `file` (default: stderr)."""
        from theanine.compile.profiling_text import summary_text

        text = summary_text(self, n_ops_to_print if n_ops_to_print is not None
                            else config.value("profiling.n_ops"),
                            n_apply_to_print if n_apply_to_print is not None
                            else config.value("profiling.n_apply"))
        print(text, file=file if file is not None else sys.stderr)

    def to_html(self, path: Any) -> None:
        """Write a self-contained HTML report (bars per node, Op and compile phase as inline
        SVG; no scripts, nothing fetched from the network) to `path`."""
        from theanine.compile.profiling_html import render_html

        with open(path, "w", encoding="utf-8") as out:
            out.write(render_html(self))

    def __repr__(self) -> str:
        return (f"<ProfileStats {self.message!r}: {self.fct_callcount} call(s), "
                f"{len(self._cells)} node(s)>")


class ProfiledFunction(Function):
    """A `Function` that times its calls into `self.profile` (`profiled` makes one), so that
    unprofiled functions keep `Function.__call__` untouched."""

    profile: ProfileStats

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = _clock()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.profile.fct_call_time += _clock() - start
            self.profile.fct_callcount += 1

    def copy(self, *args: Any, **kwargs: Any) -> Function:
        """A copy runs the same timed nodes, so it adds its calls to the same profile."""
        return profiled(super().copy(*args, **kwargs), self.profile)


def profiled(fn: Function, profile: ProfileStats) -> ProfiledFunction:
    """`fn`, whose program was linked with `profile.node_hook`, turned into a
    `ProfiledFunction` that also times its calls and its program into `profile`."""
    fn.__class__ = ProfiledFunction
    fn.profile = profile
    program, clock = fn._program, _clock

    def timed_program(*values: Any) -> Any:
        start = clock()
        try:
            return program(*values)
        finally:
            profile.vm_call_time += clock() - start

    fn._program = timed_program
    return fn  # type: ignore[return-value]


def as_profile(profile: Any, name: str | None, mode: Any) -> ProfileStats | None:
    """`function(profile=...)` as a ProfileStats: a ProfileStats is used as given (several
    functions may share one), True / a message string / `config.profile` / a `ProfileMode`
    make one; None when the function is not profiled."""
    if isinstance(profile, ProfileStats):
        return profile
    mode_stats = getattr(mode, "profile_stats", None)
    if mode_stats is not None and profile is not False:
        return mode_stats
    if profile is None:
        profile = config.profile
    if not profile:
        return None
    if not isinstance(profile, bool | str):
        raise TypeError(f"function(profile=...) takes True, False, a message string or a "
                        f"ProfileStats, got {type(profile).__name__} {profile!r:.80}")
    return ProfileStats(message=profile if isinstance(profile, str) else (name or ""))


def rewrite_by_stage(fgraph: FunctionGraph, mode: Any, backend: Any, excluded: tuple[str, ...],
                     profile: ProfileStats) -> None:
    """`rewriting.rewrite_graph` with each stage timed, and what the stages leave out (choosing
    the rewrites, attaching the provenance tracker) as "rewrite: other"."""
    import time

    from theanine.rewriting import rewrite_graph

    staged = 0.0

    def on_stage(stage: str, seconds: float) -> None:
        nonlocal staged
        staged += seconds
        profile.add(f"rewrite: {stage}", seconds)

    start = time.perf_counter()
    rewrite_graph(fgraph, mode.rewrite_optimizer, mode.include_tags, excluded, backend,
                  on_stage=on_stage)
    profile.add("rewrite: other", max(0.0, time.perf_counter() - start - staged))


#: profiles to print at exit (made while `config.profile` was on, or asked for)
_AT_EXIT: list[ProfileStats] = []


def _print_at_exit() -> None:
    destination = config.value("profiling.destination")
    profiles = [p for p in _AT_EXIT if p.fct_callcount or p.compile_time]
    if not profiles:
        return
    if destination in ("stderr", "stdout"):
        out = sys.stderr if destination == "stderr" else sys.stdout
        for p in profiles:
            p.summary(file=out)
        return
    with open(destination, "w", encoding="utf-8") as out:
        for p in profiles:
            p.summary(file=out)


atexit.register(_print_at_exit)
