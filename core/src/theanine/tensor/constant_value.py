"""Theano's `get_scalar_constant_value`: the one value a tensor variable is proven to have in
every element, found by reading the graph, never by running it.

What is looked through, as in Theano 1.0: constants (0-d, or any shape whose elements are all
equal), the value-preserving Ops (`DimShuffle`, `Alloc`/`fill`, `Rebroadcast`, `SpecifyShape`,
`Contiguous` and the gradient-only identities such as `zero_grad`), the elementwise arithmetic,
comparisons, `switch` and casts of such values (`elemwise=True`), shapes (`x.shape[i]` and
`ExtentOf`, theanine's `Shape_i`) where dimension `i` is broadcastable, of a constant, of an
`alloc` or promised by `specify_shape`, and one entry of a `MakeVector`, `stack`/`join` of
scalars or a constant picked by a constant index.  Anything else raises
`NotScalarConstantError`.  `rewriting.patterns.scalar_constant` (what the rewrites use) shares
`unique_value`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Constant
from theanine.scalar import basic as ps
from theanine.tensor.basic import (
    Alloc,
    Contiguous,
    ExtentOf,
    MakeVector,
    Rebroadcast,
    SameExtent,
    Shape,
)
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.join import Join
from theanine.tensor.shape_ops import SpecifyShape
from theanine.tensor.subtensor import AdvancedSubtensor, Subtensor, _build_index


class NotScalarConstantError(Exception):
    """Raised by `get_scalar_constant_value` when a variable cannot be shown to be one
    constant value (Theano's exception of that name)."""


class EmptyConstantError(NotScalarConstantError):
    """The constant has no elements, so no value (Theano's)."""


#: the scalar ops `get_scalar_constant_value` computes on constants (Theano's
#: `get_scalar_constant_value_elemwises`; casts, and so `tensor_copy`, by class)
_ELEMWISE_OPS = frozenset({"add", "sub", "mul", "true_div", "int_div", "mod", "minimum",
                           "maximum", "lt", "gt", "le", "ge", "eq", "neq", "switch"})

#: Ops whose output is their first input's value (views, checks, gradient-only identities)
_VALUE_IDENTITIES = (DimShuffle, Alloc, Rebroadcast, SpecifyShape, Contiguous)


def unique_value(data: Any) -> np.ndarray | None:
    """The one value every element of the numeric array `data` has, as a 0-d array of its
    dtype; None when it is empty, not numeric or holds several values (NaN differs from
    itself, as in Theano)."""
    data = np.asarray(data)
    if data.dtype.kind not in "biufc" or data.size == 0:
        return None
    first = data.flat[0]
    if data.size > 1 and not np.all(data == first):
        return None
    return np.array(first, dtype=data.dtype)


def get_scalar_constant_value(v: Any, elemwise: bool = True,
                              only_process_constants: bool = False,
                              max_recur: int = 10) -> np.ndarray:
    """The value of `v` as a 0-d NumPy array, if the graph proves every element of `v` is that
    one constant; else raise `NotScalarConstantError` (`EmptyConstantError` for a constant
    without elements).

    `v` may also be a Python or NumPy number or array.  `elemwise=False` does not compute
    elementwise operations of constants; `only_process_constants=True` looks at no Op at all;
    `max_recur` bounds the number of Ops looked through.
    """
    try:
        return _value(v, elemwise, only_process_constants, [max_recur])
    except NotScalarConstantError as exc:
        if str(exc).startswith(f"{v} "):
            raise
        raise type(exc)(f"{v} is not a scalar constant: {exc}") from None


def _not_constant(v: Any, why: str = "") -> NotScalarConstantError:
    return NotScalarConstantError(f"{v} is not a scalar constant{why}")


def _of_data(data: Any, v: Any) -> np.ndarray:
    data = np.asarray(data)
    if data.dtype.kind in "biufc" and data.size == 0:
        raise EmptyConstantError(f"{v} is an empty constant")
    value = unique_value(data)
    if value is None:
        raise _not_constant(v, f" (its dtype {data.dtype} is not numeric)"
                            if data.dtype.kind not in "biufc" else
                            f" (its {data.size} elements are not all equal)")
    return value


def _step(budget: list[int], v: Any) -> None:
    """Spend one of the Ops `max_recur` allows looking through."""
    if budget[0] <= 0:
        raise _not_constant(v, " (max_recur reached)")
    budget[0] -= 1


def _value(v: Any, elemwise: bool, only_constants: bool, budget: list[int]) -> np.ndarray:
    while True:
        if v is None:
            raise NotScalarConstantError("None is not a scalar constant")
        if isinstance(v, bool | int | float | complex | np.number | np.bool_ | np.ndarray):
            return _of_data(v, v)
        if isinstance(v, Constant):
            return _of_data(v.data, v)
        node = getattr(v, "owner", None)
        if only_constants or node is None:
            raise _not_constant(v)
        _step(budget, v)
        op = node.op
        if isinstance(op, _VALUE_IDENTITIES) or getattr(op, "gradient_only", False):
            v = node.inputs[0]
            continue
        if isinstance(op, Elemwise):
            sop = op.scalar_op
            computed = isinstance(sop, ps.Cast) or getattr(sop, "name", None) in _ELEMWISE_OPS
            if not elemwise or not computed or len(node.outputs) != 1:
                raise _not_constant(v, f" ({op} is not computed on constants here)")
            args = [_value(i, elemwise, only_constants, budget) for i in node.inputs]
            with np.errstate(all="ignore"):
                return np.array(sop.impl(*args), dtype=v.dtype)
        if isinstance(op, ExtentOf):
            return _extent_of_any(list(zip(node.inputs, op.dims)), v, elemwise, budget)
        if isinstance(op, SameExtent):  # the value of any input (it checks they are equal)
            for e in node.inputs:
                try:
                    return _value(e, elemwise, only_constants, budget)
                except NotScalarConstantError:
                    pass
            raise _not_constant(v)
        if isinstance(op, Subtensor) and not isinstance(op, AdvancedSubtensor):
            return _subtensor_value(v, elemwise, budget)
        raise _not_constant(v, f" ({op} is not looked through)")


def _int(v: Any, elemwise: bool, budget: list[int]) -> int:
    value = _value(v, elemwise, False, budget)
    if value.dtype.kind not in "iu":
        raise _not_constant(v, " (not an integer)")
    return int(value)


def _extent(x: Any, d: int, elemwise: bool, budget: list[int]) -> int:
    """The length of dimension `d` of `x` when the graph fixes it."""
    if not 0 <= d < x.ndim:
        raise _not_constant(x, f" (no dimension {d} in a tensor of rank {x.ndim})")
    if x.broadcastable[d]:
        return 1
    if isinstance(x, Constant):
        return int(np.shape(x.data)[d])
    node = x.owner
    if node is not None:
        _step(budget, x)
        if isinstance(node.op, SpecifyShape):
            return int(_element(node.inputs[1], d, elemwise, budget))
        if isinstance(node.op, Alloc):
            return _int(node.inputs[1 + d], elemwise, budget)
        if isinstance(node.op, MakeVector):
            return len(node.inputs)
        if isinstance(node.op, DimShuffle) and node.op.new_order[d] != "x":
            return _extent(node.inputs[0], node.op.new_order[d], elemwise, budget)
        if isinstance(node.op, Join) and node.op.axis == d:
            return sum(_extent(p, d, elemwise, budget) for p in node.inputs)
        if isinstance(node.op, Rebroadcast | Contiguous) or getattr(node.op, "gradient_only",
                                                                   False):
            return _extent(node.inputs[0], d, elemwise, budget)
    raise _not_constant(x, f" (the length of its dimension {d} is not fixed by the graph)")


def _extent_of_any(pairs: list, v: Any, elemwise: bool, budget: list[int]) -> np.ndarray:
    """`ExtentOf`: the first fixed length among its (array, dimension) pairs (it checks they
    are equal)."""
    for x, d in pairs:
        try:
            return np.array(_extent(x, d, elemwise, budget), dtype="int64")
        except NotScalarConstantError:
            pass
    raise _not_constant(v)


def _element(vec: Any, j: int, elemwise: bool, budget: list[int]) -> np.ndarray:
    """Entry `j` of the vector `vec`, in `vec`'s dtype."""
    if isinstance(vec, Constant):
        try:
            return np.array(np.asarray(vec.data)[j])
        except IndexError:
            raise _not_constant(vec, f" (no entry {j})") from None
    node = vec.owner
    if node is not None:
        op = node.op
        if isinstance(op, MakeVector):
            _step(budget, vec)
            if not -len(node.inputs) <= j < len(node.inputs):
                raise _not_constant(vec, f" (no entry {j})")
            return np.array(_value(node.inputs[j], elemwise, False, budget), dtype=vec.dtype)
        if isinstance(op, Shape):
            _step(budget, vec)
            x = node.inputs[0]
            return np.array(_extent(x, j + x.ndim if j < 0 else j, elemwise, budget),
                            dtype="int64")
        if isinstance(op, Join) and op.axis == 0:
            _step(budget, vec)
            return np.array(_joined_element(node.inputs, j, vec, elemwise, budget),
                            dtype=vec.dtype)
        if isinstance(op, DimShuffle) and op.new_order == ("x",) and j in (0, -1):
            _step(budget, vec)
            return _value(node.inputs[0], elemwise, False, budget)
        if isinstance(op, Rebroadcast | SpecifyShape | Contiguous) \
                or getattr(op, "gradient_only", False):
            _step(budget, vec)
            return _element(node.inputs[0], j, elemwise, budget)
    return _value(vec, elemwise, False, budget)  # every entry is one value


def _joined_element(pieces: list, j: int, vec: Any, elemwise: bool, budget: list[int]
                    ) -> np.ndarray:
    lengths = []
    for p in pieces:
        try:
            lengths.append(_extent(p, 0, elemwise, budget))
        except NotScalarConstantError:
            lengths.append(None)
            if j < 0:
                raise
    if j < 0:
        j += sum(lengths)
    start = 0
    for p, n in zip(pieces, lengths):
        if n is None:
            break
        if start <= j < start + n:
            return _element(p, j - start, elemwise, budget)
        start += n
    raise _not_constant(vec, f" (entry {j} is not found in the joined pieces)")


def _subtensor_value(v: Any, elemwise: bool, budget: list[int]) -> np.ndarray:
    node = v.owner
    base, *idx = node.inputs
    index = _build_index(node.op.idx_list, [_value(i, elemwise, False, budget) for i in idx])
    if isinstance(base, Constant):
        try:
            picked = np.asarray(base.data)[index]
        except IndexError:
            raise _not_constant(v, " (the index is out of range)") from None
        return _of_data(picked, v)
    if v.ndim == 0 and base.ndim == 1 and len(index) == 1 \
            and isinstance(index[0], int) and not isinstance(index[0], bool):
        return np.array(_element(base, index[0], elemwise, budget), dtype=v.dtype)
    if v.ndim == 0:  # one entry of a tensor whose entries are all one value
        return np.array(_value(base, elemwise, False, budget), dtype=v.dtype)
    raise _not_constant(v)
