"""Indexing: `x[...]` with NumPy semantics, and `set_subtensor` / `inc_subtensor`.

An index is described statically by `idx_list`, a tuple with one entry per index item:
- an `int`: a constant integer index,
- `NEWAXIS`: `None` in NumPy,
- `("slice", start, stop, step)` where each part is None, an int, or `INPUT`,
- `INPUT`: the next symbolic input (an integer scalar, or an integer/boolean array),
- `ELLIPSIS`: an `...` that spans no dimension in an advanced index (NumPy then counts the
  array indices on either side of it as separated, which moves their dimensions first).
Other ellipses are expanded into full slices when the node is built.  Symbolic parts are the
node's inputs after `x`, so one Op class serves basic and advanced indexing; only basic
indexing returns a view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, constant
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

INPUT = "input"
NEWAXIS = "newaxis"
ELLIPSIS = "ellipsis"


def _index_part(v: Any, inputs: list[TensorVariable]) -> Any:
    """A slice bound or scalar index: a Python int stays static, anything else is an input."""
    if v is None or isinstance(v, int | np.integer) and not isinstance(v, bool):
        return None if v is None else int(v)
    var = as_tensor_variable(v)
    if var.ndim != 0 or var.dtype[0] not in "iu":
        raise TypeError(f"index {v} must be an integer scalar, got {var.type}")
    inputs.append(var)
    return INPUT


def _consumed(item: Any) -> int:
    """How many dimensions of x an index item uses."""
    if item is None:
        return 0
    if isinstance(item, Variable) and item.dtype == "bool":
        return item.ndim
    if isinstance(item, list | np.ndarray) and np.asarray(item).dtype == bool:
        return np.asarray(item).ndim
    return 1


def _is_array_index(item: Any) -> bool:
    """Whether an index item is an array (an advanced index), not a scalar or a slice."""
    if isinstance(item, Variable):
        return item.ndim > 0
    return isinstance(item, list | tuple | np.ndarray) and np.ndim(item) > 0


def parse_index(x: TensorVariable, index: Any) -> tuple[tuple, list[TensorVariable]]:
    """Turn a Python index into (`idx_list`, symbolic inputs).

    A list holding a slice (`x[[slice(0, 2), 1]]`) is read as a tuple, as Theano (and NumPy
    before 1.23) did.
    """
    if isinstance(index, list) and any(isinstance(i, slice) or i is None or i is Ellipsis
                                       for i in index):
        index = tuple(index)
    items = list(index) if isinstance(index, tuple) else [index]
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(_consumed(i) for i in items if i is not Ellipsis)
    if used > x.ndim:
        raise IndexError(f"too many indices for {x} ({x.type}): {used} given, "
                         f"{x.ndim} dimension(s)")
    expanded: list[Any] = []
    for i in items:
        if i is not Ellipsis:
            expanded.append(i)
        elif used < x.ndim:
            expanded.extend([slice(None)] * (x.ndim - used))
        elif any(_is_array_index(j) for j in items):
            expanded.append(Ellipsis)
    idx_list: list[Any] = []
    inputs: list[TensorVariable] = []
    for item in expanded:
        if item is None:
            idx_list.append(NEWAXIS)
        elif item is Ellipsis:
            idx_list.append(ELLIPSIS)
        elif isinstance(item, slice):
            idx_list.append(("slice",) + tuple(_index_part(p, inputs)
                                               for p in (item.start, item.stop, item.step)))
        elif isinstance(item, int | np.integer) and not isinstance(item, bool):
            idx_list.append(int(item))
        else:
            var = as_tensor_variable(item)
            if var.dtype[0] not in "iub":
                raise IndexError(f"index {item} must be integer or boolean, got {var.type}")
            inputs.append(var)
            idx_list.append(INPUT)
    return tuple(idx_list), inputs


def _build_index(idx_list: tuple, values: Sequence[Any]) -> tuple:
    it = iter(values)
    out: list[Any] = []
    for entry in idx_list:
        if entry == INPUT:
            v = next(it)
            out.append(v.item() if v.ndim == 0 else v)
        elif entry == NEWAXIS:
            out.append(None)
        elif entry == ELLIPSIS:
            out.append(Ellipsis)
        elif isinstance(entry, tuple):
            out.append(slice(*[next(it).item() if p == INPUT else p for p in entry[1:]]))
        else:
            out.append(entry)
    return tuple(out)


def _is_advanced(inputs: Sequence[Variable], idx_list: tuple) -> bool:
    it = iter(inputs)
    for entry in idx_list:
        if entry == INPUT:
            if next(it).ndim > 0:
                return True
        elif isinstance(entry, tuple):
            for p in entry[1:]:
                if p == INPUT:
                    next(it)
    return False


def _output_type(x: TensorVariable, idx_list: tuple, idx_inputs: Sequence[TensorVariable]
                 ) -> TensorType:
    """Apply the index to a small stand-in array to learn NumPy's output rank."""
    if not _is_advanced(idx_inputs, idx_list):
        bcast: list[bool] = []
        d = 0
        for entry in idx_list:
            if entry == NEWAXIS:
                bcast.append(True)
            elif entry == ELLIPSIS:
                continue
            elif isinstance(entry, tuple):
                bcast.append(x.broadcastable[d] and entry[1:] == (None, None, None))
                d += 1
            else:
                d += 1
        bcast.extend(x.broadcastable[d:])
        return TensorType(x.dtype, tuple(bcast))
    # Only the kinds of the index items decide the rank: ints become 0, slices full slices.
    static: list[Any] = []
    stand_ins: list[np.ndarray] = []
    it = iter(idx_inputs)
    for entry in idx_list:
        if isinstance(entry, tuple):
            for _ in range(sum(1 for p in entry[1:] if p == INPUT)):
                next(it)
            static.append(("slice", None, None, None))
        elif entry == INPUT:
            v = next(it)
            stand_ins.append(np.ones([1] * v.ndim, dtype=bool) if v.dtype == "bool"
                             else np.zeros([1] * v.ndim, dtype="int64"))
            static.append(INPUT)
        else:
            static.append(0 if isinstance(entry, int) else entry)
    out_ndim = np.zeros([1] * x.ndim)[_build_index(tuple(static), stand_ins)].ndim
    return TensorType(x.dtype, (False,) * out_ndim)


