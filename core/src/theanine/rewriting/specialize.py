"""Specialization: cheaper forms of the same computation.

x**2 → sqr(x);  x**n (small integer n) → multiplications;  x**0.5 → sqrt(x);  x**-1 → 1/x;
x**0 → 1;  x / 2**k → x * 2**-k (exact, and a multiplication is several times cheaper);
b*z ± a*dot(x, y) → gemm(z, ±a, x, y, b) (one BLAS call);  sum(x * y) → dot(x, y) for vectors.
"""

from __future__ import annotations

import numpy as np

from theanine.graph.basic import Constant
from theanine.rewriting.basic import node_rewriter
from theanine.rewriting.patterns import (
    elemwise_of,
    same_type_or_none,
    scalar_constant,
    scalar_op_of,
)
from theanine.scalar import basic as ps
from theanine.tensor import math as tm
from theanine.tensor.basic import constant, fill
from theanine.tensor.blas import Gemm, gemm, is_blas_type
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.math import Dot, Reduce

#: integer exponents up to this magnitude become multiplications
MAX_POW_MULS = 16


def _power_by_squaring(x, n: int):
    """x**n for n >= 1 with about log2(n) multiplications."""
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = tm.sqr(base)
    return result


@node_rewriter([Elemwise])
def specialize_pow(fgraph, node):
    if scalar_op_of(node) != ps.pow:
        return None
    x, p = node.inputs
    e = scalar_constant(p)
    out = node.outputs[0]
    if e is None or x.dtype != out.dtype or isinstance(e, complex):
        return None
    if e == 0:
        new = fill(x, 1)
    elif e == 0.5 and out.dtype[0] == "f":
        new = tm.sqrt(x)
    elif e == -1 and out.dtype[0] in "fc":
        new = 1 / x
    elif e == 2:
        new = tm.sqr(x)
    elif float(e).is_integer() and 2 < e <= MAX_POW_MULS:
        new = _power_by_squaring(x, int(e))
    elif float(e).is_integer() and -MAX_POW_MULS <= e < -1 and out.dtype[0] in "fc":
        new = 1 / _power_by_squaring(x, int(-e))
    else:
        return None
    return [same_type_or_none(out, new)]


@node_rewriter([Elemwise])
def div_by_power_of_two(fgraph, node):
    """x / c → x * (1/c) for floats when c is a power of two whose reciprocal is a normal
    number of x's dtype: both are the correctly rounded value of the same real, so they are
    equal to the bit (as a mean over 2**k ranks or elements divides)."""
    if scalar_op_of(node) != ps.true_div:
        return None
    x, c = node.inputs
    out = node.outputs[0]
    e = scalar_constant(c)
    if out.dtype[0] != "f" or x.dtype != out.dtype or not isinstance(e, float | int) \
            or isinstance(e, bool) or e == 0 or not np.isfinite(e):
        return None
    mantissa, _ = np.frexp(e)
    with np.errstate(over="ignore"):  # a reciprocal out of range is refused just below
        inverse = np.asarray(1 / e, dtype=out.dtype)
    if abs(mantissa) != 0.5 or not np.isfinite(inverse) \
            or abs(inverse) < np.finfo(out.dtype).tiny:
        return None
    factor = constant(np.full((1,) * out.ndim, inverse))
    return [same_type_or_none(out, x * factor)]


def scalar_factor(v):
    """(the 0-d variable s, rest) if v is s * rest or rest * s with s a broadcast scalar."""
    args = elemwise_of(v, ps.mul)
    if args is None:
        return None
    for k in (0, 1):
        s = _unbroadcast_scalar(args[k])
        if s is not None:
            return s, args[1 - k]
    return None


def scaled_term(t):
    """(alpha, rest) if t is -rest (alpha -1.0) or alpha * rest with alpha a broadcast
    scalar, else (None, t)."""
    neg = elemwise_of(t, ps.neg)
    if neg is not None:
        return -1.0, neg[0]
    factor = scalar_factor(t)
    return factor if factor is not None else (None, t)


