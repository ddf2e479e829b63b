"""Canonicalization: constant folding and the algebraic clean-ups that make graphs (above all
the graphs `grad` writes) small: x*1, x+0, x**1, neg(neg(x)), -(-a - b), x-x, constant
collection, allocs that only broadcast, nested SameExtent checks, and DimShuffle chains.

An identity is applied only where it holds for every value, infinities and NaNs included
(the sign of a zero result aside: x + 0 → x and -(-a - b) → a + b may turn -0 into +0 or
back): x - x → 0 is kept for integers (inf - inf is NaN), and an operand is dropped only
when no run-time shape check goes with it."""

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
from theanine.tensor.math import Dot, cast
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
    """The other operand of a binary node whose operand at one of `positions` is `neutral`,
    when dropping it drops no shape check (`_neutral_droppable`)."""
    out = node.outputs[0]
    for k in positions:
        if is_constant_value(node.inputs[k], neutral):
            other = node.inputs[1 - k]
            if not _neutral_droppable(node.inputs[k], other):
                continue
            kept = same_type_or_none(out, other)
            if kept is not None:
                return [kept]
    return None


def _neutral_droppable(v, other) -> bool:
    """Whether `v`, a constant broadcast by DimShuffles and maybe an Alloc, checks nothing
    that `other` does not: each dimension of v not broadcastable is an alloc extent that
    `other` verifies (x + zeros((2, 3)) or x + zeros_like(x).T must still refuse a 3 x 2 x)."""
    found = _alloc_under(v)
    if found is None:
        return all(v.broadcastable)
    alloc, order = found
    return all(alloc.inputs[0].broadcastable) and _alloc_shape_implied(alloc, [other], order)


def _alloc_under(v):
    """(the Alloc node with extents under v's DimShuffles, and for each dimension of v the
    alloc dimension it is, None where a DimShuffle inserted it), or None."""
    order = list(range(v.ndim))
    while v.owner is not None and isinstance(v.owner.op, DimShuffle | Alloc):
        op = v.owner.op
        if isinstance(op, Alloc) and len(v.owner.inputs) > 1:
            return v.owner, order
        if isinstance(op, DimShuffle):
            order = [None if i is None or op.new_order[i] == "x" else op.new_order[i]
                     for i in order]
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
def neg_of_sub_of_neg(fgraph, node):
    """-(-a - b) → a + b (the gradient of 1/(1 + exp(-z - b)) and its sigmoid leave one).

    Equal for every value, infinities and NaNs included, except the sign of an exact zero:
    -(-a - b) is -0 where a + b is +0 (a = -b ≠ 0, or a = +0, b = -0), as x + 0 → x gives -0
    for x = -0.  neg(neg(a)) → a (useless_elemwise) is exact to the bit; neg(a - b) → b - a
    is left alone: it only saves a negation that fusion makes free, for the same zero sign."""
    if scalar_op_of(node) != ps.neg:
        return None
    diff = elemwise_of(node.inputs[0], ps.sub)
    if diff is None:
        return None
    inner = elemwise_of(diff[0], ps.neg)
    out = node.outputs[0]
    if inner is None or diff[0].dtype != out.dtype:  # an integer -a that wrapped, then cast
        return None
    return [same_type_or_none(out, inner[0] + diff[1])]


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


@node_rewriter([SameExtent])
def flatten_same_extent(fgraph, node):
    """SameExtent(SameExtent(a, b), SameExtent(a, b)) → SameExtent(a, b): nested checks
    become one over the distinct extents (the same equalities), and a check of one distinct
    extent is that extent.  Shape inference of nested Elemwise builds such trees."""
    distinct = _distinct(node.inputs)
    if len(distinct) == 1:
        return [distinct[0]]
    leaves = _distinct([e for d in distinct for e in
                        (d.owner.inputs if d.owner is not None
                         and isinstance(d.owner.op, SameExtent) else [d])])
    if leaves == list(node.inputs):
        return None
    return [leaves[0] if len(leaves) == 1 else SameExtent(node.op.what)(*leaves)]


