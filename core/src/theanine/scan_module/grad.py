"""Backpropagation through time: the gradient of a Scan node is a Scan over the steps in
reverse.

For each step the backward loop evaluates the vector-Jacobian product of the step function
(built once, symbolically, with `theanine.grad` on the inner graph).  It reads the forward
values it needs from the forward node's outputs (so the forward step is not recomputed where a
stored output stands for it), carries the adjoints of the states' recent values as its own
states (one per tap depth: a state with taps down to t-L carries L partial adjoints), and
accumulates the gradients of the non-sequences as states whose last value is the gradient.
With `truncate_gradient=k` the backward loop covers only the last k steps (as in Theano: the
earlier steps, and the initial states, get no gradient through the loop).  A loop that may
stop early (`until`) is differentiated over the steps it ran (the rows of its outputs); the
condition itself has no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theanine.graph.basic import Constant, Variable, ancestors, clone_replace
from theanine.scan_module.parts import Nit, NonSeq, ScanParts, Seq, State, nonzero
from theanine.tensor.basic import Rebroadcast, zeros_like
from theanine.tensor.subtensor import IncSubtensor, inc_subtensor
from theanine.tensor.type import TensorType


def scan_grad(op: Any, inputs: Sequence[Variable], outputs: Sequence[Variable],
              output_grads: Sequence[Variable]) -> list[Variable | None]:
    """`Scan.L_op`: the gradients of the node's inputs."""
    backprop = _Backprop(op, list(inputs), list(outputs), list(output_grads))
    if not backprop.active:
        return [None] * len(inputs)
    backprop.step_function()
    return backprop.input_grads(backprop.backward_loop())


