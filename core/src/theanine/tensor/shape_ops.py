"""More shape ops: axis moves (`swapaxes squeeze expand_dims shape_pad*`), `split`, `tile`,
`repeat`, `eye` / `identity_like`.

The axis moves and `tile` are built from DimShuffle, Rebroadcast, Alloc and Reshape, so their
gradients and shapes come from those Ops; `split`, `repeat` and `eye` are Ops of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.config import config
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import (
    Rebroadcast,
    alloc,
    arange,
    as_tensor_variable,
    constant,
    reshape,
    shape_entries,
    shape_length,
)
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def normalize_axis(axis: Any, ndim: int, what: str) -> int:
    """`axis` in [0, ndim); negative counts from the end; anything else is a clear error."""
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"{what}: axis must be a Python int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for a tensor of {ndim} "
                         "dimension(s)")
    return int(axis) % ndim


def _axes(axis: Any, ndim: int, what: str) -> list[int]:
    axes = [axis] if isinstance(axis, int | np.integer) else list(axis)
    out = [normalize_axis(a, ndim, what) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axis!r}")
    return out


# Axis moves -------------------------------------------------------------------------------
def swapaxes(x: Any, axis1: int, axis2: int) -> TensorVariable:
    """`x` with dimensions `axis1` and `axis2` exchanged (a view)."""
    x = as_tensor_variable(x)
    a = normalize_axis(axis1, x.ndim, "swapaxes")
    b = normalize_axis(axis2, x.ndim, "swapaxes")
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return x.dimshuffle(order)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> TensorVariable:
    """Drop length-1 dimensions.

    With `axis=None`, the dimensions whose type is broadcastable (Theano's rule: the rank must be
    known when the graph is built).  With `axis`, those dimensions, which are checked to have
    length 1 when the function runs.
    """
    x = as_tensor_variable(x)
    if axis is None:
        drop = [d for d, b in enumerate(x.broadcastable) if b]
    else:
        drop = _axes(axis, x.ndim, "squeeze")
        if not all(x.broadcastable[d] for d in drop):
            x = Rebroadcast([b or d in drop for d, b in enumerate(x.broadcastable)])(x)
    return x.dimshuffle([d for d in range(x.ndim) if d not in drop])


def expand_dims(x: Any, axis: int | Sequence[int]) -> TensorVariable:
    """Insert length-1 (broadcastable) dimensions at the positions `axis` of the result."""
    x = as_tensor_variable(x)
    n_new = 1 if isinstance(axis, int | np.integer) else len(axis)
    new = _axes(axis, x.ndim + n_new, "expand_dims")
    dims = iter(range(x.ndim))
    return x.dimshuffle(["x" if d in new else next(dims) for d in range(x.ndim + n_new)])


def shape_padleft(t: Any, n_ones: int = 1) -> TensorVariable:
    """`t` with `n_ones` broadcastable dimensions in front."""
    t = as_tensor_variable(t)
    return t.dimshuffle(["x"] * n_ones + list(range(t.ndim)))


def shape_padright(t: Any, n_ones: int = 1) -> TensorVariable:
    """`t` with `n_ones` broadcastable dimensions at the end."""
    t = as_tensor_variable(t)
    return t.dimshuffle(list(range(t.ndim)) + ["x"] * n_ones)


def shape_padaxis(t: Any, axis: int) -> TensorVariable:
    """`t` with one broadcastable dimension inserted at `axis` (`expand_dims` for one axis)."""
    return expand_dims(t, axis)


# split ------------------------------------------------------------------------------------
class Split(Op):
    """Cut `x` along `axis` into `len_splits` pieces of the lengths given by `splits`."""

    __props__ = ("len_splits", "axis")

    def __init__(self, len_splits: int, axis: int = 0):
        self.len_splits = int(len_splits)
        self.axis = int(axis)
        # The pieces are views of x.
        self.view_map = {i: [0] for i in range(self.len_splits)}

    def make_node(self, x: Any, splits: Any) -> Apply:
        x = as_tensor_variable(x)
        splits = as_tensor_variable(splits)
        if x.ndim == 0:
            raise TypeError(f"split: cannot split the scalar {x}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"split: axis {self.axis} is out of range for {x} ({x.type})")
        if splits.ndim != 1 or splits.dtype[0] not in "iu":
            raise TypeError(f"split: the sizes must be an integer vector, got {splits.type}")
        bcast = tuple(False if d == self.axis else b for d, b in enumerate(x.broadcastable))
        outs = [TensorType(x.dtype, bcast)() for _ in range(self.len_splits)]
        return Apply(self, [x, splits], outs)

    def perform(self, node, inputs, output_storage):
        x, splits = inputs
        if len(splits) != self.len_splits:
            raise ValueError(f"split: expected {self.len_splits} sizes, got {list(splits)}")
        if np.any(splits < 0) or splits.sum() != x.shape[self.axis]:
            raise ValueError(f"split: sizes {list(splits)} must be non-negative and add up to "
                             f"{x.shape[self.axis]}, the length of axis {self.axis} of "
                             f"{node.inputs[0]} (shape {x.shape})")
        pieces = np.split(x, np.cumsum(splits)[:-1], axis=self.axis)
        for cell, piece in zip(output_storage, pieces):
            cell[0] = piece

    def grad(self, inputs, output_grads):
        from theanine.tensor.join import Join

        x, _ = inputs
        if x.dtype[0] not in "fc":
            return [None, None]
        return [Join(self.axis)(*output_grads), None]

    def infer_shape(self, fgraph, node, input_shapes):
        xshp, _ = input_shapes
        splits = node.inputs[1]
        return [tuple(splits[i] if d == self.axis else s for d, s in enumerate(xshp))
                for i in range(self.len_splits)]


def split(x: Any, splits_size: Any, n_splits: int, axis: int = 0) -> list[TensorVariable]:
    """Theano's `split`: `n_splits` pieces of `x` along `axis`, of lengths `splits_size`."""
    x = as_tensor_variable(x)
    axis = normalize_axis(axis, x.ndim, "split") if x.ndim else axis
    sizes = (as_tensor_variable(splits_size) if isinstance(splits_size, Variable)
             else constant(np.asarray(splits_size, dtype="int64")))
    if isinstance(sizes, Constant) and sizes.data.shape != (n_splits,):
        raise ValueError(f"split: n_splits is {n_splits} but {len(sizes.data.reshape(-1))} "
                         f"size(s) were given: {sizes.data.tolist()}")
    return list(Split(n_splits, axis).make_node(x, sizes).outputs)


