"""Tensor construction and shape ops: constants, shape, reshape, dimshuffle, alloc, arange."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.config import config
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.scalar import basic as ps
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorConstant, TensorVariable


def constant(value: Any, name: str | None = None, dtype: str | np.dtype | None = None
             ) -> TensorConstant:
    """A constant tensor; `dtype` defaults to NumPy's choice for `value`."""
    arr = np.asarray(value)
    if dtype is not None and arr.dtype != np.dtype(dtype):
        with np.errstate(all="ignore"):
            cast = arr.astype(dtype)
        if arr.dtype.kind not in "fc" and not np.array_equal(cast, arr):
            raise TypeError(f"constant {value!r} does not fit in dtype {np.dtype(dtype)}")
        arr = cast
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"cannot make a tensor constant from {type(value).__name__} {value!r}")
    ttype = TensorType(arr.dtype, tuple(s == 1 for s in arr.shape))
    return TensorConstant(ttype, arr, name=name)


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None
                       ) -> TensorVariable:
    """`x` as a tensor variable: variables pass through, values become constants."""
    if isinstance(x, Apply):
        if len(x.outputs) != 1:
            raise TypeError(f"cannot convert {x}, which has several outputs, to a tensor")
        x = x.outputs[0]
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"variable {x} of type {x.type} is not a tensor")
        result = x
    elif isinstance(x, list | tuple) and any(isinstance(e, Variable) for e in x):
        result = stack(list(x))
    else:
        try:
            result = constant(x, name=name)
        except TypeError as exc:
            raise TypeError(f"cannot convert {type(x).__name__} {x!r} to a tensor "
                            f"variable: {exc}") from None
    if ndim is not None and result.ndim != ndim:
        raise TypeError(f"{result} has {result.ndim} dimension(s), expected {ndim}")
    return result  # type: ignore[return-value]