class _Backprop:
    """The backward pass of one Scan node, built in three stages: which outputs receive an
    adjoint (here), the backward step (`step_function`), the loop and the gradients."""

    def __init__(self, op: Any, inputs: list[Variable], outputs: list[Variable],
                 output_grads: list[Variable]):
        self.info = info = op.info
        self.label = op.name or "scan"
        self.inputs, self.outputs, self.output_grads = inputs, outputs, output_grads
        self.parts = parts = ScanParts.of(outputs[0].owner)
        self.ys = parts.inner_outputs()[:len(outputs)]  # not the stopping condition
        self.n_steps = _steps_run(op, inputs, outputs)
        self.row_types = ([s.inner[0].type for s in parts.states]
                          + [n.out.type for n in parts.nits])
        self.kept = [s.keep_all for s in parts.states] + [n.keep_all for n in parts.nits]
        self.outer_g = [g if nonzero(g) and _differentiable(t) else None
                        for g, t in zip(output_grads, self.row_types)]
        self.depends = [set(ancestors([y])) for y in self.ys]
        # Outputs with an adjoint: those with an outer gradient, and the states whose earlier
        # values feed an output that has one.
        self.active = {i for i, g in enumerate(self.outer_g) if g is not None}
        self.feedback: set[int] = set()
        changed = True
        while changed:
            changed = False
            for j, st in enumerate(parts.states):
                if j in self.feedback or not _differentiable(self.row_types[j]):
                    continue
                if any(v in self.depends[i] for i in self.active for v in st.inner):
                    self.feedback.add(j)
                    self.active.add(j)
                    changed = True
        for i in self.active:
            if not self.kept[i]:
                raise NotImplementedError(
                    f"the gradient of scan {self.label!r} needs every step of output {i}, but "
                    "this Scan node keeps only its last value (rewritten for memory); take "
                    "the gradient before compiling")
        # A fed-back state whose outer gradient is zero but for its last row (a cost on
        # h[-1]) starts its adjoint there instead of reading a sequence of mostly zeros.
        self.last_only: dict[int, Variable] = {}
        for j in self.feedback:
            v = _last_row_only(self.outer_g[j], info.depth(j), self.row_types[j])
            if v is not None:
                self.last_only[j] = v
                self.outer_g[j] = None

    # The backward step --------------------------------------------------------------------
    def step_function(self) -> None:
        """The inner graph of the backward loop: adjoint placeholders, the vector-Jacobian
        product of the step, and what it updates and emits."""
        parts, info = self.parts, self.info
        self.g_inner: dict[int, Variable] = {}
        self.slots: dict[int, list[Variable]] = {}
        known: dict[Variable, Variable] = {}
        for i in sorted(self.active):
            t = self.row_types[i]
            terms = []
            if i in self.feedback:
                self.slots[i] = [t.make_variable(f"adjoint_{self.label}_{i}[t+{q}]")
                                 for q in range(info.depth(i))]
                terms.append(self.slots[i][0])
            if self.outer_g[i] is not None:
                self.g_inner[i] = t.make_variable(f"grad_{self.label}_{i}[t]")
                terms.append(self.g_inner[i])
            y = self.ys[i]
            if not isinstance(y, Constant):
                adj = _total(terms)
                known[y] = known[y] + adj if y in known else adj
        relevant = set().union(*(self.depends[i] for i in self.active))
        wrt = [v for v in parts.inner_inputs() if v in relevant and _differentiable(v.type)]
        from theanine.gradient import grad

        grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore") if wrt else []
        # Read the stored forward values instead of recomputing them.
        stored: dict[Variable, Variable] = {}
        self.stored_of: dict[Variable, int] = {}
        for i, y in enumerate(self.ys):
            if y.owner is not None and self.kept[i] and y not in stored:
                stored[y] = self.row_types[i].make_variable(f"{self.label}_out{i}[t]")
                self.stored_of[stored[y]] = i
        grads = clone_replace(grads, stored, strict=False) if grads else []
        d = {v: g for v, g in zip(wrt, grads) if nonzero(g)}

        # slot q of state j holds the partial adjoint of its value q steps after the current
        # one; the next (earlier) step's slot q is slot q+1 plus this step's tap -(q+1) term
        self.slot_out: dict[int, list[Variable]] = {}
        for j in sorted(self.feedback):
            st, depth = parts.states[j], info.depth(j)
            d_tap = {tap: d.get(v) for tap, v in zip(st.taps, st.inner)}
            news = []
            for q in range(depth):
                terms = [self.slots[j][q + 1]] if q < depth - 1 else []
                if d_tap.get(-(q + 1)) is not None:
                    terms.append(d_tap[-(q + 1)])
                news.append(_total(terms) if terms else zeros_like(self.slots[j][q]))
            self.slot_out[j] = news
        self.accumulators: dict[int, tuple[Variable, Variable]] = {}
        for k, ns in enumerate(parts.non_seqs):
            if d.get(ns.inner) is not None:
                acc = ns.inner.type.make_variable(f"grad_{ns.inner.name or f'non_sequence{k}'}")
                self.accumulators[k] = (acc, acc + d[ns.inner])
        self.seq_grads = [(k, i, d[v]) for k, sq in enumerate(parts.seqs)
                          for i, v in enumerate(sq.inner) if d.get(v) is not None]

    # The loop -----------------------------------------------------------------------------
    def rows(self, x: Variable, lo: int) -> Variable:
        """Rows lo + s0 .. lo + N - 1 of x: the ones the steps s0 .. N-1 read or write."""
        n = self.n_steps
        return x[(lo if self.start is None else self.start + lo):(n + lo if lo else n)]

    def backward_loop(self) -> list[Variable]:
        """The backward Scan node's outputs: slots, accumulators, then sequence gradients."""
        parts, info, label = self.parts, self.info, self.label
        n = self.n_steps
        n_back: Variable = n
        self.start: Variable | None = None
        if info.truncate_gradient > 0:
            from theanine.tensor.math import minimum

            n_back = minimum(n, info.truncate_gradient)
            self.start = n - n_back
        inner_outs = ([v for j in sorted(self.slot_out) for v in self.slot_out[j]]
                      + [new for _, new in self.accumulators.values()]
                      + [g for _, _, g in self.seq_grads])
        used = set(ancestors(inner_outs))
        back = ScanParts(n_back, go_backwards=True, name=f"grad_of_{label}", mode=info.mode)
        for k, sq in enumerate(parts.seqs):
            base = sq.outer[::-1] if info.go_backwards else sq.outer
            for off, v in zip(info.seq_offsets(k), sq.inner):
                if v in used:
                    back.seqs.append(Seq(self.rows(base, off), (0,), [v]))
        for j, st in enumerate(parts.states):
            for tap, v in zip(st.taps, st.inner):
                if v not in used:
                    continue
                if not st.keep_all:
                    raise NotImplementedError(
                        f"the gradient of scan {label!r} needs the value of output {j} at "
                        f"each step ({v}), which the loop does not keep (such as a random "
                        "generator's state)")
                back.seqs.append(Seq(self.rows(self.outputs[j], info.depth(j) + tap), (0,),
                                     [v]))
        for sources, placeholders in ((self.outputs, self.stored_of),
                                      (self.output_grads, {g: i for i, g in
                                                           self.g_inner.items()})):
            for p, i in placeholders.items():
                if p in used:
                    lead = info.depth(i) if i < len(parts.states) else 0
                    back.seqs.append(Seq(self.rows(sources[i], lead), (0,), [p]))
        for j in sorted(self.slot_out):
            st = parts.states[j]
            row = st.init if st.taps == (-1,) else st.init[0]
            for q, (slot, new) in enumerate(zip(self.slots[j], self.slot_out[j])):
                first = (_as_type(self.last_only[j], slot.type)
                         if q == 0 and j in self.last_only else _zeros(row, slot.type))
                back.states.append(State(first, (-1,), [slot], new))
        for k, (acc, new) in self.accumulators.items():
            back.states.append(State(_zeros(parts.non_seqs[k].outer, acc.type), (-1,), [acc],
                                     new))
        back.nits = [Nit(g) for _, _, g in self.seq_grads]
        back.non_seqs = [NonSeq(ns.outer, ns.inner) for ns in parts.non_seqs
                         if ns.inner in used]
        return back.make()

    # The forward node's input gradients -----------------------------------------------------
    def input_grads(self, back_outputs: list[Variable]) -> list[Variable | None]:
        parts, info = self.parts, self.info
        S, J = len(parts.seqs), len(parts.states)
        outs = iter(back_outputs)
        result: list[Variable | None] = [None] * len(self.inputs)
        finals = {j: [next(outs)[-1] for _ in self.slot_out[j]] for j in sorted(self.slot_out)}
        for k in self.accumulators:
            result[1 + S + J + k] = next(outs)[-1]
        per_seq: dict[int, list[tuple[int, Variable]]] = {}
        for k, i, _ in self.seq_grads:
            per_seq.setdefault(k, []).append((i, next(outs)[::-1]))  # back in step order
        for k, terms in per_seq.items():
            total = zeros_like(self.inputs[1 + k])
            offsets = info.seq_offsets(k)
            for i, g in terms:
                total = inc_subtensor(self.rows(total, offsets[i]), g)
            result[1 + k] = total[::-1] if info.go_backwards else total
        for j, st in enumerate(parts.states):
            result[1 + S + j] = _init_grad(st, info.depth(j), finals.get(j), self.outer_g[j],
                                           self.start)
        return result


