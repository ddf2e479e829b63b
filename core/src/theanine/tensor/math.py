"""Tensor math: elementwise functions, reductions, argmax and products (dot, batched_dot)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.scalar import basic as ps
from theanine.tensor.basic import alloc, as_tensor_variable, constant
from theanine.tensor.elemwise import DimShuffle, Elemwise
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def _elemwise(scalar_op: ps.ScalarOp) -> Elemwise:
    return Elemwise(scalar_op)


# Elementwise ------------------------------------------------------------------------------
add = _elemwise(ps.add)
sub = _elemwise(ps.sub)
mul = _elemwise(ps.mul)
true_div = _elemwise(ps.true_div)
int_div = _elemwise(ps.int_div)
mod = _elemwise(ps.mod)
pow = _elemwise(ps.pow)
maximum = _elemwise(ps.maximum)
minimum = _elemwise(ps.minimum)
neg = _elemwise(ps.neg)
abs = _elemwise(ps.abs_)
abs_ = abs
sgn = _elemwise(ps.sgn)
sign = sgn
exp = _elemwise(ps.exp)
log = _elemwise(ps.log)
log1p = _elemwise(ps.log1p)
expm1 = _elemwise(ps.expm1)
sqrt = _elemwise(ps.sqrt)
sqr = _elemwise(ps.sqr)
square = sqr
tanh = _elemwise(ps.tanh)
sin = _elemwise(ps.sin)
cos = _elemwise(ps.cos)
sigmoid = _elemwise(ps.sigmoid)
softplus = _elemwise(ps.softplus)
relu_op = _elemwise(ps.relu)
floor = _elemwise(ps.floor)
ceil = _elemwise(ps.ceil)
lt = _elemwise(ps.lt)
gt = _elemwise(ps.gt)
le = _elemwise(ps.le)
ge = _elemwise(ps.ge)
eq = _elemwise(ps.eq)
neq = _elemwise(ps.neq)
and_ = _elemwise(ps.and_)
or_ = _elemwise(ps.or_)
xor = _elemwise(ps.xor)
invert = _elemwise(ps.invert)
_switch = _elemwise(ps.switch)


def switch(cond: Any, ift: Any, iff: Any) -> TensorVariable:
    """Elementwise `ift if cond else iff` (NumPy `where`)."""
    return _switch(cond, ift, iff)


where = switch


def cast(x: Any, dtype: str) -> TensorVariable:
    """`x` converted to `dtype` (no node if it already has it)."""
    x = as_tensor_variable(x)
    dtype = str(np.dtype(dtype)) if dtype != "floatX" else _floatx()
    if x.dtype == dtype:
        return x
    return Elemwise(ps.Cast(dtype))(x)


def _floatx() -> str:
    from theanine.config import config

    return config.floatX


def clip(x: Any, a_min: Any, a_max: Any) -> TensorVariable:
    return minimum(maximum(x, a_min), a_max)


# Reductions -------------------------------------------------------------------------------
def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Variable):
        raise TypeError("reduction axis must be a Python int or tuple of ints, not a variable")
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of {ndim} dimension(s)")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def _keep_dims(x: TensorVariable, reduced: TensorVariable, axes: Sequence[int]) -> TensorVariable:
    """Re-insert the reduced `axes` as broadcastable dimensions."""
    order: list[int | str] = []
    k = 0
    for d in range(x.ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    return DimShuffle(reduced.broadcastable, order)(reduced)


class Reduce(Op):
    """Reduce over `axis` with a NumPy ufunc (`sum prod max min all any`)."""

    __props__ = ("kind", "axis", "dtype")
    _UFUNCS = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
               "all": np.logical_and, "any": np.logical_or}

    def __init__(self, kind: str, axis: tuple[int, ...], dtype: str):
        self.kind = kind
        self.axis = tuple(axis)
        self.dtype = dtype
        self.ufunc = self._UFUNCS[kind]

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if builtins.any(a >= x.ndim for a in self.axis):
            raise ValueError(f"{self} applied to {x}, which has {x.ndim} dimension(s)")
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in self.axis)
        return Apply(self, [x], [TensorType(self.dtype, bcast)()])

    def _reduce(self, x: np.ndarray) -> np.ndarray:
        if self.kind in ("sum", "prod"):
            r = self.ufunc.reduce(x, axis=self.axis, dtype=self.dtype)
        elif self.kind in ("max", "min"):
            try:
                r = self.ufunc.reduce(x, axis=self.axis)
            except ValueError:  # NumPy refuses to reduce an empty axis without an identity
                raise ValueError(f"{self.kind} over axis {list(self.axis)} of an empty array "
                                 f"(shape {x.shape}) is undefined") from None
        else:
            r = self.ufunc.reduce(x, axis=self.axis)
        return np.asarray(r, dtype=self.dtype)

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self._reduce(inputs[0])

    def python_thunk(self, node):
        reduce = self._reduce
        return lambda x: (reduce(x),)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc" or self.kind in ("all", "any"):
            return [None]
        gz_full = _keep_dims(x, gz, self.axis)
        if self.kind == "sum":
            g = gz_full
            if g.broadcastable != x.broadcastable:
                g = alloc(g, *[x.shape[d] for d in range(x.ndim)])
        elif self.kind == "prod":
            g = gz_full * self._prod_grad(x)
        else:  # max / min: the gradient goes to every position holding the extremum
            g = gz_full * eq(x, _keep_dims(x, outputs[0], self.axis))
        return [cast(g, x.dtype)]

    def _prod_grad(self, x: TensorVariable) -> TensorVariable:
        """d prod / d x_i = the product of the other entries, exact when x has zeros.

        Without zeros it is prod / x_i; at the only zero of a group it is the product of the
        nonzero entries; everywhere else in a group with a zero it is 0.
        """
        is_zero = eq(x, 0)
        n_zeros = _keep_dims(x, Reduce("sum", self.axis, "int64")(is_zero), self.axis)
        safe_x = switch(is_zero, 1, x)
        nonzero_prod = _keep_dims(x, Reduce("prod", self.axis, x.dtype)(safe_x), self.axis)
        at_zero = switch(eq(n_zeros, 1), nonzero_prod, 0)
        elsewhere = switch(eq(n_zeros, 0), nonzero_prod / safe_x, 0)
        return switch(is_zero, at_zero, elsewhere)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d not in self.axis)]


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool, dtype: str | None = None
            ) -> TensorVariable:
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    if dtype is None:
        if kind in ("sum", "prod"):
            dt = np.dtype(x.dtype)
            if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < 8):
                dtype = "uint64" if dt.kind == "u" else "int64"
            else:
                dtype = x.dtype
        elif kind in ("all", "any"):
            dtype = "bool"
        else:
            dtype = x.dtype
    out = Reduce(kind, axes, str(np.dtype(dtype)))(x)
    return _keep_dims(x, out, axes) if keepdims else out


def sum(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False
        ) -> TensorVariable:
    return _reduce("sum", x, axis, keepdims, dtype)


def prod(x: Any, axis: Any = None, dtype: str | None = None, keepdims: bool = False
         ) -> TensorVariable:
    return _reduce("prod", x, axis, keepdims, dtype)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("min", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("all", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _reduce("any", x, axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Arithmetic mean; integer inputs give float64, as in NumPy."""
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    out_dtype = x.dtype if x.dtype[0] in "fc" else "float64"
    total = sum(cast(x, out_dtype), axis=axes, keepdims=keepdims)
    count = constant(1, dtype="int64")
    for a in axes:
        count = count * x.shape[a]
    return total / cast(count, out_dtype)


