"""The MRG31k3p uniform draw (`MRGUniform`) as one OpenCL kernel, bit-identical to `perform`.

The layout is the one `theanine.tensor.random.mrg` defines for native backends: a work item per
substream s < min(S, N) keeps its six integers in registers, draws elements s, s + S, ... of
the C-ordered output, and writes its row of the new state; rows that draw nothing keep their
values (the new state starts as a copy).  The recurrences run in 64-bit integers; the float
conversion is the definition's (float64: k * 2**-31; float32: float32(k) * NORM32, one IEEE
multiply), so every backend gives the same numbers.

The state's shape and dtype are checked before the launch; its values stay on the device, so
the kernel checks the rows it uses and records the first invalid one in a status word, read
back without waiting and checked at the end of the call (`Runtime.settle`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine.tensor.random import mrg
from theanine_opencl.plan import DevicePlan, named_program
from theanine_opencl.runtime import Runtime

LOCAL_SIZE = 64


def _source(r: OpenCLRenderer, dtype: str) -> tuple[str, str]:
    a12, a13 = mrg._A1[0][1], mrg._A1[0][2]
    a21, a23 = mrg._A2[0][0], mrg._A2[0][2]
    t = r.ctype(dtype)
    convert = ("(double)k * 0x1p-31" if dtype == "float64"
               else f"(float)k * {float(mrg.NORM32).hex()}f")
    unit = Unit(r)
    unit.kernels.append("\n".join([
        f"__kernel void KNAME(const long n, const long streams, __global int *st, "
        f"__global {t} *out, __global int *bad) {{",
        "    const long s = get_global_id(0);",
        "    if (s >= streams || s >= n) return;",
        "    __global int *row = st + 6 * s;",
        "    long x0 = row[0], x1 = row[1], x2 = row[2], y0 = row[3], y1 = row[4], y2 = row[5];",
        f"    if (min(min(x0, x1), x2) < 0 || max(max(x0, x1), x2) >= {mrg.M1}L"
        f" || min(min(y0, y1), y2) < 0 || max(max(y0, y1), y2) >= {mrg.M2}L"
        " || (x0 | x1 | x2) == 0 || (y0 | y1 | y2) == 0) {",
        "        atomic_min(bad, (int)s); return; }",
        "    for (long i = s; i < n; i += streams) {",
        f"        const long u = ({a12}L * x1 + {a13}L * x2) % {mrg.M1}L;",
        f"        const long v = ({a21}L * y0 + {a23}L * y2) % {mrg.M2}L;",
        "        x2 = x1; x1 = x0; x0 = u;",
        "        y2 = y1; y1 = y0; y0 = v;",
        f"        const long k = u - v > 0 ? u - v : u - v + {mrg.M1}L;",
        f"        out[i] = {convert};",
        "    }",
        "    row[0] = x0; row[1] = x1; row[2] = x2; row[3] = y0; row[4] = y1; row[5] = y2;",
        "}"]))
    return named_program(unit)


def uniform_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    op = node.op
    if op.dtype == "float64" and not renderer.fp64:
        raise Unsupported("float64 uniforms on a device without cl_khr_fp64")
    source, name = _source(renderer, op.dtype)
    state_var = node.inputs[0]
    ndim = len(op.broadcastable)
    dtype = np.dtype(op.dtype)

    def make_thunk(rt: Runtime) -> Any:
        from theanine_opencl.indexing import Status
        from theanine_opencl.layout import broadcast_copy

        knl = rt.kernel(source, name, [np.int64, np.int64, None, None, None],
                     f"opencl {op}")

        def thunk(state: Any, size: Any) -> list[Any]:
            shape = tuple(int(s) for s in np.asarray(size).reshape(-1))
            if len(shape) != ndim or any(s < 0 for s in shape):
                raise ValueError(f"{op}: bad size {shape} for a {ndim}-d draw")
            if state.ndim != 2 or state.shape[1] != 6 or state.shape[0] < 1 \
                    or state.dtype != np.int32:
                raise ValueError(f"{op} state {state_var}: an MRG state must be an int32 array "
                                 f"of shape (streams, 6), got {state.dtype} array of shape "
                                 f"{state.shape}")
            new_state = broadcast_copy(state, state.shape)
            out = rt.empty(shape, dtype)
            n = out.size
            if n:
                items = min(n, state.shape[0])
                groups = -(-items // LOCAL_SIZE)
                status = Status(rt)
                knl(rt.queue, (groups * LOCAL_SIZE,), (LOCAL_SIZE,), n, state.shape[0],
                    new_state.base_data, out.base_data, status.buf.base_data)
                status.check_later(lambda bad: ValueError(
                    f"{op} state {state_var}: invalid MRG state in row {bad} (entries must lie "
                    f"in [0, {mrg.M1}) for the first three columns, [0, {mrg.M2}) for the last "
                    "three, and neither half of a row may be all zeros)"))
            return [new_state, out]

        return thunk

    return DevicePlan(make_thunk, frozenset({1}))