# tile -------------------------------------------------------------------------------------
def tile(x: Any, reps: Any, ndim: int | None = None) -> TensorVariable:
    """`x` repeated `reps[d]` times along each dimension d (NumPy's `tile`).

    `reps` is a sequence of ints or integer scalars, or a vector of known length; the result
    has `ndim` (default max(x.ndim, len(reps))) dimensions, missing ones padded on the left.
    """
    x = as_tensor_variable(x)
    entries = _tile_entries(reps, ndim)
    for r in entries:
        if isinstance(r, Variable) and (r.ndim != 0 or r.dtype[0] not in "iu"):
            raise TypeError(f"tile: repetitions must be integer scalars, got {r} ({r.type})")
    n = max(x.ndim, len(entries)) if ndim is None else ndim
    if n < max(x.ndim, len(entries)):
        raise ValueError(f"tile: ndim={ndim} is less than the rank of {x} ({x.ndim}) or the "
                         f"number of repetitions ({len(entries)})")
    x = shape_padleft(x, n - x.ndim) if n > x.ndim else x
    entries = [1] * (n - len(entries)) + entries
    # x of shape (s0, s1, ..) seen as (1, s0, 1, s1, ..), broadcast to (r0, s0, r1, s1, ..) and
    # reshaped to (r0*s0, r1*s1, ..); a literal 1 needs no new dimension.
    pattern: list[Any] = []
    dims: list[Any] = []
    out_shape: list[Any] = []
    for d, r in enumerate(entries):
        s = 1 if x.broadcastable[d] else x.shape[d]  # literal 1s keep dimensions broadcastable
        if isinstance(r, int | np.integer) and r == 1:
            pattern.append(d)
            dims.append(s)
            out_shape.append(s)
            continue
        pattern += ["x", d]
        dims += [r, s]
        out_shape.append(r * s)
    if len(pattern) == n:
        return x
    return reshape(alloc(x.dimshuffle(pattern), *dims), out_shape, ndim=n)


def _tile_entries(reps: Any, ndim: int | None) -> list[Any]:
    """The repetitions as a list; a symbolic vector of unknown length needs `ndim` and is
    padded on the left with ones to that length (Theano's rule)."""
    if isinstance(reps, Variable) and reps.ndim == 1 and shape_length(reps) is None:
        from theanine.tensor.math import lt, maximum, switch

        if ndim is None:
            raise ValueError(f"tile: the length of the repetitions vector {reps} is unknown; "
                             "pass ndim= (the rank of the result)")
        if reps.dtype[0] not in "iu":
            raise TypeError(f"tile: repetitions must be integers, got {reps} ({reps.type})")
        offset = ndim - reps.shape[0]
        return [switch(lt(i, offset), 1, reps[maximum(i - offset, 0)]) for i in range(ndim)]
    return shape_entries(reps, "tile")


