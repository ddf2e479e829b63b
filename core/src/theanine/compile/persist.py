"""Pickling compiled functions: what a `Function` saves and how it comes back.

A function is saved as its rewritten graph plus the call-side state (input specs, shared
variables, which outputs update what, `In(update=)` states).  The graph is written node by
node rather than as Python objects: Apply nodes may hold caches (a thunk a `perform` built)
that are neither picklable nor worth keeping, so each node keeps only its Op, its inputs and
its tag.  Loading links the graph again on the mode's backend without rewriting it; the native
backends find the kernels in the compiled-artifact cache, so that is fast.  Shared variables
come back with their values, and pickle's memo keeps one object per shared variable, so
functions pickled together still share state.
"""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Apply, Variable, io_toposort
from theanine.link.storage import storage_of, to_host_if_device


def _public(obj: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if k not in skip and not k.startswith("_")}


def graph_state(inputs: list[Variable], outputs: list[Variable]) -> dict[str, Any]:
    """The graph from `inputs` to `outputs` as plain data (see the module docstring)."""
    ids: dict[Variable, int] = {}
    leaves: list[Variable] = []
    nodes = []

    def ref(v: Variable) -> int:
        if v not in ids:  # an ownerless variable: an input, a constant, a shared variable
            ids[v] = len(ids)
            leaves.append(v)
        return ids[v]

    for v in inputs:
        ref(v)
    for node in io_toposort(inputs, outputs):
        in_ids = [ref(i) for i in node.inputs]
        first = len(ids)  # the id of the node's first output: every id below it is known
        outs = []
        for o in node.outputs:
            ids[o] = len(ids)
            outs.append((type(o), _public(o, ("owner", "index"))))
        nodes.append((node.op, in_ids, first, outs, dict(node.tag)))
    return {"leaves": leaves, "nodes": nodes, "inputs": [ids[v] for v in inputs],
            "outputs": [ref(v) for v in outputs]}


def rebuild_graph(state: dict[str, Any]) -> tuple[list[Variable], list[Variable]]:
    """The inputs and outputs of a graph saved by `graph_state`."""
    table: list[Variable] = []
    leaves = iter(state["leaves"])
    # ids were handed out in order (leaves as first met, node outputs interleaved), so the
    # leaves before a node's first output fill the table up to it
    for op, in_ids, first, outs, tag in state["nodes"]:
        while len(table) < first:
            table.append(next(leaves))
        made = []
        for cls, attrs in outs:
            v = object.__new__(cls)
            v.__dict__.update(attrs)
            v.tag = {}  # variables pickle without tags (test values are not kept)
            v.owner = v.index = None
            made.append(v)
        Apply(op, [table[i] for i in in_ids], made).tag = tag
        table.extend(made)
    table.extend(leaves)
    return [table[i] for i in state["inputs"]], [table[i] for i in state["outputs"]]


def function_state(f: Any) -> dict[str, Any]:
    """What `pickle` stores for the compiled function `f`."""
    maker = f.maker
    fg = maker.fgraph
    position = {v: k for k, v in enumerate(fg.inputs)}
    return {"graph": graph_state(fg.inputs, fg.outputs), "mode": maker.mode,
            "borrowed": [position[v] for v in maker.borrowed], "specs": f.specs,
            "shared": f.shared_vars, "updated": f.updated, "n_out": f.n_out,
            "single": f.single, "borrow": f.borrow, "name": f.name,
            "state_inputs": f.state_inputs,
            "states": [to_host_if_device(f._defaults[k], storage_of(maker.backend))
                       for k in f.state_inputs]}


def rebuild_function(requirements: Any, state: dict[str, Any]) -> Any:
    """A `Function` from `function_state`: the saved graph, linked again (`requirements`, a
    `Requirements`, were checked when they were unpickled, before the graph)."""
    from theanine.compile.function import Function, FunctionMaker
    from theanine.graph.fg import FunctionGraph

    inputs, outputs = rebuild_graph(state["graph"])
    fgraph = FunctionGraph(inputs, outputs, clone=False)
    maker = FunctionMaker(inputs, outputs, state["mode"],
                          borrowed=[inputs[k] for k in state["borrowed"]], fgraph=fgraph)
    f = Function(maker, state["specs"], state["shared"], state["updated"], state["n_out"],
                 state["single"], state["borrow"], state["name"], state["state_inputs"])
    for k, value in zip(state["state_inputs"], state["states"]):
        f._defaults[k] = value
    return f


def plugin_requirements(fgraph: Any) -> dict[str, str]:
    """The modules outside theanine whose Ops the graph uses, with the distribution that
    provides each (a plugin's package): pickled first, so that loading a function whose plugin
    is gone says which package to install."""
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    needed: dict[str, str] = {}
    for node in fgraph.apply_nodes:
        module = type(node.op).__module__
        top = module.split(".")[0]
        if top != "theanine" and module not in needed:
            needed[module] = ", ".join(owners.get(top, [])) or top
    return needed


class Requirements:
    """Unpickled before the graph (it comes first), it checks that every module the graph's
    Ops come from can be imported, and names the distribution to install when one cannot."""

    def __init__(self, needed: dict[str, str]):
        self.needed = needed

    def __reduce__(self) -> tuple:
        return check_requirements, (self.needed,)


def check_requirements(needed: dict[str, str]) -> Requirements:
    from importlib import import_module

    for module, dist in needed.items():
        try:
            import_module(module)
        except ImportError as exc:
            raise ModuleNotFoundError(
                f"this pickled function uses Ops from module {module!r}, provided by the "
                f"theanine plugin {dist!r}, which is not installed ({exc}); install it "
                f"(pip install {dist}) to load the function", name=module) from None
    return Requirements(needed)
