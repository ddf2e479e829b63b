"""Softmax, log-softmax and softmax's gradient along any axis: one work-group per row (a row
runs along the axis; the other dimensions are unravelled per group, so strided inputs are read
in place).

softmax:      out = exp(x - max(x)) * (1 / sum(exp(x - max(x))))        per row
log-softmax:  out = (x - max(x)) - log(sum(exp(x - max(x))))            per row
softmax grad: out = g * sm - sm * sum(g * sm)                           per row
Sums of float32 accumulate in float64 when the device has it (as the C kernels do).  A row
holding NaN gives NaN, as NumPy's reference does.

The core has no other softmax or cross-entropy Op: the cross-entropies are graphs of
log-softmax, elementwise kernels and gathers (`tensor/nnet/xent.py`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.opencl import OpenCLRenderer
from theanine.graph.basic import Apply
from theanine_opencl.plan import DevicePlan, named_program
from theanine_opencl.reduce import GROUP, base_offset, tree
from theanine_opencl.runtime import Runtime

_MAX = "(({b}) > ({a}) || ({b}) != ({b}) ? ({b}) : ({a}))"


def _render(r: OpenCLRenderer, unit: Unit, dtype: str, kind: str, nk: int) -> None:
    """The row kernel of `kind`: "softmax", "log_softmax" or "grad" (softmax's gradient)."""
    t = r.ctype(dtype)
    acc = r.ctype("float64" if r.fp64 else dtype)
    ins = ["g", "sm"] if kind == "grad" else ["x"]
    dims = "".join(f", const long d{j}" for j in range(nk))
    params = "".join(f", __global const {t} *{v}, const long {v}o"
                     + "".join(f", const long {v}s{j}" for j in range(nk)) + f", const long {v}e"
                     for v in ins)
    lines = [f"__kernel void KNAME(const long n{dims}{params}, __global {t} *out) {{",
             f"    __local {acc} buf[{GROUP}];",
             "    const long row = get_group_id(0);",
             "    const int j = get_local_id(0);",
             f"    __global {t} *o = out + row * n;"]
    for v in ins:
        lines += base_offset(nk, "row", f"{v}b", f"{v}o", strides=f"{v}s")
    at = {v: f"{v}[{v}b + q * {v}e]" for v in ins}
    if kind == "grad":
        lines += [f"    {acc} acc = 0;",
                  f"    for (long q = j; q < n; q += {GROUP}) "
                  f"acc += ({acc})({at['g']} * {at['sm']});",
                  *tree("({a} + {b})", acc),
                  f"    const {t} s = ({t})buf[0];",
                  f"    for (long q = j; q < n; q += {GROUP}) "
                  f"o[q] = {at['g']} * {at['sm']} - {at['sm']} * s;"]
        unit.kernels.append("\n".join([*lines, "}"]))
        return
    lines += [f"    {acc} acc = -INFINITY;",
              f"    for (long q = j; q < n; q += {GROUP}) "
              f"acc = {_MAX.format(a='acc', b=at['x'])};",
              *tree(_MAX, acc),
              f"    const {t} m = ({t})buf[0];",
              "    barrier(CLK_LOCAL_MEM_FENCE);",
              "    acc = 0;"]
    if kind == "softmax":
        lines += [f"    for (long q = j; q < n; q += {GROUP}) {{",
                  f"        const {t} e = exp({at['x']} - m);",
                  "        o[q] = e; acc += e;",
                  "    }",
                  *tree("({a} + {b})", acc),
                  f"    const {t} inv = ({t})(1.0 / buf[0]);",
                  f"    for (long q = j; q < n; q += {GROUP}) o[q] = o[q] * inv;"]
    else:  # x - m stays in `out`; each item reads back only what it wrote
        lines += [f"    for (long q = j; q < n; q += {GROUP}) {{",
                  f"        const {t} v = {at['x']} - m;",
                  "        o[q] = v; acc += exp(v);",
                  "    }",
                  *tree("({a} + {b})", acc),
                  f"    const {t} ls = ({t})log(buf[0]);",
                  f"    for (long q = j; q < n; q += {GROUP}) o[q] = o[q] - ls;"]
    unit.kernels.append("\n".join([*lines, "}"]))


def softmax_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    return _plan(node, renderer, "softmax")


def log_softmax_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    return _plan(node, renderer, "log_softmax")


def softmax_grad_plan(node: Apply, renderer: OpenCLRenderer) -> DevicePlan:
    return _plan(node, renderer, "grad")


def _plan(node: Apply, renderer: OpenCLRenderer, kind: str) -> DevicePlan:
    dtype = node.outputs[0].type.dtype
    if dtype not in ("float32", "float64"):
        raise Unsupported(f"softmax of {dtype} has no OpenCL kernel")
    if any(i.type.dtype != dtype for i in node.inputs):
        raise Unsupported("softmax grad with mixed dtypes")
    ndim = node.outputs[0].type.ndim
    axis = node.op.axis % ndim
    others = tuple(d for d in range(ndim) if d != axis)
    unit = Unit(renderer)
    _render(renderer, unit, dtype, kind, len(others))
    source, name = named_program(unit)
    d = np.dtype(dtype)
    nin = len(node.inputs)

    def make_thunk(rt: Runtime) -> Any:
        i64 = np.int64
        per_input = [None, i64, *[i64] * len(others), i64]
        knl = rt.kernel(source, name, [i64, *[i64] * len(others), *per_input * nin, None],
                     f"opencl {node.op}")
        queue = rt.queue

        def thunk(*xs: Any) -> list[Any]:
            for v, x in zip(node.inputs, xs):
                if x.ndim != ndim or x.dtype != d:
                    raise ValueError(f"{node.op}: {v} should be a {ndim}-d {dtype} array, got "
                                     f"{x.dtype} of shape {x.shape}")
            if any(x.shape != xs[-1].shape for x in xs):
                raise ValueError(f"softmax grad: {node.inputs[0]} has shape {xs[0].shape}, "
                                 f"{node.inputs[1]} has shape {xs[1].shape}; they must be "
                                 "equal")
            shape = xs[-1].shape
            moved = tuple(shape[k] for k in others) + (shape[axis],)
            out = rt.empty(moved, d)
            if out.size:
                args: list[Any] = [shape[axis], *moved[:-1]]
                for x in xs:
                    args += [x.base_data, x.offset // d.itemsize,
                             *[x.strides[k] // d.itemsize for k in (*others, axis)]]
                rows = out.size // shape[axis]
                knl(queue, (rows * GROUP,), (GROUP,), *args, out.base_data)
            return [_moved_back(out, axis, ndim)]

        return thunk

    return DevicePlan(make_thunk)


def _moved_back(out: Any, axis: int, ndim: int) -> Any:
    """The (.., rows, n)-ordered result seen with `axis` back in its place (a view)."""
    if axis == ndim - 1:
        return out
    from theanine_opencl.views import view

    order = list(range(ndim - 1))
    order.insert(axis, ndim - 1)
    return view(out, tuple(out.shape[k] for k in order),
                tuple(out.strides[k] for k in order), 0)
