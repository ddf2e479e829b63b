"""Arrays made on the device from host scalars: `arange` (an index vector for a gather, say),
so that a value built from shapes never crosses the bus."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl.plan import DevicePlan, work_size
from theanine_opencl.runtime import Runtime

LOCAL_SIZE = 256


def arange_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    """out[i] = start + i * step, computed in float64 (or int64) and cast as NumPy does."""
    dtype = np.dtype(node.op.dtype)
    out_t = renderer.ctype(str(dtype))
    work = "long" if dtype.kind in "iub" else renderer.ctype(
        "float64" if renderer.fp64 else "float32")
    source = "\n".join([
        renderer.headers,
        f"__kernel void th_arange(const long n, const {work} start, const {work} step, "
        f"__global {out_t} *out) {{",
        "    const long i = get_global_id(0);",
        f"    if (i < n) out[i] = ({out_t})(start + ({work})i * step);",
        "}"])
    wdt = np.int64 if dtype.kind in "iub" else (np.float64 if renderer.fp64 else np.float32)

    def make(rt: Runtime) -> Any:
        knl = rt.kernel(source, "th_arange", label="opencl arange")
        knl.set_scalar_arg_dtypes([np.int64, wdt, wdt, None])

        def thunk(start: Any, stop: Any, step: Any) -> list[Any]:
            size = _length(start.item(), stop.item(), step.item())
            out = rt.empty((size,), dtype)
            if size:
                g, lo = work_size(size, LOCAL_SIZE)
                knl(rt.queue, g, lo, size, start.item(), step.item(), out.base_data)
            return [out]

        return thunk

    return DevicePlan(make, frozenset({0, 1, 2}))


def _length(start: Any, stop: Any, step: Any) -> int:
    if step == 0:
        raise ValueError("arange: the step is 0 (a range needs a nonzero step)")
    return max(0, int(np.ceil((stop - start) / step)))
