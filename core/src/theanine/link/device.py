"""Linking for device backends (OpenCL, CUDA): plans per node, sides per value, copies only
where a value changes sides.  What is dialect- or driver-specific stays in the backend: its
runtime, its storage, its kernels (impls returning `DevicePlan`s) and which errors mean "the
driver refused a kernel".

Linking plans every node: an impl registered for (Op type, backend name) gives a `DevicePlan`
(kernels, or a view that only changes metadata); an Op without one runs its `perform` on the
host ("fallback", listed in the compile report with why).  Each value then has a side, the
side of the node that makes it (constants and shapes live on the host; inputs are taken
wherever they come from), and a copy is made only where a consumer wants the other side.  A
node whose operands all live on the host (shape arithmetic) runs there too.  The program is the
Python backend's straight-line program over these thunks, so errors name the node.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from theanine.codegen.cstyle import Unsupported
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph
from theanine.link.backend import NodeHook
from theanine.link.native import CompileReport as NodeCompileReport
from theanine.link.native import NodeReport, ThunkProgram
from theanine.link.storage import DeviceStorage

HOST, DEVICE = "host", "device"
Thunk = Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class DevicePlan:
    """`make_thunk(runtime) -> thunk(*input_values) -> output values`.

    `host_inputs`: indices of inputs the thunk takes as host values (NumPy); the others are
    device arrays.  `how`: "native" (kernels) or "view" (metadata only, no kernel).
    `host_outputs`: indices of outputs the thunk returns on the host (a shape).
    """

    make_thunk: Callable[[Any], Thunk]
    host_inputs: frozenset[int] = field(default_factory=frozenset)
    how: str = "native"
    host_outputs: frozenset[int] = field(default_factory=frozenset)
    #: `by_value(ks)`: this plan taking the scalar inputs `ks` as kernel arguments from the
    #: host (the linker asks when those operands live there); None: not offered
    by_value: Callable[[frozenset[int]], DevicePlan] | None = None
    #: inputs `by_value` may take: scalars (every dimension broadcastable)
    scalar_inputs: frozenset[int] = field(default_factory=frozenset)


@dataclass
class CompileReport(NodeCompileReport):
    """A device backend's report: also the values copied across the bus at each call."""

    backend: str = "device"
    transfers: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"backend {self.backend}: {self.count('native')} native, "
                f"{self.count('view')} views, {self.count('host')} host, "
                f"{self.count('fallback')} fallback to perform{self.fallback_text()}")
        if self.transfers:
            text += f"; copies inside the graph: {', '.join(self.transfers)}"
        return text


def is_tensor(v: Variable) -> bool:
    return hasattr(v.type, "dtype") and hasattr(v.type, "broadcastable")


