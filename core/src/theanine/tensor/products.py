"""Products: outer, dot (vectors and matrices), tensordot, matmul and batched_dot, with their
gradients (split from `tensor.math`, which re-exports them)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, flatten, same_extent
from theanine.tensor.math import _cj, _grad_for, sum
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def outer(x: Any, y: Any) -> TensorVariable:
    """`numpy.outer`: every entry of x times every entry of y (operands are flattened)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    x = x if x.ndim == 1 else flatten(x)
    y = y if y.ndim == 1 else flatten(y)
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
        cx, cy = _cj(x), _cj(y)
        if x.ndim == 1 and y.ndim == 1:
            gx, gy = gz * cy, gz * cx
        elif x.ndim == 2 and y.ndim == 1:
            gx, gy = outer(gz, cy), dot(cx.T, gz)
        elif x.ndim == 1 and y.ndim == 2:
            gx, gy = dot(cy, gz), outer(cx, gz)
        else:
            gx, gy = dot(gz, cy.T), dot(cx.T, gz)
        return [_grad_for(gx, x), _grad_for(gy, y)]

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]


_dot = Dot()


def dot(x: Any, y: Any) -> TensorVariable:
    """`numpy.dot`: the matrix/vector product, a scalar operand multiplies elementwise, and
    for higher ranks the sum over x's last axis and y's second-to-last (`Dot` for vectors and
    matrices, which BLAS rewrites know, `TensorDot` beyond)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    if x.ndim <= 2 and y.ndim <= 2:
        return _dot(x, y)
    return TensorDot(((x.ndim - 1,), (builtins.max(y.ndim - 2, 0),)))(x, y)


def _normalize_tensordot_axes(axes: Any, x: TensorVariable, y: TensorVariable
                              ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if not 0 <= n <= builtins.min(x.ndim, y.ndim):
            raise ValueError(f"tensordot: axes={n} is out of range for {x} ({x.ndim} "
                             f"dimension(s)) and {y} ({y.ndim} dimension(s))")
        return tuple(range(x.ndim - n, x.ndim)), tuple(range(n))
    try:
        xa, ya = axes
    except (TypeError, ValueError):
        raise TypeError(f"tensordot: axes must be an int or a pair of axis lists, got "
                        f"{axes!r}") from None
    pair = []
    for v, a in ((x, xa), (y, ya)):
        seq = [a] if isinstance(a, int | np.integer) else list(a)
        for d in seq:
            if not -v.ndim <= d < v.ndim:
                raise ValueError(f"tensordot: axis {d} is out of range for {v}, which has "
                                 f"{v.ndim} dimension(s)")
        norm = tuple(int(d) % v.ndim for d in seq)
        if len(set(norm)) != len(norm):
            raise ValueError(f"tensordot: repeated axis in {a!r} for {v}")
        pair.append(norm)
    if len(pair[0]) != len(pair[1]):
        raise ValueError(f"tensordot: {len(pair[0])} axes of {x} but {len(pair[1])} of {y}")
    return pair[0], pair[1]


def tensordot(x: Any, y: Any, axes: Any = 2) -> TensorVariable:
    """`numpy.tensordot`: sum the products over `axes` (an int n: the last n axes of x with
    the first n of y; or a pair of axis lists)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return TensorDot(_normalize_tensordot_axes(axes, x, y))(x, y)