def _unbroadcast_scalar(v):
    """The 0-d variable that v broadcasts (v itself if 0-d; a 0-d constant for a constant
    that is broadcastable in every dimension, as literals are), or None."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle) and not v.owner.op.drop \
            and all(d == "x" for d in v.owner.op.new_order):
        v = v.owner.inputs[0]
    if v.ndim and isinstance(v, Constant) and all(v.broadcastable):
        return constant(np.asarray(v.data).reshape(()))
    return v if v.ndim == 0 else None


def _dot_term(fgraph, t):
    """(alpha, x, y, inner) if t is dot(x, y), -dot(x, y) or alpha * dot(x, y), with the dot
    used only there (else the gemm would compute it a second time); `inner` is None, or
    (z, a, b) when the product is itself gemm(z, a, x, y, b), used only there."""
    alpha, t = scaled_term(t)
    node = t.owner
    if node is None or len(fgraph.clients.get(t, ())) != 1:
        return None
    alpha = 1.0 if alpha is None else alpha
    if isinstance(node.op, Dot):
        return alpha, node.inputs[0], node.inputs[1], None
    if isinstance(node.op, Gemm) and not node.op.inplace:
        z, a, x, y, b = node.inputs
        return alpha, x, y, (z, a, b)
    return None


@node_rewriter([Elemwise])
def dot_to_gemm(fgraph, node):
    """b*z + a*dot(x, y), z - dot(x, y), ... → gemm(z, ±a, x, y, b).

    A gemm of the same z counts as a dot: b*z ± c*gemm(z, a, x, y, d) is gemm(z, ±c*a, x, y,
    b ± c*d), so an SGD step with weight decay, w - lr * (x.T @ dz + l2 * w), is one BLAS
    call that can update w in place (`InplaceGemm`)."""
    op = scalar_op_of(node)
    if op not in (ps.add, ps.sub):
        return None
    out = node.outputs[0]
    if out.ndim not in (1, 2) or not is_blas_type(out):
        return None
    a, b = node.inputs
    orders = [(a, b)] if op == ps.sub else [(a, b), (b, a)]
    sign = -1.0 if op == ps.sub else 1.0
    for z, t in orders:
        term = _dot_term(fgraph, t)
        if term is None:
            continue
        alpha, x, y, inner = term
        beta = 1.0
        factor = scalar_factor(z)
        if factor is not None:
            beta, z = factor
        if z.type != out.type or x.dtype != out.dtype or y.dtype != out.dtype:
            continue
        if inner is not None:
            inner_z, inner_alpha, inner_beta = inner
            if inner_z is not z:
                continue  # two different accumulators
            beta = beta + times(sign, times(alpha, inner_beta))
            alpha = times(alpha, inner_alpha)
        alpha = times(sign, alpha)
        return [gemm(z, as_scalar(alpha, out.dtype), x, y, as_scalar(beta, out.dtype))]
    return None


def times(a, b):
    """a * b for Python floats and 0-d variables (constant folding finishes the work)."""
    if isinstance(a, float) and isinstance(b, float):
        return a * b
    if isinstance(a, float) and a == 1.0:
        return b
    if isinstance(b, float) and b == 1.0:
        return a
    return a * b


def as_scalar(v, dtype):
    from theanine.tensor.basic import constant

    if isinstance(v, float):
        return constant(np.asarray(v, dtype=dtype))
    return tm.cast(v, dtype)


@node_rewriter([Reduce])
def sum_of_product_to_dot(fgraph, node):
    """sum(x * y) over two vectors → dot(x, y): one BLAS call, no temporary.  Only where the
    sum accumulates in the vectors' dtype: BLAS would drop a wider accumulator (float32)."""
    if node.op.kind != "sum" or node.op.acc_dtype != node.inputs[0].dtype:
        return None
    prod = elemwise_of(node.inputs[0], ps.mul)
    if prod is None or len(fgraph.clients.get(node.inputs[0], ())) != 1:
        return None
    x, y = prod
    out = node.outputs[0]
    if x.ndim != 1 or any(x.broadcastable) or any(y.broadcastable) \
            or not (x.type == y.type and is_blas_type(x)) or out.dtype != x.dtype:
        return None
    return [same_type_or_none(out, tm.dot(x, y))]


SPECIALIZE = (specialize_pow, div_by_power_of_two, dot_to_gemm, sum_of_product_to_dot)
