"""Small pattern-matching helpers shared by the standard rewrites."""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Constant, Variable
from theanine.scalar.basic import ScalarOp
from theanine.tensor.basic import Alloc
from theanine.tensor.constant_value import unique_value
from theanine.tensor.elemwise import DimShuffle, Elemwise


def scalar_constant(v: Variable) -> float | int | bool | None:
    """The value of `v` if it is a constant whose every element is that one value (looking
    through broadcasting DimShuffles and Allocs of constants), else None."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle | Alloc):
        v = v.owner.inputs[0]
    if not isinstance(v, Constant):
        return None
    value = unique_value(v.data)
    return None if value is None else value.item()


def is_constant_value(v: Variable, value: float) -> bool:
    c = scalar_constant(v)
    return c is not None and c == value


def elemwise_of(v: Variable, scalar_op: ScalarOp) -> list[Variable] | None:
    """The inputs of `v`'s node if it is `Elemwise(scalar_op)`, else None."""
    node = v.owner
    if node is not None and isinstance(node.op, Elemwise) and node.op.scalar_op == scalar_op:
        return node.inputs
    return None


def scalar_op_of(node: Any) -> ScalarOp | None:
    return node.op.scalar_op if isinstance(node.op, Elemwise) else None


def same_type_or_none(old: Variable, new: Variable) -> Variable | None:
    """`new` if it can stand for `old` (same dtype and rank, broadcasting no wider), else None."""
    ot, nt = old.type, new.type
    if ot == nt:
        return new
    if getattr(ot, "dtype", None) != getattr(nt, "dtype", None) or ot.ndim != nt.ndim:
        return None
    # new may not be broadcastable where old is not (that would change the output's shape)
    if all(o or not n for o, n in zip(ot.broadcastable, nt.broadcastable)):
        return new
    return None