def _steps_run(op: Any, inputs: list[Variable], outputs: list[Variable]) -> Variable:
    """The number of steps the forward loop ran: `n_steps`, or for a loop that may stop
    early, the rows of an output that keeps every step."""
    info = op.info
    if not info.as_while:
        return inputs[0]
    kept = list(info.state_keep_all) + list(info.nit_keep_all)
    for i, out in enumerate(outputs):
        if kept[i] and isinstance(out.type, TensorType):
            return out.shape[0] - info.depth(i) if i < info.n_states else out.shape[0]
    raise NotImplementedError(f"the gradient of scan {op.name or 'scan'!r} needs the number "
                              "of steps it ran, but it keeps no output of every step")


def _differentiable(t: Any) -> bool:
    return isinstance(t, TensorType) and t.dtype[0] in "fc"


def _total(terms: list[Variable]) -> Variable | None:
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _as_type(v: Variable, t: TensorType) -> Variable:
    """`v` with type `t` (only its broadcastable pattern may differ; checked at run time)."""
    return v if v.type == t else Rebroadcast(t.broadcastable)(v)


def _zeros(like: Variable, t: TensorType) -> Variable:
    """Zeros shaped like `like`, of type `t`."""
    return _as_type(zeros_like(like), t)


def _last_row_only(g: Variable | None, depth: int, row_type: TensorType) -> Variable | None:
    """v when `g` (the gradient of a state's output rows) is zeros with v added at its last
    row, as `grad` writes it for a cost on `output[depth:][-1]`; None otherwise."""

    def increment(v: Variable | None, idx_list: tuple) -> Variable | None:
        while v is not None and v.owner is not None and isinstance(v.owner.op, Rebroadcast):
            v = v.owner.inputs[0]
        if (v is None or v.owner is None or not isinstance(v.owner.op, IncSubtensor)
                or v.owner.op.set_instead_of_inc or v.owner.op.idx_list != idx_list
                or len(v.owner.inputs) != 2 or nonzero(v.owner.inputs[0])):
            return None
        return v.owner.inputs[1]

    rows = increment(g, (("slice", depth, None, None),))
    last = increment(rows, (-1,)) if rows is not None else increment(g, (-1,))
    if last is None or last.ndim != row_type.ndim or last.dtype != row_type.dtype:
        return None
    return last


def _init_grad(st: State, depth: int, finals: list[Variable] | None, g_out: Variable | None,
               start: Variable | None) -> Variable | None:
    """The gradient of a state's initial value: the adjoints left when the backward loop ends
    (position r of the initial rows is carried by slot depth-1-r), plus the outer gradient of
    the initial rows of the state's output."""
    from theanine.tensor.basic import stack
    from theanine.tensor.math import eq, switch

    if finals is not None and start is not None:
        finals = [switch(eq(start, 0), f, 0) for f in finals]
    if st.taps == (-1,):
        terms = ([finals[0]] if finals else []) + ([g_out[0]] if g_out is not None else [])
        return _total(terms)
    if finals is None and g_out is None:
        return None
    block = stack(list(reversed(finals))) if finals else None
    if g_out is not None:
        block = g_out[:depth] if block is None else block + g_out[:depth]
    return inc_subtensor(zeros_like(st.init)[:depth], block)