class Subtensor(Op):
    """`x[index]` with a basic index (no arrays): a view of `x`.

    Built with an array among its index inputs, the node's Op is an `AdvancedSubtensor`
    instead: whether an index is advanced depends on the inputs' ranks, which only
    `make_node` sees, and the two differ in what they declare (a view, or a new array).
    """

    __props__ = ("idx_list",)
    view_map = {0: [0]}

    def __init__(self, idx_list: tuple):
        self.idx_list = idx_list

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{_idx_str(self.idx_list)}}}"

    def make_node(self, x: Any, *idx_inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        idx_inputs = tuple(as_tensor_variable(i) for i in idx_inputs)
        kind = AdvancedSubtensor if _is_advanced(idx_inputs, self.idx_list) else Subtensor
        op = self if type(self) is kind else kind(self.idx_list)
        return Apply(op, [x, *idx_inputs], [_output_type(x, self.idx_list, idx_inputs)()])

    def perform(self, node, inputs, output_storage):
        x, *idx = inputs
        index = _build_index(self.idx_list, idx)
        try:
            out = x[index]
        except IndexError as exc:
            raise IndexError(f"{exc}: indexing {node.inputs[0]} of shape {x.shape}") from None
        output_storage[0][0] = np.asarray(out)

    def grad(self, inputs, output_grads):
        x, *idx = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None] + [None] * len(idx)
        from theanine.tensor.basic import zeros_like

        gx = IncSubtensor(self.idx_list, set_instead_of_inc=False)(zeros_like(x), gz, *idx)
        return [gx] + [None] * len(idx)

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.basic import MakeVector

        x, *idx = node.inputs
        shp = IndexedShape(self.idx_list)(MakeVector("int64")(*input_shapes[0])
                                          if x.ndim else constant(np.zeros(0, "int64")), *idx)
        return [tuple(shp[i] for i in range(node.outputs[0].ndim))]


class AdvancedSubtensor(Subtensor):
    """`x[index]` with an array in the index (NumPy's advanced indexing): a new array, never a
    view, so a function may return it without a copy and in-place rewrites may overwrite it."""

    view_map: dict[int, list[int]] = {}


