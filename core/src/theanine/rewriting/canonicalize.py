"""Canonicalization: constant folding and the algebraic clean-ups that make graphs (above all
the graphs `grad` writes) small: x*1, x+0, x**1, neg(neg(x)), x-x, constant collection,
allocs that only broadcast, and DimShuffle chains."""

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
from theanine.tensor.basic import Alloc, Rebroadcast, constant
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.variable import TensorConstant

#: do not fold constants larger than this many elements (they would bloat the graph)
FOLD_LIMIT = 1 << 16
_NOT_FOLDED = ("RowMap",)


@node_rewriter(None)
def constant_folding(fgraph, node):
    """Compute nodes whose inputs are all constants, through the Op's own implementation."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if type(node.op).__name__ in _NOT_FOLDED or node.op.destroy_map:
        return None
    values = node.op.python_thunk(node)(*[i.data for i in node.inputs])
    if any(np.size(v) > FOLD_LIMIT for v in values):
        return None
    return [TensorConstant(var.type, np.asarray(val, dtype=var.type.dtype))
            for var, val in zip(node.outputs, values)]


def _identity_operand(node, neutral, positions):
    """The other operand of a binary node whose operand at one of `positions` is `neutral`."""
    out = node.outputs[0]
    for k in positions:
        if is_constant_value(node.inputs[k], neutral):
            other = node.inputs[1 - k]
            kept = same_type_or_none(out, other)
            if kept is not None:
                return [kept]
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
    """x - x → zeros shaped like x (Theano's rule; x must not hold infinities or NaNs)."""
    if scalar_op_of(node) != ps.sub or node.inputs[0] is not node.inputs[1]:
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
    """alloc(c, *shape) ⊕ x → c ⊕ x when x already has the alloc's full shape.

    The alloc'd operand only broadcasts a value; if another operand is the variable whose
    shape the alloc copied (`shape(x)[i]` for every dim), broadcasting does the same job.
    """
    for k, inp in enumerate(node.inputs):
        if inp.owner is None or not isinstance(inp.owner.op, Alloc):
            continue
        value, *dims = inp.owner.inputs
        source = _shape_source(dims)
        if source is None or source not in node.inputs:
            continue
        new_inputs = list(node.inputs)
        new_inputs[k] = value
        rebuilt = node.op(*new_inputs)
        kept = same_type_or_none(node.outputs[0], rebuilt)
        if kept is not None:
            return [kept]
    return None


def _shape_source(dims):
    """x if `dims` are exactly `x.shape[0], ..., x.shape[n-1]`, else None."""
    from theanine.tensor.basic import Shape
    from theanine.tensor.subtensor import Subtensor

    source = None
    for i, d in enumerate(dims):
        node = d.owner
        if node is None or not isinstance(node.op, Subtensor) or node.op.idx_list != (i,):
            return None
        shp = node.inputs[0]
        if shp.owner is None or not isinstance(shp.owner.op, Shape):
            return None
        x = shp.owner.inputs[0]
        if source is None:
            source = x
        elif source is not x:
            return None
    if source is not None and source.ndim != len(dims):
        return None
    return source


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


CANONICALIZE = (constant_folding, useless_elemwise, sub_self, collect_constants, useless_alloc,
                alloc_of_scalar_in_elemwise, dimshuffle_chain, useless_rebroadcast)
