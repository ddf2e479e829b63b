"""Inplace elementwise ops, and the destroy handler that decides when one is safe.

An Elemwise whose output may reuse an input's buffer saves an allocation per call.  The input
may be overwritten only if nothing can observe it afterwards: it is computed inside the graph
(not a function input, a shared value or a constant), it is nobody's view (so no input's memory
hides behind it), the overwriting node is its only client (so no later node reads it and it is
not a function output), and it has the output's exact type.  The type alone does not fix
the shape (a dimension not typed broadcastable may still hold 1): the inplace Elemwise checks
every operand against the destroyed input's shape before writing, as the plain one checks
them against the result's.
"""

from __future__ import annotations

from theanine.graph.basic import Apply, Variable
from theanine.graph.fg import FunctionGraph
from theanine.tensor.elemwise import Elemwise


class DestroyHandler:
    """The rules above, for rewrites that make nodes destroy inputs and for checking a graph."""

    @staticmethod
    def can_destroy(fgraph: FunctionGraph, node: Apply, i: int, out: int = 0) -> bool:
        """Whether `node` may write its output `out` into its input `i`."""
        v: Variable = node.inputs[i]
        owner = v.owner
        if owner is None or v in fgraph.inputs:
            return False  # an input, a shared value or a constant
        if v.index in getattr(owner.op, "view_map", {}):
            return False  # a view: its memory may be an input's
        if owner.op.destroy_map.get(v.index):
            return False  # already the result of overwriting something
        clients = fgraph.clients.get(v, [])
        if clients != [(node, i)]:
            return False  # read elsewhere, or a function output
        return v.type == node.outputs[out].type

    def validate(self, fgraph: FunctionGraph) -> None:
        """Raise if some node destroys an input that the rules above protect."""
        for node in fgraph.apply_nodes:
            for ins in node.op.destroy_map.values():
                for i in ins:
                    if not self._still_safe(fgraph, node, i):
                        raise RuntimeError(f"{node} overwrites input {i} ({node.inputs[i]}), "
                                           "which is read elsewhere or is not its own to "
                                           "overwrite")

    def _still_safe(self, fgraph: FunctionGraph, node: Apply, i: int) -> bool:
        v = node.inputs[i]
        if v.owner is None or v in fgraph.inputs:
            return False
        return fgraph.clients.get(v, []) == [(node, i)]


class InplaceElemwise:
    """Make each Elemwise write its output into the first input the destroy handler allows."""

    name = "inplace_elemwise"

    def __init__(self) -> None:
        self.handler = DestroyHandler()

    def apply(self, fgraph: FunctionGraph) -> None:
        for node in fgraph.toposort():
            op = node.op
            if not isinstance(op, Elemwise) or op.inplace_pattern or len(node.outputs) != 1 \
                    or not op.scalar_op.accepts_out:
                continue
            for i in range(len(node.inputs)):
                if self.handler.can_destroy(fgraph, node, i):
                    new = Elemwise(op.scalar_op, ((0, i),))(*node.inputs)
                    fgraph.replace(node.outputs[0], new,
                                   reason=f"theanine.rewriting.builtin:{self.name}")
                    break
        self.handler.validate(fgraph)
