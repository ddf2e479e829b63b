"""Stabilization: replace expressions that overflow or lose precision by equal stable ones.

1/(1+exp(-x)) → sigmoid(x);  log(sigmoid(x)) → -softplus(-x);  log(1-sigmoid(x)) → -softplus(x);
log(1+x) → log1p(x);  log1p(exp(x)) → softplus(x);  exp(x)-1 → expm1(x);
log(softmax(x)) → LogSoftmax(x), also through indexing (`log(softmax(x)[rows, labels])`, the
integer-label cross-entropy);  log(sum(exp(x))) → max + log(sum(exp(x - max))).
"""

from __future__ import annotations

from theanine.rewriting.basic import node_rewriter
from theanine.rewriting.patterns import (
    elemwise_of,
    is_constant_value,
    same_type_or_none,
    scalar_op_of,
)
from theanine.scalar import basic as ps
from theanine.tensor import math as tm
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.math import Reduce
from theanine.tensor.nnet import Softmax, log_softmax
from theanine.tensor.subtensor import Subtensor


def _one_plus(v):
    """y if v is 1 + y (either order), else None."""
    args = elemwise_of(v, ps.add)
    if args is None:
        return None
    for k in (0, 1):
        if is_constant_value(args[k], 1):
            return args[1 - k]
    return None


def _fit(node, new):
    return [same_type_or_none(node.outputs[0], new)]


@node_rewriter([Elemwise])
def recognize_sigmoid(fgraph, node):
    """1 / (1 + exp(u)) → sigmoid(-u)."""
    if scalar_op_of(node) != ps.true_div or not is_constant_value(node.inputs[0], 1):
        return None
    denom = _one_plus(node.inputs[1])
    if denom is None:
        return None
    exp_args = elemwise_of(denom, ps.exp)
    if exp_args is None:
        return None
    (u,) = exp_args
    neg_args = elemwise_of(u, ps.neg)
    return _fit(node, tm.sigmoid(neg_args[0] if neg_args is not None else -u))


@node_rewriter([Elemwise])
def stable_log(fgraph, node):
    """log(sigmoid(x)), log(1 - sigmoid(x)), log(1 + x) and log(softmax(x))."""
    if scalar_op_of(node) != ps.log:
        return None
    (arg,) = node.inputs
    sig = elemwise_of(arg, ps.sigmoid)
    if sig is not None:
        return _fit(node, -tm.softplus(-sig[0]))
    diff = elemwise_of(arg, ps.sub)
    if diff is not None and is_constant_value(diff[0], 1):
        sig = elemwise_of(diff[1], ps.sigmoid)
        if sig is not None:
            return _fit(node, -tm.softplus(sig[0]))
    y = _one_plus(arg)
    if y is not None:
        return _fit(node, tm.log1p(y))
    if arg.owner is not None and isinstance(arg.owner.op, Softmax):
        return _fit(node, log_softmax(arg.owner.inputs[0], axis=arg.owner.op.axis))
    if arg.owner is not None and isinstance(arg.owner.op, Subtensor):
        sm = arg.owner.inputs[0].owner
        if sm is not None and isinstance(sm.op, Softmax):
            logs = log_softmax(sm.inputs[0], axis=sm.op.axis)
            return _fit(node, arg.owner.op(logs, *arg.owner.inputs[1:]))
    return None


@node_rewriter([Elemwise])
def softplus_from_log1p_exp(fgraph, node):
    """log1p(exp(x)) → softplus(x)."""
    if scalar_op_of(node) != ps.log1p:
        return None
    e = elemwise_of(node.inputs[0], ps.exp)
    return _fit(node, tm.softplus(e[0])) if e is not None else None


@node_rewriter([Elemwise])
def expm1_from_exp_minus_one(fgraph, node):
    """exp(x) - 1 → expm1(x)."""
    if scalar_op_of(node) != ps.sub or not is_constant_value(node.inputs[1], 1):
        return None
    e = elemwise_of(node.inputs[0], ps.exp)
    return _fit(node, tm.expm1(e[0])) if e is not None else None


@node_rewriter([Elemwise])
def logsumexp(fgraph, node):
    """log(sum(exp(x), axis)) → m + log(sum(exp(x - m), axis)) with m = max(x, axis)."""
    if scalar_op_of(node) != ps.log:
        return None
    s = node.inputs[0].owner
    if s is None or not isinstance(s.op, Reduce) or s.op.kind != "sum":
        return None
    e = elemwise_of(s.inputs[0], ps.exp)
    if e is None:
        return None
    x = e[0]
    if _is_shifted_by_max(x):
        return None  # already the stable form
    axes = s.op.axis
    m = tm.max(x, axis=axes, keepdims=True)
    stable = tm.log(tm.sum(tm.exp(x - m), axis=axes)) + tm.max(x, axis=axes)
    return _fit(node, stable)


def _is_shifted_by_max(v) -> bool:
    """Whether v is y - max(y, ...) (broadcast), the form logsumexp rewrites to."""
    from theanine.tensor.elemwise import DimShuffle

    args = elemwise_of(v, ps.sub)
    if args is None:
        return False
    m = args[1]
    while m.owner is not None and isinstance(m.owner.op, DimShuffle):
        m = m.owner.inputs[0]
    return m.owner is not None and isinstance(m.owner.op, Reduce) and m.owner.op.kind == "max"


STABILIZE = (recognize_sigmoid, stable_log, softplus_from_log1p_exp, expm1_from_exp_minus_one,
             logsumexp)