# Shapes -----------------------------------------------------------------------------------
class Shape(Op):
    """The shape of a tensor, as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim == 1,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].shape, dtype="int64")

    def python_thunk(self, node):
        return lambda x: (np.array(x.shape, dtype="int64"),)

    def grad(self, inputs, output_grads):
        return [None]

    def infer_shape(self, fgraph, node, input_shapes):
        return [(node.inputs[0].ndim,)]


_shape = Shape()


def shape(x: Any) -> TensorVariable:
    return _shape(x)


class SameExtent(Op):
    """The common value of several int64 extents, checked at run time.

    Shape inference uses it where a dimension's length could come from several operands
    that are not broadcastable there (Elemwise, matmul's batch dimensions): the computation
    it stands for would refuse mismatched lengths, so a graph that reads only the shape must
    refuse them too, or a gradient could come out with another operand's shape.
    """

    __props__ = ("what",)

    def __init__(self, what: str):
        #: which operation and dimension the extents are for, for the error message
        self.what = what

    def make_node(self, *extents: Any) -> Apply:
        from theanine.tensor.math import cast

        inputs = []
        for e in extents:
            e = as_tensor_variable(e) if isinstance(e, Variable) else constant(e, dtype="int64")
            inputs.append(e if e.dtype == "int64" else cast(e, "int64"))
        return Apply(self, inputs, [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        first = inputs[0]
        if any(v != first for v in inputs[1:]):
            raise ValueError(f"{self.what}: operands have lengths {[int(v) for v in inputs]} "
                             "there, which must be equal (a dimension that is not "
                             "broadcastable is never stretched)")
        # a new array: returning `first` itself would alias an input that declares no view,
        # and an in-place consumer would overwrite it (fuzz seed 2027, graph 68976)
        output_storage[0][0] = np.array(first, dtype="int64")

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


def same_extent(extents: Sequence[Any], what: str) -> Any:
    """One extent standing for `extents` (a `SameExtent` check unless they are the same
    variable or equal ints)."""
    distinct: list[Any] = []
    for e in extents:
        if not any(e is d or (_static_int(e) is not None and _static_int(e) == _static_int(d))
                   for d in distinct):
            distinct.append(e)
    return distinct[0] if len(distinct) == 1 else SameExtent(what)(*distinct)


class ExtentOf(Op):
    """`xs[0].shape[dims[0]]`, checked equal to every `xs[k].shape[dims[k]]`: one node for
    `shape(x)[d]` (Theano's `Shape_i`) or for a `SameExtent` check of such entries, which
    the first rewrites of the in-place stage make of them (`rewriting.extents`) because every
    node costs about a microsecond a call.  It reads the arrays' shapes only."""

    __props__ = ("dims", "what")

    def __init__(self, dims: Sequence[int], what: str = ""):
        self.dims = tuple(int(d) for d in dims)
        #: as `SameExtent.what`: which operation and dimension, for the error message
        self.what = what

    def __str__(self) -> str:
        return f"ExtentOf{{{','.join(map(str, self.dims))}}}"

    def make_node(self, *xs: Any) -> Apply:
        xs = tuple(as_tensor_variable(x) for x in xs)
        if not xs or len(xs) != len(self.dims):
            raise TypeError(f"{self} reads {len(self.dims)} array(s), got {len(xs)}")
        for x, d in zip(xs, self.dims):
            if not 0 <= d < x.ndim:
                raise ValueError(f"{self}: {x} has {x.ndim} dimension(s), no dimension {d}")
        return Apply(self, list(xs), [TensorType("int64", ())()])

    def python_thunk(self, node: Apply) -> Any:
        dims = self.dims
        if len(dims) == 1:
            (d,) = dims
            return lambda x: (np.array(x.shape[d], dtype=np.int64),)

        def thunk(*xs: Any) -> tuple:
            first = xs[0].shape[dims[0]]
            for x, d in zip(xs, dims):
                if x.shape[d] != first:
                    raise self._mismatch(node, xs)
            return (np.array(first, dtype=np.int64),)

        return thunk

    def _mismatch(self, node: Apply, xs: Sequence[Any]) -> ValueError:
        lengths = [int(x.shape[d]) for x, d in zip(xs, self.dims)]
        which = ", ".join(f"{v.name or str(v)[:60]} dimension {d}"
                          for v, d in zip(node.inputs, self.dims))
        return ValueError(f"{self.what}: operands have lengths {lengths} there ({which}), "
                          "which must be equal (a dimension that is not broadcastable is "
                          "never stretched)")

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self.python_thunk(node)(*inputs)[0]

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


def _static_int(e: Any) -> int | None:
    if isinstance(e, int | np.integer):
        return int(e)
    if isinstance(e, Constant) and np.ndim(e.data) == 0:
        return int(e.data)
    return None


class MakeVector(Op):
    """Stack scalars of one dtype into a vector."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str = "int64"):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, *scalars: Any) -> Apply:
        from theanine.tensor.math import cast

        inputs = []
        for s in scalars:
            s = as_tensor_variable(s) if isinstance(s, Variable) else constant(s, dtype=self.dtype)
            if s.ndim != 0:
                raise TypeError(f"MakeVector takes scalars, got {s} with {s.ndim} dimension(s)")
            inputs.append(s if s.dtype == self.dtype else cast(s, self.dtype))
        return Apply(self, inputs, [TensorType(self.dtype, (len(inputs) == 1,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs, dtype=self.dtype)

    def grad(self, inputs, output_grads):
        (g,) = output_grads
        return [g[i] if inp.dtype[0] in "fc" else None for i, inp in enumerate(inputs)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [(len(node.inputs),)]


def stack(values: Sequence[Any], axis: int = 0) -> TensorVariable:
    """Stack tensors of equal shape along a new axis."""
    from theanine.tensor.join import stack as join_stack

    return join_stack(values, axis=axis)


def shape_length(v: TensorVariable) -> int | None:
    """The number of entries of the shape vector `v` when the graph tells it, else None."""
    if v.ndim != 1:
        return None
    if isinstance(v, Constant):
        return len(v.data)
    if v.owner is not None and isinstance(v.owner.op, MakeVector):
        return len(v.owner.inputs)
    if v.owner is not None and isinstance(v.owner.op, Shape):
        return v.owner.inputs[0].ndim
    if v.broadcastable[0]:
        return 1
    return None


def shape_entries(shape_: Any, what: str) -> list[Any]:
    """A shape given as a sequence or as a symbolic vector of known length, as a list of
    entries (ints or scalar variables)."""
    if isinstance(shape_, Variable):
        v = as_tensor_variable(shape_)
        if v.ndim == 0:
            return [v]
        n = shape_length(v)
        if n is None:
            raise ValueError(f"{what}: the length of the symbolic shape {v} is unknown; pass "
                             "a tuple of scalars such as (x.shape[0], 3)")
        return [v[i] for i in range(n)]
    if isinstance(shape_, int | np.integer):
        return [shape_]
    return list(shape_)


def _as_shape_vector(shape_: Any) -> TensorVariable:
    if isinstance(shape_, Variable):
        v = as_tensor_variable(shape_)
        if v.ndim == 0:
            return MakeVector("int64")(v)
        return v
    if isinstance(shape_, int | np.integer):
        shape_ = (shape_,)
    return MakeVector("int64")(*shape_)


class Contiguous(Op):
    """The same values in C order (`numpy.ascontiguousarray`): a loop reading a transposed
    matrix at every step pays the layout change once instead of in every product."""

    view_map = {0: [0]}  # an already C-ordered input comes back as it is

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.ascontiguousarray(inputs[0])

    def python_thunk(self, node):
        return lambda x: (np.ascontiguousarray(x),)

    def grad(self, inputs, output_grads):
        return [output_grads[0]]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


contiguous = Contiguous()


class Rebroadcast(Op):
    """Change which dimensions are marked broadcastable (checked at run time)."""

    __props__ = ("broadcastable",)
    view_map = {0: [0]}

    def __init__(self, broadcastable: Sequence[bool]):
        self.broadcastable = tuple(bool(b) for b in broadcastable)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != len(self.broadcastable):
            raise TypeError(f"Rebroadcast{self.broadcastable} applied to {x} of rank {x.ndim}")
        return Apply(self, [x], [TensorType(x.dtype, self.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        for d, b in enumerate(self.broadcastable):
            if b and x.shape[d] != 1:
                raise ValueError(f"dimension {d} of {node.inputs[0]} should have size 1 "
                                 f"(broadcastable), got shape {x.shape}")
        output_storage[0][0] = x

    def grad(self, inputs, output_grads):
        return [Rebroadcast(inputs[0].broadcastable)(output_grads[0])]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


class Reshape(Op):
    """Reshape to a symbolic shape vector of known length `ndim` (-1 allowed once)."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int):
        self.ndim = ndim

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_tensor_variable(x)
        shp = as_tensor_variable(shp)
        if shp.ndim != 1 or shp.dtype[0] not in "iu":
            raise TypeError(f"reshape: the shape must be an integer vector, got {shp.type}")
        bcast = [False] * self.ndim
        if shp.owner is not None and isinstance(shp.owner.op, MakeVector):
            for i, s in enumerate(shp.owner.inputs):
                if isinstance(s, Constant) and int(s.data) == 1:
                    bcast[i] = True
        elif isinstance(shp, Constant):
            bcast = [int(s) == 1 for s in shp.data]
        return Apply(self, [x, shp], [TensorType(x.dtype, tuple(bcast))()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        if len(shp) != self.ndim:
            raise ValueError(f"reshape expected a shape of length {self.ndim}, got {list(shp)}")
        try:
            output_storage[0][0] = x.reshape(tuple(int(s) for s in shp))
        except ValueError as exc:
            raise ValueError(f"cannot reshape {node.inputs[0]} of shape {x.shape} to "
                             f"{tuple(int(s) for s in shp)}: {exc}") from None

    def grad(self, inputs, output_grads):
        x, _ = inputs
        return [reshape(output_grads[0], shape(x), ndim=x.ndim), None]

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.math import maximum, prod, switch

        xshp, _ = input_shapes
        shp = node.inputs[1]
        dims = [shp[i] for i in range(self.ndim)]
        total = prod(MakeVector("int64")(*xshp)) if xshp else constant(1, dtype="int64")
        known = prod(MakeVector("int64")(*dims)) if dims else constant(1, dtype="int64")
        # a -1 entry makes `known` negative; the missing extent is total / -known
        return [tuple(switch(d < 0, total // maximum(-known, 1), d) for d in dims)]


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> TensorVariable:
    x = as_tensor_variable(x)
    shp = _as_shape_vector(newshape)
    if ndim is None:
        if not isinstance(shp.type, TensorType) or shp.ndim != 1:
            raise TypeError(f"reshape: bad shape {newshape!r}")
        ndim = shape_length(shp)
        if ndim is None:
            raise ValueError(f"reshape: the length of the symbolic shape {shp} is unknown; "
                             "pass ndim=")
    return Reshape(ndim)(x, shp)


def flatten(x: Any, ndim: int | None = None, outdim: int | None = None) -> TensorVariable:
    """Keep the first `ndim - 1` dimensions and collapse the rest (`outdim` is Theano's
    older name of `ndim`; default 1)."""
    if outdim is not None:
        if ndim is not None and ndim != outdim:
            raise ValueError(f"flatten: ndim={ndim} and outdim={outdim} disagree; give one")
        ndim = outdim
    ndim = 1 if ndim is None else ndim
    x = as_tensor_variable(x)
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten: ndim must be between 1 and {x.ndim}, got {ndim}")
    # The collapsed extent is spelled out rather than -1, which is ambiguous for empty arrays.
    if ndim == 1:
        return reshape(x, [-1], ndim=1)
    last: Any = x.shape[ndim - 1]
    for i in range(ndim, x.ndim):
        last = last * x.shape[i]
    return reshape(x, [x.shape[i] for i in range(ndim - 1)] + [last], ndim=ndim)


def dimshuffle(x: Any, pattern: Sequence[int | str]) -> TensorVariable:
    x = as_tensor_variable(x)
    return DimShuffle(x.broadcastable, pattern)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> TensorVariable:
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = [a % x.ndim if x.ndim else a for a in axes]
    return DimShuffle(x.broadcastable, axes)(x)


class Alloc(Op):
    """A tensor of the given shape filled with (a broadcast of) `value`."""

    def make_node(self, value: Any, *shape_: Any) -> Apply:
        value = as_tensor_variable(value)
        dims = [as_tensor_variable(s) if isinstance(s, Variable) else constant(s, dtype="int64")
                for s in shape_]
        if len(dims) < value.ndim:
            raise TypeError(f"alloc: {len(dims)} dimension(s) given for a value of rank "
                            f"{value.ndim}")
        bcast = tuple(isinstance(d, Constant) and int(d.data) == 1 for d in dims)
        return Apply(self, [value, *dims], [TensorType(value.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        value, *dims = inputs
        shape_ = tuple(int(d) for d in dims)
        lead = len(shape_) - value.ndim
        for d, b in enumerate(node.inputs[0].broadcastable):
            if not b and value.shape[d] != shape_[lead + d]:
                # As in Elemwise: only broadcastable dimensions may be stretched (the gradient
                # sums over those alone).
                raise ValueError(
                    f"alloc: cannot fill shape {shape_} with {node.inputs[0]} of shape "
                    f"{value.shape}: its dimension {d} is not broadcastable "
                    f"({node.inputs[0].type}) and does not match")
        output_storage[0][0] = np.array(np.broadcast_to(value, shape_))

    def grad(self, inputs, output_grads):
        from theanine.tensor.math import sum as tsum

        value, *dims = inputs
        (g,) = output_grads
        lead = len(dims) - value.ndim
        axes = list(range(lead)) + [lead + d for d, b in enumerate(value.broadcastable)
                                    if b and not g.broadcastable[lead + d]]
        gv = tsum(g, axis=axes, keepdims=True) if axes else g
        if lead:
            gv = DimShuffle(gv.broadcastable, list(range(lead, len(dims))))(gv)
        if value.dtype[0] not in "fc":
            gv = None
        return [gv] + [None] * len(dims)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(node.inputs[1:])]


alloc = Alloc()


def fill(model: Any, value: Any) -> TensorVariable:
    """A tensor shaped like `model` filled with `value` (Theano's `fill`/`second`)."""
    from theanine.tensor.math import cast

    model = as_tensor_variable(model)
    if not isinstance(value, Variable):
        value = constant(value, dtype=np.result_type(np.dtype(model.dtype), value)
                         if isinstance(value, bool | int | float) else None)
    # a broadcastable dimension is 1: the result keeps model's type (Theano's fill did)
    return alloc(cast(value, value.dtype), *[1 if model.broadcastable[i] else model.shape[i]
                                             for i in range(model.ndim)])


def zeros_like(x: Any, dtype: str | None = None) -> TensorVariable:
    x = as_tensor_variable(x)
    return fill(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: str | None = None) -> TensorVariable:
    x = as_tensor_variable(x)
    return fill(x, constant(1, dtype=dtype or x.dtype))


def zeros(shape_: Any, dtype: str | None = None) -> TensorVariable:
    """Zeros of `shape_`: a sequence of ints/scalars, or a vector such as `x.shape`."""
    return alloc(constant(0, dtype=dtype or config.floatX), *shape_entries(shape_, "zeros"))


def ones(shape_: Any, dtype: str | None = None) -> TensorVariable:
    """Ones of `shape_`: a sequence of ints/scalars, or a vector such as `x.shape`."""
    return alloc(constant(1, dtype=dtype or config.floatX), *shape_entries(shape_, "ones"))


class ARange(Op):
    """`numpy.arange(start, stop, step)` with symbolic scalar bounds."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in (start, stop, step)]
        for v in inputs:
            if v.ndim != 0:
                raise TypeError(f"arange bounds must be scalars, got {v} of rank {v.ndim}")
        return Apply(self, inputs, [TensorType(self.dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        start, stop, step = (v.item() for v in inputs)
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def L_op(self, inputs, outputs, output_grads):
        """Theano's: out[i] = start + i * step, so start gets sum(g) and step sum(g * i);
        `stop` only sets the length (no gradient flows to it).  An integer range has zero
        gradients for start and step."""
        from theanine.tensor.math import sum as tsum

        start, _, step = inputs
        if np.dtype(self.dtype).kind not in "fc":
            return [zeros_like(start, config.floatX), None, zeros_like(step, config.floatX)]
        (g,) = output_grads
        steps_taken = arange(outputs[0].shape[0], dtype=self.dtype)
        return [tsum(g), None, tsum(g * steps_taken)]

    def infer_shape(self, fgraph, node, input_shapes):
        from theanine.tensor.math import ceil, maximum

        start, stop, step = node.inputs
        n = maximum(ceil((stop - start) / step), 0)
        return [(cast_int64(n),)]


def cast_int64(x: Any) -> TensorVariable:
    from theanine.tensor.math import cast

    return cast(x, "int64")


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: str | None = None
           ) -> TensorVariable:
    if stop is None:
        start, stop = 0, start
    vals = [v if isinstance(v, Variable) else constant(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = str(np.result_type(*[np.dtype(v.dtype) for v in vals]))
        if np.dtype(dtype).kind in "iu" and np.dtype(dtype).itemsize < 8:
            dtype = "int64"
    return ARange(dtype)(*vals)


def tensor_copy(x: Any) -> TensorVariable:
    """A new variable with `x`'s value, computed into a new array (Theano's `tensor_copy`,
    what `x.copy()` returns): an elementwise cast of `x` to its own dtype, which every
    backend renders as a copy and whose gradient is the output's gradient."""
    x = as_tensor_variable(x)
    return Elemwise(ps.Cast(x.dtype))(x)


def __getattr__(name: str) -> Any:
    # Theano's `from theano.tensor.basic import get_scalar_constant_value,
    # NotScalarConstantError`: they live in `constant_value`, which imports this module
    if name in ("get_scalar_constant_value", "NotScalarConstantError", "EmptyConstantError"):
        from theanine.tensor import constant_value

        return getattr(constant_value, name)
    raise AttributeError(f"module 'theanine.tensor.basic' has no attribute {name!r}")