class TensorDot(Op):
    """`numpy.tensordot` with fixed axes: the result has x's remaining dimensions followed by
    y's."""

    __props__ = ("axes",)

    def __init__(self, axes: tuple[Sequence[int], Sequence[int]]):
        self.axes = (tuple(axes[0]), tuple(axes[1]))

    def _free(self, x: Any, y: Any) -> tuple[list[int], list[int]]:
        xa, ya = self.axes
        return ([d for d in range(x.ndim) if d not in xa],
                [d for d in range(y.ndim) if d not in ya])

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        xa, ya = self.axes
        if len(xa) != len(ya) or builtins.any(a >= x.ndim for a in xa) \
                or builtins.any(a >= y.ndim for a in ya):
            raise TypeError(f"{self} cannot be applied to {x} ({x.type}) and {y} ({y.type})")
        xf, yf = self._free(x, y)
        bcast = tuple(x.broadcastable[d] for d in xf) + tuple(y.broadcastable[d] for d in yf)
        dtype = str(np.result_type(np.dtype(x.dtype), np.dtype(y.dtype)))
        return Apply(self, [x, y], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        for a, b in zip(*self.axes):
            if x.shape[a] != y.shape[b]:
                raise ValueError(
                    f"dot/tensordot: shapes {x.shape} ({node.inputs[0]}) and {y.shape} "
                    f"({node.inputs[1]}) are not aligned: dimension {a} of the first has "
                    f"length {x.shape[a]}, dimension {b} of the second {y.shape[b]}")
        r = np.tensordot(x, y, axes=self.axes)
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].type.numpy_dtype)

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        xa, ya = self.axes
        xf, yf = self._free(x, y)
        nxf = len(xf)
        # gx: contract gz's y-part with y's free axes; what is left of y are its summed axes,
        # in increasing order, each standing for the x axis it was paired with.
        gx = tensordot(gz, _cj(y), (list(range(nxf, gz.ndim)), yf))
        gx_dims = xf + [xa[ya.index(b)] for b in sorted(ya)]
        gx = gx.transpose([gx_dims.index(d) for d in range(x.ndim)])
        gy = tensordot(_cj(x), gz, (xf, list(range(nxf))))
        gy_dims = [ya[xa.index(a)] for a in sorted(xa)] + yf
        gy = gy.transpose([gy_dims.index(d) for d in range(y.ndim)])
        return [_grad_for(gx, x), _grad_for(gy, y)]

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        xf, yf = self._free(*node.inputs)
        return [tuple(xs[d] for d in xf) + tuple(ys[d] for d in yf)]


def _swap_last(v: TensorVariable) -> TensorVariable:
    return v.dimshuffle(*range(v.ndim - 2), v.ndim - 1, v.ndim - 2)


