"""The data-parallel weight update as one node: z ± a * allreduce(dot(x, y)) → AllreduceGemm.

One process folds `W - lr * dot(x.T, d)` into one BLAS call that updates W in place
(`dot_to_gemm`).  A data-parallel step reduces the gradient between the product and the
update, so the product lands in a buffer of its own, is copied into shared memory, reduced,
copied back, and then added into W by a pass of its own.  `AllreduceGemm` has BLAS write the
product into shared memory, reduces it there and adds it into W from there
(`shared_memory.reduce_products`): about half the memory traffic.  The fusion rewrite
then joins the step's other sum allreduces to it: one collective per step.

Only for shared weights of at least `MIN_BYTES`: a small gradient's copies cost less than
the Python work of one more product per call, and it rides along in the fused collective
either way.
"""

from __future__ import annotations

from typing import Any

from theanine.distributed.ops import Allreduce, AllreduceGemm, any_made
from theanine.rewriting.basic import node_rewriter
from theanine.rewriting.patterns import elemwise_of, scalar_constant, scalar_op_of
from theanine.rewriting.specialize import as_scalar, scaled_term, times
from theanine.scalar import basic as ps
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.math import Dot
from theanine.tensor.sharedvar import SharedVariable

#: the smallest weight (bytes) whose update becomes an AllreduceGemm
MIN_BYTES = 512 << 10


@node_rewriter([Elemwise])
def allreduce_of_dot_to_gemm(fgraph, node):
    """z ± a * allreduce_sum(dot(x, y)) (also -allreduce(...) and allreduce(...) / c) →
    AllreduceGemm(z, ±a, x, y), for a large shared z."""
    if not any_made():
        return None
    op = scalar_op_of(node)
    if op not in (ps.add, ps.sub):
        return None
    out = node.outputs[0]
    if out.ndim != 2 or out.dtype not in ("float32", "float64"):
        return None
    a, b = node.inputs
    sign = -1.0 if op == ps.sub else 1.0
    for z, t in [(a, b)] if op == ps.sub else [(a, b), (b, a)]:
        term = _reduced_product(fgraph, t)
        if term is None or z.type != out.type or not _large(z):
            continue
        alpha, x, y = term
        if x.dtype == y.dtype == out.dtype:
            return [AllreduceGemm()(z, as_scalar(times(sign, alpha), out.dtype), x, y)]
    return None


def _reduced_product(fgraph, t) -> tuple[Any, Any, Any] | None:
    """(alpha, x, y) if t is alpha * allreduce_sum(dot(x, y)) (or its negation, or it divided
    by a constant scalar) of two matrices, with the allreduce and the dot used only there."""
    alpha, t = scaled_term(t)
    alpha = 1.0 if alpha is None else alpha
    div = elemwise_of(t, ps.true_div)
    if div is not None:
        c = scalar_constant(div[1])
        if isinstance(c, bool) or not isinstance(c, float | int) or c == 0 \
                or not all(div[1].broadcastable):
            return None
        t, alpha = div[0], times(alpha, 1.0 / c)
    node = t.owner
    if node is None or not isinstance(node.op, Allreduce) or node.op.op != "sum" \
            or len(node.inputs) != 1 or len(fgraph.clients.get(t, ())) != 1:
        return None
    g = node.inputs[0]
    product = g.owner
    if product is None or not isinstance(product.op, Dot) \
            or len(fgraph.clients.get(g, ())) != 1:
        return None
    x, y = product.inputs
    return (alpha, x, y) if x.ndim == 2 and y.ndim == 2 else None


def _large(z) -> bool:
    if not isinstance(z, SharedVariable):
        return False
    value = z.get_value(borrow=True, return_internal_type=True)
    return getattr(value, "nbytes", 0) >= MIN_BYTES
