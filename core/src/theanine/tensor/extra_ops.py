"""Theano's `extra_ops`: cumulative sums and products, counting (`bincount`), differences,
diagonal filling, one-hot codes, flat/multi index conversion, `compress`, `choose`, `ptp`,
`iround` and `cov`; `repeat` and `squeeze` are re-exported from `shape_ops`.

Most are built from indexing and reductions, so their gradients come from those Ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor import math as tm
from theanine.tensor.basic import arange, as_tensor_variable, constant, flatten, reshape, zeros
from theanine.tensor.locate import SearchSorted, searchsorted  # noqa: F401 (Theano's home of it)
from theanine.tensor.math import _cj, _grad_for
from theanine.tensor.shape_ops import normalize_axis, repeat, shape_padleft, squeeze
from theanine.tensor.subtensor import inc_subtensor, set_subtensor, take
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

__all__ = ["CumOp", "Choose", "RavelMultiIndex", "UnravelIndex", "bincount", "choose",
           "compress", "cov", "cumprod", "cumsum", "diff", "fill_diagonal",
           "fill_diagonal_offset", "iround", "ptp", "ravel_multi_index", "repeat", "squeeze",
           "to_one_hot", "unravel_index"]


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



def _int_vector(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.ndim != 1 or x.dtype[0] not in "iu":
        raise TypeError(f"{what} takes a vector of integers, got {x} ({x.type})")
    return x


class NonNegative(Op):
    """`x` itself, after checking at run time that no entry is negative."""

    __props__ = ("what",)
    view_map = {0: [0]}

    def __init__(self, what: str):
        self.what = what

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.size and x.min() < 0:
            raise ValueError(f"{self.what}: {node.inputs[0]} has negative values "
                             f"(smallest {x.min()})")
        output_storage[0][0] = x

    def grad(self, inputs, output_grads):
        return [None]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


def bincount(x: Any, weights: Any = None, minlength: Any = None,
             assert_nonneg: bool = False) -> TensorVariable:
    """`numpy.bincount` of a vector of non-negative ints: entry i counts (or sums the
    `weights` of) the occurrences of i.  Counts are int64 (Theano used x's dtype, which can
    overflow); with `weights` the result has their dtype and a gradient for them."""
    x = _int_vector(x, "bincount")
    if assert_nonneg:
        x = NonNegative("bincount")(x)
    # max of x with a -1 appended, so that an empty x gives 0 bins
    length = tm.max(_append_minus_one(x)) + 1
    if minlength is not None:
        length = tm.maximum(length, minlength)
    if weights is None:
        return inc_subtensor(zeros([length], dtype="int64")[x], 1)
    weights = as_tensor_variable(weights)
    if weights.ndim != 1:
        raise TypeError(f"bincount: weights must be a vector like x, got {weights} "
                        f"({weights.type})")
    return inc_subtensor(zeros([length], dtype=weights.dtype)[x], weights)


def _append_minus_one(x: TensorVariable) -> TensorVariable:
    from theanine.tensor.join import concatenate

    return concatenate([tm.cast(x, "int64"), constant(np.array([-1], dtype="int64"))])


def diff(x: Any, n: int = 1, axis: int = -1) -> TensorVariable:
    """`numpy.diff`: the `n`-th discrete difference `x[i + 1] - x[i]` along `axis`."""
    x = as_tensor_variable(x)
    axis = normalize_axis(axis, x.ndim, "diff")
    if not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"diff: n must be a non-negative int, got {n!r}")
    before = (slice(None),) * axis
    for _ in range(int(n)):
        x = x[before + (slice(1, None),)] - x[before + (slice(None, -1),)]
    return x


def _diagonal_index(a: TensorVariable, offset: Any) -> tuple:
    """Index arrays of the `offset`-th diagonal of the matrix `a` (or of the main diagonal
    a[i, i, ..., i] of a tensor with equal dimensions)."""
    if a.ndim > 2:
        length = tm.min(a.shape)
        return (arange(length),) * a.ndim
    n, m = a.shape[0], a.shape[1]
    row0, col0 = tm.maximum(-offset, 0), tm.maximum(offset, 0)
    length = tm.maximum(tm.minimum(n - row0, m - col0), 0)
    return (arange(length) + row0, arange(length) + col0)


def _fill_value(a: TensorVariable, val: Any, what: str) -> TensorVariable:
    if a.ndim < 2:
        raise TypeError(f"{what}: {a} must have at least two dimensions, got {a.type}")
    val = as_tensor_variable(val) if isinstance(val, Variable) else constant(val, dtype=a.dtype)
    if val.ndim != 0:
        raise TypeError(f"{what}: the value must be a scalar, got {val} ({val.type})")
    if not np.can_cast(val.dtype, a.dtype, "same_kind"):
        raise TypeError(f"{what}: cannot write the {val.dtype} value {val} into {a} "
                        f"({a.dtype})")
    return val


def fill_diagonal(a: Any, val: Any) -> TensorVariable:
    """A copy of `a` with its main diagonal set to the scalar `val` (`numpy.fill_diagonal`
    without wrapping)."""
    a = as_tensor_variable(a)
    val = _fill_value(a, val, "fill_diagonal")
    return set_subtensor(a[_diagonal_index(a, 0)], val)


def fill_diagonal_offset(a: Any, val: Any, offset: Any) -> TensorVariable:
    """A copy of the matrix `a` with its `offset`-th diagonal set to the scalar `val`."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise TypeError(f"fill_diagonal_offset takes a matrix, got {a} ({a.type})")
    val = _fill_value(a, val, "fill_diagonal_offset")
    offset = as_tensor_variable(offset)
    if offset.ndim != 0 or offset.dtype[0] not in "iu":
        raise TypeError(f"fill_diagonal_offset: offset must be an integer scalar, got "
                        f"{offset} ({offset.type})")
    return set_subtensor(a[_diagonal_index(a, offset)], val)


