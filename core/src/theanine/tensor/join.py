"""Joining tensors: `concatenate` / `join` along an existing axis, `stack` along a new one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.elemwise import bind_weak_literals
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


class Join(Op):
    """Concatenate tensors of equal rank along `axis`."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = axis

    def make_node(self, *tensors: Any) -> Apply:
        from theanine.tensor.math import cast

        ts = [as_tensor_variable(t) for t in tensors]
        if not ts:
            raise ValueError("join needs at least one tensor")
        ndim = ts[0].ndim
        if ndim == 0 or any(t.ndim != ndim for t in ts):
            raise TypeError("join takes tensors of one rank (at least 1), got "
                            + ", ".join(str(t.type) for t in ts))
        if not 0 <= self.axis < ndim:
            raise ValueError(f"join axis {self.axis} out of range for rank {ndim}")
        dtype = str(np.result_type(*[np.dtype(t.dtype) for t in ts]))
        ts = [cast(t, dtype) for t in ts]
        bcast = tuple(False if d == self.axis else all(t.broadcastable[d] for t in ts)
                      for d in range(ndim))
        if len(ts) == 1:
            bcast = ts[0].broadcastable
        return Apply(self, ts, [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        try:
            output_storage[0][0] = np.concatenate(inputs, axis=self.axis)
        except ValueError as exc:
            shapes = ", ".join(f"{v} {i.shape}" for v, i in zip(node.inputs, inputs))
            raise ValueError(f"join along axis {self.axis}: {exc} (inputs: {shapes})") from None

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        grads = []
        start = 0
        for t in inputs:
            stop = start + t.shape[self.axis]
            index = [slice(None)] * t.ndim
            index[self.axis] = slice(start, stop)
            g = gz[tuple(index)]
            grads.append(g if t.dtype[0] in "fc" else None)
            start = stop
        return grads

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.basic import same_extent

        total = input_shapes[0][self.axis]
        for s in input_shapes[1:]:
            total = total + s[self.axis]
        out = list(input_shapes[0])
        out[self.axis] = total
        if len(input_shapes) > 1:  # the join refuses other lengths elsewhere: so must its shape
            for d in range(len(out)):
                if d != self.axis:
                    out[d] = same_extent([s[d] for s in input_shapes], f"{self} dimension {d}")
        return [tuple(out)]


def _axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for tensors of rank {ndim}")
    return axis % ndim


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    """Join tensors of one rank along the existing axis `axis` (negative counts from the end)."""
    ts = [as_tensor_variable(t) for t in tensors]
    ndim = ts[0].ndim if ts else 0
    return Join(_axis(axis, ndim, "concatenate") if ndim else axis)(*ts)


def join(axis: int, *tensors: Any) -> TensorVariable:
    """Theano's argument order: `join(axis, *tensors)`."""
    return concatenate(tensors, axis=axis)


def stack(*tensors: Any, axis: int = 0, **kwargs: Any) -> TensorVariable:
    """Stack tensors of one shape along a new axis `axis`.

    Both of Theano's forms: `stack([x, y], axis)` and the older `stack(x, y, z)`.
    """
    if "tensors" in kwargs:
        if tensors:
            raise TypeError("stack: the tensors were given both positionally and as tensors=")
        tensors = (kwargs.pop("tensors"),)
    if kwargs:
        raise TypeError(f"stack got unexpected keyword argument(s) {sorted(kwargs)}")
    if tensors and isinstance(tensors[0], list | tuple):
        if len(tensors) > 2:
            raise TypeError("stack(tensors, axis) takes a list of tensors and an axis, got "
                            f"{len(tensors)} positional arguments")
        if len(tensors) == 2:
            axis = tensors[1]
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ts = bind_weak_literals(list(tensors), "stack")  # T.stack([x_f32, 0]) stays float32
    ndim = ts[0].ndim + 1
    axis = _axis(axis, ndim, "stack")
    expanded = [t.dimshuffle(*(list(range(axis)) + ["x"] + list(range(axis, t.ndim))))
                for t in ts]
    return Join(axis)(*expanded)


def horizontal_stack(*args: Any) -> TensorVariable:
    """Theano's: matrices side by side (joined along axis 1)."""
    return concatenate(args, axis=1)


def vertical_stack(*args: Any) -> TensorVariable:
    """Theano's: matrices one above the other (joined along axis 0)."""
    return concatenate(args, axis=0)


def roll(x: Any, shift: Any, axis: int | None = None) -> TensorVariable:
    """`numpy.roll`: entries of `x` shifted by `shift` (an int or an integer scalar variable)
    along `axis`, wrapping around; `axis=None` rolls the flattened `x` and restores its
    shape."""
    from theanine.tensor.shape_ops import normalize_axis

    x = as_tensor_variable(x)
    if axis is None:
        if x.ndim == 1:
            return roll(x, shift, 0)
        return roll(x.flatten(), shift, 0).reshape(x.shape, ndim=x.ndim)
    axis = normalize_axis(axis, x.ndim, "roll")
    shift = as_tensor_variable(shift)
    if shift.ndim != 0 or shift.dtype[0] not in "iu":
        raise TypeError(f"roll: shift must be an integer scalar, got {shift} ({shift.type})")
    # the last `s` entries move to the front: x[n - s:] then x[:n - s]
    n = x.shape[axis]
    cut = n - shift % n
    before = (slice(None),) * axis
    return Join(axis)(x[before + (slice(cut, None),)], x[before + (slice(None, cut),)])
