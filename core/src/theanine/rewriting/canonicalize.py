"""Canonicalization: constant folding and the algebraic clean-ups that make graphs (above all
the graphs `grad` writes) small: x*1, x+0, x**1, neg(neg(x)), x-x, constant collection,
allocs that only broadcast, and DimShuffle chains.

An identity is applied only where it holds for every value, infinities and NaNs included:
x - x → 0 is kept for integers (inf - inf is NaN), and an operand is dropped only when no
run-time shape check goes with it."""

from __future__ import annotations

import numpy as np

from theanine.graph.basic import Constant
from theanine.rewriting.basic import node_rewriter
from theanine.rewriting.patterns import (
    elemwise_of,
    is_constant_value,
    same_type_or_none,
    scalar_constant,
    scalar_op_of,
)
from theanine.scalar import basic as ps
from theanine.tensor.basic import (
    Alloc,
    MakeVector,
    Rebroadcast,
    SameExtent,
    Shape,
    as_tensor_variable,
    constant,
)
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.math import cast
from theanine.tensor.subtensor import Subtensor
from theanine.tensor.variable import TensorConstant

#: do not fold constants larger than this many elements (they would bloat the graph)
FOLD_LIMIT = 1 << 16


@node_rewriter(None)
def constant_folding(fgraph, node):
    """Compute nodes whose inputs are all constants, through the Op's own implementation.
    Ops that must run at call time (random draws, maps over inner graphs) set
    `foldable = False`."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if not node.op.foldable or node.op.destroy_map:
        return None
    values = node.op.python_thunk(node)(*[i.data for i in node.inputs])
    if any(np.size(v) > FOLD_LIMIT for v in values):
        return None
    return [TensorConstant(var.type, np.asarray(val, dtype=var.type.dtype))
            for var, val in zip(node.outputs, values)]


def _identity_operand(node, neutral, positions):
    """The other operand of a binary node whose operand at one of `positions` is `neutral`
    (an alloc'd neutral only when the other operand provably has its shape: the alloc may
    be what checks that operands agree)."""
    out = node.outputs[0]
    for k in positions:
        if is_constant_value(node.inputs[k], neutral):
            other = node.inputs[1 - k]
            alloc = _alloc_under(node.inputs[k])
            if alloc is not None and not _alloc_shape_implied(alloc, [other]):
                continue
            kept = same_type_or_none(out, other)
            if kept is not None:
                return [kept]
    return None


def _alloc_under(v):
    """The Alloc node under v's broadcasting DimShuffles that has extents, if any."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle | Alloc):
        if isinstance(v.owner.op, Alloc) and len(v.owner.inputs) > 1:
            return v.owner
        v = v.owner.inputs[0]
    return None


@node_rewriter([Elemwise])
def useless_elemwise(fgraph, node):
    """x*1, 1*x, x+0, 0+x, x-0, x/1, x**1 → x;  neg(neg(x)) → x."""
    op = scalar_op_of(node)
    if op == ps.mul:
        return _identity_operand(node, 1, (0, 1))
    if op == ps.add:
        return _identity_operand(node, 0, (0, 1))
    if op in (ps.sub, ps.true_div, ps.pow):
        return _identity_operand(node, 0 if op == ps.sub else 1, (1,))
    if op == ps.neg:
        inner = elemwise_of(node.inputs[0], ps.neg)
        if inner is not None:
            kept = same_type_or_none(node.outputs[0], inner[0])
            return [kept] if kept is not None else None
    return None


@node_rewriter([Elemwise])
def sub_self(fgraph, node):
    """x - x → zeros shaped like x, for integer x only: a float or complex x may hold an
    infinity or a NaN, for which x - x is NaN (Theano rewrote floats too)."""
    if scalar_op_of(node) != ps.sub or node.inputs[0] is not node.inputs[1] \
            or node.inputs[0].dtype[0] not in "iu":
        return None
    from theanine.tensor.basic import zeros_like

    out = node.outputs[0]
    return [same_type_or_none(out, zeros_like(node.inputs[0], dtype=out.dtype))]


@node_rewriter([Elemwise])
def collect_constants(fgraph, node):
    """c1 * (c2 * x) → (c1*c2) * x and c1 + (c2 + x) → (c1+c2) + x, for scalar constants."""
    op = scalar_op_of(node)
    if op not in (ps.mul, ps.add):
        return None
    for k in (0, 1):
        c1 = scalar_constant(node.inputs[k])
        inner = elemwise_of(node.inputs[1 - k], op)
        if c1 is None or inner is None or len(fgraph.clients.get(node.inputs[1 - k], ())) > 1:
            continue
        for j in (0, 1):
            c2 = scalar_constant(inner[j])
            if c2 is None:
                continue
            combined = c1 * c2 if op == ps.mul else c1 + c2
            out = node.outputs[0]
            folded = constant(np.asarray(combined, dtype=out.dtype))
            rebuilt = node.op(folded, inner[1 - j])
            return [same_type_or_none(out, rebuilt)]
    return None


