"""The Python backend: runs each node's NumPy implementation in topological order.

It is the reference every other backend is tested against, and a plugin like any other: this
module's `theanine_register_backends` hook is how the core registers it.

`link` generates one straight-line Python function per graph (a line per node, values held in
local variables), which keeps the per-call overhead to a few microseconds.  When a node fails,
the error is re-raised naming the node and the shapes and dtypes of its inputs.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph
from theanine.hookspecs import hookimpl


class NodeError(Exception):
    """Mixed into the re-raised error's type: `isinstance(err, ValueError)` still holds for a
    node's ValueError, and `except NodeError` catches every error that carries node context."""


def _describe_value(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype} array of shape {v.shape}"
    return type(v).__name__


def _context(node: Apply, values: list[Any]) -> list[str]:
    """Lines naming the failing computation (the user's expression for a fused node, whose
    Composite the user never wrote) and what each input was given."""
    source = node.tag.get("source")
    if source is not None:
        lines = [f"  in {source} (fused into one elementwise node)"]
    else:
        lines = [f"  while computing {node}"]
    for var, val in zip(node.inputs, values):
        lines.append(f"    input {var}: expected {var.type}, got {_describe_value(val)}")
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
    lines = _context(node, values)
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

    def link(self, fgraph: FunctionGraph):
        names: dict[Variable, str] = {}
        env: dict[str, Any] = {}
        params = []
        for k, inp in enumerate(fgraph.inputs):
            names[inp] = f"i{k}"
            params.append(f"i{k}")
        lines = [f"def run({', '.join(params)}):", "    try:"]
        line_nodes: dict[int, tuple[Apply, list[str]]] = {}

        def ref(v: Variable) -> str:
            if v not in names:
                if not isinstance(v, Constant):
                    raise ValueError(f"variable {v} is not computed by the graph")
                names[v] = f"c{len(env)}"
                env[names[v]] = v.data
            return names[v]

        for n, node in enumerate(fgraph.toposort()):
            env[f"t{n}"] = self.thunk_for(node)
            args = [ref(i) for i in node.inputs]
            outs = []
            for j, out in enumerate(node.outputs):
                names[out] = f"v{n}_{j}"
                outs.append(names[out])
            lines.append(f"        {', '.join(outs)}, = t{n}({', '.join(args)})")
            line_nodes[len(lines)] = (node, args)
        outputs = [ref(o) for o in fgraph.outputs]
        lines.append(f"        return [{', '.join(outputs)}]")
        lines.append("    except Exception as exc:")
        lines.append("        _fail(exc, locals())")
        lines.append("        raise")

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


BACKEND = PythonBackend()


@hookimpl
def theanine_register_backends(register) -> None:
    register(BACKEND)
