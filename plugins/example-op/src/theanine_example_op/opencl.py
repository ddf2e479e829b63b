"""The Op's native code for the OpenCL backend: an impl registered for (RowSoftmax, "opencl")
that returns a `DevicePlan` (see theanine_opencl.plan).  Imported only when a function is
compiled for that backend, so the plugin never needs pyopencl otherwise.

One work item per row: the row's max, the sum of exp(x - max) accumulated in double when the
device has it, then the normalized row.  The input is made C-contiguous on the device first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ROW_SOFTMAX_CL = """
__kernel void example_row_softmax(const long rows, const long cols,
                                  __global const REAL *x, const long xo, __global REAL *out) {
    const long r = get_global_id(0);
    if (r >= rows || cols == 0) return;
    __global const REAL *row = x + xo + r * cols;
    __global REAL *dst = out + r * cols;
    REAL m = row[0];
    for (long j = 1; j < cols; j++) m = fmax(m, row[j]);
    ACC total = 0;
    for (long j = 0; j < cols; j++) total += exp((ACC)(row[j] - m));
    for (long j = 0; j < cols; j++) dst[j] = (REAL)(exp((ACC)(row[j] - m)) / total);
}
"""


def row_softmax_plan(node: Any) -> Any:
    from theanine_opencl.backend import BACKEND
    from theanine_opencl.layout import contiguous
    from theanine_opencl.plan import DevicePlan, work_size

    renderer = BACKEND.renderer
    dtype = node.inputs[0].dtype
    real = renderer.ctype(dtype)  # Unsupported (host fallback) for float64 without fp64
    acc = "double" if renderer.fp64 else "float"
    source = renderer.headers + ROW_SOFTMAX_CL.replace("REAL", real).replace("ACC", acc)

    def make_thunk(rt: Any) -> Any:
        import pyopencl.array as cla

        knl = rt.kernel(source, "example_row_softmax", [np.int64, np.int64, None, np.int64,
                                                         None], label="example row softmax")

        def thunk(x: Any) -> list[Any]:
            x = contiguous(x)
            out = cla.empty(rt.queue, x.shape, x.dtype, allocator=rt.allocator)
            rows, cols = x.shape
            if rows and cols:
                g, lo = work_size(rows, 64)
                knl(rt.queue, g, lo, rows, cols, x.base_data, x.offset // x.dtype.itemsize,
                    out.base_data)
            return [out]

        return thunk

    return DevicePlan(make_thunk)
