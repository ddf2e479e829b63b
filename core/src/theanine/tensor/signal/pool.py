"""Pooling over the last `ndim` dimensions of a tensor (Theano's `signal.pool`): `pool_2d`,
`pool_3d`, `max_pool_2d_same_size`, and the Ops `Pool`, `MaxPoolGrad`, `AveragePoolGrad` and
`DownsampleFactorMaxGradGrad` (the gradient of MaxPoolGrad, which second-order code needs).

Window size, stride and padding are Op parameters (ints known when the graph is built), so a
backend can specialize its kernel on them.  `perform` loops over the window offsets (a few) and
works on whole strided slices of an input extended by padding, so every window is complete.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, zeros_like
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _out_len(v: Any, w: int, s: int, p: int, ignore_border: bool) -> Any:
    """Theano's number of windows along one axis (v may be symbolic)."""
    from theanine.tensor.math import maximum

    if ignore_border:
        out = (v + 2 * p - w) // s + 1
    elif s >= w:
        return (v - 1) // s + 1
    else:
        out = (v - 1 - w + s) // s
    out = maximum(out, 0) if isinstance(out, Variable) else max(int(out), 0)
    return out if ignore_border else out + 1


def _static(value: Any, nd: int, what: str, low: int) -> tuple[int, ...]:
    """`value` as `nd` ints >= low, known when the graph is built."""
    if isinstance(value, Constant):
        value = value.data
    if isinstance(value, Variable):
        raise TypeError(f"pool: {what} must be known when the graph is built (a tuple of "
                        f"{nd} ints), got the symbolic {value}")
    entries = [value] if np.ndim(value) == 0 else list(np.asarray(value, dtype=object))
    entries = [e.data if isinstance(e, Constant) else e for e in entries]
    if len(entries) != nd or not all(isinstance(e, int | np.integer) and not isinstance(e, bool)
                                     and e >= low for e in entries):
        raise ValueError(f"pool: {what} must be a tuple of {nd} ints >= {low}, got {value!r}")
    return tuple(int(e) for e in entries)


