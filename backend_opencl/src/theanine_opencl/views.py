"""Views and shape Ops on device arrays: new metadata (shape, strides, offset) over the same
buffer, as NumPy makes them on the host; no kernel runs, nothing crosses the bus.

Basic indexing reuses NumPy's own rules: the index is applied to a zero-size-buffer stand-in
with the device array's shape and strides (basic indexing never reads memory), and the
stand-in's result gives the view's shape, strides and offset, with NumPy's errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unsupported
from theanine.graph.basic import Apply
from theanine_opencl.layout import broadcast_copy, contiguous
from theanine_opencl.plan import DevicePlan
from theanine_opencl.runtime import Runtime


def view(x: Any, shape: tuple[int, ...], strides: tuple[int, ...], offset: int) -> Any:
    """A device array over x's buffer: byte `strides`, byte `offset` from x's first element
    (pyopencl's fast constructor: the view's geometry comes from NumPy's rules already)."""
    import pyopencl.array as cla

    if x.base_data is None:  # x is empty: so is every view of it
        return cla.empty(x.queue, shape, x.dtype, allocator=x.allocator)
    shape = tuple(int(n) for n in shape)
    size = 1
    for n in shape:
        size *= n
    return cla.Array(None, shape, x.dtype, strides=tuple(int(s) for s in strides),
                     data=x.base_data, offset=x.offset + offset, allocator=x.allocator,
                     _fast=True, _size=size, _context=x.context, _queue=x.queue)


def _plan(make: Any, host_inputs: frozenset[int] = frozenset(),
          host_outputs: frozenset[int] = frozenset()) -> DevicePlan:
    return DevicePlan(lambda rt: make, host_inputs, "view", host_outputs)


def dimshuffle_plan(node: Apply) -> DevicePlan:
    op = node.op
    order, drop = op.new_order, op.drop

    def thunk(x: Any) -> list[Any]:
        for d in drop:
            if x.shape[d] != 1:
                raise ValueError(f"{op}: cannot drop dimension {d} of {node.inputs[0]}, whose "
                                 f"extent is {x.shape[d]}, not 1 (shape {x.shape})")
        shape = tuple(1 if d == "x" else x.shape[d] for d in order)
        strides = tuple(0 if d == "x" else x.strides[d] for d in order)
        return [view(x, shape, strides, 0)]

    return _plan(thunk)


def subtensor_view_plan(node: Apply) -> DevicePlan:
    """Basic indexing (slices, integer scalars, newaxis, ellipsis) as a view."""
    from theanine.tensor.subtensor import ELLIPSIS, _build_index

    op = node.op
    if any(getattr(i.type, "ndim", 0) > 0 for i in node.inputs[1:]):
        raise Unsupported("advanced indexing (an index array) is not a view")
    tail = () if ELLIPSIS in op.idx_list else (Ellipsis,)  # an ellipsis keeps 0-d arrays
    n_idx = len(node.inputs) - 1

    def thunk(x: Any, *idx: Any) -> list[Any]:
        index = _build_index(op.idx_list, [np.asarray(i) for i in idx]) + tail
        stand_in = np.lib.stride_tricks.as_strided(np.zeros(1, x.dtype), x.shape, x.strides)
        try:
            sel = stand_in[index]
        except IndexError as exc:
            raise IndexError(f"{exc}: indexing {node.inputs[0]} of shape {x.shape}") from None
        offset = sel.__array_interface__["data"][0] - stand_in.__array_interface__["data"][0]
        return [view(x, sel.shape, sel.strides, offset)]

    return _plan(thunk, frozenset(range(1, 1 + n_idx)))


def reshape_plan(node: Apply) -> DevicePlan:
    op = node.op

    def thunk(x: Any, shp: Any) -> list[Any]:
        if len(shp) != op.ndim:
            raise ValueError(f"reshape expected a shape of length {op.ndim}, got {list(shp)}")
        shape = [int(s) for s in shp]
        if shape.count(-1) == 1:
            known = int(np.prod([s for s in shape if s != -1]))
            if known and x.size % known == 0:
                shape[shape.index(-1)] = x.size // known
        if int(np.prod(shape)) != x.size or any(s < 0 for s in shape):
            raise ValueError(f"cannot reshape {node.inputs[0]} of shape {x.shape} to "
                             f"{tuple(int(s) for s in shp)}: cannot reshape array of size "
                             f"{x.size} into shape {tuple(int(s) for s in shp)}")
        x = contiguous(x)
        strides, step = [], x.dtype.itemsize
        for s in reversed(shape):
            strides.append(step)
            step *= max(s, 1)
        return [view(x, tuple(shape), tuple(reversed(strides)), 0)]

    return _plan(thunk, frozenset({1}))


def rebroadcast_plan(node: Apply) -> DevicePlan:
    op = node.op
    want = op.broadcastable

    def thunk(x: Any) -> list[Any]:
        for d, b in enumerate(want):
            if b and x.shape[d] != 1:
                raise ValueError(f"{op}: dimension {d} of {node.inputs[0]} should be "
                                 f"broadcastable (extent 1) but has extent {x.shape[d]}")
        return [x]

    return _plan(thunk)


def shape_plan(node: Apply) -> DevicePlan:
    """The shape of a device array, read from its metadata, as a host vector."""
    return _plan(lambda x: [np.array(x.shape, dtype="int64")], host_outputs=frozenset({0}))


def extent_plan(node: Apply) -> DevicePlan:
    """Shape entries of device arrays (`ExtentOf`), read from their metadata, as a host
    scalar."""
    read = node.op.python_thunk(node)
    return _plan(lambda *xs: list(read(*xs)), host_outputs=frozenset({0}))


def contiguous_plan(node: Apply) -> DevicePlan:
    return DevicePlan(lambda rt: (lambda x: [contiguous(x)]))


def alloc_plan(node: Apply) -> DevicePlan:
    """`alloc(value, *shape)`: the value broadcast into a new array of that shape."""
    out_bcast = node.outputs[0].type.broadcastable
    value_var = node.inputs[0]
    n_shape = len(node.inputs) - 1

    def make(rt: Runtime) -> Any:
        def thunk(value: Any, *shp: Any) -> list[Any]:
            shape = tuple(int(s) for s in shp)
            lead = len(shape) - value.ndim
            for n, m in zip(value.shape, shape[lead:]):
                if n != m and n != 1:
                    raise ValueError(f"alloc: cannot broadcast {value_var} of shape "
                                     f"{value.shape} to shape {shape}")
            for d, b in enumerate(out_bcast):
                if b and shape[d] != 1:
                    raise ValueError(f"alloc: dimension {d} is broadcastable in the result "
                                     f"type but its extent is {shape[d]}")
            return [broadcast_copy(value, shape)]

        return thunk

    return DevicePlan(make, frozenset(range(1, 1 + n_shape)))


def indexed_shape_plan(node: Apply) -> DevicePlan:
    """The shape `x[index]` would have: index arrays matter only by their shape, so they may
    stay on the device; scalar indices (slice bounds, integers) are read on the host."""
    from theanine.tensor.subtensor import _build_index, _selection_shape

    op = node.op
    scalars = frozenset(k for k, v in enumerate(node.inputs) if k == 0 or v.type.ndim == 0)

    def thunk(shp: Any, *idx: Any) -> list[Any]:
        stand_ins = [np.asarray(v) if k + 1 in scalars else np.zeros(v.shape, np.int64)
                     for k, v in enumerate(idx)]
        out = _selection_shape(tuple(int(s) for s in shp), _build_index(op.idx_list, stand_ins))
        return [np.asarray(out, dtype="int64")]

    return _plan(thunk, scalars, host_outputs=frozenset({0}))