class IndexedShape(Op):
    """The shape `x[index]` would have, computed from `x.shape` and the index alone."""

    __props__ = ("idx_list",)

    def __init__(self, idx_list: tuple):
        self.idx_list = idx_list

    def make_node(self, shp: Any, *idx_inputs: Any) -> Apply:
        out = TensorType("int64", (False,))()
        return Apply(self, [as_tensor_variable(shp), *idx_inputs], [out])

    def perform(self, node, inputs, output_storage):
        shp, *idx = inputs
        out_shape = _selection_shape(tuple(shp), _build_index(self.idx_list, idx))
        output_storage[0][0] = np.asarray(out_shape, dtype="int64")

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.basic import shape_length

        shp, *idx = node.inputs
        n = shape_length(shp)
        if n is None:
            raise NotImplementedError(f"{self}: the rank of the indexed tensor is unknown")
        x_stand_in = TensorType("int8", (False,) * n)()
        return [(_output_type(x_stand_in, self.idx_list, idx).ndim,)]


def _selection_shape(shape: tuple, index: tuple) -> tuple[int, ...]:
    """The shape of `x[index]` for an `x` of `shape`, without `x`.

    Indexes a zero-stride stand-in: basic indexing of it is free, advanced indexing costs one
    byte per output element.
    """
    stand_in = np.lib.stride_tricks.as_strided(np.zeros(1, bool), shape=shape,
                                               strides=(0,) * len(shape))
    return stand_in[index].shape


class IncSubtensor(Op):
    """A copy of `x` with `y` added to (or, with `set_instead_of_inc`, written into) `x[index]`.

    Repeated advanced indices accumulate, as `numpy.add.at` does.
    """

    __props__ = ("idx_list", "set_instead_of_inc")

    def __init__(self, idx_list: tuple, set_instead_of_inc: bool = False):
        self.idx_list = idx_list
        self.set_instead_of_inc = set_instead_of_inc

    def __str__(self) -> str:
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{kind}Subtensor{{{_idx_str(self.idx_list)}}}"

    def make_node(self, x: Any, y: Any, *idx_inputs: Any) -> Apply:
        from theanine.tensor.math import cast

        x = as_tensor_variable(x)
        y = as_tensor_variable(y) if isinstance(y, Variable) else constant(y, dtype=x.dtype)
        if y.dtype != x.dtype:
            if not np.can_cast(y.dtype, x.dtype, "same_kind"):
                raise TypeError(f"cannot write {y.type} ({y}) into {x.type} ({x})")
            y = cast(y, x.dtype)
        idx_inputs = tuple(as_tensor_variable(i) for i in idx_inputs)
        sub_type = _output_type(x, self.idx_list, idx_inputs)
        if y.ndim > sub_type.ndim:
            raise TypeError(f"cannot write {y} of rank {y.ndim} into a selection of rank "
                            f"{sub_type.ndim} of {x}")
        return Apply(self, [x, y, *idx_inputs], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, y, *idx = inputs
        index = _build_index(self.idx_list, idx)
        y_var = node.inputs[1]
        if any(s == 1 and not b for s, b in zip(np.shape(y), y_var.broadcastable)):
            self._check_no_runtime_broadcast(node, x.shape, np.shape(y), index)
        out = x.copy()
        try:
            if self.set_instead_of_inc:
                out[index] = y
            elif _is_advanced(node.inputs[2:], self.idx_list):
                np.add.at(out, index, y)
            else:
                out[index] += y
        except (IndexError, ValueError) as exc:
            raise type(exc)(f"{exc}: writing {node.inputs[1]} (shape {np.shape(y)}) into "
                            f"{node.inputs[0]} of shape {x.shape}") from None
        output_storage[0][0] = out

    @staticmethod
    def _check_no_runtime_broadcast(node: Apply, x_shape: tuple, y_shape: tuple,
                                    index: tuple) -> None:
        """Refuse to stretch a size-1 dimension of `y` that its type does not mark
        broadcastable (its gradient would have the wrong shape), as Elemwise does."""
        sel = _selection_shape(x_shape, index)
        y_var = node.inputs[1]
        lead = len(sel) - len(y_shape)
        for d, (s, b) in enumerate(zip(y_shape, y_var.broadcastable)):
            if lead + d >= 0 and not b and s != sel[lead + d]:
                raise ValueError(
                    f"{node.op}: cannot write {y_var} of shape {y_shape} into a selection of "
                    f"shape {sel} of {node.inputs[0]}: dimension {d} of {y_var} is not "
                    f"broadcastable ({y_var.type}); give it a broadcastable dimension to "
                    "broadcast it")

    def grad(self, inputs, output_grads):
        x, y, *idx = inputs
        (gz,) = output_grads
        gy = Subtensor(self.idx_list)(gz, *idx)
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.idx_list, True)(gz, 0, *idx)
            if _is_advanced(idx, self.idx_list):
                gy = _last_writes_only(gy, x, self.idx_list, idx)
        else:
            gx = gz
        gy = _sum_to(gy, y)
        return [gx if x.dtype[0] in "fc" else None,
                gy if y.dtype[0] in "fc" else None] + [None] * len(idx)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


