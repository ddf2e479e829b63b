"""`argmax` / `argmin` along one axis or over the flattened array, natively: the first
position of the extremum, and the first NaN when there is one (NumPy's rule)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer, int64_arrays
from theanine_c.elemwise import _coerce
from theanine_c.loops import PARALLEL_THRESHOLD
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import CRenderer

#: the lanes of a unit-stride row's pass (`_contiguous_row`): enough independent
#: compare-and-select chains to hide their latency
ROW_LANES = 32
#: GCC vectors of 64 bytes a unit-stride row's pass keeps for 4- and 8-byte elements
UNROLL = 2


def _render(r: CRenderer, unit: Unit, dtype: str, kind: str, nk: int, nr: int) -> None:
    t = r.ctype(dtype)
    if np.dtype(dtype).kind not in "biuf":
        raise Unsupported(f"{kind} of {dtype}")
    better = ">" if kind == "argmax" else "<"
    nd = nk + nr
    lines = [
        "void KNAME(const int64_t *shape, const int64_t *strides, char *x, "
        f"int64_t *{r.restrict} out) {{",
        "    int64_t n_out = 1, n_rows = 1;",
        f"    for (int d = 0; d < {nk}; d++) n_out *= shape[d];",
        f"    for (int d = {nk}; d < {nd - 1}; d++) n_rows *= shape[d];",
        f"    const int64_t inner = shape[{nd - 1}], s = strides[{nd - 1}];",
        *r.parallel_if(f"n_out * n_rows * inner > {PARALLEL_THRESHOLD} && n_out > 1", [
        "    for (int64_t o = 0; o < n_out; o++) {",
        "        char *base = x; int64_t rem = o;",
        f"        for (int d = {nk - 1}; d >= 0; d--) {{",
        "            base += (rem % shape[d]) * strides[d]; rem /= shape[d]; }",
        *_contiguous_row(t, better, np.dtype(dtype).itemsize),
        f"        {t} best = *({t} *)base; int64_t at = 0;",
        "        int nan = best != best;",
        "        for (int64_t r = 0; r < n_rows && !nan; r++) {",
        "            char *row = base; int64_t rr = r;",
        f"            for (int d = {nd - 2}; d >= {nk}; d--) {{",
        "                row += (rr % shape[d]) * strides[d]; rr /= shape[d]; }",
        "            for (int64_t j = 0; j < inner; j++) {",
        f"                {t} v = *({t} *)(row + j * s);",
        "                if (v != v) { at = r * inner + j; nan = 1; break; }",
        f"                if (v {better} best) {{ best = v; at = r * inner + j; }}",
        "            }",
        "        }",
        "        out[o] = at;",
        "    }"]),
        "}"]
    unit.kernels.append("\n".join(lines))
    unit.declarations.append("void KNAME(void *, void *, void *, void *);")


def _contiguous_row(t: str, better: str, size: int) -> list[str]:
    """Lines that answer an output whose one reduced row is unit-stride in one vectorized pass
    and `continue`: lanes each keep the best value they saw and its first position (a NaN
    counting as better than any number, the first NaN as better than a later one), then the
    lanes' winner, then the tail.  Two passes (the extremum, then its first position) ran
    1.9x NumPy with two threads and 3.7x with one, and a branch on every element that may
    be the new best 4-5x.

    4- and 8-byte elements run `UNROLL` GCC vectors of 64 bytes (values and positions as
    wide as the elements, so one compare mask selects both), which stay in registers;
    narrower ones `ROW_LANES` lanes of arrays the vectorizer handles less well."""
    idx = {1: "int32_t", 2: "int32_t", 4: "int32_t", 8: "int64_t"}[size]
    limit = "INT32_MAX" if size <= 4 else "INT64_MAX"
    if size in (4, 8):
        n, width = UNROLL * 64 // size, 64 // size
        acc = [f"a{u}" for u in range(UNROLL)]
        loop = [
            f"            typedef {t} vt __attribute__((vector_size(64)));",
            f"            typedef {idx} vi __attribute__((vector_size(64)));",
            "            vt " + ", ".join(acc) + "; vi " + ", ".join(
                f"p{u}" for u in range(UNROLL)) + ", at0 = {" + ", ".join(
                map(str, range(width))) + "};",
            *[f"            __builtin_memcpy(&a{u}, row + {u * width}, 64); "
              f"p{u} = at0 + {u * width};" for u in range(UNROLL)],
            f"            int64_t j = {n};",
            f"            for (; j + {n} <= inner; j += {n}) {{",
            *[line for u in range(UNROLL) for line in [
                f"                vt v{u}; __builtin_memcpy(&v{u}, row + j + {u * width}, 64);",
                f"                const vi c{u} = (v{u} {better} a{u}) | "
                f"((v{u} != v{u}) & (a{u} == a{u}));",
                f"                a{u} = (vt)(((vi)v{u} & c{u}) | ((vi)a{u} & ~c{u}));",
                f"                p{u} = ((at0 + ({idx})(j + {u * width})) & c{u}) | "
                f"(p{u} & ~c{u});"]],
            "            }",
            f"            {t} lane[{n}]; {idx} pos[{n}];",
            *[f"            __builtin_memcpy(lane + {u * width}, &a{u}, 64); "
              f"__builtin_memcpy(pos + {u * width}, &p{u}, 64);" for u in range(UNROLL)]]
    else:
        n = ROW_LANES
        loop = [
            f"            {t} lane[{n}]; {idx} pos[{n}];",
            f"            for (int k = 0; k < {n}; k++) {{ lane[k] = row[k]; pos[k] = k; }}",
            f"            int64_t j = {n};",
            f"            for (; j + {n} <= inner; j += {n}) {{",
            "                #pragma omp simd",
            f"                for (int k = 0; k < {n}; k++) {{",
            f"                    const {t} v = row[j + k], w = lane[k];",
            f"                    const int c = (v {better} w) | ((v != v) & (w == w));",
            "                    lane[k] = c ? v : w;",
            f"                    pos[k] = c ? ({idx})(j + k) : pos[k];",
            "                }",
            "            }"]
    return [
        f"        if (n_rows == 1 && s == {size} && inner >= {2 * n} && inner < {limit}) {{",
        f"            const {t} *row = (const {t} *)base;",
        *loop,
        f"            {t} best = lane[0]; int64_t at = pos[0];",
        f"            for (int k = 1; k < {n}; k++) {{  /* a NaN, the best, the first */",
        f"                const {t} v = lane[k]; const int64_t p = pos[k];",
        "                const int take = best != best ? (v != v && p < at)",
        f"                    : (v != v || v {better} best || (v == best && p < at));",
        "                if (take) { best = v; at = p; }",
        "            }",
        "            for (; j < inner && best == best; j++) {",
        f"                const {t} v = row[j];",
        f"                if (v != v || v {better} best) {{ best = v; at = j; }}",
        "            }",
        "            out[o] = at;",
        "            continue;",
        "        }"]


def argmax_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    op = node.op
    x_var = node.inputs[0]
    ndim = x_var.type.ndim
    red = tuple(range(ndim)) if op.axis is None else (op.axis % max(ndim, 1),)
    keep = tuple(d for d in range(ndim) if d not in red)
    unit = Unit(renderer)
    _render(renderer, unit, x_var.type.dtype, op.kind, len(keep), max(1, len(red)))
    source, name = named_source(unit.source(), unit.declarations)
    din = np.dtype(x_var.type.dtype)

    def make_thunk(libs: Any) -> Any:
        kernel = libs[0].function(name)
        fb, ptr, arrays = buffer_pointer(), array_pointer(), int64_arrays()
        order = keep + red

        def thunk(x: Any) -> tuple:
            if type(x) is not np.ndarray or x.dtype is not din:
                x = _coerce(x, din)
            if x.ndim != ndim:
                raise ValueError(f"{op.kind}: {x_var} should have {ndim} dimension(s), got "
                                 f"shape {x.shape}")
            if x.size == 0:
                raise ValueError(f"{op.kind} of an empty array (shape {x.shape}) is undefined")
            out = np.empty(tuple(x.shape[d] for d in keep), np.int64)
            shape = tuple(x.shape[d] for d in order) + (() if red else (1,))
            strides = tuple(x.strides[d] for d in order) + (() if red else (0,))
            kernel(arrays(shape), arrays(strides), ptr(x), fb(out))
            return (out,)

        return thunk

    return NativePlan((source,), make_thunk)