class MatMul(Op):
    """`numpy.matmul` (the `@` operator): matrix products over the last two dimensions with
    the leading (batch) dimensions broadcast; a vector operand acts as a row (left) or a column
    (right) whose added dimension is dropped from the result.  As in Elemwise, only batch
    dimensions typed broadcastable may be stretched."""

    @staticmethod
    def _padded(x: TensorVariable, y: TensorVariable) -> tuple[tuple[bool, ...], ...]:
        xb = x.broadcastable if x.ndim >= 2 else (True,) + x.broadcastable
        yb = y.broadcastable if y.ndim >= 2 else y.broadcastable + (True,)
        n = builtins.max(len(xb), len(yb))
        return (True,) * (n - len(xb)) + xb, (True,) * (n - len(yb)) + yb

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim == 0 or y.ndim == 0:
            raise TypeError(f"matmul: operands must have at least one dimension, got {x} "
                            f"({x.type}) and {y} ({y.type}); use mul for scalars")
        xb, yb = self._padded(x, y)
        bcast = tuple(a and b for a, b in zip(xb[:-2], yb[:-2]))
        if x.ndim >= 2:
            bcast += (xb[-2],)
        if y.ndim >= 2:
            bcast += (yb[-1],)
        dtype = str(np.result_type(np.dtype(x.dtype), np.dtype(y.dtype)))
        return Apply(self, [x, y], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        xv, yv = node.inputs
        k_y = y.shape[-2] if y.ndim >= 2 else y.shape[0]
        if x.shape[-1] != k_y:
            raise ValueError(f"matmul: shapes {x.shape} ({xv}) and {y.shape} ({yv}) are not "
                             f"aligned: {x.shape[-1]} != {k_y}")
        xs = x.shape[:-2] if x.ndim >= 2 else ()
        ys = y.shape[:-2] if y.ndim >= 2 else ()
        nb = builtins.max(len(xs), len(ys))
        xs, ys = (1,) * (nb - len(xs)) + xs, (1,) * (nb - len(ys)) + ys
        xb, yb = self._padded(xv, yv)
        for d in range(nb):
            size = ys[d] if xs[d] == 1 else xs[d]  # 1 stretches to anything, 0 included
            for v, s, b in ((xv, xs[d], xb[d]), (yv, ys[d], yb[d])):
                if s != size and (s != 1 or not b):
                    raise ValueError(
                        f"matmul: batch dimensions of {xv} (shape {x.shape}) and {yv} (shape "
                        f"{y.shape}) do not match: {v} has {s} where the other has {size}"
                        + ("" if s != 1 else f", and that dimension of {v} is not "
                           f"broadcastable ({v.type})"))
        output_storage[0][0] = np.asarray(np.matmul(x, y),
                                          dtype=node.outputs[0].type.numpy_dtype)

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        xx = x if x.ndim >= 2 else x.dimshuffle("x", 0)
        yy = y if y.ndim >= 2 else y.dimshuffle(0, "x")
        order: list[int | str] = list(range(gz.ndim))
        if x.ndim < 2:
            order.insert(gz.ndim - (1 if y.ndim >= 2 else 0), "x")
        if y.ndim < 2:
            order.append("x")
        gg = gz.dimshuffle(*order) if len(order) != gz.ndim else gz
        gx = _sum_to(matmul(gg, _swap_last(_cj(yy))), xx)
        gy = _sum_to(matmul(_swap_last(_cj(xx)), gg), yy)
        if x.ndim < 2:
            gx = gx.dimshuffle(1)
        if y.ndim < 2:
            gy = gy.dimshuffle(0)
        return [_grad_for(gx, x), _grad_for(gy, y)]

    def infer_shape(self, fgraph, node, input_shapes):
        x, y = node.inputs
        xs, ys = list(input_shapes[0]), list(input_shapes[1])
        xb, yb = self._padded(x, y)
        xs = xs if x.ndim >= 2 else [1] + xs
        ys = ys if y.ndim >= 2 else ys + [1]
        n = len(xb)
        xs = [1] * (n - len(xs)) + xs
        ys = [1] * (n - len(ys)) + ys
        batch = [ys[d] if xb[d] else xs[d] if yb[d]
                 else same_extent([xs[d], ys[d]], f"matmul batch dimension {d}")
                 for d in range(n - 2)]
        out = batch + ([xs[-2]] if x.ndim >= 2 else []) + ([ys[-1]] if y.ndim >= 2 else [])
        return [tuple(out)]


def _sum_to(g: TensorVariable, like: TensorVariable) -> TensorVariable:
    """Sum `g` over the leading dimensions `like` lacks and over those `like` broadcasts."""
    lead = g.ndim - like.ndim
    if lead:
        g = sum(g, axis=tuple(range(lead)))
    axes = [d for d in range(like.ndim - 2) if like.broadcastable[d] and not g.broadcastable[d]]
    return sum(g, axis=axes, keepdims=True) if axes else g


_matmul = MatMul()


def matmul(x: Any, y: Any) -> TensorVariable:
    """`numpy.matmul`: batched matrix product with broadcast batch dimensions."""
    return _matmul(x, y)


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
        gx = batched_dot(gzz, _cj(yy).dimshuffle(0, 2, 1))
        gy = batched_dot(_cj(xx).dimshuffle(0, 2, 1), gzz)
        if x.ndim == 2:
            gx = gx.dimshuffle(0, 2)
        if y.ndim == 2:
            gy = gy.dimshuffle(0, 1)
        return [_grad_for(gx, x), _grad_for(gy, y)]

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [(xs[0],) + tuple(xs[1:-1]) + tuple(ys[2:])]


_batched_dot = BatchedDot()


def batched_dot(x: Any, y: Any) -> TensorVariable:
    return _batched_dot(x, y)