def _last_writes_only(g_sel: TensorVariable, x: TensorVariable, idx_list: tuple,
                      idx: Sequence[TensorVariable]) -> TensorVariable:
    """`g_sel` (the output gradient at the selection) where the selection entry is the one
    whose write survives, 0 elsewhere: a repeated advanced index is written several times
    and the last write wins, so the earlier ones do not reach the output.  The survivors are
    found by writing each entry's position the same way and reading back who won."""
    from theanine.tensor.basic import arange, reshape, zeros_like
    from theanine.tensor.math import eq, prod, switch

    sel_shape = g_sel.shape
    ids = reshape(arange(prod(sel_shape), dtype="int64"), sel_shape, ndim=g_sel.ndim)
    winners = IncSubtensor(idx_list, True)(zeros_like(x, dtype="int64"), ids, *idx)
    return switch(eq(Subtensor(idx_list)(winners, *idx), ids), g_sel, 0)


def _sum_to(g: TensorVariable, like: TensorVariable) -> TensorVariable:
    """Sum `g` over the dimensions that `like` was broadcast along."""
    from theanine.tensor.math import sum as tsum

    lead = g.ndim - like.ndim
    if lead:
        g = tsum(g, axis=list(range(lead)))
    axes = [d for d, b in enumerate(like.broadcastable) if b and not g.broadcastable[d]]
    if axes:
        g = tsum(g, axis=axes, keepdims=True)
    return g


def _idx_str(idx_list: tuple) -> str:
    parts = []
    for e in idx_list:
        if isinstance(e, tuple):
            start, stop, step = ("" if p is None else ("?" if p == INPUT else str(p))
                                 for p in e[1:])
            parts.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        elif e == INPUT:
            parts.append("?")
        elif e == NEWAXIS:
            parts.append("None")
        elif e == ELLIPSIS:
            parts.append("...")
        else:
            parts.append(str(e))
    return ", ".join(parts)


def getitem(x: TensorVariable, index: Any) -> TensorVariable:
    idx_list, inputs = parse_index(x, index)
    # x[:] stays a node (set_subtensor(x[:], y) needs one); a rewrite removes it when compiling
    return Subtensor(idx_list)(x, *inputs)


def _inc_or_set(x: Any, y: Any, set_: bool) -> TensorVariable:
    """`x` must be an indexing expression `base[index]`; returns the updated `base`."""
    if not (isinstance(x, Variable) and x.owner is not None
            and isinstance(x.owner.op, Subtensor)):
        raise TypeError(f"{'set' if set_ else 'inc'}_subtensor takes an indexing expression "
                        f"such as a[1:3], got {x}")
    base, *idx = x.owner.inputs
    return IncSubtensor(x.owner.op.idx_list, set_)(base, y, *idx)


def set_subtensor(x: Any, y: Any) -> TensorVariable:
    """A copy of the indexed tensor with `y` written at the index of `x = base[index]`."""
    return _inc_or_set(x, y, True)


def inc_subtensor(x: Any, y: Any) -> TensorVariable:
    """A copy of the indexed tensor with `y` added at the index of `x = base[index]`."""
    return _inc_or_set(x, y, False)


def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> TensorVariable:
    """`numpy.take`: the entries of `a` at `indices` along `axis` (None: of the flattened `a`).

    `mode` handles out-of-range indices: 'raise' (an error), 'wrap' (modulo the length) or
    'clip' (to the first or last entry; negative indices then clip to 0, as in NumPy).
    """
    from theanine.tensor.math import clip
    from theanine.tensor.shape_ops import normalize_axis

    a = as_tensor_variable(a)
    if axis is None:
        a, axis = a.flatten(), 0
    axis = normalize_axis(axis, a.ndim, "take")
    indices = as_tensor_variable(indices)
    if indices.dtype[0] not in "iu":
        raise TypeError(f"take: indices must be integers, got {indices} ({indices.type})")
    if mode == "wrap":
        indices = indices % a.shape[axis]
    elif mode == "clip":
        indices = clip(indices, 0, a.shape[axis] - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return a[(slice(None),) * axis + (indices,)]
