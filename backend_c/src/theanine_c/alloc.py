"""`Alloc` (a tensor of a given shape filled with a broadcast value) as an elementwise copy
kernel: the same loops as `Elemwise`, over the identity program."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.kernels import ElemwiseKernel, ScalarProgram
from theanine.graph.basic import Apply
from theanine.scalar.basic import Cast
from theanine_c.build import array_pointer, buffer_pointer, int64_arrays
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import CRenderer


def alloc_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    value = node.inputs[0]
    out = node.outputs[0]
    nd = out.type.ndim
    if nd == 0:
        raise Unsupported("a 0-d alloc is a copy")
    dtype = out.type.dtype
    lead = nd - value.type.ndim
    bcast = (True,) * lead + tuple(value.type.broadcastable)
    program = ScalarProgram.of(Cast(dtype), (value.type.dtype,), dtype)
    kernel = ElemwiseKernel(program, nd, (all(bcast),), (bcast[-1],))
    unit = Unit(renderer)
    renderer.elemwise(unit, kernel, "KNAME")
    source, name = named_source(unit.source(), unit.declarations)

    def make_thunk(libs: Any) -> Any:
        contig = libs[0].function(f"{name}_contig")
        strided = libs[0].function(f"{name}_strided")
        fb, ptr, arrays = buffer_pointer(), array_pointer(), int64_arrays()
        d = np.dtype(dtype)

        def thunk(v: Any, *dims: Any) -> tuple:
            v = np.asarray(v, dtype=d)
            shape = tuple(int(s) for s in dims)
            if v.ndim != value.type.ndim or any(s < 0 for s in shape):
                raise ValueError(f"alloc: cannot fill shape {shape} with {value} of shape "
                                 f"{v.shape}")
            for k, b in enumerate(bcast[lead:]):
                if v.shape[k] != (1 if b else shape[lead + k]):
                    raise ValueError(
                        f"alloc: cannot fill shape {shape} with {value} of shape {v.shape}: "
                        f"its dimension {k} is {'broadcastable' if b else 'not broadcastable'}"
                        f" ({value.type}) and does not match")
            result = np.empty(shape, d)
            if all(bcast):
                contig(result.size, fb(v), fb(result))
            elif result.size:
                strides = (0,) * lead + tuple(0 if b else v.strides[k]
                                              for k, b in enumerate(bcast[lead:]))
                strided(arrays(shape), arrays(strides + result.strides), ptr(v), ptr(result))
            return (result,)

        return thunk

    return NativePlan((source,), make_thunk)
