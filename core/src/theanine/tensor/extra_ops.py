"""Cumulative sums and products along an axis (Theano's `extra_ops.cumsum/cumprod`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, flatten, reshape
from theanine.tensor.math import _cj, _grad_for
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def _accumulate_dtype(dtype: str) -> str:
    """NumPy's: small integers and booleans accumulate in the platform integer, as `sum`."""
    dt = np.dtype(dtype)
    if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < np.dtype(np.int_).itemsize):
        return "uint64" if dt.kind == "u" else "int64"
    return dtype


class CumOp(Op):
    """Running sum (`mode='add'`) or product (`mode='mul'`) along `axis` (None: over the
    flattened input, giving a vector), as `numpy.cumsum` / `numpy.cumprod`."""

    __props__ = ("axis", "mode")

    def __init__(self, axis: int | None, mode: str):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp mode must be 'add' or 'mul', got {mode!r}")
        self.axis = axis
        self.mode = mode

    def __str__(self) -> str:
        return f"Cum{'sum' if self.mode == 'add' else 'prod'}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is None:
            bcast: tuple[bool, ...] = (False,)
        else:
            if not 0 <= self.axis < x.ndim:
                raise ValueError(f"{self}: no axis {self.axis} in {x}, which has {x.ndim} "
                                 "dimension(s)")
            bcast = x.broadcastable
        return Apply(self, [x], [TensorType(_accumulate_dtype(x.dtype), bcast)()])

    def perform(self, node, inputs, output_storage):
        fn = np.cumsum if self.mode == "add" else np.cumprod
        output_storage[0][0] = fn(inputs[0], axis=self.axis, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None]
        xf = flatten(x) if self.axis is None else x
        axis = 0 if self.axis is None else self.axis
        if self.mode == "add":
            # every input entry feeds the outputs at and after it: a reversed running sum
            g = _reverse(cumsum(_reverse(gz, axis), axis), axis)
        else:
            # d out_j / d x_i = out_j / x_i for j >= i (Theano's rule: undefined where x is 0)
            g = _reverse(cumsum(_reverse(gz * _cj(outputs[0]), axis), axis), axis) / _cj(xf)
        if self.axis is None:
            g = reshape(g, x.shape, ndim=x.ndim)
        return [_grad_for(g, x)]

    def infer_shape(self, fgraph, node, input_shapes):
        (shp,) = input_shapes
        if self.axis is None:
            size: Any = 1
            for s in shp:
                size = size * s
            return [(size,)]
        return [shp]


def _reverse(v: Variable, axis: int) -> TensorVariable:
    index = [slice(None)] * v.ndim
    index[axis] = slice(None, None, -1)
    return v[tuple(index)]


def _cum(x: Any, axis: int | None, mode: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if axis is not None:
        if isinstance(axis, Variable) or not isinstance(axis, int | np.integer):
            raise TypeError(f"cumulative ops take axis=None or a Python int, got {axis!r}")
        if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
            raise ValueError(f"axis {axis} is out of range for {x}, which has {x.ndim} "
                             "dimension(s)")
        if x.ndim == 0:
            axis = None  # NumPy accepts axis 0 of a scalar and returns a vector
        else:
            axis = int(axis) % x.ndim
    return CumOp(axis, mode)(x)


def cumsum(x: Any, axis: int | None = None) -> TensorVariable:
    """Cumulative sum along `axis` (None: of the flattened tensor)."""
    return _cum(x, axis, "add")


def cumprod(x: Any, axis: int | None = None) -> TensorVariable:
    """Cumulative product along `axis` (None: of the flattened tensor)."""
    return _cum(x, axis, "mul")
