"""Locating entries: `nonzero`, `flatnonzero`, `nonzero_values`, `searchsorted` and
`diagonal`, as in Theano's `tensor` module and its variables' methods.

The nonzero family is built from a boolean mask over positions (`compress`'s way) and
`unravel_index`, so it runs natively where those do and has a gradient where indexing has
one; only `searchsorted` needs an Op of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor import math as tm
from theanine.tensor.basic import arange, as_tensor_variable, flatten, stack
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def flatnonzero(a: Any) -> TensorVariable:
    """`numpy.flatnonzero`: the int64 positions of the non-zero entries of `a` flattened."""
    a = as_tensor_variable(a)
    flat = flatten(a)
    return tm.cast(arange(flat.shape[0])[tm.neq(flat, 0)], "int64")


def nonzero(a: Any, return_matrix: bool = False) -> Any:
    """`numpy.nonzero`: a tuple of int64 vectors, one per dimension of `a`, the coordinates of
    its non-zero entries in row-major order; `return_matrix`: one (ndim, count) matrix."""
    from theanine.tensor.extra_ops import unravel_index

    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError(f"nonzero: {a} is a scalar; numpy.nonzero does not take 0-d "
                         "values either (use a vector)")
    coords = unravel_index(flatnonzero(a), a.shape, ndim=a.ndim)
    return stack(list(coords)) if return_matrix else coords


def nonzero_values(a: Any) -> TensorVariable:
    """The non-zero entries of `a` flattened, in row-major order (`a[a.nonzero()]`)."""
    a = as_tensor_variable(a)
    flat = flatten(a)
    return flat[tm.neq(flat, 0)]


class SearchSorted(Op):
    """`numpy.searchsorted`: for each entry of `v`, the int64 position where it would go in the
    sorted vector `x` ('left': before equal entries, 'right': after them); `sorter`, when
    given, is the permutation that sorts `x`."""

    __props__ = ("side",)

    def __init__(self, side: str = "left"):
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        self.side = side

    def make_node(self, x: Any, v: Any, *sorter: Any) -> Apply:
        x, v = as_tensor_variable(x), as_tensor_variable(v)
        if x.ndim != 1:
            raise TypeError(f"searchsorted: {x} must be a vector, got {x.type}")
        inputs = [x, v]
        for s in sorter:
            s = as_tensor_variable(s)
            if s.ndim != 1 or s.dtype[0] not in "iu":
                raise TypeError(f"searchsorted: sorter {s} must be an integer vector, got "
                                f"{s.type}")
            inputs.append(s)
        return Apply(self, inputs, [TensorType("int64", v.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        x, v, *sorter = inputs
        if sorter and sorter[0].shape != x.shape:
            raise ValueError(f"searchsorted: sorter {node.inputs[2]} has shape "
                             f"{sorter[0].shape}, {node.inputs[0]} has shape {x.shape}")
        try:
            found = np.searchsorted(x, v, side=self.side, sorter=sorter[0] if sorter else None)
        except ValueError as exc:
            raise ValueError(f"searchsorted in {node.inputs[0]}: {exc}") from None
        output_storage[0][0] = np.asarray(found, dtype="int64")

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]


def searchsorted(x: Any, v: Any, side: str = "left", sorter: Any = None) -> TensorVariable:
    """`numpy.searchsorted` (Theano's `extra_ops.searchsorted`)."""
    return SearchSorted(side)(x, v, *(() if sorter is None else (sorter,)))


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> TensorVariable:
    """`numpy.diagonal`: the `offset`-th diagonal of the planes spanned by `axis1` and
    `axis2`, those axes removed and the diagonal appended as the last one."""
    from theanine.tensor.nlinalg import extract_diag
    from theanine.tensor.shape_ops import normalize_axis

    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal: {a} must have at least 2 dimensions, got {a.type}")
    axis1, axis2 = (normalize_axis(ax, a.ndim, "diagonal") for ax in (axis1, axis2))
    if axis1 == axis2:
        raise ValueError(f"diagonal: axis1 and axis2 cannot be the same, got {axis1} twice")
    offset = int(offset)
    if a.ndim == 2:
        return extract_diag(a if axis1 < axis2 else a.T, offset)
    rest = [d for d in range(a.ndim) if d not in (axis1, axis2)]
    planes = a.dimshuffle(*rest, axis1, axis2)
    rows, cols = planes.shape[a.ndim - 2], planes.shape[a.ndim - 1]
    length = tm.maximum(tm.minimum(rows - max(-offset, 0), cols - max(offset, 0)), 0)
    steps = arange(length)
    return planes[(slice(None),) * len(rest) + (steps + max(-offset, 0), steps + max(offset, 0))]
