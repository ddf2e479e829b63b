"""The Python backend: runs each node's NumPy implementation in topological order.

It is the reference every other backend is tested against, and a plugin like any other: this
module's `theanine_register_backends` hook is how the core registers it.

`link` generates one straight-line Python function per graph (a line per node, values held in
local variables), which keeps the per-call overhead to a few microseconds.  When a node fails,
the error is re-raised naming the node, the user's line that built it and the shapes and dtypes
of its inputs (`config.exception_verbosity='high'`: the whole creation trace, the rewrites that
made the node and its inputs' value ranges).
"""

from __future__ import annotations

import linecache
import types
from typing import Any

import numpy as np

from theanine.config import config
from theanine.graph.basic import Apply, Constant, Variable, eager_nodes
from theanine.graph.fg import FunctionGraph
from theanine.hookspecs import hookimpl
from theanine.link.backend import NodeHook, Program


class NodeError(Exception):
    """Mixed into the re-raised error's type: `isinstance(err, ValueError)` still holds for a
    node's ValueError, and `except NodeError` catches every error that carries node context."""


def _describe_value(v: Any, high: bool = False) -> str:
    device = not isinstance(v, np.ndarray) and hasattr(v, "dtype") and hasattr(v, "shape") \
        and callable(getattr(v, "get", None))  # a device array (pyopencl, pycuda)
    if isinstance(v, np.ndarray) or device:
        text = f"{v.dtype} array of shape {v.shape}"
        if high:
            text += f", strides {v.strides}"
            if v.size and v.dtype.kind in "biuf":
                host = np.asarray(v.get()) if device else v
                text += f", values in [{host.min().item()!r}, {host.max().item()!r}]"
        return text + (f" (on the {type(v).__module__.split('.')[0]} device)" if device else "")
    return type(v).__name__


def _frame_line(frame: tuple[str, int, str]) -> str:
    filename, lineno, function = frame
    code = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno} in {function}" + (f": {code}" if code else "")


def creation_lines(node: Apply, high: bool = False) -> list[str]:
    """Where the user's code built `node` (`tag["trace"]`, innermost frame first): its line,
    or with `high` every frame kept (`config.traceback__limit`)."""
    trace = node.tag.get("trace")
    if not trace:
        return []
    if not high:
        return [f"  node created at {_frame_line(trace[0])}"]
    return ["  node created at (innermost first):",
            *(f"    {_frame_line(frame)}" for frame in trace)]


def describe_node(node: Apply) -> str:
    """How errors name a node: the user's expression for a fused node (whose Composite the
    user never wrote), else the node itself."""
    source = node.tag.get("source")
    if source is not None:
        return f"{source} (fused into one elementwise node)"
    return str(node)


def node_context(node: Apply, values: list[Any]) -> list[str]:
    """Lines naming the failing computation and what each input was given."""
    high = config.exception_verbosity == "high"
    verb = "in" if node.tag.get("source") is not None else "while computing"
    lines = [f"  {verb} {describe_node(node)}", *creation_lines(node, high)]
    if high:
        if node.tag.get("source") is not None:
            lines.append(f"  the fused node: {node}")
        made_by = node.tag.get("provenance")
        lines.append("  made by the rewrites " + ", ".join(made_by) if made_by
                     else "  as written (no rewrite made this node)")
    for var, val in zip(node.inputs, values):
        lines.append(f"    input {var}: expected {var.type}, got {_describe_value(val, high)}")
    if not high:
        lines.append("  (exception_verbosity='high' shows the whole creation trace, the "
                     "rewrites that made the node and its inputs' values)")
    return lines


_WITH_CONTEXT: dict[type, type | None] = {}