@node_rewriter([Elemwise])
def elemwise_of_constant_alloc(fgraph, node):
    """f(alloc(c, *shape), c2) → alloc(f(c, c2), *shape) when the other operands are scalar
    constants: one value broadcast, which constant folding then computes (the gradient of a
    scaled sum, alloc(0.01, n) * 2, becomes alloc(0.02, n), and collapses into its reader)."""
    if len(node.outputs) != 1:
        return None
    allocs = [i for i in node.inputs if i.owner is not None and isinstance(i.owner.op, Alloc)]
    if len(allocs) != 1:
        return None
    alloc = allocs[0]
    if alloc.type.broadcastable != node.outputs[0].type.broadcastable:
        return None
    others = [i for i in node.inputs if i is not alloc]
    if any(not all(i.type.broadcastable) or scalar_constant(i) is None for i in others) \
            or scalar_constant(alloc.owner.inputs[0]) is None:
        return None
    value = node.op(*[alloc.owner.inputs[0] if i is alloc else i for i in node.inputs])
    return [same_type_or_none(node.outputs[0], alloc.owner.op(value, *alloc.owner.inputs[1:]))]


@node_rewriter([Alloc])
def useless_alloc(fgraph, node):
    """An alloc with no dimensions, or one whose value already has the full shape, is its
    value."""
    value, *dims = node.inputs
    out = node.outputs[0]
    if not dims:
        return [same_type_or_none(out, value)]
    return None


@node_rewriter([Elemwise])
def alloc_of_scalar_in_elemwise(fgraph, node):
    """alloc(c, *shape(x)) ⊕ u → c ⊕ u when u has x's shape.

    The alloc'd operand only broadcasts a value; when another operand provably has the full
    shape already (it is x, or an elementwise result of x), broadcasting does the same job.
    Also runs after fusion, where the fused node sees operands its parts did not.
    """
    for k, inp in enumerate(node.inputs):
        if inp.owner is None or not isinstance(inp.owner.op, Alloc):
            continue
        if not _alloc_shape_implied(inp.owner, [u for j, u in enumerate(node.inputs) if j != k]):
            continue
        new_inputs = list(node.inputs)
        new_inputs[k] = inp.owner.inputs[0]
        rebuilt = node.op(*new_inputs)
        kept = same_type_or_none(node.outputs[0], rebuilt)
        if kept is not None:
            return [kept]
    return None


def _alloc_shape_implied(alloc_node, operands) -> bool:
    """Whether the elementwise `operands` provably have the shape the alloc builds: its
    extents are `shape(v)[i]` (or `SameExtent` checks of several such) and computing the
    operands, or the node that still combines them, already verifies that they have the
    shape of every such v (dropping the alloc must not drop a check)."""
    dims = alloc_node.inputs[1:]
    sources = _shape_sources(dims)
    verified: set = set()
    for u in operands:
        if u.ndim == len(dims) and not any(u.broadcastable):
            verified |= _verified_same_shape(u)
    return bool(sources) and sources <= verified


def _verified_same_shape(u) -> set:
    """Variables whose shape is u's because computing u checks it: u, and through
    elementwise nodes whose inputs and output have no broadcastable dimension, their inputs
    (Elemwise refuses at run time to stretch a dimension not marked broadcastable)."""
    found: set = set()
    stack = [u]
    while stack:
        v = stack.pop()
        if v in found:
            continue
        found.add(v)
        node = v.owner
        if node is not None and isinstance(node.op, Elemwise) and not any(v.broadcastable):
            stack.extend(i for i in node.inputs if i.ndim == v.ndim and not any(i.broadcastable))
    return found


def _shape_sources(dims) -> set:
    """The variables x whose shape `dims` is: each dim i is `shape(x)[i]` or a `SameExtent`
    of such extents; the empty set when some dim is anything else."""
    sources: set = set()
    for i, d in enumerate(dims):
        node = d.owner
        extents = node.inputs if node is not None and isinstance(node.op, SameExtent) else [d]
        for e in extents:
            x = _shape_entry_of(e, i)
            if x is None or x.ndim != len(dims):
                return set()
            sources.add(x)
    return sources


def _shape_entry_of(e, i):
    """x if `e` is `shape(x)[i]`, else None."""
    node = e.owner
    if node is None or not isinstance(node.op, Subtensor) or node.op.idx_list != (i,):
        return None
    shp = node.inputs[0]
    if shp.owner is None or not isinstance(shp.owner.op, Shape):
        return None
    return shp.owner.inputs[0]


