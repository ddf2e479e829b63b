"""Inplace ops, and the destroy handler that decides when one is safe.

An Op that writes its output into an input's buffer saves an allocation per call (and the
pass that reads the fresh buffer in).  A value computed inside the graph may be overwritten
only if nothing can observe it afterwards: it is nobody's view (so no input's memory hides
behind it), the overwriting node is its only client (so no later node reads it and it is not a
function output), and it has the output's exact type.  A function input may be overwritten
only if the function declared it mutable (`FunctionGraph.mutable_inputs`: a shared value the
function updates, whose old value nobody sees after the call, or an `In(mutable=True)`), and
only by a node that can run after every other reader: no other node reading it, directly or
through a view, may depend on the overwriting node, and `FunctionGraph.toposort` (the order
every backend runs) puts those readers first, as Theano's destroy handler orders them.

The type alone does not fix the shape (a dimension not typed broadcastable may still hold 1):
an inplace Op checks every operand against the destroyed input's shape before writing, as the
plain one checks them against the result's.
"""

from __future__ import annotations

from theanine.graph.basic import Apply, Variable
from theanine.graph.fg import FunctionGraph
from theanine.tensor.blas import Gemm
from theanine.tensor.elemwise import Elemwise


class DestroyHandler:
    """The rules above, for rewrites that make nodes destroy inputs and for checking a graph."""

    @staticmethod
    def can_destroy(fgraph: FunctionGraph, node: Apply, i: int, out: int = 0) -> bool:
        """Whether `node` may write its output `out` into its input `i`."""
        v: Variable = node.inputs[i]
        if v.type != node.outputs[out].type:
            return False
        if v in fgraph.mutable_inputs:
            return _readers_can_precede(fgraph, node, v)
        owner = v.owner
        if owner is None or v in fgraph.inputs:
            return False  # an input, a shared value or a constant
        if v.index in getattr(owner.op, "view_map", {}):
            return False  # a view: its memory may be an input's
        if owner.op.destroy_map.get(v.index):
            return False  # already the result of overwriting something
        return fgraph.clients.get(v, []) == [(node, i)]  # else read elsewhere, or an output

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
        if v in fgraph.mutable_inputs:
            return _readers_can_precede(fgraph, node, v)
        if v.owner is None or v in fgraph.inputs:
            return False
        return fgraph.clients.get(v, []) == [(node, i)]


def _readers_can_precede(fgraph: FunctionGraph, node: Apply, v: Variable) -> bool:
    """Whether every other node reading the graph input `v` (directly or through a view) can
    run before `node`: none is an output or overwrites it, and none depends on `node`.  The
    graph's toposort then orders them first (`FunctionGraph.toposort`)."""
    readers = fgraph.readers(v, but=node)
    if readers is None:
        return False  # an output: returned after the call
    if any(n.op.lazy_branches(n) is not None for n in fgraph.apply_nodes):
        return False  # a reader inside a branch would have to run before it is chosen
    if any(r is node for r, _ in readers):
        return False  # `node` also reads it through a view: elements it has not read yet
    if any(k in ins for r, k in readers for ins in r.op.destroy_map.values()):
        return False  # overwritten by another node
    if not readers:
        return True
    below = _descendants(fgraph, node)
    return not any(r in below for r, _ in readers)


def _descendants(fgraph: FunctionGraph, node: Apply) -> set[Apply]:
    seen: set[Apply] = set()
    stack = list(node.outputs)
    while stack:
        for client, _ in fgraph.clients.get(stack.pop(), []):
            if client != "output" and client not in seen:
                seen.add(client)
                stack.extend(client.outputs)
    return seen


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


class InplaceGemm:
    """Make each Gemm accumulate into its z where the destroy handler allows (a weight
    update's shared value, a temporary nobody else reads): no copy of z per call."""

    name = "inplace_gemm"

    def __init__(self) -> None:
        self.handler = DestroyHandler()

    def apply(self, fgraph: FunctionGraph) -> None:
        for node in fgraph.toposort():
            if isinstance(node.op, Gemm) and not node.op.inplace \
                    and self.handler.can_destroy(fgraph, node, 0):
                fgraph.replace(node.outputs[0], Gemm(inplace=True)(*node.inputs),
                               reason=f"theanine.rewriting.builtin:{self.name}")
        self.handler.validate(fgraph)