def _with_context_type(cls: type) -> type | None:
    """`cls` + NodeError, printed under `cls`'s own name; None if `cls` cannot be subclassed."""
    if cls in _WITH_CONTEXT:
        return _WITH_CONTEXT[cls]
    base_str = cls.__str__

    def __str__(self: BaseException) -> str:
        message = self.__dict__.get("_theanine_message")
        return message if message is not None else base_str(self)

    try:
        sub: type | None = type(cls.__name__, (cls, NodeError), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__str__": __str__})
    except TypeError:
        sub = None
    _WITH_CONTEXT[cls] = sub
    return sub


_NOT_FIELDS = frozenset({"args", "__dict__", "__weakref__", "__traceback__", "__cause__",
                         "__context__", "__suppress_context__"})


def _copy_fields(exc: BaseException, new: BaseException) -> None:
    """Copy `exc`'s attributes: its `__dict__`, and the fields built-in exception types keep
    outside it (an OSError's `filename`, an ImportError's `name`, a UnicodeError's `start`)."""
    for klass in type(exc).__mro__:
        if klass.__module__ != "builtins" or klass is object:  # object: __class__
            continue
        for name, member in vars(klass).items():
            if name in _NOT_FIELDS or not isinstance(
                    member, types.MemberDescriptorType | types.GetSetDescriptorType):
                continue
            try:
                setattr(new, name, getattr(exc, name))
            except (AttributeError, TypeError):  # unset (e.g. characters_written) or read-only
                pass
    new.__dict__.update(exc.__dict__)


def _node_failure(exc: BaseException, node: Apply, values: list[Any]) -> BaseException | None:
    """`exc` with the node's context: a new instance of a subclass of `type(exc)` with the same
    args and attributes (so `errno`, a KeyError's key or a custom exception's fields survive,
    even when its constructor takes other arguments) and a message that adds the context.
    None when `exc` itself was annotated instead (a MemoryError is never copied; a type that
    cannot be rebuilt gets the context as a note): the caller then re-raises `exc`."""
    lines = node_context(node, values)
    sub = None if isinstance(exc, MemoryError) else _with_context_type(type(exc))
    if sub is not None:
        try:
            new = sub.__new__(sub, *exc.args)
            _copy_fields(exc, new)
            first = str(exc)
            source = node.tag.get("source")
            if source is not None:  # e.g. "Elemwise{Composite{...}}: input x has shape..."
                first = first.replace(str(node.op), source)
            new._theanine_message = "\n".join([first, *lines])  # type: ignore[attr-defined]
            new.node = node  # type: ignore[attr-defined]
            return new
        except Exception:  # an exotic __new__: annotate the original instead
            pass
    try:
        exc.add_note("\n".join(lines))
        exc.node = node  # type: ignore[attr-defined]
    except Exception:  # out of memory, or an exception object that refuses attributes
        pass
    return None


class PythonBackend:
    """Execute graphs with each Op's NumPy implementation."""

    name = "python"
    priority = 0
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def thunk_for(self, node: Apply) -> Any:
        """A plugin-registered impl for this Op on this backend, else the Op's own."""
        from theanine.plugins import get_registry

        impl = get_registry().find_impl(type(node.op), self.name)
        if impl is not None:
            return impl(node)
        return node.op.python_thunk(node)

    def link(self, fgraph: FunctionGraph, node_hook: NodeHook | None = None) -> Program:
        """The graph's program; `node_hook(i, node, thunk) -> thunk` (a debugging Mode's),
        when given, wraps the thunk of every node, `i` being its index in
        `fgraph.toposort()`."""
        writer = _ProgramWriter(fgraph, self.thunk_for, node_hook)
        lines, line_nodes, env = writer.write()

        def fail(exc: BaseException, local_vars: dict[str, Any]) -> None:
            tb = exc.__traceback__
            if tb is None or isinstance(exc, NodeError) or isinstance(
                    getattr(exc, "node", None), Apply):
                return  # already names its node (e.g. raised by an inner program)
            entry = line_nodes.get(tb.tb_lineno)
            if entry is None:
                return
            node, args = entry
            values = [local_vars.get(a, env.get(a)) for a in args]
            new = _node_failure(exc, node, values)
            if new is not None:
                raise new from exc

        env["_fail"] = fail
        code = compile("\n".join(lines), "<theanine-python-program>", "exec")
        exec(code, env)
        return env["run"]


class _Path:
    """What the generated code knows at one point: nodes surely computed on every way there
    (`done`), and nodes computed on some way there (`seen`, a superset)."""

    def __init__(self, done: set[Apply], seen: set[Apply]):
        self.done, self.seen = done, seen

    def fork(self) -> _Path:
        return _Path(set(self.done), set(self.seen))


class _ProgramWriter:
    """Writes the straight-line program of a graph: a line per node in topological order.

    Lazy nodes (`Op.lazy_branches`, i.e. ifelse) become `if cond: ... else: ...` blocks.  The
    nodes that some output needs whatever the conditions are (the eager ones) are written at
    the top level in topological order, exactly as for a graph without lazy nodes.  The other
    nodes are written on demand inside the branch that needs them, inputs first.  A node
    written in one branch may be needed again later (after the block, or in another lazy
    node's branch) where it is not sure to have run: its line there is guarded with
    `if v is _UNSET:` (its outputs start as `_UNSET`), so no node runs twice or needlessly.
    """

    def __init__(self, fgraph: FunctionGraph, thunk_for: Any, node_hook: NodeHook | None = None):
        self.fgraph = fgraph
        self.order = fgraph.toposort()
        self.ids = {node: n for n, node in enumerate(self.order)}
        self.branches = {node: b for node in self.order
                         if (b := node.op.lazy_branches(node)) is not None}
        self.after = fgraph.orderings(self.order)  # readers before a node overwriting them
        self.env: dict[str, Any] = {"_UNSET": _UNSET}
        for node in self.order:
            if node not in self.branches:
                thunk = thunk_for(node)
                if node_hook is not None:  # no cost at all to a program without one
                    thunk = node_hook(self.ids[node], node, thunk)
                self.env[f"t{self.ids[node]}"] = thunk
        self.names: dict[Variable, str] = {inp: f"i{k}" for k, inp in enumerate(fgraph.inputs)}
        for node in self.order:
            for j, out in enumerate(node.outputs):
                self.names[out] = f"v{self.ids[node]}_{j}"
        self.body: list[str] = []
        self.body_nodes: dict[int, tuple[Apply, list[str]]] = {}
        self.unset: dict[str, None] = {}  # output names that a guard reads

    def ref(self, v: Variable) -> str:
        if v not in self.names:
            if not isinstance(v, Constant):
                raise ValueError(f"variable {v} is not computed by the graph")
            self.names[v] = f"c{len(self.env)}"
            self.env[self.names[v]] = v.data
        return self.names[v]

    def write(self) -> tuple[list[str], dict[int, tuple[Apply, list[str]]], dict[str, Any]]:
        top = _Path(set(), set())
        for node in eager_nodes(self.fgraph.inputs, self.fgraph.outputs):
            self._demand(node, top, 2)
        self._emit(2, f"return [{', '.join(self.ref(o) for o in self.fgraph.outputs)}]")
        params = ", ".join(f"i{k}" for k in range(len(self.fgraph.inputs)))
        head = [f"def run({params}):"]
        if self.unset:
            head.append(f"    {' = '.join(self.unset)} = _UNSET")
        head.append("    try:")
        tail = ["    except Exception as exc:", "        _fail(exc, locals())", "        raise"]
        line_nodes = {len(head) + k + 1: entry for k, entry in self.body_nodes.items()}
        return head + self.body + tail, line_nodes, self.env

    def _emit(self, indent: int, text: str, entry: tuple[Apply, list[str]] | None = None
              ) -> None:
        if entry is not None:
            self.body_nodes[len(self.body)] = entry
        self.body.append("    " * indent + text)

    def _demand(self, target: Apply, path: _Path, indent: int) -> None:
        """Write what computing `target` still needs on `path`, inputs first (iteratively:
        a long chain inside a branch must not exhaust the recursion limit)."""
        stack: list[tuple[Apply, bool]] = [(target, False)]
        while stack:
            node, expanded = stack.pop()
            if node in path.done:
                continue
            if node in self.branches:
                self._write_lazy(node, path, indent)  # demands its condition itself
                continue
            if expanded:
                self._write_node(node, path, indent)
                continue
            stack.append((node, True))
            stack.extend((i.owner, False) for i in reversed(node.inputs)
                         if i.owner is not None and i.owner not in path.done)
            stack.extend((r, False) for r in self.after.get(node, ()) if r not in path.done)

    def _guard(self, node: Apply, path: _Path) -> str:
        """'' when `node` has not run on any way here, else the test that it has not run."""
        if node not in path.seen:
            return ""
        first = self.names[node.outputs[0]]
        for out in node.outputs:
            self.unset[self.names[out]] = None
        return f"if {first} is _UNSET: "

    def _write_node(self, node: Apply, path: _Path, indent: int) -> None:
        args = [self.ref(i) for i in node.inputs]
        outs = [self.names[o] for o in node.outputs]
        line = f"{', '.join(outs)}, = t{self.ids[node]}({', '.join(args)})"
        self._emit(indent, self._guard(node, path) + line, (node, args))
        path.done.add(node)
        path.seen.add(node)

    def _write_lazy(self, node: Apply, path: _Path, indent: int) -> None:
        b = self.branches[node]
        guard = self._guard(node, path)
        inner = path
        if guard:
            self._emit(indent, guard.rstrip())
            indent += 1
            inner = path.fork()
        cond = node.inputs[b.condition]
        self._demand_var(cond, inner, indent)
        outs = ", ".join(self.names[o] for o in node.outputs)
        self._emit(indent, f"if {self.ref(cond)}:", (node, [self.ref(cond)]))
        ways = []
        for k, chosen in enumerate((b.then, b.else_)):
            if k:
                self._emit(indent, "else:")
            way = inner.fork()
            for idx in chosen:
                self._demand_var(node.inputs[idx], way, indent + 1)
            values = ", ".join(self.ref(node.inputs[idx]) for idx in chosen)
            self._emit(indent + 1, f"{outs}, = {values},")
            ways.append(way)
        inner.done |= ways[0].done & ways[1].done
        inner.seen |= ways[0].seen | ways[1].seen
        if inner is not path:
            path.seen |= inner.seen
        path.done.add(node)
        path.seen.add(node)

    def _demand_var(self, var: Variable, path: _Path, indent: int) -> None:
        if var.owner is not None:
            self._demand(var.owner, path, indent)


#: the value of a lazily computed node's outputs before it has run
_UNSET = object()


BACKEND = PythonBackend()


@hookimpl
def theanine_register_backends(register) -> None:
    register(BACKEND)