def _distinct(extents) -> list:
    """`extents` without repeats, in order: two `shape(x)[j]` of the same x and j are one
    (shape inference builds a new one each time, and merging comes later)."""
    kept: dict = {}
    for e in extents:
        kept.setdefault(shape_entry_of(e) or e, e)
    return list(kept.values())


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


def _alloc_shape_implied(alloc_node, operands, order=None) -> bool:
    """Whether the elementwise `operands` provably have the shape the alloc builds, so that
    dropping it drops no check: each of its extents is `shape(v)[j]` (or `SameExtent` checks
    of such, nested or not), and every such (v, j) behind the extent that is the node's
    dimension k is one that computing the operands, and the node that still combines them,
    verifies equal to dimension k.  `order[k]`: the alloc dimension that dimension k is
    (None: a broadcast one), where DimShuffles come between."""
    dims = alloc_node.inputs[1:]
    order = list(range(len(dims))) if order is None else order
    verified = _verified_extents(operands, len(order))
    for k, i in enumerate(order):
        if i is None:
            continue
        sources = _extent_sources(dims[i])
        if not sources or not sources <= verified[k]:
            return False
    return set(range(len(dims))) <= set(order)


def _verified_extents(operands, ndim) -> list[set]:
    """For each dimension i of an elementwise result, the (v, j) with v.shape[j] equal to it
    whenever the operands compute: an operand's own non-broadcastable dimensions (the node
    refuses to stretch them), through Elemwise nodes to their inputs not broadcastable there,
    and through `Dot` to the operand dimension its output dimension is."""
    verified: list[set] = [set() for _ in range(ndim)]
    for u in operands:
        if u.ndim != ndim:
            continue
        for i, b in enumerate(u.broadcastable):
            stack = [] if b else [(u, i)]
            while stack:
                v, j = stack.pop()
                if (v, j) in verified[i]:
                    continue
                verified[i].add((v, j))
                node = v.owner
                if node is not None and isinstance(node.op, Elemwise):
                    stack.extend((w, j) for w in node.inputs if not w.broadcastable[j])
                elif node is not None and isinstance(node.op, Dot):
                    x, y = node.inputs
                    stack.append(_dot_operand_dim(x, y, j))
    return verified


def _dot_operand_dim(x, y, j):
    """(operand, dimension) that dimension j of dot(x, y) is (its shape is
    x.shape[:-1] + y.shape[1:])."""
    return (x, j) if j < x.ndim - 1 else (y, j - x.ndim + 2)


def _extent_sources(d) -> set | None:
    """The (x, j) with d = `shape(x)[j]`, or a `SameExtent` (nested or not) of such; None
    when some extent behind d is anything else."""
    sources: set = set()
    stack = [d]
    while stack:
        e = stack.pop()
        if e.owner is not None and isinstance(e.owner.op, SameExtent):
            stack.extend(e.owner.inputs)
            continue
        entry = shape_entry_of(e)
        if entry is None:
            return None
        sources.add(entry)
    return sources


def shape_entry_of(e):
    """(x, j) if `e` is `shape(x)[j]` (j normalized to be non-negative), else None."""
    node = e.owner
    if node is None or not isinstance(node.op, Subtensor) or len(node.op.idx_list) != 1 \
            or not isinstance(node.op.idx_list[0], int):
        return None
    shp = node.inputs[0]
    if shp.owner is None or not isinstance(shp.owner.op, Shape):
        return None
    x = shp.owner.inputs[0]
    j = node.op.idx_list[0]
    return (x, j % x.ndim) if -x.ndim <= j < x.ndim else None


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
    first = shape_entry_of(entries[0])
    if first is not None and all(shape_entry_of(e) == (first[0], i)
                                 for i, e in enumerate(entries)):
        x = first[0]
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


CANONICALIZE = (constant_folding, useless_elemwise, neg_of_sub_of_neg, sub_self,
                collect_constants, elemwise_of_constant_alloc, useless_alloc,
                flatten_same_extent, alloc_of_scalar_in_elemwise, dimshuffle_chain,
                useless_rebroadcast, shape_of_computed, shape_of_computed_whole,
                subtensor_of_make_vector, useless_subtensor, gradient_only_identity)