def to_one_hot(y: Any, nb_class: Any, dtype: str | None = None) -> TensorVariable:
    """Rows of zeros with a 1 in column `y[i]`: the (len(y), nb_class) one-hot matrix of the
    integer vector `y` (dtype floatX by default)."""
    y = _int_vector(y, "to_one_hot")
    out = zeros((y.shape[0], nb_class), dtype=dtype)
    return set_subtensor(out[arange(y.shape[0]), y], 1)


class UnravelIndex(Op):
    """`numpy.unravel_index`: one int64 coordinate array per dimension of `dims`."""

    __props__ = ("ndim", "order")

    def __init__(self, ndim: int, order: str = "C"):
        if order not in ("C", "F"):
            raise ValueError(f"unravel_index: order must be 'C' or 'F', got {order!r}")
        self.ndim = int(ndim)
        self.order = order

    def make_node(self, indices: Any, dims: Any) -> Apply:
        indices = as_tensor_variable(indices)
        if indices.dtype[0] not in "iu":
            raise TypeError(f"unravel_index: indices must be integers, got {indices} "
                            f"({indices.type})")
        dims = _int_vector(dims, "unravel_index (dims)")
        bcast = indices.broadcastable
        return Apply(self, [indices, dims],
                     [TensorType("int64", bcast)() for _ in range(self.ndim)])

    def perform(self, node, inputs, output_storage):
        indices, dims = inputs
        if len(dims) != self.ndim:
            raise ValueError(f"unravel_index: dims {node.inputs[1]} has {len(dims)} entries, "
                             f"{self.ndim} expected")
        try:
            res = np.unravel_index(indices, tuple(int(d) for d in dims), order=self.order)
        except ValueError as exc:
            raise ValueError(f"unravel_index of {node.inputs[0]}: {exc}") from None
        for cell, r in zip(output_storage, res):
            cell[0] = np.array(r, dtype="int64")

    def grad(self, inputs, output_grads):
        return [None, None]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]] * self.ndim


def unravel_index(indices: Any, dims: Any, order: str = "C", ndim: int | None = None
                  ) -> tuple[TensorVariable, ...]:
    """`numpy.unravel_index`; `ndim` is needed when the length of a symbolic `dims` is not
    known from the graph."""
    from theanine.tensor.basic import _as_shape_vector, shape_length

    dims = _as_shape_vector(dims)
    if ndim is None:
        ndim = shape_length(dims)
        if ndim is None:
            raise ValueError(f"unravel_index: the length of dims {dims} is unknown; pass ndim=")
    res = UnravelIndex(ndim, order)(indices, dims)
    return tuple(res) if isinstance(res, list | tuple) else (res,)


class RavelMultiIndex(Op):
    """`numpy.ravel_multi_index`: flat int64 indices from one coordinate array per
    dimension."""

    __props__ = ("mode", "order")

    def __init__(self, mode: str = "raise", order: str = "C"):
        if mode not in ("raise", "wrap", "clip") or order not in ("C", "F"):
            raise ValueError(f"ravel_multi_index: mode must be 'raise', 'wrap' or 'clip' and "
                             f"order 'C' or 'F', got {mode!r}, {order!r}")
        self.mode = mode
        self.order = order

    def make_node(self, *inputs: Any) -> Apply:
        *coords, dims = (as_tensor_variable(i) for i in inputs)
        for c in coords:
            if c.dtype[0] not in "iu":
                raise TypeError(f"ravel_multi_index: coordinates must be integers, got {c} "
                                f"({c.type})")
        dims = _int_vector(dims, "ravel_multi_index (dims)")
        ndim = max(c.ndim for c in coords)
        return Apply(self, [*coords, dims], [TensorType("int64", (False,) * ndim)()])

    def perform(self, node, inputs, output_storage):
        *coords, dims = inputs
        try:
            res = np.ravel_multi_index(tuple(coords), tuple(int(d) for d in dims),
                                       mode=self.mode, order=self.order)
        except ValueError as exc:
            raise ValueError(f"ravel_multi_index: {exc}") from None
        output_storage[0][0] = np.asarray(res, dtype="int64")

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)