class PoolingOp(Op):
    """What the pooling Ops share: parameters, checks and the window geometry."""

    __props__ = ("ignore_border", "mode", "ndim", "ws", "stride", "pad")

    def __init__(self, ignore_border: bool = False, mode: str = "max", ndim: int = 2,
                 ws: Any = None, stride: Any = None, pad: Any = None):
        mode = "max" if mode == "max_deterministic" else mode
        if mode not in MODES:
            raise ValueError(f"pool: mode must be one of {MODES}, got {mode!r}")
        if not isinstance(ndim, int) or ndim < 1:
            raise ValueError(f"pool: ndim must be an int >= 1, got {ndim!r}")
        self.ignore_border, self.mode, self.ndim = bool(ignore_border), mode, ndim
        self.ws = None if ws is None else _static(ws, ndim, "ws (the window size)", 1)
        self.stride = None if stride is None else _static(stride, ndim, "stride", 1)
        self.pad = (0,) * ndim if pad is None else _static(pad, ndim, "pad", 0)
        if self.ws is not None and self.stride is None:
            self.stride = self.ws
        if any(self.pad):
            if not self.ignore_border:
                raise NotImplementedError("pool: padding works only with ignore_border=True")
            if self.ws is not None and any(p >= w for p, w in zip(self.pad, self.ws)):
                raise NotImplementedError(f"pool: pad {self.pad} must be smaller than the "
                                          f"window size ws {self.ws}")

    def _bound(self, ws: Any, stride: Any, pad: Any) -> PoolingOp:
        """This Op, or the one whose window is given at the call (Theano's calling style)."""
        if ws is None and stride is None and pad is None:
            if self.ws is None:
                raise TypeError(f"{type(self).__name__}: no window size (ws) given")
            return self
        return type(self)(self.ignore_border, self.mode, self.ndim,
                          self.ws if ws is None else ws, stride, self.pad if pad is None else pad)

    def _input(self, x: Any, role: str = "input") -> TensorVariable:
        x = as_tensor_variable(x)
        if x.ndim < self.ndim:
            raise TypeError(f"pool: the {role} {x} must have at least {self.ndim} dimensions "
                            f"(pooling is over the last {self.ndim}), got {x.type}")
        return x

    def _out_type(self, x: TensorVariable) -> TensorType:
        return TensorType(x.dtype, x.broadcastable[:-self.ndim] + (False,) * self.ndim)

    # geometry (NumPy) ---------------------------------------------------------------------
    def _geometry(self, img: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(windows per axis, extent of the input extended so that every window is whole)."""
        out = tuple(_out_len(v, w, s, p, self.ignore_border)
                    for v, w, s, p in zip(img, self.ws, self.stride, self.pad))
        ext = tuple(max((o - 1) * s + w, v + 2 * p)
                    for o, v, w, s, p in zip(out, img, self.ws, self.stride, self.pad))
        return out, ext

    def _inner(self, img: Sequence[int]) -> tuple:
        """The index of the input inside its extension."""
        return (Ellipsis,) + tuple(slice(p, p + v) for p, v in zip(self.pad, img))

    def _extended(self, x: np.ndarray, ext: tuple[int, ...], fill: Any) -> np.ndarray:
        xe = np.full(x.shape[:-self.ndim] + ext, fill, dtype=x.dtype)
        xe[self._inner(x.shape[-self.ndim:])] = x
        return xe

    def _offsets(self, out: tuple[int, ...]):
        """For each offset in the window, the index of that element of every window."""
        for u in np.ndindex(*self.ws):
            yield (Ellipsis,) + tuple(slice(a, a + s * (o - 1) + 1, s)
                                      for a, s, o in zip(u, self.stride, out))

    def _counts(self, img: Sequence[int], out: tuple[int, ...]) -> np.ndarray:
        """How many elements each window averages over."""
        count = np.ones((), dtype="int64")
        for v, w, s, p, o in zip(img, self.ws, self.stride, self.pad, out):
            start = np.arange(o) * s
            end = np.minimum(start + w, v + 2 * p)
            if self.mode == "average_exc_pad":
                start, end = np.maximum(start, p), np.minimum(end, v + p)
            count = np.multiply.outer(count, end - start)
        return count

    def _lowest(self, dtype: np.dtype) -> Any:
        return -np.inf if dtype.kind in "fc" else np.iinfo(dtype).min if dtype.kind in "iu" \
            else False

    def _check_out(self, value: np.ndarray, want: tuple, var: Variable, what: str) -> None:
        if value.shape != want:
            raise ValueError(f"{type(self).__name__}: {what} {var} has shape {value.shape}, "
                             f"but pooling the input gives {want}")

    def _symbolic_shape(self, xshp: Sequence[Any]) -> tuple[Any, ...]:
        lead = tuple(xshp[:-self.ndim])
        return lead + tuple(_out_len(v, w, s, p, self.ignore_border) for v, w, s, p in
                            zip(xshp[-self.ndim:], self.ws, self.stride, self.pad))


class Pool(PoolingOp):
    """Max, sum or average over windows of the last `ndim` dimensions."""

    def make_node(self, x: Any, ws: Any = None, stride: Any = None, pad: Any = None) -> Apply:
        op = self._bound(ws, stride, pad)
        x = op._input(x)
        return Apply(op, [x], [op._out_type(x)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        img = x.shape[-self.ndim:]
        out, ext = self._geometry(img)
        shape = x.shape[:-self.ndim] + out
        if 0 in shape:
            output_storage[0][0] = np.zeros(shape, dtype=x.dtype)
            return
        is_max = self.mode == "max"
        xe = self._extended(x, ext, self._lowest(x.dtype) if is_max else 0)
        acc = None
        for at in self._offsets(out):
            if acc is None:
                acc = xe[at].copy()
            elif is_max:
                np.maximum(acc, xe[at], out=acc)
            else:
                np.add(acc, xe[at], out=acc)
        if self.mode.startswith("average"):
            acc = (acc / self._counts(img, out)).astype(x.dtype, copy=False)
        output_storage[0][0] = acc

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if x.dtype[0] not in "fc":
            return [None]
        params = (self.ignore_border, self.mode, self.ndim, self.ws, self.stride, self.pad)
        if self.mode == "max":
            return [MaxPoolGrad(*params)(x, self(x), gz)]
        return [AveragePoolGrad(*params)(x, gz)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [self._symbolic_shape(input_shapes[0])]

    @staticmethod
    def out_shape(imgshape: Sequence[Any], ws: Any = None, ignore_border: bool = False,
                  stride: Any = None, pad: Any = None, ndim: int = 2) -> list[Any]:
        """The shape of the pooled `imgshape` (Theano's `Pool.out_shape`)."""
        op = Pool(ignore_border, "max", ndim, ws, stride, pad)
        return list(op._symbolic_shape(imgshape))


class MaxPoolGrad(PoolingOp):
    """The gradient of max pooling: each window's output gradient goes to the input
    element(s) equal to the window's maximum."""

    def __init__(self, ignore_border: bool = False, mode: str = "max", ndim: int = 2,
                 ws: Any = None, stride: Any = None, pad: Any = None):
        if mode != "max":
            raise ValueError(f"MaxPoolGrad is for mode='max', got {mode!r}")
        super().__init__(ignore_border, mode, ndim, ws, stride, pad)

    def make_node(self, x: Any, maxout: Any, gz: Any, ws: Any = None, stride: Any = None,
                  pad: Any = None) -> Apply:
        op = self._bound(ws, stride, pad)
        x, maxout, gz = (op._input(v, r) for v, r in ((x, "input"), (maxout, "pooled output"),
                                                     (gz, "output gradient")))
        return Apply(op, [x, maxout, gz], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, maxout, gz = inputs
        img = x.shape[-self.ndim:]
        out, ext = self._geometry(img)
        want = x.shape[:-self.ndim] + out
        self._check_out(maxout, want, node.inputs[1], "the pooled output")
        self._check_out(gz, want, node.inputs[2], "the output gradient")
        xe = self._extended(x, ext, self._lowest(x.dtype))
        gxe = np.zeros(xe.shape, dtype=x.dtype)
        if 0 not in want:
            for at in self._offsets(out):
                gxe[at] += np.where(xe[at] == maxout, gz, 0)
        output_storage[0][0] = np.ascontiguousarray(gxe[self._inner(img)])

    def grad(self, inputs, output_grads):
        x, maxout, gz = inputs
        (ggx,) = output_grads
        params = (self.ignore_border, self.mode, self.ndim, self.ws, self.stride, self.pad)
        return [zeros_like(x), zeros_like(maxout),
                DownsampleFactorMaxGradGrad(*params)(x, maxout, ggx)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


class AveragePoolGrad(PoolingOp):
    """The gradient of sum or average pooling: each window's output gradient, divided by
    what the window averaged over, added to every element of the window."""

    def __init__(self, ignore_border: bool = False, mode: str = "average_inc_pad",
                 ndim: int = 2, ws: Any = None, stride: Any = None, pad: Any = None):
        if mode == "max":
            raise ValueError("AveragePoolGrad is for the sum and average modes; max pooling "
                             "has MaxPoolGrad")
        super().__init__(ignore_border, mode, ndim, ws, stride, pad)

    def make_node(self, x: Any, gz: Any, ws: Any = None, stride: Any = None, pad: Any = None
                  ) -> Apply:
        op = self._bound(ws, stride, pad)
        x, gz = op._input(x), op._input(gz, "output gradient")
        return Apply(op, [x, gz], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, gz = inputs
        img = x.shape[-self.ndim:]
        out, ext = self._geometry(img)
        self._check_out(gz, x.shape[:-self.ndim] + out, node.inputs[1], "the output gradient")
        share = gz / self._counts(img, out) if self.mode.startswith("average") else gz
        gxe = np.zeros(x.shape[:-self.ndim] + ext, dtype=share.dtype)
        if gz.size:
            for at in self._offsets(out):
                gxe[at] += share
        output_storage[0][0] = gxe[self._inner(img)].astype(x.dtype)

    def grad(self, inputs, output_grads):
        x, gz = inputs
        (ggx,) = output_grads
        pool = Pool(self.ignore_border, self.mode, self.ndim, self.ws, self.stride, self.pad)
        return [zeros_like(x), pool(ggx)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


class DownsampleFactorMaxGradGrad(PoolingOp):
    """The gradient of MaxPoolGrad with respect to its output gradient: for each window, the
    sum of `gg` over the element(s) equal to the window's maximum (MaxPoolGrad's adjoint)."""

    def __init__(self, ignore_border: bool = False, mode: str = "max", ndim: int = 2,
                 ws: Any = None, stride: Any = None, pad: Any = None):
        if mode != "max":
            raise ValueError(f"DownsampleFactorMaxGradGrad is for mode='max', got {mode!r}")
        super().__init__(ignore_border, mode, ndim, ws, stride, pad)

    def make_node(self, x: Any, maxout: Any, gg: Any, ws: Any = None, stride: Any = None,
                  pad: Any = None) -> Apply:
        op = self._bound(ws, stride, pad)
        x, maxout, gg = (op._input(v, r) for v, r in ((x, "input"), (maxout, "pooled output"),
                                                     (gg, "input-shaped gradient")))
        return Apply(op, [x, maxout, gg], [maxout.type()])

    def perform(self, node, inputs, output_storage):
        x, maxout, gg = inputs
        img = x.shape[-self.ndim:]
        out, ext = self._geometry(img)
        self._check_out(maxout, x.shape[:-self.ndim] + out, node.inputs[1],
                        "the pooled output")
        if gg.shape != x.shape:
            raise ValueError(f"DownsampleFactorMaxGradGrad: {node.inputs[2]} has shape "
                             f"{gg.shape}, but the input {node.inputs[0]} has {x.shape}")
        xe = self._extended(x, ext, self._lowest(x.dtype))
        gge = self._extended(gg, ext, 0)
        result = np.zeros(maxout.shape, dtype=maxout.dtype)
        if maxout.size:
            for at in self._offsets(out):
                result += np.where(xe[at] == maxout, gge[at], 0).astype(result.dtype)
        output_storage[0][0] = result

    def grad(self, inputs, output_grads):
        x, maxout, gg = inputs
        (gz,) = output_grads
        params = (self.ignore_border, self.mode, self.ndim, self.ws, self.stride, self.pad)
        return [zeros_like(x), zeros_like(maxout), MaxPoolGrad(*params)(x, maxout, gz)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]


# Theano's functions -----------------------------------------------------------------------
def _renamed(new: Any, old: Any, new_name: str, old_name: str, default: Any = None) -> Any:
    """Theano's deprecated keyword `old_name`, accepted with a warning."""
    if old is None:
        return new
    if new is not None and new != default:
        raise ValueError(f"pool: give {new_name} or its old name {old_name}, not both")
    warnings.warn(f"pool: the {old_name!r} parameter is deprecated; use {new_name!r}",
                  DeprecationWarning, stacklevel=3)
    return old


def _pool_nd(nd: int, input: Any, ws: Any, ignore_border: bool | None, stride: Any, pad: Any,
             mode: str, name: str) -> TensorVariable:
    if ws is None:
        raise ValueError(f"{name}: give the window size ws (a tuple of {nd} ints)")
    input = as_tensor_variable(input)
    if input.ndim < nd:
        raise TypeError(f"{name}: the input {input} must have at least {nd} dimensions, got "
                        f"{input.type}")
    if ignore_border is None:
        warnings.warn(f"{name}: ignore_border was not given; it is False (Theano's default). "
                      "Pass ignore_border=True or False explicitly.", DeprecationWarning,
                      stacklevel=3)
        ignore_border = False
    return Pool(ignore_border, mode, nd, ws, stride, pad)(input)


def pool_2d(input: Any, ws: Any = None, ignore_border: bool | None = None, stride: Any = None,
            pad: Any = (0, 0), mode: str = "max", ds: Any = None, st: Any = None,
            padding: Any = None) -> TensorVariable:
    """Pool the last two dimensions of `input` over windows `ws` moved by `stride` (default
    `ws`), after zero padding `pad`; `mode` is max, sum, average_inc_pad or average_exc_pad.
    `ds`, `st` and `padding` are Theano's deprecated names of ws, stride and pad."""
    ws = _renamed(ws, ds, "ws", "ds")
    stride = _renamed(stride, st, "stride", "st")
    pad = _renamed(pad, padding, "pad", "padding", default=(0, 0))
    return _pool_nd(2, input, ws, ignore_border, stride, pad, mode, "pool_2d")


def pool_3d(input: Any, ws: Any = None, ignore_border: bool | None = None, stride: Any = None,
            pad: Any = (0, 0, 0), mode: str = "max", ds: Any = None, st: Any = None,
            padding: Any = None) -> TensorVariable:
    """`pool_2d` over the last three dimensions."""
    ws = _renamed(ws, ds, "ws", "ds")
    stride = _renamed(stride, st, "stride", "st")
    pad = _renamed(pad, padding, "pad", "padding", default=(0, 0, 0))
    return _pool_nd(3, input, ws, ignore_border, stride, pad, mode, "pool_3d")


def max_pool_2d_same_size(input: Any, patch_size: Any) -> TensorVariable:
    """Keep the maximum of each non-overlapping `patch_size` patch of the last two
    dimensions where it is, and zero the rest of the patch; the shape does not change."""
    input = as_tensor_variable(input)
    pool = Pool(True, "max", 2, patch_size)
    output = pool(input)
    return MaxPoolGrad(True, "max", 2, pool.ws)(input, output, output)