class DeviceLinker:
    """Links a graph for one device backend.  Subclasses (or instances) provide:

    - `name` and `storage` (the `DeviceStorage` whose `to_device`/`to_host` make every copy);
    - `runtime()`: the driver state handed to `DevicePlan.make_thunk` (it has `call_lock`,
      held while a call uses the device: enqueueing must not interleave between threads; and
      may have `settle(raise_errors)`, called at the end of every call: checks that kernels
      queued for later, such as an index bound found bad on the device, raise there);
    - `build_errors(rt)`: exception types meaning the driver refused a kernel (the node then
      falls back to `perform`);
    - optionally `upload(value)`: the copy of a host input made when a call starts.  The
      default waits for it (`storage.to_device`); a backend whose `settle` waits for the
      uploads of the call may return before the copy is done (nothing on the host writes
      that value during the call: every reader gets the device copy).
    """

    name: str = "device"
    storage: DeviceStorage

    def runtime(self) -> Any:
        raise NotImplementedError

    def build_errors(self, rt: Any) -> tuple[type[BaseException], ...]:
        return ()

    def upload(self, value: Any) -> Any:
        return self.storage.to_device(value)

    def plan(self, node: Apply) -> tuple[str, Any, str]:
        """(how, DevicePlan or host thunk, why)."""
        from theanine.plugins import get_registry

        op = node.op
        if op.lazy_branches(node) is not None:
            return HOST, op.python_thunk(node), ""
        impl = get_registry().find_impl(type(op), self.name)
        try:
            if impl is None:
                raise Unsupported(f"no {self.name} implementation of {type(op).__name__}")
            what = impl(node)
        except Unsupported as exc:
            return "fallback", op.python_thunk(node), str(exc)
        if not isinstance(what, DevicePlan):
            return HOST, what, ""
        return what.how, what, ""

    def link(self, fgraph: FunctionGraph, node_hook: NodeHook | None = None) -> Any:
        from theanine.config import config

        rt = self.runtime()
        report = CompileReport(backend=self.name)
        order = fgraph.toposort()
        planned = place(fgraph, order, {node: self.plan(node) for node in order})
        # each input is moved once per call, at the program's entry, to the side its readers
        # want (the device when any kernel reads it)
        entry = [entry_side(fgraph, v, planned, node_hook is not None) for v in fgraph.inputs]
        side: dict[Variable, str | None] = dict(zip(fgraph.inputs, entry))
        refused = self.build_errors(rt)
        thunks: dict[Apply, Any] = {}
        for node in order:
            how, what, why = planned[node]
            ins = [_side(v, side) for v in node.inputs]
            if isinstance(what, DevicePlan):
                try:
                    thunk = what.make_thunk(rt)
                except refused as exc:  # the driver refused the kernel: run perform
                    how, what = "fallback", node.op.python_thunk(node)
                    why = f"the {self.name} build failed: {_first_error(exc)}"
            if isinstance(what, DevicePlan):
                wants = [HOST if k in what.host_inputs else DEVICE
                         for k in range(len(node.inputs))]
                outs = [HOST if k in what.host_outputs else DEVICE
                        for k in range(len(node.outputs))]
            else:
                thunk = what
                wants = [HOST] * len(node.inputs)
                outs = [HOST] * len(node.outputs)
            if node.op.lazy_branches(node) is not None:  # ifelse passes values through as
                wants = [None] * len(node.inputs)     # they are, on either side
                outs = [None] * len(node.outputs)
            if node_hook is not None:  # debugging modes look at host values
                thunk = self._hosted(thunk, wants)
                wants = [HOST] * len(node.inputs)
                outs = [HOST] * len(node.outputs)
            thunks[node] = self._adapted(node, thunk, wants, ins, report)
            side.update(zip(node.outputs, outs))
            report.nodes.append(NodeReport(str(node), how, why, node))
        if report.fallbacks and config.impl_fallback in ("warn", "raise"):
            message = report.summary()
            if config.impl_fallback == "raise":
                raise NotImplementedError(f"{message}; set impl_fallback=fallback to run these "
                                          "nodes with perform")
            warnings.warn(message, stacklevel=3)
        program = ThunkProgram(thunks).link(fgraph, node_hook)
        lock = rt.call_lock
        moves = [(k, self._enter_device if s == DEVICE else self._ensure_host)
                 for k, s in enumerate(entry) if s is not None]

        settle = getattr(rt, "settle", None)  # checks kernels left to report at the call's end

        def run(*args: Any) -> Any:  # one call at a time uses the device queue or stream
            with lock:
                if settle is None:
                    return program(*_moved(args))
                try:
                    outs = program(*_moved(args))
                except BaseException:
                    settle(raise_errors=False)
                    raise
                settle(raise_errors=True)
                return outs

        def _moved(args: tuple) -> Any:
            if not moves:
                return args
            args = list(args)
            for k, move in moves:
                args[k] = move(args[k])
            return args

        run.report = report  # type: ignore[attr-defined]
        return run

    # -- moving values -------------------------------------------------------------------

    def _enter_device(self, v: Any) -> Any:
        return v if self.storage.is_device(v) else self.upload(v)

    def _ensure_device(self, v: Any) -> Any:
        return v if self.storage.is_device(v) else self.storage.to_device(v)

    def _ensure_host(self, v: Any) -> Any:
        return self.storage.to_host(v) if self.storage.is_device(v) else v

    def _adapted(self, node: Apply, thunk: Any, wants: list[str | None],
                 sides: list[str | None], report: CompileReport) -> Any:
        """`thunk` with each input moved to the side it wants (nothing when all are there)."""
        moves: list[Any] = []
        for v, want, have in zip(node.inputs, wants, sides):
            if want == have or want is None or not is_tensor(v):
                moves.append(None)
            elif isinstance(v, Constant):  # uploaded once, here
                moves.append(_constant(self.storage.to_device(v.data)))
            elif have is None:
                moves.append(self._ensure_device if want == DEVICE else self._ensure_host)
            else:
                moves.append(self.storage.to_device if want == DEVICE else self.storage.to_host)
                report.transfers.append(f"{v} to the {want} for {node.op}")
        if not any(moves):
            return thunk
        pairs = [(k, m) for k, m in enumerate(moves) if m is not None]

        def moved(*args: Any) -> Any:
            args = list(args)
            for k, m in pairs:
                args[k] = m(args[k])
            return thunk(*args)

        return moved

    def _hosted(self, thunk: Any, wants: list[str | None]) -> Any:
        """The thunk seen from the host: host inputs in, host outputs out (for node hooks)."""
        storage = self.storage

        def run(*args: Any) -> Any:
            args = [storage.to_device(a) if w == DEVICE and not storage.is_device(a)
                    and hasattr(a, "dtype") else a for a, w in zip(args, wants)]
            return [storage.to_host(r) if storage.is_device(r) else r for r in thunk(*args)]

        return run