def ravel_multi_index(multi_index: Any, dims: Any, mode: str = "raise", order: str = "C"
                      ) -> TensorVariable:
    """`numpy.ravel_multi_index` of a tuple of integer coordinate arrays."""
    from theanine.tensor.basic import _as_shape_vector

    if not isinstance(multi_index, list | tuple):
        raise TypeError(f"ravel_multi_index: multi_index must be a tuple or a list of "
                        f"coordinate arrays, got {type(multi_index).__name__}")
    return RavelMultiIndex(mode, order)(*multi_index, _as_shape_vector(dims))


def compress(condition: Any, x: Any, axis: int | None = None) -> TensorVariable:
    """`numpy.compress`: the slices of `x` along `axis` (None: entries of the flattened `x`)
    where `condition` is non-zero."""
    condition = as_tensor_variable(condition)
    if condition.ndim != 1:
        raise TypeError(f"compress: the condition must be a vector, got {condition} "
                        f"({condition.type})")
    indices = arange(condition.shape[0])[tm.neq(condition, 0)]
    return take(x, indices, axis=axis)


class Choose(Op):
    """`numpy.choose`: entry I of the result is `choices[a[I]][I]`, everything broadcast
    together; `mode` handles indices outside [0, n) ('raise', 'wrap', 'clip')."""

    __props__ = ("mode", "listed")

    def __init__(self, mode: str = "raise", listed: bool = True):
        if mode not in ("raise", "wrap", "clip"):
            raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
        self.mode = mode
        #: whether the choices are separate inputs (a list) or the rows of one tensor
        self.listed = bool(listed)

    def make_node(self, a: Any, *choices: Any) -> Apply:
        a = as_tensor_variable(a)
        if a.dtype[0] not in "iub":
            raise TypeError(f"choose: the index {a} must be integers, got {a.type}")
        cs = [as_tensor_variable(c) for c in choices]
        shapes = [c.broadcastable for c in cs] if self.listed else [cs[0].broadcastable[1:]]
        ndim = max([a.ndim] + [len(b) for b in shapes])
        pads = [(True,) * (ndim - len(b)) + tuple(b) for b in [a.broadcastable, *shapes]]
        bcast = tuple(all(p[d] for p in pads) for d in range(ndim))
        dtype = str(np.result_type(*[c.dtype for c in cs]))
        return Apply(self, [a, *cs], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        a, *cs = inputs
        try:
            out = np.choose(a, cs if self.listed else cs[0], mode=self.mode)
        except ValueError as exc:
            raise ValueError(f"choose with index {node.inputs[0]} (shape {a.shape}): {exc}"
                             ) from None
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> TensorVariable:
    """`numpy.choose` (Theano's signature; `out` must be None)."""
    if out is not None:
        raise ValueError("choose: out= is not supported in a symbolic graph; use the result")
    if isinstance(choices, list | tuple):
        return Choose(mode, True)(a, *choices)
    choices = as_tensor_variable(choices)
    if choices.ndim == 0:
        raise TypeError(f"choose: choices must be a sequence or a tensor of rank >= 1, got "
                        f"{choices} ({choices.type})")
    return Choose(mode, False)(a, choices)


def ptp(a: Any, axis: Any = None) -> TensorVariable:
    """Range of values (max - min) along `axis` (None: over everything)."""
    a = as_tensor_variable(a)
    return tm.max(a, axis) - tm.min(a, axis)


def iround(a: Any, mode: str | None = None) -> TensorVariable:
    """`round(a, mode)` cast to int64."""
    return tm.cast(tm.round(a, mode), "int64")


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: Any = None, aweights: Any = None
        ) -> TensorVariable:
    """`numpy.cov`: the covariance matrix of the variables in the rows of `m` (columns with
    `rowvar=False`), with those of `y` appended; a single variable gives a scalar."""
    from theanine.tensor.join import concatenate

    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights and aweights are not supported")

    def rows(v: Any) -> TensorVariable:
        v = as_tensor_variable(v)
        if v.ndim == 1:
            return shape_padleft(v)
        if v.ndim != 2:
            raise TypeError(f"cov takes vectors or matrices, got {v} ({v.type})")
        return v if rowvar else v.T

    m = rows(m)
    if y is not None:
        m = concatenate([m, rows(y)], axis=0)
    dtype = m.dtype if m.dtype[0] in "fc" else "float64"
    m = tm.cast(m, dtype)
    ddof = (1 - int(bool(bias))) if ddof is None else ddof
    centred = m - tm.mean(m, axis=1, keepdims=True)
    c = tm.dot(centred, _cj(centred).T) / tm.cast(m.shape[1] - ddof, dtype)
    return squeeze(c)
