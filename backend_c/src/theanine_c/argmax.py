"""`argmax` / `argmin` along one axis or over the flattened array, natively: the first
position of the extremum, and the first NaN when there is one (NumPy's rule)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.codegen.helpers import helper_source
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer, int64_arrays
from theanine_c.elemwise import _coerce
from theanine_c.plan import NativePlan, named_source
from theanine_c.renderer import LANES, PARALLEL_THRESHOLD, CRenderer


def _render(r: CRenderer, unit: Unit, dtype: str, kind: str, nk: int, nr: int) -> None:
    t = r.ctype(dtype)
    better = ">" if kind == "argmax" else "<"
    # the extremum of two, a NaN winning: the max/min reductions' helper
    extremum = "max" if kind == "argmax" else "min"
    pick = f"th_{extremum}_{dtype}"
    source = helper_source(extremum, dtype, t, r.helper_qualifier)
    if source is None:
        raise Unsupported(f"{kind} of {dtype}")
    unit.helpers.setdefault(pick, source)
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
        *_contiguous_row(r, t, pick, np.dtype(dtype).itemsize),
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


def _contiguous_row(r: CRenderer, t: str, pick: str, size: int) -> list[str]:
    """Lines that answer an output whose one reduced row is unit-stride in two quick passes
    and `continue`: the extremum (`CRenderer.lanes`, then the tail), then the first position
    holding it (or the first NaN), found a vectorized block of `LANES` at a time.  The one
    loop below, with a branch on every element that may be the new best, ran 4-5x slower
    than NumPy along rows."""
    return [
        f"        if (n_rows == 1 && s == {size} && inner >= {2 * LANES}) {{",
        f"            const {t} *row = (const {t} *)base, *t = row;",
        f"            {t} acc = row[0];",
        "            int64_t count = inner;",
        *r.lanes(f"{pick}({{a}}, {{b}})", t, t, "t[k]", "v", indent="            "),
        f"            for (int64_t j = 0; j < count; j++) acc = {pick}(acc, t[j]);",
        f"            const {t} m = acc;",
        "            int64_t at = 0;",
        "            if (m != m) { while (row[at] == row[at]) at++; }",
        "            else {",
        f"                for (; at + {LANES} <= inner; at += {LANES}) {{  /* its first block */",
        "                    int hit = 0;",
        "                    #pragma omp simd reduction(|:hit)",
        f"                    for (int k = 0; k < {LANES}; k++) hit |= row[at + k] == m;",
        "                    if (hit) break;",
        "                }",
        "                while (row[at] != m) at++;",
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
