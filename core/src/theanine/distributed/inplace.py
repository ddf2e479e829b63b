"""Allreduce into its own inputs: the gradients it reduces are temporaries nobody else reads
(and AllreduceGemm into its z, the weight it updates, as Gemm does).

The reduced values then land in the gradient buffers, which the backward pass has just
written (so they are in cache), instead of freshly allocated ones, and a group of one process
returns them without any copy.  The destroy handler (`theanine.rewriting.inplace`) decides
which inputs may be overwritten, by the rules every in-place Op follows.
"""

from __future__ import annotations

from theanine.distributed.ops import Allreduce, AllreduceGemm, any_made
from theanine.graph.fg import FunctionGraph
from theanine.rewriting.inplace import DestroyHandler


class InplaceAllreduce:
    """Graph rewriter: each Allreduce overwrites every input the destroy handler allows."""

    name = "distributed_inplace"

    def __init__(self) -> None:
        self.handler = DestroyHandler()

    def apply(self, fgraph: FunctionGraph) -> None:
        if not any_made():
            return
        for node in fgraph.toposort():
            op = node.op
            if not isinstance(op, Allreduce | AllreduceGemm) or op.inplace:
                continue
            inplace = tuple(j for j in range(len(node.outputs))
                            if self.handler.can_destroy(fgraph, node, op.input_of(j), out=j))
            if inplace:
                new = op.with_inplace(inplace).make_node(*node.inputs)
                fgraph.replace_all(list(zip(node.outputs, new.outputs)),
                                   reason=f"theanine.distributed.plugin:{self.name}")
        self.handler.validate(fgraph)