def _side(v: Variable, side: dict[Variable, str | None]) -> str | None:
    if isinstance(v, Constant) or not is_tensor(v):
        return HOST
    return side.get(v)


def place(fgraph: FunctionGraph, order: list[Apply], planned: dict[Apply, tuple]
          ) -> dict[Apply, tuple]:
    """Send to the host the device-planned nodes whose operands all come from the host and
    whose results no device node reads (shape arithmetic: `x.shape[0] * 2` is not worth two
    copies); a node like `arange(n)` that feeds a kernel stays on the device.  Host scalars
    read by a plan offering `by_value` become kernel arguments.

    So do the caller's scalars (explicit inputs with every dimension broadcastable, and the
    views of them, such as `lr.dimshuffle('x')`, made on the host) wherever every kernel
    reading one takes it by value: an upload costs a wait for the device, a kernel argument
    nothing.  A caller's scalar that some kernel reads from a buffer is uploaded as before."""
    scalars = {v for v in fgraph.inputs if is_tensor(v) and all(v.type.broadcastable)
               and getattr(v, "container", None) is None}  # shared values live on the device
    while True:
        trial, read_from_buffers = _place(fgraph, order, dict(planned), scalars)
        if not read_from_buffers:
            return trial
        scalars -= read_from_buffers


def _place(fgraph: FunctionGraph, order: list[Apply], planned: dict[Apply, tuple],
           scalars: set[Variable]) -> tuple[dict[Apply, tuple], set[Variable]]:
    """`place` taking the caller's `scalars` by value; also those of them that some kernel
    would still read from a buffer, or that are outputs (none: the placement holds)."""
    def from_host(v: Variable) -> bool:
        if isinstance(v, Constant) or not is_tensor(v):
            return True
        if v.owner is None:
            return False
        what = planned[v.owner][1]
        return (not isinstance(what, DevicePlan) or v.owner in hostable
                or v.index in what.host_outputs)

    # by-value values: the caller's scalars and their host views, each with its scalars
    roots: dict[Variable, set[Variable]] = {v: {v} for v in scalars}
    hostable: set[Apply] = set()
    host_views: set[Apply] = set()
    for node in order:
        what = planned[node][1]
        if not isinstance(what, DevicePlan) or not node.inputs:
            continue
        if all(from_host(v) for v in node.inputs):
            hostable.add(node)
        elif what.how == "view" and all(from_host(v) or v in roots for v in node.inputs) and all(
                is_tensor(out) and all(out.type.broadcastable) for out in node.outputs):
            host_views.add(node)
            found = set().union(*(roots[v] for v in node.inputs if v in roots))
            roots.update((out, found) for out in node.outputs)
    for node in reversed(order):
        what = planned[node][1]
        if node in host_views or node in hostable and not any(
                client != "output" and isinstance(planned[client][1], DevicePlan)
                and i not in planned[client][1].host_inputs
                for out in node.outputs for client, i in fgraph.clients.get(out, [])):
            planned[node] = (HOST, node.op.python_thunk(node), "operands on the host")
            continue
        hostable.discard(node)
        host_scalars = frozenset(k for k in getattr(what, "scalar_inputs", ())
                                 if node.inputs[k] in roots or from_host(node.inputs[k]))
        if host_scalars and getattr(what, "by_value", None) is not None:
            planned[node] = (planned[node][0], what.by_value(host_scalars), "")
    # an output stays where it was (on the device when a kernel reads it, under
    # `device_outputs` too), so no by-value value is one
    read_from_buffers = set().union(*(roots[v] for v in fgraph.outputs if v in roots))
    for node in order:
        what = planned[node][1]
        if isinstance(what, DevicePlan):
            for i, v in enumerate(node.inputs):
                if v in roots and i not in what.host_inputs:
                    read_from_buffers |= roots[v]
    return planned, read_from_buffers


def entry_side(fgraph: FunctionGraph, v: Variable, planned: dict[Apply, tuple],
               hooked: bool) -> str | None:
    """Where input `v` goes when the program starts: the device when a kernel reads it, the
    host when only host nodes do, None (as it comes) when nothing reads it or it is not an
    array."""
    if not is_tensor(v):
        return None
    wants = set()
    for client, i in fgraph.clients.get(v, []):
        if client == "output":
            continue
        what = planned[client][1]
        device = isinstance(what, DevicePlan) and i not in what.host_inputs and not hooked
        wants.add(DEVICE if device else HOST)
    if DEVICE in wants:
        return DEVICE
    return HOST if wants else None


def _first_error(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines()]
    return next((ln for ln in lines if ln.startswith("error")), lines[0] if lines else "")


def _constant(value: Any) -> Any:
    return lambda _: value