class Argmax(Op):
    """Index of the maximum (or minimum, `kind='argmin'`) along one axis or the flattened
    array (`axis=None`)."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: int | None):
        self.kind = kind
        self.axis = axis
        self._fn = np.argmax if kind == "argmax" else np.argmin

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is None:
            bcast: tuple[bool, ...] = ()
        else:
            bcast = tuple(b for d, b in enumerate(x.broadcastable) if d != self.axis)
        return Apply(self, [x], [TensorType("int64", bcast)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.size == 0:
            raise ValueError(f"{self.kind} of an empty array (shape {x.shape}) is undefined")
        output_storage[0][0] = np.asarray(self._fn(x, axis=self.axis), dtype="int64")

    def grad(self, inputs, output_grads):
        return [None]

    def infer_shape(self, fgraph, node, input_shapes):
        if self.axis is None:
            return [()]
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d != self.axis)]


def _arg(kind: str, x: Any, axis: Any, keepdims: bool) -> TensorVariable:
    x = as_tensor_variable(x)
    if axis is None:
        out = Argmax(kind, None)(x)
        if keepdims:
            out = DimShuffle((), ["x"] * x.ndim)(out)
        return out
    axes = _normalize_axis(axis, x.ndim)
    if len(axes) != 1:
        raise TypeError(f"{kind} takes one axis (an int) or None, got axis={axis!r}")
    (ax,) = axes
    out = Argmax(kind, ax)(x)
    return _keep_dims(x, out, (ax,)) if keepdims else out


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    return _arg("argmin", x, axis, keepdims)


# Products ---------------------------------------------------------------------------------
def outer(x: Any, y: Any) -> TensorVariable:
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return x.dimshuffle(0, "x") * y.dimshuffle("x", 0)


class Dot(Op):
    """`numpy.dot` for vectors and matrices."""

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if not (1 <= x.ndim <= 2 and 1 <= y.ndim <= 2):
            raise TypeError(f"dot takes vectors and matrices, got {x.type} and {y.type}")
        bcast = x.broadcastable[:-1] + y.broadcastable[:-2] + y.broadcastable[-1:] \
            if y.ndim == 2 else x.broadcastable[:-1]
        dtype = str(np.result_type(np.dtype(x.dtype), np.dtype(y.dtype)))
        return Apply(self, [x, y], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        output_storage[0][0] = self._dot(x, y, node)

    def python_thunk(self, node):
        dot = self._dot
        return lambda x, y: (dot(x, y, node),)

    @staticmethod
    def _dot(x: np.ndarray, y: np.ndarray, node: Apply) -> np.ndarray:
        k_x, k_y = x.shape[-1], y.shape[0]
        if k_x != k_y:
            raise ValueError(f"dot: shapes {x.shape} ({node.inputs[0]}) and {y.shape} "
                             f"({node.inputs[1]}) are not aligned: {k_x} != {k_y}")
        return np.asarray(np.dot(x, y), dtype=node.outputs[0].type.numpy_dtype)

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        if x.ndim == 1 and y.ndim == 1:
            gx, gy = gz * y, gz * x
        elif x.ndim == 2 and y.ndim == 1:
            gx, gy = outer(gz, y), dot(x.T, gz)
        elif x.ndim == 1 and y.ndim == 2:
            gx, gy = dot(y, gz), outer(x, gz)
        else:
            gx, gy = dot(gz, y.T), dot(x.T, gz)
        return [cast(gx, x.dtype) if x.dtype[0] in "fc" else None,
                cast(gy, y.dtype) if y.dtype[0] in "fc" else None]

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]


_dot = Dot()


def dot(x: Any, y: Any) -> TensorVariable:
    """Matrix/vector product as `numpy.dot`; with a scalar operand, elementwise product."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    return _dot(x, y)


