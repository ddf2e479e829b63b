"""`Elemwise` (and the fused `Composite`s inside it) as OpenCL kernels.

The thunk checks shapes on the host (Theano's rule: only broadcastable dimensions stretch,
and a broadcast operand must really have extent 1, since it is read with stride 0), allocates
the output from the runtime's memory pool and enqueues the flat kernel when every full-size
operand is C-contiguous, the strided one otherwise.  Nothing is enqueued before the shapes are
checked, and nothing waits for the kernel: the host synchronizes when it reads a result.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, elemwise_node_kernel
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine.tensor.elemwise import runtime_shape_checker
from theanine_opencl.plan import DevicePlan, named_program, work_size
from theanine_opencl.runtime import Runtime

LOCAL_SIZE = 256


def elemwise_plan(node: Apply, renderer: OpenCLRenderer,
                  by_value: frozenset[int] = frozenset()) -> DevicePlan:
    op = node.op
    kernel = elemwise_node_kernel(node)
    scalar = kernel.scalar_inputs
    unit = Unit(renderer)
    renderer.elemwise(unit, kernel, "KNAME", by_value)
    source, name = named_program(unit)

    def make_thunk(rt: Runtime) -> Any:
        label = f"opencl elemwise {op}"
        return _thunk(node, rt, rt.kernel(source, name + "_c", label=label),
                      rt.kernel(source, name + "_s", label=label), scalar, by_value)

    scalars = frozenset(k for k, s in enumerate(scalar) if s)
    return DevicePlan(make_thunk, by_value, by_value=None if by_value else (
        lambda ks: elemwise_plan(node, renderer, ks)), scalar_inputs=scalars)


def _value_dtype(dtype: str) -> Any:
    return np.uint8 if dtype == "bool" else np.dtype(dtype).type


def _thunk(node: Apply, rt: Runtime, flat: Any, strided: Any, scalar: tuple[bool, ...],
           by_value: frozenset[int]) -> Any:
    out_var = node.outputs[0]
    nd = out_var.type.ndim
    nin = len(node.inputs)
    bcast = [i.type.broadcastable for i in node.inputs]
    dtype = np.dtype(out_var.type.dtype)
    sizes = [np.dtype(i.type.dtype).itemsize for i in node.inputs]
    i64 = np.int64
    vals = sorted(by_value)
    bufs = [k for k in range(nin) if k not in by_value]
    val_types = [_value_dtype(node.inputs[k].type.dtype) for k in vals]
    flat.set_scalar_arg_dtypes([i64, *val_types] + [None, i64] * len(bufs) + [None, i64])
    strided.set_scalar_arg_dtypes([i64, *val_types] + [i64] * nd
                                  + [None, i64, *[i64] * nd] * len(bufs)
                                  + [None, i64, *[i64] * nd])
    queue = rt.queue
    check_shapes = runtime_shape_checker(node)

    def thunk(*xs: Any) -> list[Any]:
        shape = check_shapes(xs)
        out = rt.empty(shape, dtype)
        n = out.size
        if n == 0:
            return [out]
        gsize, lsize = work_size(n, LOCAL_SIZE)
        values = [xs[k].item() for k in vals]
        if all(scalar[k] or (xs[k].flags.c_contiguous and xs[k].shape == shape)
               for k in bufs):
            args: list[Any] = [n, *values]
            for k in bufs:
                x = xs[k]
                args += (x.base_data, x.offset // sizes[k])
            args += (out.base_data, 0)
            flat(queue, gsize, lsize, *args)
            return [out]
        args = [n, *values, *shape]
        for k in bufs:
            x = xs[k]
            size = sizes[k]
            args += (x.base_data, x.offset // size)
            args += [0 if bcast[k][j] else x.strides[j] // size for j in range(nd)]
        args += (out.base_data, 0)
        args += [s // dtype.itemsize for s in out.strides]
        strided(queue, gsize, lsize, *args)
        return [out]

    return thunk
