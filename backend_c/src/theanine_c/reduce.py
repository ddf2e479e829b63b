"""`Reduce` (sum, prod, max, min, all, any over any axes) as a native loop.

The thunk presents the input to the kernel with the kept dimensions first (by permuting its
shape and strides, no copy), and the reduced ones in the order memory lays them out (the
smallest stride innermost); max/min of an empty set is refused before the kernel runs, as
NumPy refuses it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit
from theanine.codegen.kernels import ReduceKernel, accumulator_dtype
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer, int64_arrays
from theanine_c.plan import NativePlan, checked_input, named_source
from theanine_c.renderer import CRenderer


def reduce_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    op = node.op
    x = node.inputs[0]
    red = tuple(sorted(op.axis))
    keep = tuple(d for d in range(x.type.ndim) if d not in red)
    in_dtype, out_dtype = x.type.dtype, node.outputs[0].type.dtype
    kernel = ReduceKernel(op.kind, in_dtype, reduce_acc_dtype(op, in_dtype, out_dtype),
                          out_dtype, len(keep), max(1, len(red)))
    unit = Unit(renderer)
    renderer.reduce(unit, kernel, "KNAME")
    source, name = named_source(unit.source(), unit.declarations)

    def make_thunk(libs: Any) -> Any:
        return _thunk(node, libs[0].function(name), keep, red)

    return NativePlan((source,), make_thunk)


def _thunk(node: Apply, kernel: Any, keep: tuple[int, ...], red: tuple[int, ...]) -> Any:
    op = node.op
    x_var = node.inputs[0]
    din, dout = np.dtype(x_var.type.dtype), np.dtype(node.outputs[0].type.dtype)
    ndim = x_var.type.ndim
    fb, ptr, arrays = buffer_pointer(), array_pointer(), int64_arrays()
    written = keep + red

    def thunk(x: Any) -> tuple:
        if type(x) is not np.ndarray or x.dtype is not din or x.ndim != ndim:
            x = checked_input(x, din, ndim, op, x_var)
        shp, st = x.shape, x.strides
        out = reduction_output(op.kind, shp, keep, red, dout)
        if out.size == 0:
            return (out,)
        order = keep + memory_order(red, st) if len(red) > 1 else written
        shape = tuple(shp[d] for d in order)
        strides = tuple(st[d] for d in order)
        if not red:
            shape += (1,)
            strides += (0,)
        kernel(arrays(shape), arrays(strides), ptr(x), fb(out))
        return (out,)

    return thunk


@lru_cache(maxsize=256)
def memory_order(red: tuple[int, ...], strides: tuple[int, ...]) -> tuple[int, ...]:
    """The reduced dimensions by decreasing stride: the innermost loop then walks the
    smallest one.  In the order written, a sum of `x.T` (Fortran-ordered) strode 4000
    bytes an element: 630-750 us for 1000 x 1000 float32 on one thread, NumPy 155.  The
    order of a sum's additions follows the memory layout, as NumPy's does."""
    return tuple(sorted(red, key=lambda d: -abs(strides[d])))


def reduce_acc_dtype(op: Any, in_dtype: str, out_dtype: str,
                     operand_dtypes: tuple[str, ...] = ()) -> str:
    """The node's own accumulator for sum/prod (`Reduce.acc_dtype`, Theano's meaning: what
    the user asked for, or float64 for float32 input); for all/any an unsigned integer as wide
    as the widest element read (the input's, or `operand_dtypes`, those of a fused
    producer's operands), whose lanes AND/OR 0s and 1s (`CRenderer.reduce_parts`): a
    compare of float32s gives 32-bit masks, which a byte accumulator would have to pack; the
    kernel's default for the others."""
    if op.kind in ("sum", "prod") and getattr(op, "acc_dtype", None):
        return op.acc_dtype
    if op.kind in ("all", "any"):
        widest = max(np.dtype(d).itemsize for d in (in_dtype, *operand_dtypes))
        return f"uint{8 * min(widest, 8)}"
    return accumulator_dtype(op.kind, in_dtype, out_dtype)


def reduction_output(kind: str, shape: tuple, keep: tuple[int, ...], red: tuple[int, ...],
                     dtype: np.dtype) -> np.ndarray:
    """The (uninitialized) result of reducing an array of `shape` over `red`; max/min of an
    empty set is refused first, as NumPy refuses it, even when the result itself is empty."""
    if kind in ("max", "min") and any(shape[d] == 0 for d in red):
        raise ValueError(f"{kind} over axis {list(red)} of an empty array (shape {shape}) is "
                         "undefined")
    return np.empty(tuple(shape[d] for d in keep), dtype)