class BatchedDot(Op):
    """Per-example product along the first axis: (b,n,m)·(b,m,p) → (b,n,p), (b,n)·(b,n) → (b,)."""

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if (x.ndim, y.ndim) not in ((3, 3), (2, 2), (3, 2), (2, 3)):
            raise TypeError(f"batched_dot takes 2- or 3-dimensional tensors, got {x.type} and "
                            f"{y.type}")
        dtype = str(np.result_type(np.dtype(x.dtype), np.dtype(y.dtype)))
        bcast = (x.broadcastable[0] and y.broadcastable[0],) + x.broadcastable[1:-1] \
            + y.broadcastable[2:]
        return Apply(self, [x, y], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        if x.shape[0] != y.shape[0] or x.shape[-1] != y.shape[1]:
            raise ValueError(f"batched_dot: shapes {x.shape} ({node.inputs[0]}) and {y.shape} "
                             f"({node.inputs[1]}) do not match")
        xx = x if x.ndim == 3 else x[:, None, :]
        yy = y if y.ndim == 3 else y[:, :, None]
        r = np.matmul(xx, yy)
        if x.ndim == 2:
            r = r[:, 0]
        if y.ndim == 2:
            r = r[..., 0]
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].type.numpy_dtype)

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        # Expand to the 3-d case, differentiate, and squeeze back.
        xx = x if x.ndim == 3 else x.dimshuffle(0, "x", 1)
        yy = y if y.ndim == 3 else y.dimshuffle(0, 1, "x")
        gzz = gz
        if x.ndim == 2:
            gzz = gzz.dimshuffle(0, "x", *range(1, gzz.ndim))
        if y.ndim == 2:
            gzz = gzz.dimshuffle(*range(gzz.ndim), "x")
        gx = batched_dot(gzz, yy.dimshuffle(0, 2, 1))
        gy = batched_dot(xx.dimshuffle(0, 2, 1), gzz)
        if x.ndim == 2:
            gx = gx.dimshuffle(0, 2)
        if y.ndim == 2:
            gy = gy.dimshuffle(0, 1)
        return [cast(gx, x.dtype), cast(gy, y.dtype)]

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [(xs[0],) + tuple(xs[1:-1]) + tuple(ys[2:])]


_batched_dot = BatchedDot()


def batched_dot(x: Any, y: Any) -> TensorVariable:
    return _batched_dot(x, y)
