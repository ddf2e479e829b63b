"""The Python backend: runs each node's NumPy implementation in topological order.

It is the reference every other backend is tested against, and a plugin like any other: this
module's `theanine_register_backends` hook is how the core registers it.

`link` generates one straight-line Python function per graph (a line per node, values held in
local variables), which keeps the per-call overhead to a few microseconds.  When a node fails,
the error is re-raised naming the node and the shapes and dtypes of its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph
from theanine.hookspecs import hookimpl


class NodeError(Exception):
    """Base for errors re-raised with the failing node's context (mixed with the original type)."""


def _describe_value(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype} array of shape {v.shape}"
    return type(v).__name__


def _node_failure(exc: BaseException, node: Apply, values: list[Any]) -> BaseException:
    lines = [f"{exc}", f"  while computing {node}"]
    for var, val in zip(node.inputs, values):
        lines.append(f"    input {var}: expected {var.type}, got {_describe_value(val)}")
    message = "\n".join(lines)
    cls = type(exc)
    try:
        new = type(cls.__name__, (cls, NodeError), {})(message)
    except Exception:  # exotic constructor: fall back to a plain error of the same family
        new = RuntimeError(message)
    new.node = node  # type: ignore[attr-defined]
    return new


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
            if tb is None or isinstance(exc, NodeError):
                return
            entry = line_nodes.get(tb.tb_lineno)
            if entry is None:
                return
            node, args = entry
            values = [local_vars.get(a, env.get(a)) for a in args]
            raise _node_failure(exc, node, values) from exc

        env["_fail"] = fail
        code = compile("\n".join(lines), "<theanine-python-program>", "exec")
        exec(code, env)
        return env["run"]


BACKEND = PythonBackend()


@hookimpl
def theanine_register_backends(register) -> None:
    register(BACKEND)
