"""`argmax` / `argmin` along one axis or over the flattened array: the first position of the
extremum, or of the first NaN when there is one (NumPy's rules), as reductions of (value,
position) pairs laid out like `reduce.py`'s (kept dimensions first; one work-group per output,
or one work item per output when each reduces few elements).

Work items see interleaved positions, so the pair combine compares positions too: a NaN beats
any number, the earlier of two NaNs or of two equal values wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl.plan import DevicePlan, named_program
from theanine_opencl.reduce import GROUP, SERIAL_BELOW, base_offset, kept_first
from theanine_opencl.runtime import Runtime


def _render(r: OpenCLRenderer, unit: Unit, dtype: str, kind: str, nk: int, nr: int) -> None:
    t = r.ctype(dtype)
    better = ">" if kind == "argmax" else "<"
    nd = nk + nr
    dims = ", ".join(f"const long d{j}" for j in range(nd))
    strides = ", ".join(f"const long s{j}" for j in range(nd))
    unit.helpers["th_pick"] = "\n".join([
        f"static inline int th_pick({t} va, long ia, {t} vb, long ib) {{",
        "    /* whether (vb, ib) wins over (va, ia); a position < 0 is no candidate */",
        "    if (ib < 0) return 0;",
        "    if (ia < 0) return 1;",
        *(["    const int na = va != va, nb = vb != vb;",
           "    if (na || nb) return nb && (!na || ib < ia);"] if dtype.startswith("float")
          else []),
        f"    return vb {better} va || (vb == va && ib < ia);",
        "}"])
    head = f"__global const {t} *x, const long xo, {strides}, __global long *out"
    fold = ["        " + ln.strip() for ln in base_offset(nr, "q", "at", "base", first=nk)]
    at, base = r.value("x[at]", dtype), r.value("x[base]", dtype)
    fold.append(f"        if (th_pick(v, i, {at}, q)) {{ v = {at}; i = q; }}")
    unit.kernels.append("\n".join([
        f"__kernel void KNAME_g(const long n_red, {dims}, {head}) {{",
        f"    __local {t} vbuf[{GROUP}];",
        f"    __local long ibuf[{GROUP}];",
        "    const long o = get_group_id(0);",
        "    const int j = get_local_id(0);",
        *base_offset(nk, "o"),
        f"    {t} v = {base}; long i = -1;",
        f"    for (long q = j; q < n_red; q += {GROUP}) {{",
        *fold,
        "    }",
        "    vbuf[j] = v; ibuf[j] = i;",
        "    barrier(CLK_LOCAL_MEM_FENCE);",
        f"    for (int h = {GROUP // 2}; h > 0; h >>= 1) {{",
        "        if (j < h && th_pick(vbuf[j], ibuf[j], vbuf[j + h], ibuf[j + h])) {",
        "            vbuf[j] = vbuf[j + h]; ibuf[j] = ibuf[j + h]; }",
        "        barrier(CLK_LOCAL_MEM_FENCE);",
        "    }",
        "    if (j == 0) out[o] = ibuf[0];",
        "}"]))
    unit.kernels.append("\n".join([
        f"__kernel void KNAME_s(const long n_out, const long n_red, {dims}, {head}) {{",
        "    const long o = get_global_id(0);",
        "    if (o >= n_out) return;",
        *base_offset(nk, "o"),
        f"    {t} v = {base}; long i = -1;",
        "    for (long q = 0; q < n_red; q++) {",
        *fold,
        "    }",
        "    out[o] = i;",
        "}"]))


def argmax_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    op = node.op
    x_var = node.inputs[0]
    ndim = x_var.type.ndim
    red = tuple(range(ndim)) if op.axis is None else (op.axis % max(ndim, 1),)
    keep = tuple(d for d in range(ndim) if d not in red)
    unit = Unit(renderer)
    _render(renderer, unit, x_var.type.dtype, op.kind, len(keep), max(1, len(red)))
    source, name = named_program(unit)
    nd = len(keep) + max(1, len(red))
    din = np.dtype(x_var.type.dtype)

    def make_thunk(rt: Runtime) -> Any:
        i64 = np.int64
        tail = [None, i64, *[i64] * nd, None]
        knl_g = rt.kernel(source, name + "_g", [i64, *[i64] * nd, *tail], f"opencl {op}")
        knl_s = rt.kernel(source, name + "_s", [i64, i64, *[i64] * nd, *tail],
                       f"opencl {op}")
        queue = rt.queue

        def thunk(x: Any) -> list[Any]:
            if x.ndim != ndim or x.dtype != din:
                raise ValueError(f"{op.kind}: {x_var} should be a {ndim}-d {din} array, got "
                                 f"{x.dtype} of shape {x.shape}")
            if x.size == 0:
                raise ValueError(f"{op.kind} of an empty array (shape {x.shape}) is undefined")
            out = rt.empty(tuple(x.shape[d] for d in keep), np.int64)
            shape, strides = kept_first(x, keep, red)
            n_red = x.size // max(1, out.size)
            xo = x.offset // x.dtype.itemsize
            if n_red < SERIAL_BELOW:
                groups = -(-out.size // 64)
                knl_s(queue, (groups * 64,), (64,), out.size, n_red, *shape, x.base_data, xo,
                      *strides, out.base_data)
            else:
                knl_g(queue, (out.size * GROUP,), (GROUP,), n_red, *shape, x.base_data, xo,
                      *strides, out.base_data)
            return [out]

        return thunk

    return DevicePlan(make_thunk)
