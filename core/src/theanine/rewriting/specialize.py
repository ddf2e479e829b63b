"""Specialization: cheaper forms of the same computation.

x**2 → sqr(x);  x**n (small integer n) → multiplications;  x**0.5 → sqrt(x);  x**-1 → 1/x;
x**0 → 1.
"""

from __future__ import annotations

from theanine.rewriting.basic import node_rewriter
from theanine.rewriting.patterns import same_type_or_none, scalar_constant, scalar_op_of
from theanine.scalar import basic as ps
from theanine.tensor import math as tm
from theanine.tensor.basic import fill
from theanine.tensor.elemwise import Elemwise

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


SPECIALIZE = (specialize_pow,)