# repeat -----------------------------------------------------------------------------------
class Repeat(Op):
    """Each entry of `x` along `axis` repeated `repeats` times (a scalar, or one count per
    entry), as `numpy.repeat`."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, x: Any, repeats: Any) -> Apply:
        x = as_tensor_variable(x)
        repeats = as_tensor_variable(repeats)
        if repeats.ndim > 1 or repeats.dtype[0] not in "iu":
            raise TypeError(f"repeat: repeats must be an integer scalar or vector, got "
                            f"{repeats} ({repeats.type})")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"repeat: axis {self.axis} is out of range for {x} ({x.type})")
        bcast = tuple(False if d == self.axis else b for d, b in enumerate(x.broadcastable))
        return Apply(self, [x, repeats], [TensorType(x.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        x, repeats = inputs
        n = x.shape[self.axis]
        if repeats.ndim == 1 and not node.inputs[1].broadcastable[0] and len(repeats) != n:
            # NumPy would stretch a length-1 vector; its type does not say it may (infer_shape
            # would sum it), so refuse, as Elemwise does for non-broadcastable dimensions.
            raise ValueError(f"repeat: {len(repeats)} repetition count(s) in {node.inputs[1]} "
                             f"for axis {self.axis} of {node.inputs[0]}, which has length {n}")
        try:
            output_storage[0][0] = np.repeat(x, repeats, axis=self.axis)
        except ValueError as exc:
            raise ValueError(f"repeat: {exc} (repeats {node.inputs[1]} = {repeats.tolist()}, "
                             f"{node.inputs[0]} of shape {x.shape})") from None

    def grad(self, inputs, output_grads):
        from theanine.tensor.basic import zeros_like
        from theanine.tensor.subtensor import inc_subtensor

        x, repeats = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None, None]
        # Entry j of the result came from entry source[j] of x: scatter-add gz back.
        source = Repeat(0)(arange(x.shape[self.axis]), repeats)
        index = (slice(None),) * self.axis + (source,)
        return [inc_subtensor(zeros_like(x)[index], gz), None]

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.math import cast
        from theanine.tensor.math import sum as tsum

        (xshp, _) = input_shapes
        repeats = node.inputs[1]
        if repeats.ndim == 0:
            length = xshp[self.axis] * repeats
        elif repeats.broadcastable[0]:
            length = xshp[self.axis] * repeats[0]
        else:
            length = tsum(repeats)
        out = list(xshp)
        out[self.axis] = cast(length, "int64")
        return [tuple(out)]


def repeat(x: Any, repeats: Any, axis: int | None = None) -> TensorVariable:
    """`numpy.repeat`: `axis=None` repeats the entries of the flattened `x`."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = x.flatten(), 0
    axis = normalize_axis(axis, x.ndim, "repeat")
    if not isinstance(repeats, Variable):
        arr = np.asarray(repeats)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"repeat: repeats must be integers, got {repeats!r}")
        repeats = constant(arr.astype("int64"))
    return Repeat(axis)(x, repeats)


