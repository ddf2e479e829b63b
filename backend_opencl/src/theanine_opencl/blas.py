"""`dot` and `Gemm` (beta * z + alpha * dot(x, y)) as OpenCL kernels over any strides.

matrix · matrix: a tiled kernel.  A work-group computes a TS x TS tile of the result: its
TS x (TS / WPT) items load one TS x TS tile of each operand into local memory per step of the
shared dimension, and each item accumulates WPT results of one column in registers (reading
each value of the operands' tile once per WPT products).  Operands are read through their
own strides, so a transposed or row-strided matrix costs no copy.  That kernel is for GPUs:
a CPU device (PoCL) gets `gemm_cpu`'s, written for how PoCL compiles work-groups (15-30x
faster there).

A product with a vector (matrix · vector, vector · matrix, vector · vector) is one dot product
per result element: a work-group per element with a tree over local memory, or one work item
per element (four partial sums, so additions overlap) when the shared dimension is short or,
on a CPU device, when there are rows enough to share out: there a work-group runs on one
core, and the barriers of its tree cost a pass over the group each (PoCL): 4-5x slower.

Products accumulate in the result's dtype, as BLAS does.  Gemm scales as `perform` does:
beta == 0 ignores z (NaN there does not propagate); alpha and beta come from the device, or
by value when the host has them (constants, shapes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl import gemm_cpu
from theanine_opencl.plan import DevicePlan, named_program
from theanine_opencl.reduce import GROUP, SERIAL_BELOW
from theanine_opencl.runtime import Runtime

TS, WPT = 32, 4
RTS = TS // WPT
#: on a CPU device, products with a vector of at least this many rows: one work item a row
SERIAL_ROWS_ON_CPU = 64


def _scale_params(t: str, gemm: bool, by_value: frozenset[int], alpha_t: str,
                  beta_t: str) -> tuple[list[str], list[str], str]:
    """(kernel parameters, prologue lines, epilogue over `acc` and `zv`) of the scaling."""
    if not gemm:
        return [], [], "acc"
    params, pro = [], []
    for k, s, st in ((1, "alpha", alpha_t), (4, "beta", beta_t)):
        if k in by_value:
            params.append(f"const {t} {s}")
        else:
            params.append(f"__global const {st} *{s}_p, const long {s}_o")
            pro.append(f"    const {t} {s} = ({t}){s}_p[{s}_o];")
    params.append(f"__global const {t} *z, const long zo, const long zs0, const long zs1")
    return params, pro, "(beta != 0 ? alpha * acc + beta * zv : alpha * acc)"


def _render(r: OpenCLRenderer, unit: Unit, dtype: str, gemm: bool, by_value: frozenset[int],
            alpha_t: str, beta_t: str, cpu: bool) -> None:
    t = r.ctype(dtype)
    scale, pro, epi = _scale_params(t, gemm, by_value, r.ctype(alpha_t), r.ctype(beta_t))
    operands = (f"__global const {t} *a, const long ao, const long as0, const long as1, "
                f"__global const {t} *b, const long bo, const long bs0, const long bs1")
    tail = ", ".join([*scale, f"__global {t} *c"])
    zload = "        const {t} zv = beta != 0 ? z[zo + {i} * zs0 + {j} * zs1] : 0;"
    if cpu:
        unit.kernels.append(gemm_cpu.render(t, np.dtype(dtype).itemsize, f"{operands}, {tail}",
                                            pro, gemm))
    else:
        _render_tiled(unit, t, operands, tail, pro, epi, zload if gemm else "")
    _render_vector(unit, t, operands, tail, pro, epi, zload if gemm else "")


def _render_tiled(unit: Unit, t: str, operands: str, tail: str, pro: list[str], epi: str,
                  zload: str) -> None:
    unit.kernels.append("\n".join([
        f"__kernel void KNAME_mm(const long M, const long N, const long K, {operands}, "
        f"{tail}) {{",
        f"    __local {t} at[{TS}][{TS + 1}];",
        f"    __local {t} bt[{TS}][{TS + 1}];",
        "    const int col = get_local_id(0), row = get_local_id(1);",
        f"    const long gc = get_group_id(0) * {TS} + col, gr = get_group_id(1) * {TS} + row;",
        *pro,
        f"    {t} accs[{WPT}];",
        f"    for (int w = 0; w < {WPT}; w++) accs[w] = 0;",
        f"    for (long k0 = 0; k0 < K; k0 += {TS}) {{",
        f"        for (int w = 0; w < {WPT}; w++) {{",
        f"            const long ar = gr + w * {RTS}, ak = k0 + col, bk = k0 + row + w * {RTS};",
        f"            at[row + w * {RTS}][col] = (ar < M && ak < K) ? a[ao + ar * as0 + ak * as1]"
        " : 0;",
        f"            bt[row + w * {RTS}][col] = (bk < K && gc < N) ? b[bo + bk * bs0 + gc * bs1]"
        " : 0;",
        "        }",
        "        barrier(CLK_LOCAL_MEM_FENCE);",
        f"        for (int k = 0; k < {TS}; k++) {{",
        f"            const {t} bv = bt[k][col];",
        f"            for (int w = 0; w < {WPT}; w++) accs[w] += at[row + w * {RTS}][k] * bv;",
        "        }",
        "        barrier(CLK_LOCAL_MEM_FENCE);",
        "    }",
        f"    for (int w = 0; w < {WPT}; w++) {{",
        f"        const long i = gr + w * {RTS};",
        "        if (i >= M || gc >= N) continue;",
        f"        const {t} acc = accs[w];",
        *([zload.format(t=t, i="i", j="gc")] if zload else []),
        f"        c[i * N + gc] = {epi};",
        "    }",
        "}"]))


def _render_vector(unit: Unit, t: str, operands: str, tail: str, pro: list[str], epi: str,
                   zload: str) -> None:
    # one dot product per result element: c[i] = sum_k a[ao + i*as0 + k*as1] * b[bo + k*bs0]
    fold = "acc += a[ao + i * as0 + k * as1] * b[bo + k * bs0];"
    write = [*([zload.format(t=t, i="i", j="0")] if zload else []), f"        c[i] = {epi};"]
    unit.kernels.append("\n".join([
        f"__kernel void KNAME_vg(const long K, {operands}, {tail}) {{",
        f"    __local {t} buf[{GROUP}];",
        "    const long i = get_group_id(0);",
        "    const int j = get_local_id(0);",
        *pro,
        f"    {t} acc = 0;",
        f"    for (long k = j; k < K; k += {GROUP}) {fold}",
        "    buf[j] = acc;",
        "    barrier(CLK_LOCAL_MEM_FENCE);",
        f"    for (int h = {GROUP // 2}; h > 0; h >>= 1) {{",
        "        if (j < h) buf[j] += buf[j + h];",
        "        barrier(CLK_LOCAL_MEM_FENCE);",
        "    }",
        "    if (j == 0) {",
        "        const {t} acc = buf[0];".replace("{t}", t),
        *write,
        "    }",
        "}"]))
    # four partial sums: one accumulator would wait for each addition to finish
    part = "a[ao + i * as0 + (k + {j}) * as1] * b[bo + (k + {j}) * bs0]"
    unit.kernels.append("\n".join([
        f"__kernel void KNAME_vs(const long M, const long K, {operands}, {tail}) {{",
        "    const long i = get_global_id(0);",
        "    if (i >= M) return;",
        *pro,
        f"    {t} p0 = 0, p1 = 0, p2 = 0, p3 = 0;",
        "    long k = 0;",
        "    for (; k + 4 <= K; k += 4) {",
        *[f"        p{j} += {part.format(j=j)};" for j in range(4)],
        "    }",
        f"    {t} acc = (p0 + p1) + (p2 + p3);",
        f"    for (; k < K; k++) {fold}",
        "    {",
        *write,
        "    }",
        "}"]))


def _dtype_of(node: Apply) -> str:
    dtype = node.outputs[0].type.dtype
    if dtype not in ("float32", "float64"):
        raise Unsupported(f"the OpenCL product is for float32/float64, not {dtype}")
    return dtype


def dot_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    dtype = _dtype_of(node)
    if any(i.type.dtype != dtype for i in node.inputs):
        raise Unsupported("dot of operands of another dtype than the result's")
    return _plan(node, renderer, dtype, False, frozenset())


def gemm_plan(node: Apply, renderer: OpenCLRenderer,
              by_value: frozenset[int] = frozenset()) -> DevicePlan:
    return _plan(node, renderer, _dtype_of(node), True, by_value)


def _plan(node: Apply, renderer: OpenCLRenderer, dtype: str, gemm: bool,
          by_value: frozenset[int]) -> DevicePlan:
    alpha_t = node.inputs[1].type.dtype if gemm else dtype
    beta_t = node.inputs[4].type.dtype if gemm else dtype

    def make_thunk(rt: Runtime) -> Any:
        cpu = gemm_cpu.usable(rt)
        unit = Unit(renderer)
        _render(renderer, unit, dtype, gemm, by_value, alpha_t, beta_t, cpu)
        source, name = named_program(unit)
        i64 = np.int64
        scale: list[Any] = []
        if gemm:
            for k in (1, 4):
                scale += [np.dtype(dtype).type] if k in by_value else [None, i64]
            scale += [None, i64, i64, i64]
        operands = [None, i64, i64, i64] * 2
        label = f"opencl {node.op}"
        portable = not cpu  # the CPU kernel's float16/vload16 are OpenCL's alone
        kernels = (rt.kernel(source, name + "_mm", [i64] * 3 + operands + scale + [None],
                          label, portable),
                   rt.kernel(source, name + "_vg", [i64] + operands + scale + [None], label,
                             portable),
                   rt.kernel(source, name + "_vs", [i64] * 2 + operands + scale + [None],
                             label, portable))
        return _thunk(node, rt, kernels, np.dtype(dtype), gemm, by_value, cpu)

    return DevicePlan(make_thunk, by_value, by_value=None if (by_value or not gemm) else (
        lambda ks: gemm_plan(node, renderer, ks)), scalar_inputs=frozenset({1, 4}) if gemm
        else frozenset())


def _check(node: Apply, x: Any, y: Any, at: int) -> tuple[int, ...]:
    """The product's shape, after the checks `perform` makes."""
    x_var, y_var = node.inputs[at], node.inputs[at + 1]
    nds = (x_var.type.ndim, y_var.type.ndim)
    if (x.ndim, y.ndim) != nds:
        raise ValueError(f"{node.op}: expected operands of ranks {nds}, got shapes {x.shape} "
                         f"({x_var}) and {y.shape} ({y_var})")
    if x.shape[-1] != y.shape[0]:
        raise ValueError(f"dot: shapes {x.shape} ({x_var}) and {y.shape} ({y_var}) are not "
                         f"aligned: {x.shape[-1]} != {y.shape[0]}")
    return x.shape[:-1] + y.shape[1:]


