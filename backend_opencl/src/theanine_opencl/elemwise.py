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

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.kernels import ElemwiseKernel, ScalarProgram
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl.plan import DevicePlan, named_program, work_size
from theanine_opencl.runtime import Runtime

LOCAL_SIZE = 256


def elemwise_plan(node: Apply, renderer: OpenCLRenderer,
                  by_value: frozenset[int] = frozenset()) -> DevicePlan:
    op = node.op
    if len(node.outputs) != 1:
        raise Unsupported("Elemwise with several outputs")
    out = node.outputs[0]
    in_dtypes = tuple(i.type.dtype for i in node.inputs)
    program = ScalarProgram.of(op.scalar_op, in_dtypes, out.type.dtype)
    if program.out_dtype != out.type.dtype:
        raise Unsupported(f"scalar program gives {program.out_dtype}, node wants {out.dtype}")
    nd = out.type.ndim
    bcast = [i.type.broadcastable for i in node.inputs]
    scalar = tuple(all(b) for b in bcast)
    inner = tuple(bool(b[-1]) if nd else True for b in bcast)
    kernel = ElemwiseKernel(program, nd, scalar, inner)
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


def _broadcast_error(node: Apply, values: Any, shape: tuple) -> ValueError:
    from theanine.tensor.elemwise import _runtime_broadcast_error

    return _runtime_broadcast_error(node, values, shape)


def _numpy_shape(xs: Any) -> tuple | None:
    """The shape NumPy's broadcasting would give (None: none), for the error message."""
    try:
        return np.broadcast_shapes(*[x.shape for x in xs])
    except ValueError:
        return None


def _value_dtype(dtype: str) -> Any:
    return np.uint8 if dtype == "bool" else np.dtype(dtype).type


def _thunk(node: Apply, rt: Runtime, flat: Any, strided: Any, scalar: tuple[bool, ...],
           by_value: frozenset[int]) -> Any:
    import pyopencl.array as cla

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
    queue, allocator = rt.queue, rt.allocator
    # which input gives each dimension's extent (a non-broadcastable one), and the others
    # that must agree with it
    givers = [[k for k in range(nin) if not bcast[k][j]] for j in range(nd)]

    def thunk(*xs: Any) -> list[Any]:
        shape = []
        for j in range(nd):
            ks = givers[j]
            ext = xs[ks[0]].shape[j] if ks else 1
            for k in ks[1:]:
                if xs[k].shape[j] != ext:
                    raise _broadcast_error(node, xs, _numpy_shape(xs))
            shape.append(ext)
        shape = tuple(shape)
        for k in range(nin):
            x = xs[k]
            for j in range(nd):
                if bcast[k][j] and x.shape[j] != 1:
                    raise _broadcast_error(node, xs, shape)
        out = cla.empty(queue, shape, dtype, allocator=allocator)
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