# eye / identity_like ----------------------------------------------------------------------
class Eye(Op):
    """An n x m matrix with ones on the k-th diagonal (`numpy.eye`)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in (n, m, k)]
        for name, v in zip(("n", "m", "k"), inputs):
            if v.ndim != 0 or v.dtype[0] not in "iu":
                raise TypeError(f"eye: {name} must be an integer scalar, got {v} ({v.type})")
        return Apply(self, inputs, [TensorType(self.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        n, m, k = (int(v) for v in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"eye: the shape ({n}, {m}) must not be negative")
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def grad(self, inputs, output_grads):
        return [None, None, None]

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.math import cast

        n, m, _ = node.inputs
        return [(cast(n, "int64"), cast(m, "int64"))]


def _int_scalar(v: Any) -> Any:
    return v if isinstance(v, Variable) else constant(int(v), dtype="int64")


def eye(n: Any, m: Any = None, k: Any = 0, dtype: str | None = None) -> TensorVariable:
    """Ones on diagonal `k` of an `n` x `m` (default n x n) matrix of `dtype` (floatX)."""
    m = n if m is None else m
    return Eye(dtype or config.floatX)(_int_scalar(n), _int_scalar(m), _int_scalar(k))


def identity_like(x: Any, dtype: str | None = None) -> TensorVariable:
    """The identity matrix with the shape (and, by default, dtype) of the matrix `x`."""
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"identity_like takes a matrix, got {x} ({x.type})")
    return eye(x.shape[0], x.shape[1], 0, dtype=dtype or x.dtype)


# tri / tril / triu ------------------------------------------------------------------------
class Tri(Eye):
    """An n x m matrix with ones at and below the k-th diagonal (`numpy.tri`)."""

    def perform(self, node, inputs, output_storage):
        n, m, k = (int(v) for v in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"tri: the shape ({n}, {m}) must not be negative")
        output_storage[0][0] = np.tri(n, m, k, dtype=self.dtype)


def tri(N: Any, M: Any = None, k: Any = 0, dtype: str | None = None) -> TensorVariable:
    """Ones at and below diagonal `k` of an `N` x `M` (default N x N) matrix of `dtype`."""
    M = N if M is None else M
    return Tri(dtype or config.floatX)(_int_scalar(N), _int_scalar(M), _int_scalar(k))


def tril(m: Any, k: Any = 0) -> TensorVariable:
    """`m` with the entries above diagonal `k` zeroed (`numpy.tril` of a matrix)."""
    m = as_tensor_variable(m)
    if m.ndim != 2:
        raise TypeError(f"tril takes a matrix, got {m} ({m.type})")
    return m * tri(m.shape[0], m.shape[1], k, dtype=m.dtype)


def triu(m: Any, k: Any = 0) -> TensorVariable:
    """`m` with the entries below diagonal `k` zeroed (`numpy.triu` of a matrix)."""
    m = as_tensor_variable(m)
    if m.ndim != 2:
        raise TypeError(f"triu takes a matrix, got {m} ({m.type})")
    return m * (1 - tri(m.shape[0], m.shape[1], k - 1, dtype=m.dtype))


# broadcast patterns and specify_shape ------------------------------------------------------
def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> TensorVariable:
    """`x` typed with the broadcast pattern `broadcastable`; a dimension marked broadcastable
    is checked to have length 1 when the function runs.  `x` itself when nothing changes."""
    x = as_tensor_variable(x)
    pattern = tuple(bool(b) for b in broadcastable)
    if len(pattern) != x.ndim:
        raise ValueError(f"patternbroadcast: {x} has {x.ndim} dimension(s), the pattern "
                         f"{pattern} has {len(pattern)}")
    return x if pattern == x.broadcastable else Rebroadcast(pattern)(x)


def _set_broadcastable(x: Any, axes: Sequence[Any], flag: bool, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    chosen = {normalize_axis(a, x.ndim, what) for a in axes}
    return patternbroadcast(x, [flag if d in chosen else b
                                for d, b in enumerate(x.broadcastable)])


def addbroadcast(x: Any, *axes: int) -> TensorVariable:
    """`x` made broadcastable along `axes` (each checked to have length 1 at run time)."""
    return _set_broadcastable(x, axes, True, "addbroadcast")


def unbroadcast(x: Any, *axes: int) -> TensorVariable:
    """`x` made not broadcastable along `axes`."""
    return _set_broadcastable(x, axes, False, "unbroadcast")


class SpecifyShape(Op):
    """`x` itself, after checking at run time that its shape is `shape`: lets shape inference
    read the promised shape."""

    view_map = {0: [0]}

    def make_node(self, x: Any, shape_: Any) -> Apply:
        x = as_tensor_variable(x)
        shape_ = as_tensor_variable(shape_)
        if shape_.ndim != 1 or shape_.dtype[0] not in "iu":
            raise TypeError(f"specify_shape: the shape must be an integer vector, got "
                            f"{shape_} ({shape_.type})")
        return Apply(self, [x, shape_], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        if x.shape != tuple(int(s) for s in shp):
            raise AssertionError(f"specify_shape: {node.inputs[0]} has shape {x.shape}, "
                                 f"but its shape was specified as {tuple(int(s) for s in shp)}")
        output_storage[0][0] = x

    def grad(self, inputs, output_grads):
        return [SpecifyShape()(output_grads[0], inputs[1]), None]

    def infer_shape(self, fgraph, node, input_shapes):
        shp = node.inputs[1]
        return [tuple(shp[i] for i in range(node.inputs[0].ndim))]


def specify_shape(x: Any, shape: Any) -> TensorVariable:
    """`x`, promised to have `shape` (a sequence of ints / integer scalars, or a vector):
    checked when the function runs."""
    from theanine.tensor.basic import MakeVector

    x = as_tensor_variable(x)
    if isinstance(shape, Variable):
        shp = as_tensor_variable(shape)
    else:
        shp = MakeVector("int64")(*shape) if len(shape) else constant(np.zeros(0, "int64"))
    n = shape_length(shp)
    if n is not None and n != x.ndim:
        raise ValueError(f"specify_shape: {x} has {x.ndim} dimension(s), the specified shape "
                         f"{shape} has {n}")
    return SpecifyShape()(x, shp)
