"""A reduction fused with the elementwise node that produces its input: `sum(x * y)`,
`max(abs(x))`, `mean(xent)` read their operands once and never write the elementwise result.

The linker pairs a `Reduce` with an `Elemwise` whose only reader it is (and which is no output
of the graph): the elementwise node's thunk then hands its operands on (`Deferred`) instead of
computing, and the reduction's thunk checks their shapes as the elementwise node would and runs
one kernel that evaluates the scalar program per element and accumulates it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.kernels import ReduceKernel, ScalarProgram
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer, ffi, int64_arrays
from theanine_c.elemwise import _broadcast_error, _coerce
from theanine_c.loops import RowOperand
from theanine_c.plan import NativePlan, named_source
from theanine_c.reduce import memory_order, reduce_acc_dtype, reduction_output
from theanine_c.renderer import CRenderer


class Deferred:
    """The operands of an elementwise node whose result only its reduction reads."""

    __slots__ = ("values",)

    def __init__(self, values: tuple):
        self.values = values


def fusable(producer: Apply, reduce_node: Apply, n_clients: int, is_output: bool) -> bool:
    from theanine.tensor.elemwise import Elemwise

    return (isinstance(producer.op, Elemwise) and len(producer.outputs) == 1
            and not producer.op.inplace_pattern and n_clients == 1 and not is_output)


def deferred_thunk(node: Apply) -> Any:
    return lambda *values: (Deferred(values),)


def _identity(kind: str, acc: str) -> str:
    """The reduction's starting value in the accumulator's type (max/min start from the
    type's lowest/highest value, so the first element wins and NaN still propagates)."""
    if kind in ("sum", "any"):
        return "0"
    if kind in ("prod", "all"):
        return "1"
    if acc.startswith("float"):
        return "-INFINITY" if kind == "max" else "INFINITY"
    if acc == "bool":
        return "0" if kind == "max" else "1"
    bits = np.dtype(acc).itemsize * 8
    if acc.startswith("uint"):
        return "0" if kind == "max" else f"UINT{bits}_MAX"
    return f"INT{bits}_MIN" if kind == "max" else f"INT{bits}_MAX"


def fused_reduce_plan(producer: Apply, node: Apply, renderer: CRenderer) -> NativePlan:
    op = node.op
    elem = producer.op
    in_dtypes = tuple(i.type.dtype for i in producer.inputs)
    mid = producer.outputs[0].type.dtype
    program = ScalarProgram.of(elem.scalar_op, in_dtypes, mid)
    if program.out_dtype != mid:
        raise Unsupported("scalar program dtype differs from its node's")
    nd = producer.outputs[0].type.ndim
    red = tuple(sorted(op.axis))
    keep = tuple(d for d in range(nd) if d not in red)
    out_dtype = node.outputs[0].type.dtype
    kernel = ReduceKernel(op.kind, mid, reduce_acc_dtype(op, mid, out_dtype, in_dtypes),
                          out_dtype, len(keep), max(1, len(red)))
    unit = Unit(renderer)
    last_kept, last_red = (keep[-1] if keep else None), (red[-1] if red else None)
    bcast = [i.type.broadcastable for i in producer.inputs]
    _render(renderer, unit, kernel, program,
            tuple(last_kept is None or b[last_kept] for b in bcast),
            tuple(last_red is None or b[last_red] for b in bcast))
    source, name = named_source(unit.source(), unit.declarations)

    def make_thunk(libs: Any) -> Any:
        return _thunk(producer, node, libs[0].function(name), keep, red)

    return NativePlan((source,), make_thunk)


def _render(r: CRenderer, unit: Unit, kernel: ReduceKernel, program: ScalarProgram,
            kept_bcast: tuple[bool, ...], inner_bcast: tuple[bool, ...]) -> None:
    """The kernel: one output per iteration of the (parallel) outer loop, the reduced
    dimensions as rows of the last one; faster paths where memory allows (the row-block
    walk) and where one output would leave threads idle (`chunk_loop`).

    `kept_bcast[k]` / `inner_bcast[k]`: operand k is broadcast along the last kept / the
    last reduced dimension (stride 0 there, known from its type)."""
    identity, combine = r.reduce_parts(unit, kernel)
    nin = len(program.in_dtypes)
    nk, nd = kernel.n_keep, kernel.n_keep + kernel.n_red
    ins = [r.ctype(d) for d in program.in_dtypes]
    sizes = [np.dtype(d).itemsize for d in program.in_dtypes]
    acc_t, out_t = r.ctype(kernel.acc_dtype), r.ctype(kernel.out_dtype)
    start = _identity(kernel.kind, kernel.acc_dtype)

    def step(operands: list[str], acc: str, indent: str) -> list[str]:
        body, res = r.program_body(unit, program, operands, indent=indent)
        value = r.reduce_value(res, kernel)
        return [*body, f"{indent}{acc} = {combine.format(a=acc, b=value)};"]

    # unit-stride rows of the last reduced dimension: a typed loop the compiler vectorizes
    # (sum/prod in another order, as the plain reduction and NumPy's pairwise sum do)
    unit_inner = " && ".join([f"s{k} == {sizes[k]}" for k in range(nin) if not inner_bcast[k]]
                             or ["1"])
    typed = [f"*(const {t} *)q{k}" if inner_bcast[k] else f"((const {t} *)q{k})[j]"
             for k, t in enumerate(ins)]
    strided = [f"*(const {t} *)(q{k} + j * s{k})" for k, t in enumerate(ins)]
    omp_op = r.omp_reduction(kernel) if identity is not None else None
    # the row-block walk (batch-axis reductions): operand k at p[k], strides from k * nd
    row_operands = [RowOperand(f"p[{k}]", f"s{k}", k * nd, d, kept_bcast[k], inner_bcast[k])
                    for k, d in enumerate(program.in_dtypes)]

    def row(count: str, indent: str) -> list[str]:
        i = indent + "    "
        return [f"{indent}if ({unit_inner}) {{",
                *(r.lanes(combine, acc_t, lambda acc, i: step(typed, acc, i), count, i)
                  if kernel.kind in ("max", "min") else
                  r.reduce_loop(kernel, count, lambda i: step(typed, "acc", i), omp_op, i)),
                f"{indent}}} else {{",
                *r.reduce_loop(kernel, count, lambda i: step(strided, "acc", i), indent=i),
                f"{indent}}}"]

    lines = [f"void KNAME(const int64_t *shape, const int64_t *strides, char **p, "
             f"{out_t} *{r.restrict} out) {{",
             "    int64_t n_out = 1, n_rows = 1;",
             f"    for (int d = 0; d < {nk}; d++) n_out *= shape[d];",
             f"    for (int d = {nk}; d < {nd - 1}; d++) n_rows *= shape[d];",
             f"    int64_t inner = shape[{nd - 1}];",
             *[f"    const int64_t s{k} = strides[{k * nd + nd - 1}];" for k in range(nin)],
             *r.merge_reduced_rows(kernel, [k * nd for k in range(nin)]),
             *r.row_walk(kernel, row_operands, start, step),
             *r.chunk_loop(kernel, row_operands, start, row, combine),
             *r.output_loop(kernel, row_operands, start, row),
             "}"]
    unit.kernels.append("\n".join(lines))
    unit.declarations.append("void KNAME(void *, void *, void *, void *);")


def _thunk(producer: Apply, node: Apply, kernel: Any, keep: tuple[int, ...],
           red: tuple[int, ...]) -> Any:
    op = node.op
    nd = producer.outputs[0].type.ndim
    bcast = [i.type.broadcastable for i in producer.inputs]
    dtypes = [np.dtype(i.type.dtype) for i in producer.inputs]
    dout = np.dtype(node.outputs[0].type.dtype)
    fb, ptr, arrays, new = buffer_pointer(), array_pointer(), int64_arrays(), ffi().new
    written = keep + red
    # the reduced dimensions go in the memory order of the first operand that spans them, only
    # where every operand is broadcast along all of them or none: the kernel was rendered
    # knowing which operands are constant along the last reduced dimension as written
    # (`inner_bcast`)
    spanning = [k for k, b in enumerate(bcast) if not any(b[d] for d in red)]
    reorder = len(red) > 1 and bool(spanning) and all(
        len({b[d] for d in red}) == 1 for b in bcast)
    lead = spanning[0] if spanning else 0

    def thunk(deferred: Any) -> tuple:
        values = [v if type(v) is np.ndarray and v.dtype is d else _coerce(v, d)
                  for v, d in zip(deferred.values, dtypes)]
        shp = tuple(next((v.shape[d] for v, b in zip(values, bcast) if not b[d]), 1)
                    for d in range(nd))
        for v, b in zip(values, bcast):
            if v.shape != tuple(1 if b[d] else shp[d] for d in range(nd)):
                raise _broadcast_error(producer, values, shp)
        out = reduction_output(op.kind, shp, keep, red, dout)
        if out.size == 0:
            return (out,)
        order = keep + memory_order(red, values[lead].strides) if reorder else written
        shape = tuple(shp[d] for d in order) + (() if red else (1,))
        strides = ()
        for v, b in zip(values, bcast):
            strides += tuple(0 if b[d] else v.strides[d] for d in order) + (() if red else (0,))
        pointers = new("char *[]", [ptr(v) for v in values])
        kernel(arrays(shape), arrays(strides), pointers, fb(out))
        return (out,)

    return thunk

