"""Scan rewrites, registered through the plugin hook like the core's own.

- `scan_hoist_invariants` (canonicalize): inner computations that read only non-sequences are
  computed once, before the loop, and passed in as new non-sequences.
- `scan_pushout_seqs` (canonicalize, tag `scan_pushout`, opt-in): inner computations
  that read one sequence's current row and non-sequences only (an input projection
  `dot(x_t, W) + b`) are computed for every row at once, before the loop (one large product
  instead of one per step), and passed in as a new sequence.  On the Python backend the large
  temporary costs what the saved calls gain (measured in the rnn benchmark), so it is off by
  default; a backend that gains (the C backend, whose product reuses its buffer: the rnn
  forward 1.87 -> 1.55 ms) lists `scan_pushout` in its `fast_run_tags`, and users can add it
  with `optimizer_including=scan_pushout`.
- `scan_remove_unused` (canonicalize, and again after merging): outputs nobody reads, states
  that only feed them, and inputs the step no longer reads are dropped.
- `scan_merge` (specialize): independent loops over the same number of steps in the same
  direction become one loop, sharing their common sequences and non-sequences (loops that
  may stop early, or whose step has a mode of its own, stay apart).
- `scan_save_mem` (specialize): an output of which only the last step is read keeps only that
  value instead of one row per step (gradient accumulators, `reduce`, shared updates).
- `scan_contiguous_operands` (specialize): a transposed matrix the step multiplies by is made
  C-ordered once, before the loop.
- `scan_inner_rewrite` (fusion): the inner graph goes through the same rewrite pipeline, or
  through the one of the loop's own mode (`scan(mode=...)`).
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import Any

from theanine.config import config
from theanine.graph.basic import (
    Apply,
    Constant,
    Variable,
    ancestors,
    clone_replace,
    eager_nodes,
    io_toposort,
)
from theanine.graph.fg import FunctionGraph
from theanine.hookspecs import hookimpl
from theanine.rewriting.basic import node_rewriter
from theanine.scan_module.op import Scan, rewrite_as
from theanine.scan_module.ownership import loop_owned
from theanine.scan_module.parts import NonSeq, ScanParts, Seq
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.math import Dot
from theanine.tensor.subtensor import Subtensor
from theanine.tensor.type import TensorType

_REASON = "theanine.scan_module.rewriting"


# Hoisting loop invariants -----------------------------------------------------------------
@node_rewriter([Scan])
def scan_hoist_invariants(fgraph: FunctionGraph, node: Apply) -> Any:
    """Move inner computations that depend only on non-sequences out of the loop."""
    parts = ScanParts.of(node)
    invariant: set[Variable] = {ns.inner for ns in parts.non_seqs}
    hoistable: set[Variable] = set()
    inner_outputs = parts.inner_outputs()
    # a node only a lazy branch needs stays in the loop: hoisted, it would always run
    eager = set(eager_nodes(parts.inner_inputs(), inner_outputs))
    for inner_node in io_toposort(parts.inner_inputs(), inner_outputs):
        ins = inner_node.inputs
        if (inner_node in eager and not inner_node.op.destroy_map
                and all(i in invariant or isinstance(i, Constant) for i in ins)
                and any(not isinstance(i, Constant) for i in ins)):
            invariant.update(inner_node.outputs)
            hoistable.update(inner_node.outputs)
    if not hoistable:
        return None
    frontier = [v for v in _used_by_variant(inner_outputs, invariant) if v in hoistable]
    outer_of = {ns.inner: ns.outer for ns in parts.non_seqs}
    outer_exprs = clone_replace(frontier, outer_of, strict=False)
    mapping = {}
    for v, outer in zip(frontier, outer_exprs):
        placeholder = v.type.make_variable(v.name)
        parts.non_seqs.append(NonSeq(outer, placeholder))
        mapping[v] = placeholder
    parts.replace_inner(mapping)
    parts.rewritten = False
    return parts.make()


def _used_by_variant(outputs: list[Variable], invariant: set[Variable]) -> list[Variable]:
    """Invariant variables read by a variant node or returned as an output, in order."""
    found: dict[Variable, None] = {}
    for inner_node in io_toposort([], outputs):
        if inner_node.outputs[0] in invariant:
            continue
        for i in inner_node.inputs:
            if i in invariant:
                found[i] = None
    for o in outputs:
        if o in invariant:
            found[o] = None
    return list(found)


# Pushing row-wise computations out of the loop --------------------------------------------
@node_rewriter([Scan])
def scan_pushout_seqs(fgraph: FunctionGraph, node: Apply) -> Any:
    """Compute, over whole sequences, inner nodes that read one sequence's current row (and
    non-sequences or constants): row r of the result is the node applied to row r, so it is
    fed back as a sequence with the same tap."""
    parts = ScanParts.of(node)
    outer_of: dict[Variable, Variable] = {ns.inner: ns.outer for ns in parts.non_seqs}
    inner_outputs = parts.inner_outputs()
    order = io_toposort(parts.inner_inputs(), inner_outputs)
    for seq in parts.seqs:
        if len(seq.inner) != 1:
            continue
        stacked = {seq.inner[0]: seq.outer}  # inner per-row variable -> outer stack of rows
        for inner_node in order:
            outer = _stacked_node(inner_node, stacked, outer_of)
            if outer is not None:
                stacked[inner_node.outputs[0]] = outer
        pushed = {v: o for v, o in stacked.items() if v is not seq.inner[0]}
        if not any(v.owner is not None and isinstance(v.owner.op, Dot) for v in pushed):
            continue  # elementwise work alone is not worth a stacked temporary
        frontier = [v for v in _used_by_variant(inner_outputs, set(pushed)) if v in pushed]
        mapping = {}
        for v in frontier:
            placeholder = v.type.make_variable(v.name)
            parts.seqs.append(Seq(pushed[v], seq.taps, [placeholder]))
            mapping[v] = placeholder
        parts.replace_inner(mapping)
        parts.rewritten = False
        return parts.make()
    return None


def _stacked_node(node: Apply, stacked: dict[Variable, Variable],
                  outer_of: dict[Variable, Variable]) -> Variable | None:
    """The outer expression computing `node` for every row, or None if it cannot be."""
    from theanine.tensor.basic import reshape
    from theanine.tensor.math import dot

    if len(node.outputs) != 1 or node.op.destroy_map:
        return None
    ins = node.inputs
    if not any(i in stacked for i in ins):
        return None
    if not all(i in stacked or i in outer_of or isinstance(i, Constant) for i in ins):
        return None
    if isinstance(node.op, Elemwise):
        args = [stacked[i] if i in stacked else
                _lead_axis(outer_of.get(i, i)) for i in ins]
        out = Elemwise(node.op.scalar_op)(*args)
    elif isinstance(node.op, Dot):
        a, w = ins
        if a not in stacked or w not in outer_of or w.ndim != 2 or a.ndim not in (1, 2):
            return None
        rows, w_out = stacked[a], outer_of[w]
        if a.ndim == 1:
            out = dot(rows, w_out)
        else:
            flat = reshape(rows, [-1, rows.shape[2]], ndim=2)
            out = reshape(dot(flat, w_out), [rows.shape[0], rows.shape[1], w_out.shape[1]],
                          ndim=3)
    else:
        return None
    want = node.outputs[0].type
    if out.dtype != want.dtype or out.ndim != want.ndim + 1:
        return None
    return out


def _lead_axis(v: Variable) -> Variable:
    """v with a broadcastable leading axis, to stand beside stacked rows."""
    return v.dimshuffle("x", *range(v.ndim))


# Preparing what every step multiplies by -------------------------------------------------
@node_rewriter([Scan])
def scan_contiguous_operands(fgraph: FunctionGraph, node: Apply) -> Any:
    """A non-sequence that is a transposed matrix and that the step multiplies by is made
    C-ordered once, before the loop: BLAS multiplies by a transposed operand markedly slower
    (about 2x for the 128x128 products of an RNN's backward pass)."""
    from theanine.tensor.basic import contiguous
    from theanine.tensor.blas import Gemm
    from theanine.tensor.elemwise import DimShuffle

    parts = ScanParts.of(node)
    products = [n for n in io_toposort(parts.inner_inputs(), parts.inner_outputs())
                if isinstance(n.op, Dot | Gemm)]
    multiplied = {i for n in products for i in n.inputs}
    changed = False
    for ns in parts.non_seqs:
        owner = ns.outer.owner
        if (ns.inner in multiplied and owner is not None and isinstance(owner.op, DimShuffle)
                and "x" not in owner.op.new_order and not owner.op.drop
                and list(owner.op.new_order) != sorted(owner.op.new_order)):
            ns.outer = contiguous(ns.outer)
            changed = True
    return parts.make() if changed else None


# Dropping what nobody uses ----------------------------------------------------------------
@node_rewriter([Scan])
def scan_remove_unused(fgraph: FunctionGraph, node: Apply) -> Any:
    """Drop unread outputs (and the states only they need) and inputs the step ignores."""
    op: Scan = node.op
    info = op.info
    used_out = [bool(fgraph.clients.get(o)) for o in node.outputs]
    parts = ScanParts.of(node)
    J = len(parts.states)
    keep_state = used_out[:J]
    keep_nit = used_out[J:]
    cond = [parts.cond] if parts.cond is not None else []
    while True:
        needed = set(ancestors([s.out for s, k in zip(parts.states, keep_state) if k]
                               + [n.out for n, k in zip(parts.nits, keep_nit) if k] + cond))
        more = [k or any(v in needed for v in s.inner)
                for s, k in zip(parts.states, keep_state)]
        if more == keep_state:
            break
        keep_state = more
    old_outputs = ([o for o, k in zip(node.outputs[:J], keep_state) if k]
                   + [o for o, k in zip(node.outputs[J:], keep_nit) if k])
    parts.states = [s for s, k in zip(parts.states, keep_state) if k]
    parts.nits = [n for n, k in zip(parts.nits, keep_nit) if k]
    seqs = []
    for s in parts.seqs:
        if not any(v in needed for v in s.inner):
            continue
        # the first and last taps stay: rows are read relative to them
        ends = (min(s.taps), max(s.taps))
        taps = [(tap, v) for tap, v in zip(s.taps, s.inner) if v in needed or tap in ends]
        s.taps, s.inner = tuple(t for t, _ in taps), [v for _, v in taps]
        seqs.append(s)
    non_seqs = [ns for ns in parts.non_seqs if ns.inner in needed]
    unchanged = (all(keep_state) and all(keep_nit) and len(non_seqs) == info.n_non_seqs
                 and tuple(s.taps for s in seqs) == info.seq_taps)
    if unchanged or not old_outputs:
        return None
    parts.seqs, parts.non_seqs = seqs, non_seqs
    return dict(zip(old_outputs, parts.make()))


# Keeping only the last step ---------------------------------------------------------------
def _last_readers(fgraph: FunctionGraph, out: Variable, skipped: int = 0
                  ) -> tuple[list[Variable], int] | None:
    """The `x[-1]` variables that are the only readers of `out`, allowing slices `out[c:]` in
    between (the user-facing outputs of scan are such slices), with the most rows the slices
    skip; None when something else reads `out` (no readers: an empty list)."""
    readers: list[Variable] = []
    most = 0
    for client, _ in fgraph.clients.get(out, []):
        if client == "output" or not isinstance(client.op, Subtensor):
            return None
        idx = client.op.idx_list
        if idx == (-1,) and len(client.inputs) == 1:
            readers.append(client.outputs[0])
            most = max(most, skipped)
            continue
        if (len(idx) == 1 and isinstance(idx[0], tuple) and len(client.inputs) == 1
                and idx[0][2:] == (None, None) and isinstance(idx[0][1], int)
                and idx[0][1] >= 0):
            found = _last_readers(fgraph, client.outputs[0], skipped + idx[0][1])
            if found is None:
                return None
            readers += found[0]
            most = max(most, found[1])
            continue
        return None
    return readers, most


@node_rewriter([Scan])
def scan_save_mem(fgraph: FunctionGraph, node: Apply) -> Any:
    """An output read only through `[-1]` (or not read: a state the loop needs but nobody
    else reads) keeps only its last value.  When the reader was `out[c:][-1]`, the loop
    raises IndexError for the step counts where that expression would have."""
    op: Scan = node.op
    info = op.info
    J = info.n_states
    keep = list(info.state_keep_all) + list(info.nit_keep_all)
    readers: dict[int, list[Variable]] = {}
    min_steps = info.min_steps
    for i, out in enumerate(node.outputs):
        if keep[i] and isinstance(out.type, TensorType):
            found = _last_readers(fgraph, out)
            if found is not None:
                readers[i] = found[0]
                rows_before = info.depth(i) if i < J else 0
                # out[c:][-1] fails when the loop's rows do not reach past c
                min_steps = max(min_steps, found[1] - rows_before + 1 if found[0] else 0)
    if not readers:
        return None
    parts = ScanParts.of(node)
    parts.min_steps = min_steps
    for i in readers:
        if i < J:
            parts.states[i].keep_all = False
        else:
            parts.nits[i - J].keep_all = False
    new = parts.make()
    result: dict[Variable, Variable] = {}
    for i, (old, out) in enumerate(zip(node.outputs, new)):
        if i in readers:
            result.update({r: out for r in readers[i]})
        else:
            result[old] = out
    return result


# Merging loops ----------------------------------------------------------------------------
class ScanMerge:
    """Merge independent Scan nodes that run the same number of steps the same way."""

    name = "scan_merge"

    def apply(self, fgraph: FunctionGraph) -> None:
        while self._merge_one(fgraph):
            pass

    @staticmethod
    def _key(node: Apply) -> tuple:
        info = node.op.info
        return (node.inputs[0], info.go_backwards, info.truncate_gradient)

    def _merge_one(self, fgraph: FunctionGraph) -> bool:
        scans = [n for n in fgraph.toposort() if isinstance(n.op, Scan)
                 and not n.op.info.as_while and n.op.info.mode is None]
        for a_pos, a in enumerate(scans):
            for b in scans[a_pos + 1:]:
                if self._key(a) != self._key(b) or _depends(b, a) or _depends(a, b):
                    continue
                na, nb = a.op.info.n_states, b.op.info.n_states
                new = _merged(ScanParts.of(a), ScanParts.of(b)).make()
                # the merged node has a's states, b's states, a's outputs, b's outputs
                new_a = new[:na] + new[na + nb:na + nb + a.op.info.n_nit]
                new_b = new[na:na + nb] + new[na + nb + a.op.info.n_nit:]
                for o, n in zip(list(a.outputs) + list(b.outputs), new_a + new_b):
                    fgraph.replace(o, n, reason=f"{_REASON}:{self.name}")
                return True
        return False


def _depends(node: Apply, on: Apply) -> bool:
    """Whether `node` reads (directly or not) an output of `on`."""
    outs = set(on.outputs)
    return any(v in outs for v in ancestors(node.inputs))


def _merged(a: ScanParts, b: ScanParts) -> ScanParts:
    """One loop doing both `a` and `b`: `a`'s pieces, then `b`'s (sharing equal inputs)."""
    mapping: dict[Variable, Variable] = {}
    seqs = {(s.outer, s.taps): s for s in a.seqs}
    for s in b.seqs:
        twin = seqs.get((s.outer, s.taps))
        if twin is None:
            a.seqs.append(s)
        else:
            mapping.update(zip(s.inner, twin.inner))
    non_seqs = {ns.outer: ns for ns in a.non_seqs}
    for ns in b.non_seqs:
        twin = non_seqs.get(ns.outer)
        if twin is None or twin.inner.type != ns.inner.type:
            a.non_seqs.append(ns)
        else:
            mapping[ns.inner] = twin.inner
    b.replace_inner(mapping)
    a.states += b.states
    a.nits += b.nits
    a.name = f"{a.name or 'scan'}&{b.name or 'scan'}"
    a.rewritten = False
    a.min_steps = max(a.min_steps, b.min_steps)
    return a


# Rewriting the inner graph ----------------------------------------------------------------
class ScanInnerRewrite:
    """Run the rewrite pipeline (for `optimizer`) on each Scan node's inner graph, once."""

    def __init__(self, optimizer: str):
        self.optimizer = optimizer
        self.name = f"scan_inner_rewrite_{optimizer}"

    def apply(self, fgraph: FunctionGraph) -> None:
        from theanine.rewriting import rewrite_graph

        for node in list(fgraph.toposort()):
            op = node.op
            if not isinstance(op, Scan) or op.info.rewritten or node not in fgraph.apply_nodes:
                continue
            inner = op.inner.clone()
            inner.mutable_inputs = loop_owned(op, inner)
            mode = op.info.mode
            if mode is None:
                rewrite_graph(inner, self.optimizer, tuple(config.optimizer_including),
                              tuple(config.optimizer_excluding))
            else:
                rewrite_as(mode, inner)
            new_op = Scan(inner, dc_replace(op.info, rewritten=True), op.name)
            new_node = new_op.make_node(*node.inputs)
            for old, new in zip(node.outputs, new_node.outputs):
                fgraph.replace(old, new, reason=f"{_REASON}:{self.name}")


@hookimpl
def theanine_register_rewrites(register) -> None:
    both = ("fast_run", "fast_compile", "scan")
    register(scan_hoist_invariants, stage="canonicalize", tags=("fast_run", "scan"))
    register(scan_pushout_seqs, stage="canonicalize", tags=("scan_pushout",), opt_in=True)
    register(scan_remove_unused, stage="canonicalize", tags=both)
    register(ScanMerge(), stage="specialize", tags=("fast_run", "scan"), position=10)
    register(scan_remove_unused, stage="specialize", tags=both, position=15,
             name="scan_remove_unused_after_merge")
    register(scan_save_mem, stage="specialize", tags=both, position=20)
    register(scan_contiguous_operands, stage="specialize", tags=("fast_run", "scan"),
             position=25)
    register(ScanInnerRewrite("fast_run"), stage="fusion", tags=("fast_run", "scan"),
             position=10)
    register(ScanInnerRewrite("fast_compile"), stage="fusion", tags=("fast_compile", "scan"),
             position=10)
