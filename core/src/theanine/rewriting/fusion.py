"""Elementwise fusion: a connected group of Elemwise nodes whose intermediate results are used
only inside the group becomes one Elemwise node over a `Composite` scalar op.

The fused node's `tag["source"]` holds the expression it replaces, printed as the user wrote
it (`(log(x) * y)`), so that a run-time error names that rather than a `Composite{...}`.
"""

from __future__ import annotations

import numpy as np

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph
from theanine.scalar import basic as ps
from theanine.scalar.composite import Composite
from theanine.tensor.elemwise import Elemwise


def _fusable(node: Apply) -> bool:
    return isinstance(node.op, Elemwise) and len(node.outputs) == 1 \
        and not getattr(node.op, "destroy_map", None)


#: scalar ops that cost nothing next to a pass over memory (division and transcendental
#: functions do)
_CHEAP = (ps.neg, ps.add, ps.sub, ps.mul)


def _duplicable(fgraph: FunctionGraph, node: Apply) -> bool:
    """Whether fusion may recompute `node` in each consumer rather than keep it as a node of
    its own: one cheap scalar op over at most one operand that is not a broadcast scalar (a
    consumer then reads no more than it read of the result; the node's pass over memory and
    its output buffer go), and every client a fusable Elemwise (no graph output, and no other
    reader that would keep it computed anyway)."""
    if not _fusable(node) or node.op.scalar_op not in _CHEAP:
        return False
    if sum(not all(i.broadcastable) for i in node.inputs) > 1:
        return False
    return all(c != "output" and _fusable(c) for c, _ in fgraph.clients.get(node.outputs[0], []))


#: longest text kept for a subexpression; longer ones print as `op(...)`, which bounds the
#: work and the message for deep graphs
_TEXT_LIMIT = 80


class _SourceText:
    """The user's expression for variables of one graph, computed on demand and memoized
    across clusters (so a fusion pass does O(graph) printing work in all)."""

    def __init__(self) -> None:
        self.memo: dict[Variable, tuple[str, int]] = {}

    def __call__(self, var: Variable) -> str:
        """The full text of `var` (its subexpressions abbreviated past the limit), even when
        a cluster below printed `var` abbreviated as one of its inputs."""
        from theanine.printing import _format

        if var.owner is None or var.name is not None:
            return self._memoized(var)
        for inp in var.owner.inputs:
            self._memoized(inp)
        return _format(var, self.memo)[0]

    def _memoized(self, var: Variable) -> str:
        from theanine.printing import _ATOM, _format

        memo = self.memo
        stack = [var]
        while stack:
            v = stack[-1]
            if v in memo:
                stack.pop()
                continue
            missing = [] if v.owner is None or v.name is not None else \
                [i for i in v.owner.inputs if i not in memo]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            if isinstance(v, Constant) and np.size(v.data) == 1:  # a literal, maybe broadcast
                memo[v] = (str(np.asarray(v.data).reshape(())[()]), _ATOM)
                continue
            text, prec = _format(v, memo)
            if len(text) > _TEXT_LIMIT:
                if v.owner is None or v.name is not None:  # e.g. a large constant
                    text = text[:_TEXT_LIMIT - 3] + "..."
                else:
                    op = v.owner.op
                    name = op.scalar_op.name if isinstance(op, Elemwise) else str(op)
                    text, prec = f"{name}(...)", _ATOM
            memo[v] = (text, prec)
        return memo[var][0]


class FusionRewriter:
    """Grow a cluster upward from each Elemwise node (outputs first) and fuse it."""

    name = "elemwise_fusion"

    def apply(self, fgraph: FunctionGraph) -> None:
        done: set[Apply] = set()
        order = fgraph.toposort()
        position = {node: i for i, node in enumerate(order)}
        source = _SourceText()
        for node in reversed(order):
            if node in done or node not in fgraph.apply_nodes or not _fusable(node):
                continue
            cluster = self._cluster(fgraph, node)
            done.update(cluster)
            if len(cluster) > 1:
                self._fuse(fgraph, node, sorted(cluster, key=position.__getitem__), source)

    @staticmethod
    def _cluster(fgraph: FunctionGraph, root: Apply) -> list[Apply]:
        """root plus producers whose only clients are in the cluster, then the producers
        that `_duplicable` lets it recompute (and theirs): the node stays until the last of
        its consumers' clusters takes it, which then owns it, so it is gone."""
        members = {root}
        order = [root]

        def grow(take) -> None:
            stack = list(order)
            while stack:
                node = stack.pop()
                for inp in node.inputs:
                    prod = inp.owner
                    if prod is None or prod in members or not _fusable(prod) \
                            or not take(prod, fgraph.clients.get(inp, [])):
                        continue
                    members.add(prod)
                    order.append(prod)
                    stack.append(prod)

        grow(lambda prod, clients: all(c != "output" and c in members for c, _ in clients))
        # a shared producer's own producers are read by the node that stays: only cheap
        # ones are taken (recomputed), never one its other consumers also need computed
        grow(lambda prod, clients: _duplicable(fgraph, prod))
        return order

    @staticmethod
    def _fuse(fgraph: FunctionGraph, root: Apply, ordered: list[Apply],
              source: _SourceText) -> None:
        """Replace the cluster `ordered` (topologically sorted, root last) by one node."""
        members = set(ordered)
        inputs: list[Variable] = []
        slot: dict[Variable, int] = {}
        steps = []
        for node in ordered:
            for inp in node.inputs:
                if (inp.owner not in members) and inp not in slot:
                    slot[inp] = len(inputs)
                    inputs.append(inp)
        nin = len(inputs)
        for k, node in enumerate(ordered):
            refs = tuple(slot[i] for i in node.inputs)
            steps.append((node.op.scalar_op, refs, node.outputs[0].dtype))
            slot[node.outputs[0]] = nin + k
        fused = Elemwise(Composite(nin, steps))(*inputs)
        out = root.outputs[0]
        fused.owner.tag["source"] = source(out)
        if fused.type != out.type:
            from theanine.tensor.basic import Rebroadcast

            fused = Rebroadcast(out.broadcastable)(fused)
        fgraph.replace(out, fused, reason="theanine.rewriting.builtin:elemwise_fusion")
