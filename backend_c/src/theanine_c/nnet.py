"""Softmax, log-softmax and softmax's gradient as native row kernels (any axis: the thunk
presents the input as rows along that axis, strided, without copying when the layout allows
it).

softmax:      out = exp(x - max(x)) / sum(exp(x - max(x)))          per row
log-softmax:  out = (x - max(x)) - log(sum(exp(x - max(x))))        per row
softmax grad: out = (g * sm) - sm * sum(g * sm)                      per row
A row of NaN gives NaN, as NumPy's reference does; an empty row gives an empty row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer
from theanine_c.loops import PARALLEL_THRESHOLD
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import CRenderer

# per row: the max, as a vector reduction with a NaN flag beside it (a NaN-propagating select
# chains every element on the one before: 4x slower on a 128x500 softmax than NumPy); x - max
# into `out` (contiguous whatever x's stride); exp over `out` in blocks of 64 through a
# contiguous simd loop (glibc's vector exp), the sum in double; then the result
_ROW_NORMALIZE = """
static inline void KNAME_row(int64_t r, int64_t n, char *x, int64_t xr, int64_t xs, char *out,
                             int64_t orow) {
        const char *xp = x + r * xr;
        T *o = (T *)(out + r * orow);
        T m = -INFINITY;
        int nan = 0;
        #pragma omp simd reduction(max:m) reduction(|:nan)
        for (int64_t j = 0; j < n; j++) {
            T v = *(const T *)(xp + j * xs);
            m = v > m ? v : m;
            nan |= v != v;
        }
        if (nan) m = NAN;
        for (int64_t j = 0; j < n; j++) o[j] = *(const T *)(xp + j * xs) - m;
        double s = 0;
        for (int64_t j0 = 0; j0 < n; j0 += 64) {
            const int64_t nb = n - j0 < 64 ? n - j0 : 64;
            T e[64];
            #pragma omp simd
            for (int64_t j = 0; j < nb; j++) e[j] = EXP(o[j0 + j]);
            KEEP
        }
        SCALE
        #pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j] = FINAL;
}
void KNAME(int64_t rows, int64_t n, char *x, int64_t xr, int64_t xs, char *out, int64_t orow) {
    ROWS(KNAME_row(r, n, x, xr, xs, out, orow))
}
"""

_SUM = "#pragma omp simd reduction(+:s)\n            for (int64_t j = 0; j < nb; j++) "
_SOFTMAX = (_ROW_NORMALIZE.replace("KEEP", _SUM + "{ o[j0 + j] = e[j]; s += e[j]; }")
            .replace("SCALE", "const T inv = (T)(1.0 / s);").replace("FINAL", "o[j] * inv"))
_LOG_SOFTMAX = (_ROW_NORMALIZE.replace("KEEP", _SUM + "s += e[j];")
                .replace("SCALE", "const T ls = (T)log(s);").replace("FINAL", "o[j] - ls"))

_SOFTMAX_GRAD = """
static inline void KNAME_row(int64_t r, int64_t n, char *g, int64_t gr, int64_t gs, char *sm,
                             int64_t sr, int64_t ss, char *out, int64_t orow) {
        const char *gp = g + r * gr, *sp = sm + r * sr;
        T *o = (T *)(out + r * orow);
        double s = 0;
        for (int64_t j = 0; j < n; j++) {
            T v = *(const T *)(gp + j * gs) * *(const T *)(sp + j * ss);
            o[j] = v; s += v;
        }
        const T t = (T)s;
        for (int64_t j = 0; j < n; j++) o[j] = o[j] - *(const T *)(sp + j * ss) * t;
}
void KNAME(int64_t rows, int64_t n, char *g, int64_t gr, int64_t gs, char *sm, int64_t sr,
           int64_t ss, char *out, int64_t orow) {
    ROWS(KNAME_row(r, n, g, gr, gs, sm, sr, ss, out, orow))
}
"""


def _row_loop(template: str, renderer: CRenderer) -> str:
    """The template with its `ROWS(call)` (one row's work, `r` its index) as the loop over the
    rows: on the OpenMP threads for a large input, serially outside any region otherwise."""
    head, rest = template.split("ROWS(", 1)
    call, tail = rest.split(")\n", 1)
    loop = [f"    for (int64_t r = 0; r < rows; r++) {call};"]
    return "\n".join([head.rstrip(), *renderer.parallel_if(
        f"rows * n > {PARALLEL_THRESHOLD} && rows > 1", loop), tail])


def _source(template: str, dtype: str, renderer: CRenderer) -> tuple[Any, str]:
    if dtype not in ("float32", "float64"):
        raise Unsupported(f"softmax of {dtype} has no C implementation")
    ctype = renderer.ctype(dtype)
    unit = Unit(renderer)
    exp = renderer.math_name("exp", dtype)
    unit.math.add(exp)
    body = _row_loop(template, renderer).replace("EXP", exp)
    unit.kernels.append(f"#define T {ctype}\n{body}#undef T\n")
    nptr = 3 if "sm," in template else 2
    args = ", ".join(["int64_t", "int64_t"] + ["void *", "int64_t", "int64_t"] * (nptr - 1)
                     + ["void *", "int64_t"])
    unit.declarations.append(f"void KNAME({args});")
    return named_source(unit.source(), unit.declarations)


def _rows(a: np.ndarray, axis: int) -> tuple[np.ndarray, int, int, int, int]:
    """(array, rows, n, row stride, element stride) presenting `a` as rows along `axis`;
    copies only when the other dimensions cannot be walked with one stride."""
    moved = a if axis == a.ndim - 1 else np.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    rows = moved.size // n
    if moved.ndim == 1:
        return moved, 1, n, 0, moved.strides[0]
    lead = moved.reshape(-1, n) if moved.flags.c_contiguous else None
    if lead is None and moved.ndim == 2:
        lead = moved
    if lead is None:
        lead = np.ascontiguousarray(moved).reshape(-1, n)
    return lead, rows, n, lead.strides[0], lead.strides[1]


def _shaped(out: np.ndarray, like: np.ndarray, axis: int) -> np.ndarray:
    """The rows `out` (rows, n) in the shape of `like`, their axis back at `axis`."""
    if axis == like.ndim - 1:
        return out.reshape(like.shape)
    return np.moveaxis(out.reshape(np.moveaxis(like, axis, -1).shape), -1, axis)


def softmax_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    return _row_plan(node, renderer, _SOFTMAX)


def log_softmax_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    return _row_plan(node, renderer, _LOG_SOFTMAX)


def _row_plan(node: Apply, renderer: CRenderer, template: str) -> NativePlan:
    """The plan of a one-input row kernel (softmax, log-softmax) along the node's axis."""
    dtype = node.outputs[0].type.dtype
    source, name = _source(template, dtype, renderer)
    d = np.dtype(dtype)
    ndim = node.inputs[0].type.ndim
    axis = node.op.axis % ndim

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(name)
        fb, ptr = buffer_pointer(), array_pointer()

        def thunk(x: Any) -> tuple:
            x = np.asarray(x, dtype=d)
            if x.ndim != ndim:
                raise ValueError(f"{node.op}: {node.inputs[0]} should have {ndim} "
                                 f"dimension(s), got shape {x.shape}")
            if x.size == 0:
                return (np.empty(x.shape, d),)
            xs, rows, n, xr, xe = _rows(x, axis)
            out = np.empty((rows, n), d)
            kernel(rows, n, ptr(xs), xr, xe, fb(out), out.strides[0])
            return (_shaped(out, x, axis),)

        return thunk

    return NativePlan((source,), make_thunk)


def softmax_grad_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    dtype = node.outputs[0].type.dtype
    if node.inputs[0].type.dtype != dtype:
        raise Unsupported("softmax grad with mixed dtypes")
    source, name = _source(_SOFTMAX_GRAD, dtype, renderer)
    d = np.dtype(dtype)
    ndim = node.inputs[1].type.ndim
    axis = node.op.axis % ndim

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(name)
        fb, ptr = buffer_pointer(), array_pointer()

        def thunk(g: Any, sm: Any) -> tuple:
            g = np.asarray(g, dtype=d)
            sm = np.asarray(sm, dtype=d)
            if g.shape != sm.shape or sm.ndim != ndim:
                raise ValueError(f"softmax grad: {node.inputs[0]} has shape {g.shape}, "
                                 f"{node.inputs[1]} has shape {sm.shape}; they must be equal")
            if sm.size == 0:
                return (np.empty(sm.shape, d),)
            gs, rows, n, gr, ge = _rows(g, axis)
            ss, _, _, sr, se = _rows(sm, axis)
            out = np.empty((rows, n), d)
            kernel(rows, n, ptr(gs), gr, ge, ptr(ss), sr, se, fb(out), out.strides[0])
            return (_shaped(out, sm, axis),)

        return thunk

    return NativePlan((source,), make_thunk)
