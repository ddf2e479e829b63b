"""Which state values the loop owns, so the step function may overwrite them in place.

A state that keeps only its last value, read at tap -1, is passed to step t+1 as the array
step t returned, which nothing else holds: the step may overwrite it (a gradient accumulator
`acc + dot(h.T, d)` becomes one in-place gemm instead of a copy of the accumulator and a gemm
each step).  So the inner graph declares those inputs mutable before it is rewritten
(`loop_owned`), and the loop gives the first step a private copy of the initial value, which
is the caller's.  The rewrites decide alone what is overwritten; `copies` then checks the
linked graph: where the new value of a state could share memory with something that outlives
the step (an input's view, another output), its input is copied on every step instead.
"""

from __future__ import annotations

from typing import Any, Literal

from theanine.graph.basic import Variable
from theanine.graph.fg import FunctionGraph
from theanine.tensor.type import TensorType


def loop_owned(op: Any, fgraph: FunctionGraph) -> frozenset[Variable]:
    """The inputs of `fgraph` (the inner graph of Scan `op`, or a clone of it) holding a state
    that keeps only its last value and is read at tap -1."""
    info = op.info
    owned = set()
    for j in range(info.n_states):
        if info.state_keep_all[j] or info.state_taps[j] != (-1,) \
                or not isinstance(op.state_type(j), TensorType):
            continue
        owned.update(fgraph.inputs[k] for k in _positions(op, j))
    return frozenset(owned)


def copies(op: Any, fgraph: FunctionGraph) -> dict[int, Literal["first", "every"]]:
    """For each state whose input the linked inner graph `fgraph` overwrites: "first" (copy
    the initial value once) when its new value is memory of its own, else "every" step."""
    destroyed = {node.inputs[i] for node in fgraph.apply_nodes
                 for ins in node.op.destroy_map.values() for i in ins}
    result: dict[int, Literal["first", "every"]] = {}
    for j in range(op.info.n_states):
        inputs = [fgraph.inputs[k] for k in _positions(op, j)]
        if not destroyed.intersection(inputs):
            continue
        own = len(inputs) == 1 and inputs[0] in fgraph.mutable_inputs \
            and _own_memory(fgraph, j, inputs[0])
        result[j] = "first" if own else "every"
    return result


def _positions(op: Any, j: int) -> range:
    """Where state `j`'s inputs sit among the inner graph's (one per tap)."""
    info = op.info
    start = sum(len(t) for t in info.seq_taps) + sum(len(t) for t in info.state_taps[:j])
    return range(start, start + len(info.state_taps[j]))


def _own_memory(fgraph: FunctionGraph, j: int, state_input: Variable) -> bool:
    """Whether output `j` of the step is computed memory (or its own input's, overwritten)
    that no other output of the step shares."""
    roots = _roots(fgraph.outputs[j])
    if any(r in fgraph.inputs and r is not state_input for r in roots) \
            or any(r.owner is None and r not in fgraph.inputs for r in roots):
        return False  # a view of an input, or a constant
    others = [o for k, o in enumerate(fgraph.outputs) if k != j]
    return not any(roots & _roots(o) for o in others)


def _roots(v: Variable) -> set[Variable]:
    """The variables whose memory `v` may be: back through views and overwrites."""
    found, stack = set(), [v]
    while stack:
        u = stack.pop()
        node = u.owner
        if node is None:
            found.add(u)
            continue
        alias = [*(getattr(node.op, "view_map", {}).get(u.index) or ()),
                 *(node.op.destroy_map.get(u.index) or ())]
        if alias:
            stack.extend(node.inputs[i] for i in alias)
        else:
            found.add(u)
    return found