def _elem(a: Any) -> tuple[Any, int, list[int]]:
    """(buffer, element offset, element strides) of a device array (any buffer when empty)."""
    size = a.dtype.itemsize
    return a.base_data, a.offset // size, [s // size for s in a.strides]


def _thunk(node: Apply, rt: Runtime, kernels: tuple, dtype: np.dtype, gemm: bool,
           by_value: frozenset[int], cpu: bool) -> Any:
    knl_mm, knl_vg, knl_vs = kernels
    queue = rt.queue
    serial_rows = SERIAL_ROWS_ON_CPU if rt.is_cpu else None
    at = 2 if gemm else 0

    def thunk(*args: Any) -> list[Any]:
        x, y = args[at], args[at + 1]
        for v, a in ((node.inputs[at], x), (node.inputs[at + 1], y)):
            if a.dtype != dtype:
                raise ValueError(f"{node.op}: {v} should be {dtype}, got {a.dtype}")
        shape = _check(node, x, y, at)
        scale: list[Any] = []
        if gemm:
            z = args[0]
            if z.shape != shape:
                raise ValueError(f"gemm: {node.inputs[0]} has shape {z.shape}, the product "
                                 f"{shape}")
            for k in (1, 4):
                s = args[k]
                if k in by_value:
                    scale.append(dtype.type(s))
                else:
                    buf, off, _ = _elem(s)
                    scale += [buf, off]
            zb, zo, zs = _elem(z)
            zs = (zs + [0, 0])[:2] if z.ndim == 2 else [zs[0] if zs else 0, 0]
            scale += [zb, zo, *zs]
        out = rt.empty(shape, dtype)
        if out.size == 0:
            return [out]
        xb, xo, xs = _elem(x)
        yb, yo, ys = _elem(y)
        k = x.shape[-1]
        if k == 0:  # nothing read: any buffer will do
            xb = yb = out.base_data
        if x.ndim == 2 and y.ndim == 2:
            m, n = shape
            groups, local = gemm_cpu.work_size(m, n) if cpu else (
                (-(-n // TS) * TS, -(-m // TS) * RTS), (TS, RTS))
            knl_mm(queue, groups, local, m, n, k, xb, xo, *xs, yb, yo, *ys, *scale,
                   out.base_data)
            return [out]
        if x.ndim == 2:  # rows of x against the vector y
            a, b = (xb, xo, *xs), (yb, yo, ys[0], 0)
        elif y.ndim == 2:  # columns of y against the vector x
            a, b = (yb, yo, ys[1], ys[0]), (xb, xo, xs[0], 0)
        else:
            a, b = (xb, xo, 0, xs[0]), (yb, yo, ys[0], 0)
        rows = out.size
        if k < SERIAL_BELOW or (serial_rows is not None and rows >= serial_rows):
            knl_vs(queue, (-(-rows // 64) * 64,), (64,), rows, k, *a, *b, *scale,
                   out.base_data)
        else:
            knl_vg(queue, (rows * GROUP,), (GROUP,), k, *a, *b, *scale, out.base_data)
        return [out]

    return thunk
