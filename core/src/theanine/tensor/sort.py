"""Sorting: `sort` and `argsort` along one axis (NumPy's semantics and kinds)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import arange, as_tensor_variable
from theanine.tensor.shape_ops import normalize_axis
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

KINDS = ("quicksort", "mergesort", "heapsort", "stable")


class _SortBase(Op):
    __props__ = ("axis", "kind")

    def __init__(self, axis: int, kind: str = "quicksort"):
        if kind not in KINDS:
            raise ValueError(f"sort kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.axis = int(axis)
        self.kind = kind

    def _check(self, x: Any) -> TensorVariable:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"{type(self).__name__}: {x} is a scalar; sort along an axis of a "
                            "tensor (axis=None sorts the flattened tensor)")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{type(self).__name__}: axis {self.axis} is out of range for "
                             f"{x} ({x.type})")
        if x.dtype[0] == "c":
            raise TypeError(f"{type(self).__name__}: cannot sort the complex tensor {x}")
        return x

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


class Sort(_SortBase):
    """The entries of `x` sorted along `axis`."""

    def make_node(self, x: Any) -> Apply:
        x = self._check(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.sort(inputs[0], axis=self.axis, kind=self.kind)

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None]
        # sorted = take_along_axis(x, order); so x = take_along_axis(sorted, inverse order).
        order = ArgSort(self.axis, self.kind)(x)
        inverse = ArgSort(self.axis, "stable")(order)
        return [take_along_axis(gz, inverse, self.axis)]


class ArgSort(_SortBase):
    """The int64 indices that sort `x` along `axis`."""

    def make_node(self, x: Any) -> Apply:
        x = self._check(x)
        return Apply(self, [x], [TensorType("int64", x.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.argsort(inputs[0], axis=self.axis,
                                          kind=self.kind).astype("int64", copy=False)

    def grad(self, inputs, output_grads):
        return [None]  # piecewise constant: no gradient flows, as for argmax


def take_along_axis(x: TensorVariable, indices: TensorVariable, axis: int) -> TensorVariable:
    """`numpy.take_along_axis` for `indices` of x's shape, as advanced indexing."""
    index: list[Any] = []
    for d in range(x.ndim):
        if d == axis:
            index.append(indices)
        else:
            pattern: list[Any] = ["x"] * x.ndim
            pattern[d] = 0
            index.append(arange(x.shape[d]).dimshuffle(pattern))
    return x[tuple(index)]


def _prepare(a: Any, axis: int | None, order: Any, what: str) -> tuple[TensorVariable, int]:
    if order is not None:
        raise NotImplementedError(f"{what}: order= (structured arrays) is not supported")
    a = as_tensor_variable(a)
    if axis is None:
        return a.flatten(), 0
    return a, normalize_axis(axis, a.ndim, what)


def sort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None
         ) -> TensorVariable:
    """`a` sorted along `axis` (None: the flattened `a`)."""
    a, axis = _prepare(a, axis, order, "sort")
    return Sort(axis, kind)(a)


def argsort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None
            ) -> TensorVariable:
    """The indices that sort `a` along `axis` (None: the flattened `a`)."""
    a, axis = _prepare(a, axis, order, "argsort")
    return ArgSort(axis, kind)(a)
