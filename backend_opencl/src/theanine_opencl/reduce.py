"""`Reduce` (sum, prod, max, min, all, any over any axes) as OpenCL work-group reductions.

The thunk presents the input with the kept dimensions first (its shape and strides permuted,
no copy), so output element `o` reduces the `n_red` elements that follow its base offset.
Three kernels, one description:

- `_g`: one work-group per output element (or per chunk of it), each work item folding a
  strided share of the elements, then a tree over local memory;
- `_f`: the second pass of a full (or nearly full) reduction of a large array, whose first pass
  wrote one partial result per chunk;
- `_s`: one work item per output element, looping: when each output reduces few elements, a
  group per output would leave most of its items idle.

Sums of float32 accumulate in float64 when the device has it (the node's `acc_dtype`, as on
the C backend).  max/min of an empty set is refused before anything is enqueued, as NumPy
refuses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit
from theanine.codegen.kernels import ReduceKernel, accumulator_dtype
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl.plan import DevicePlan, named_program
from theanine_opencl.runtime import Runtime

GROUP = 128
#: below this many elements per output, one work item per output (`_s`) does the work
SERIAL_BELOW = 4 * GROUP
#: elements per work item that justify splitting one output over several groups
CHUNK = 32 * GROUP
MAX_PARTS = 64


def base_offset(nk: int, index: str, out: str = "base", start: str = "xo",
                dims: str = "d", strides: str = "s", first: int = 0) -> list[str]:
    """Lines setting `out` to the offset of `index` unravelled over dimensions first ..
    first + nk - 1 (C order), starting from `start`."""
    lines = [f"    long {out} = {start}, {out}_r = {index};"]
    for j in reversed(range(first, first + nk)):
        lines.append(f"    {out} += ({out}_r % {dims}{j}) * {strides}{j}; "
                     f"{out}_r /= {dims}{j};")
    return lines


def tree(combine: str, acc_t: str, indent: str = "    ") -> list[str]:
    """Lines folding `buf[0 .. GROUP)` into `buf[0]` (every item of the group runs them)."""
    return [f"{indent}buf[j] = acc;",
            f"{indent}barrier(CLK_LOCAL_MEM_FENCE);",
            f"{indent}for (int h = {GROUP // 2}; h > 0; h >>= 1) {{",
            f"{indent}    if (j < h) {{ {acc_t} a = buf[j], b = buf[j + h]; "
            f"buf[j] = {combine.format(a='a', b='b')}; }}",
            f"{indent}    barrier(CLK_LOCAL_MEM_FENCE);",
            f"{indent}}}"]


def render_reduce(r: OpenCLRenderer, unit: Unit, k: ReduceKernel, name: str) -> None:
    identity, combine = r.reduce_parts(unit, k)
    nk, nr = k.n_keep, k.n_red
    nd = nk + nr
    in_t, acc_t, out_t = r.ctype(k.in_dtype), r.ctype(k.acc_dtype), r.ctype(k.out_dtype)
    load = r.cast(r.value("x[at]", k.in_dtype), k.in_dtype, k.acc_dtype)
    start = identity if identity is not None else \
        r.cast(r.value("x[base]", k.in_dtype), k.in_dtype, k.acc_dtype)
    step = combine.format(a="acc", b=load)
    dims = ", ".join(f"const long d{j}" for j in range(nd))
    strides = ", ".join(f"const long s{j}" for j in range(nd))
    result = r.cast("buf[0]", k.acc_dtype, k.out_dtype)
    fold = [*base_offset(nr, "q", "at", "base", first=nk),
            f"        acc = {step};"]
    unit.kernels.append("\n".join([
        f"__kernel void {name}_g(const long n_red, const long parts, {dims}, "
        f"__global const {in_t} *x, const long xo, {strides}, __global {out_t} *out, "
        f"__global {acc_t} *part) {{",
        f"    __local {acc_t} buf[{GROUP}];",
        "    const long g = get_group_id(0), o = g / parts, p = g % parts;",
        "    const int j = get_local_id(0);",
        *base_offset(nk, "o"),
        f"    {acc_t} acc = {start};",
        f"    for (long q = p * {GROUP} + j; q < n_red; q += parts * {GROUP}) {{",
        *["    " + ln for ln in fold],
        "    }",
        *tree(combine, acc_t),
        f"    if (j == 0) {{ if (parts == 1) out[o] = {result}; else part[g] = buf[0]; }}",
        "}"]))
    first = identity if identity is not None else "part[o * parts]"
    unit.kernels.append("\n".join([
        f"__kernel void {name}_f(const long parts, __global const {acc_t} *part, "
        f"__global {out_t} *out) {{",
        f"    __local {acc_t} buf[{GROUP}];",
        "    const long o = get_group_id(0);",
        "    const int j = get_local_id(0);",
        f"    {acc_t} acc = {first};",
        f"    for (long q = j; q < parts; q += {GROUP}) "
        f"acc = {combine.format(a='acc', b='part[o * parts + q]')};",
        *tree(combine, acc_t),
        f"    if (j == 0) out[o] = {result};",
        "}"]))
    unit.kernels.append("\n".join([
        f"__kernel void {name}_s(const long n_out, const long n_red, {dims}, "
        f"__global const {in_t} *x, const long xo, {strides}, __global {out_t} *out) {{",
        "    const long o = get_global_id(0);",
        "    if (o >= n_out) return;",
        *base_offset(nk, "o"),
        f"    {acc_t} acc = {start};",
        "    for (long q = 0; q < n_red; q++) {",
        *["    " + ln for ln in fold],
        "    }",
        f"    out[o] = {r.cast('acc', k.acc_dtype, k.out_dtype)};",
        "}"]))


def reduce_acc_dtype(op: Any, in_dtype: str, out_dtype: str, fp64: bool) -> str:
    """The node's own accumulator for sum/prod (Theano's `acc_dtype`), the kernel's default
    for the others; float32 where float64 was asked for float32 data on a device without
    fp64 (the best the device can do)."""
    if op.kind in ("sum", "prod") and getattr(op, "acc_dtype", None):
        acc = op.acc_dtype
    else:
        acc = accumulator_dtype(op.kind, in_dtype, out_dtype)
    if acc == "float64" and not fp64 and "float64" not in (in_dtype, out_dtype):
        acc = "float32"
    return acc


def kept_first(x: Any, keep: tuple[int, ...], red: tuple[int, ...]) -> tuple[list, list]:
    """(shape, element strides) of `x` with the kept dimensions first; an empty `red` gets
    one reduced dimension of extent 1."""
    size = x.dtype.itemsize
    order = keep + red
    shape = [x.shape[d] for d in order] + ([] if red else [1])
    strides = [x.strides[d] // size for d in order] + ([] if red else [0])
    return shape, strides


def reduce_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    op = node.op
    x_var = node.inputs[0]
    red = tuple(sorted(op.axis))
    keep = tuple(d for d in range(x_var.type.ndim) if d not in red)
    in_dtype, out_dtype = x_var.type.dtype, node.outputs[0].type.dtype
    acc = reduce_acc_dtype(op, in_dtype, out_dtype, renderer.fp64)
    desc = ReduceKernel(op.kind, in_dtype, acc, out_dtype, len(keep), max(1, len(red)))
    unit = Unit(renderer)
    render_reduce(renderer, unit, desc, "KNAME")
    source, name = named_program(unit)
    nd = desc.n_keep + desc.n_red

    def make_thunk(rt: Runtime) -> Any:
        i64 = np.int64
        label = f"opencl {op}"
        knl_g = rt.kernel(source, name + "_g", [i64, i64, *[i64] * nd, None, i64,
                                                 *[i64] * nd, None, None], label)
        knl_f = rt.kernel(source, name + "_f", [i64, None, None], label)
        knl_s = rt.kernel(source, name + "_s", [i64, i64, *[i64] * nd, None, i64,
                                                 *[i64] * nd, None], label)
        return _thunk(node, rt, (knl_g, knl_f, knl_s), keep, red, acc)

    return DevicePlan(make_thunk)


def _thunk(node: Apply, rt: Runtime, kernels: tuple, keep: tuple[int, ...],
           red: tuple[int, ...], acc: str) -> Any:
    knl_g, knl_f, knl_s = kernels
    op = node.op
    x_var = node.inputs[0]
    ndim = x_var.type.ndim
    dout, dacc = np.dtype(node.outputs[0].type.dtype), np.dtype(
        "uint8" if acc == "bool" else acc)
    queue = rt.queue

    def thunk(x: Any) -> list[Any]:
        if x.ndim != ndim or x.dtype != np.dtype(x_var.type.dtype):
            raise ValueError(f"{op}: {x_var} should be a {ndim}-d {x_var.type.dtype} array, "
                             f"got {x.dtype} of shape {x.shape}")
        if op.kind in ("max", "min") and any(x.shape[d] == 0 for d in red):
            raise ValueError(f"{op.kind} over axis {list(red)} of an empty array (shape "
                             f"{x.shape}) is undefined")
        out = rt.empty(tuple(x.shape[d] for d in keep), dout)
        n_out = out.size
        if n_out == 0:
            return [out]
        shape, strides = kept_first(x, keep, red)
        n_red = int(np.prod(shape[len(keep):], dtype=np.int64))
        xo = x.offset // x.dtype.itemsize
        data = x.base_data if x.base_data is not None else out.base_data  # n_red == 0
        if n_red < SERIAL_BELOW:
            groups = -(-n_out // 64)
            knl_s(queue, (groups * 64,), (64,), n_out, n_red, *shape, data, xo, *strides,
                  out.base_data)
            return [out]
        parts = 1 if n_out > 16 else int(min(MAX_PARTS, max(1, n_red // CHUNK)))
        part = out if parts == 1 else rt.empty((n_out * parts,), dacc)
        knl_g(queue, (n_out * parts * GROUP,), (GROUP,), n_red, parts, *shape, data, xo,
              *strides, out.base_data, part.base_data)
        if parts > 1:
            knl_f(queue, (n_out * GROUP,), (GROUP,), parts, part.base_data, out.base_data)
        return [out]

    return thunk
