"""`Elemwise` (and fused `Composite`s) as CUDA kernels.

The kernel text is the OpenCL renderer's two frames (`_c` over contiguous operands, `_s` over
any strides) in the CUDA dialect.  The thunk checks shapes on the host first (Theano's rule:
only broadcastable dimensions stretch, and a broadcast operand must have extent 1), allocates
the output and launches one thread per element (`launch.elementwise_launch`).  Device arrays
are passed as pointers to their first element, so offsets are 0 and strides are in elements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported, elemwise_kernel, named_program
from theanine.graph.basic import Apply
from theanine.link.device import DevicePlan
from theanine.tensor.elemwise import runtime_shape_checker
from theanine_cuda.launch import elementwise_launch
from theanine_cuda.renderer import CUDARenderer
from theanine_cuda.runtime import runtime


def render(scalar_op: Any, in_dtypes: tuple[str, ...], out_dtype: str,
           bcast: list[tuple[bool, ...]], nd: int, renderer: CUDARenderer,
           by_value: frozenset[int] = frozenset()) -> tuple[str, str, tuple[bool, ...]]:
    """(source, kernel name stem, scalar flags) of one elementwise computation."""
    kernel = elemwise_kernel(scalar_op, in_dtypes, out_dtype, bcast, nd)
    unit = Unit(renderer)
    renderer.elemwise(unit, kernel, "KNAME", by_value)
    source, name = named_program(unit)
    return source, name, kernel.scalar_inputs


def elemwise_plan(node: Apply, renderer: CUDARenderer,
                  by_value: frozenset[int] = frozenset()) -> DevicePlan:
    if len(node.outputs) != 1:
        raise Unsupported("Elemwise with several outputs")
    out = node.outputs[0]
    bcast = [i.type.broadcastable for i in node.inputs]
    source, name, scalar = render(node.op.scalar_op, tuple(i.type.dtype for i in node.inputs),
                                  out.type.dtype, bcast, out.type.ndim, renderer, by_value)

    def make_thunk(rt: Any) -> Any:
        label = f"cuda elemwise {node.op}"
        return _thunk(node, rt, rt.function(source, name + "_c", label),
                      rt.function(source, name + "_s", label), scalar, by_value)

    scalars = frozenset(k for k, s in enumerate(scalar) if s)
    return DevicePlan(make_thunk, by_value, by_value=None if by_value else (
        lambda ks: elemwise_plan(node, renderer, ks)), scalar_inputs=scalars)


def _value(dtype: str, x: Any) -> Any:
    return np.uint8(x) if dtype == "bool" else np.dtype(dtype).type(x)


def _thunk(node: Apply, rt: Any, flat: Any, strided: Any, scalar: tuple[bool, ...],
           by_value: frozenset[int]) -> Any:
    out_var = node.outputs[0]
    nd = out_var.type.ndim
    nin = len(node.inputs)
    bcast = [i.type.broadcastable for i in node.inputs]
    dtype = np.dtype(out_var.type.dtype)
    in_dtypes = [i.type.dtype for i in node.inputs]
    sizes = [np.dtype(d).itemsize for d in in_dtypes]
    vals = sorted(by_value)
    bufs = [k for k in range(nin) if k not in by_value]
    i64, zero = np.int64, np.int64(0)
    check_shapes = runtime_shape_checker(node)

    def thunk(*xs: Any) -> list[Any]:
        shape = check_shapes(xs)
        out = rt.empty(shape, dtype)
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0:
            return [out]
        grid, block = elementwise_launch(n)
        values = [_value(in_dtypes[k], np.asarray(xs[k]).item()) for k in vals]
        if all(scalar[k] or (xs[k].flags.c_contiguous and xs[k].shape == shape) for k in bufs):
            args: list[Any] = [i64(n), *values]
            for k in bufs:
                args += (rt.pointer(xs[k]), zero)
            flat(*args, rt.pointer(out), zero, grid=grid, block=block)
            return [out]
        args = [i64(n), *values, *map(i64, shape)]
        for k in bufs:
            args += (rt.pointer(xs[k]), zero)
            args += [zero if bcast[k][j] else i64(xs[k].strides[j] // sizes[k])
                     for j in range(nd)]
        args += (rt.pointer(out), zero, *[i64(s // dtype.itemsize) for s in out.strides])
        strided(*args, grid=grid, block=block)
        return [out]

    return thunk


def gather(value: Any) -> Any:
    """A C-ordered device copy of device array `value`: the strided identity kernel."""
    from theanine.scalar.basic import Cast

    rt = runtime()
    dtype = str(value.dtype) if value.dtype != np.bool_ else "bool"
    nd = len(value.shape)
    source, name, _ = render(Cast(dtype), (dtype,), dtype, [(False,) * nd], nd, CUDARenderer())
    out = rt.empty(tuple(value.shape), value.dtype)
    n = int(np.prod(value.shape, dtype=np.int64))
    if n:
        size = value.dtype.itemsize
        grid, block = elementwise_launch(n)
        rt.function(source, name + "_s", "cuda copy")(
            np.int64(n), *map(np.int64, value.shape), rt.pointer(value), np.int64(0),
            *[np.int64(s // size) for s in value.strides], rt.pointer(out), np.int64(0),
            *[np.int64(s // size) for s in out.strides], grid=grid, block=block)
    return out