@node_rewriter([DimShuffle])
def dimshuffle_chain(fgraph, node):
    """DimShuffle(DimShuffle(x)) → one DimShuffle; an identity DimShuffle → x."""
    op = node.op
    x = node.inputs[0]
    if op.new_order == tuple(range(x.ndim)):
        return [x]
    inner = x.owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    inner_order = inner.op.new_order
    composed = [d if d == "x" else inner_order[d] for d in op.new_order]
    base = inner.inputs[0]
    return [DimShuffle(base.broadcastable, composed)(base)]


@node_rewriter([Rebroadcast])
def useless_rebroadcast(fgraph, node):
    """A Rebroadcast that changes nothing."""
    x = node.inputs[0]
    return [x] if x.type == node.outputs[0].type else None


@node_rewriter([Subtensor])
def shape_of_computed(fgraph, node):
    """shape(f(x))[i] → what f's infer_shape says it is, in terms of its inputs' shapes,
    so that a shape is read without computing the tensor it belongs to."""
    if len(node.op.idx_list) != 1 or not isinstance(node.op.idx_list[0], int):
        return None
    shp = node.inputs[0]
    if shp.owner is None or not isinstance(shp.owner.op, Shape):
        return None
    v = shp.owner.inputs[0]
    entry = _computed_extent(fgraph, v, node.op.idx_list[0] % max(v.ndim, 1))
    return None if entry is None else [entry]


@node_rewriter([Subtensor])
def subtensor_of_make_vector(fgraph, node):
    """MakeVector(a, b, c)[1] → b."""
    v = node.inputs[0]
    if (len(node.op.idx_list) != 1 or not isinstance(node.op.idx_list[0], int)
            or v.owner is None or not isinstance(v.owner.op, MakeVector)):
        return None
    items, i = v.owner.inputs, node.op.idx_list[0]
    if not -len(items) <= i < len(items):
        return None  # out of range: the Subtensor raises
    return [same_type_or_none(node.outputs[0], items[i])]


@node_rewriter([Shape])
def shape_of_computed_whole(fgraph, node):
    """shape(f(x)) → shape(x) where f keeps x's shape (x ** 2), else the vector of its
    extents (Join: the sum of the joined lengths), when none of them needs f(x) itself."""
    v = node.inputs[0]
    if v.owner is None or v.ndim == 0:
        return None
    entries = [_computed_extent(fgraph, v, i) for i in range(v.ndim)]
    if any(e is None for e in entries):
        return None
    sources = {_shape_entry_of(e, i) for i, e in enumerate(entries)}
    if len(sources) == 1 and None not in sources:
        x = sources.pop()
        if x.ndim == v.ndim:
            return [x.shape] if x is not v else None
    return [same_type_or_none(node.outputs[0], MakeVector("int64")(*entries))]


def _computed_extent(fgraph, v, i):
    """v.shape[i] from the infer_shape of v's producer (an int64 scalar), or None when only
    computing v would tell."""
    producer = v.owner
    if producer is None:
        return None
    in_shapes = [tuple(_extent(inp, j) for j in range(inp.ndim)) if hasattr(inp.type, "ndim")
                 else None for inp in producer.inputs]  # None: not a tensor (e.g. an rng)
    try:
        out_shapes = producer.op.infer_shape(fgraph, producer, in_shapes)
    except NotImplementedError:
        return None
    entry = out_shapes[v.index][i]
    if isinstance(entry, int | np.integer):
        return constant(np.int64(entry))
    entry = as_tensor_variable(entry)
    if entry.ndim != 0 or _reads_shape_of(entry, v):
        return None
    return entry if entry.dtype == "int64" else cast(entry, "int64")


def _extent(v, j):
    """Dimension j of v: 1 when broadcastable, else shape(v)[j]."""
    return 1 if v.broadcastable[j] else v.shape[j]


def _reads_shape_of(entry, v) -> bool:
    """Whether `entry` is shape(v)[k] itself (infer_shape gave nothing better)."""
    owner = entry.owner
    return (owner is not None and isinstance(owner.op, Subtensor)
            and owner.inputs[0].owner is not None and owner.inputs[0].owner.inputs[0] is v)


@node_rewriter(None)
def gradient_only_identity(fgraph, node):
    """zero_grad(x), grad_clip(x, ...) → x: after `grad`, such an Op is the identity."""
    return [node.inputs[0]] if node.op.gradient_only else None


@node_rewriter([Subtensor])
def useless_subtensor(fgraph, node):
    """x[:], x[...], x[:, :] → x."""
    if all(isinstance(e, tuple) and e[1:] == (None, None, None) for e in node.op.idx_list) \
            and len(node.inputs) == 1:
        return [same_type_or_none(node.outputs[0], node.inputs[0])]
    return None


CANONICALIZE = (constant_folding, useless_elemwise, sub_self, collect_constants,
                elemwise_of_constant_alloc, useless_alloc,
                alloc_of_scalar_in_elemwise, dimshuffle_chain, useless_rebroadcast,
                shape_of_computed, shape_of_computed_whole, subtensor_of_make_vector,
                useless_subtensor,
                gradient_only_identity)
