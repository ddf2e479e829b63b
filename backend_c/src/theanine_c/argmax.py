"""`argmax` / `argmin` along one axis or over the flattened array, natively: the first
position of the extremum, and the first NaN when there is one (NumPy's rule)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer, int64_arrays
from theanine_c.loops import PARALLEL_THRESHOLD
from theanine_c.plan import NativePlan, checked_input, named_source
from theanine_c.renderer import CRenderer

#: the lanes of a unit-stride row of 1- and 2-byte elements (`_lanes_row`): enough
#: independent compare-and-select chains to hide their latency
ROW_LANES = 32
#: GCC vectors of 64 bytes in a block of a unit-stride row of 4- and 8-byte elements
#: (`_block_helpers`): one test and one branch a block (2: slower on ascending rows)
BLOCK_VECTORS = 4
#: the first blocks of a row, offered to its lanes untested: most would hold a new best, and
#: each mispredicted test costs more than the offer (4: 20% slower on constant rows)
WARM_BLOCKS = 2
#: tested blocks holding a new best after which a row whose blocks mostly do (ascending
#: values) offers the rest untested
DENSE_HITS = 4


def _render(r: CRenderer, unit: Unit, dtype: str, kind: str, nk: int, nr: int) -> None:
    t = r.ctype(dtype)
    if np.dtype(dtype).kind not in "biuf":
        raise Unsupported(f"{kind} of {dtype}")
    better = ">" if kind == "argmax" else "<"
    size = np.dtype(dtype).itemsize
    if size in (4, 8):
        prefix = f"th_{kind}_{np.dtype(dtype).name}"
        _shuffle_flag(unit)
        unit.helpers.setdefault(prefix[3:], _block_helpers(
            prefix, t, size, better, np.dtype(dtype).kind == "f"))
        row = _block_row(prefix, t, size)
    else:
        row = _lanes_row(t, better, size, lambda e: r.value(e, dtype))
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
        *row,
        f"        {t} best = {r.value(f'*({t} *)base', dtype)}; int64_t at = 0;",
        "        int nan = best != best;",
        "        for (int64_t r = 0; r < n_rows && !nan; r++) {",
        "            char *row = base; int64_t rr = r;",
        f"            for (int d = {nd - 2}; d >= {nk}; d--) {{",
        "                row += (rr % shape[d]) * strides[d]; rr /= shape[d]; }",
        "            for (int64_t j = 0; j < inner; j++) {",
        f"                {t} v = {r.value(f'*({t} *)(row + j * s)', dtype)};",
        "                if (v != v) { at = r * inner + j; nan = 1; break; }",
        f"                if (v {better} best) {{ best = v; at = r * inner + j; }}",
        "            }",
        "        }",
        "        out[o] = at;",
        "    }"]),
        "}"]
    unit.kernels.append("\n".join(lines))
    unit.declarations.append("void KNAME(void *, void *, void *, void *);")


def _block_row(prefix: str, t: str, size: int) -> list[str]:
    """Lines that answer an output whose one reduced row is unit-stride and at least a block
    long with `<prefix>_row` (see `_block_helpers`), and `continue`."""
    limit = "INT32_MAX" if size == 4 else "INT64_MAX"
    return [
        f"        if (n_rows == 1 && s == {size} && inner >= {BLOCK_VECTORS * 64 // size} "
        f"&& inner < {limit}) {{",
        f"            out[o] = {prefix}_row((const {t} *)base, inner);",
        "            continue;",
        "        }"]


def _shuffle_flag(unit: Unit) -> None:
    """`TH_ARG_SHUFFLE` where the compiler has `__builtin_shufflevector` (GCC 12, clang)."""
    unit.helpers.setdefault("arg0", "\n".join([
        "#if defined(__has_builtin)", "#if __has_builtin(__builtin_shufflevector)",
        "#define TH_ARG_SHUFFLE 1", "#endif", "#endif"]))


def _select(t: str, i: str, c: str, x: str, y: str) -> str:
    """`c ? x : y` for vectors of `t` (positions or values) under a mask `c`, vectors of `i`
    of the same width: bitwise (GCC's vectors have no `?:` in C)."""
    if t == i:
        return f"(({x} & {c}) | ({y} & ~{c}))"
    return f"({t})((({i}){x} & {c}) | (({i}){y} & ~{c}))"


def _halving(t: str, i: str, size: int, fold: Any) -> list[str]:
    """Lines folding the 64-byte vector `m` of `t` in halves down to one lane, `h1[0]`:
    `fold(t_half, i_half, lo, hi)` is the fold of two halves."""
    lines, prev, width = [], "m", 64 // size
    while width > 1:
        h = width // 2
        lo, hi = (", ".join(map(str, range(a, a + h))) for a in (0, h))
        lines += [f"    typedef {t} t{h} __attribute__((vector_size({h * size}))); "
                  f"typedef {i} i{h} __attribute__((vector_size({h * size})));",
                  f"    const t{h} l{h} = __builtin_shufflevector({prev}, {prev}, {lo}), "
                  f"u{h} = __builtin_shufflevector({prev}, {prev}, {hi});",
                  f"    const t{h} h{h} = {fold(f't{h}', f'i{h}', f'l{h}', f'u{h}')};"]
        prev, width = f"h{h}", h
    return lines


def _horizontal(p: str, t: str, idx: str, size: int, better: str) -> list[str]:
    """`<p>_any` (some lane of a mask is set), `<p>_best` (the best lane's value; the lanes
    hold no NaN) and `<p>_first` (the least lane): log2(lanes) halvings in registers where
    the compiler has `__builtin_shufflevector`, else loops over the lanes."""
    w = 64 // size

    def fn(head: str, halved: list[str], scalar: list[str]) -> list[str]:
        return [f"static inline {head} {{", "#ifdef TH_ARG_SHUFFLE", *halved, "#else",
                *scalar, "#endif", "}"]

    def prefer(op: str) -> Any:
        return lambda th, ih, lo, hi: _select(th, ih, f"({ih})({hi} {op} {lo})", hi, lo)

    def scalar(elem: str, op: str) -> list[str]:
        return [f"    {elem} r = m[0];",
                f"    for (int e = 1; e < {w}; e++) r = m[e] {op} r ? m[e] : r;", "    return r;"]

    return [
        *fn(f"int {p}_any({p}_vi m)",
            [*_halving(idx, idx, size, lambda th, ih, lo, hi: f"{lo} | {hi}"),
             "    return h1[0] != 0;"],
            [f"    {idx} r = 0;", f"    for (int e = 0; e < {w}; e++) r |= m[e];",
             "    return r != 0;"]),
        *fn(f"{t} {p}_best({p}_vt m)",
            [*_halving(t, idx, size, prefer(better)), "    return h1[0];"], scalar(t, better)),
        *fn(f"{idx} {p}_first({p}_vi m)",
            [*_halving(idx, idx, size, prefer("<")), "    return h1[0];"], scalar(idx, "<"))]


def _block_helpers(p: str, t: str, size: int, better: str, isfloat: bool) -> str:
    """`<p>_row(row, inner)`: the first position of the best element (or of the first NaN)
    of a unit-stride row of at least a block of `BLOCK_VECTORS` GCC vectors of 64 bytes.

    Lanes keep the best value offered them and its first position, in vectors of values
    and of positions as wide as them (one compare mask selects both); a block offered is
    folded in a tree (ties keep the earlier vector) and its NaN, if any, ends the row.  Past
    the first `WARM_BLOCKS`, a block is offered only where a test (one compare a vector and
    one branch: is an element better than the best so far, or a NaN?) holds: new bests soon
    get rare, and the tight loop of tests runs at the speed of memory.  One thread, float32:
    1000 x 1000 195 -> 84 us (NumPy 70), 10 x 100000 143 -> 38 (41), constant 1000 x 1000
    171 -> 64 (73); ascending rows 170 -> 116 (74: NumPy's pass has no branch to miss)."""
    w, k = 64 // size, BLOCK_VECTORS
    idx = "int32_t" if size == 4 else "int64_t"
    vt, vi = f"{p}_vt", f"{p}_vi"
    load = [f"    {vt} " + ", ".join(f"v{u}" for u in range(k)) + ";",
            *[f"    __builtin_memcpy(&v{u}, row + j + {u * w}, 64);" for u in range(k)]]
    where = [f"    {vi} " + ", ".join(f"q{u} = {{" + ", ".join(map(str, range(u * w, u * w + w)))
                                 + "}" for u in range(k)) + ";"]
    most = "INT32_MAX" if size == 4 else "INT64_MAX"
    worse = "<=" if better == ">" else ">="
    first_nan = [
        "/* the position of the first NaN of the block at j */",
        f"static int64_t {p}_nan(const {t} *row, int64_t j) {{",
        *load, *where, f"    {vi} q = ({vi}){{}} + {most};",
        *[f"    {{ const {vi} c = ({vi})(v{u} != v{u}); "
          f"q = {_select(vi, vi, 'c', f'q{u}', 'q')}; }}" for u in reversed(range(k))],
        f"    return j + {p}_first(q);", "}"] if isfloat else []
    return "\n".join([
        f"typedef {t} {vt} __attribute__((vector_size(64)));",
        f"typedef {idx} {vi} __attribute__((vector_size(64)));",
        *_horizontal(p, t, idx, size, better),
        "/* offer the block at j to the lanes (a, p); 1 (and no change) where it holds a NaN */",
        f"static inline int {p}_block(const {t} *row, int64_t j, {vt} *a, {vi} *p) {{",
        *load, *_offer(p, t, size, better, isfloat, where), "}",
        "/* some element of the block at j is better than b, or a NaN */",
        f"static inline int {p}_hit(const {t} *row, int64_t j, {vt} b) {{",
        *load,
        f"    return {p}_any(~({vi})(" + " & ".join(f"(v{u} {worse} b)" for u in range(k)) + "));",
        "}",
        *first_nan,
        f"static int64_t {p}_row(const {t} *row, int64_t inner) {{",
        *_row(p, t, size, isfloat), "}"])


def _offer(p: str, t: str, size: int, better: str, isfloat: bool, where: list[str]) -> list[str]:
    """The body of `<p>_block` past its loads `v<u>`: the NaN test, the tree of the vectors
    and their positions `where`, then the lanes'."""
    k, vt, vi = BLOCK_VECTORS, f"{p}_vt", f"{p}_vi"
    idx = "int32_t" if size == 4 else "int64_t"
    isnan = " | ".join(f"(v{u} != v{u})" for u in range(k))
    tree, step = [], 1
    while step < k:
        tree += [f"    {{ const {vi} c = ({vi})(v{u + step} {better} v{u}); "
                 f"v{u} = {_select(vt, vi, 'c', f'v{u + step}', f'v{u}')}; "
                 f"q{u} = {_select(vi, vi, 'c', f'q{u + step}', f'q{u}')}; }}"
                 for u in range(0, k, 2 * step)]
        step *= 2
    return [
        *([f"    if ({p}_any(({vi})({isnan}))) return 1;"] if isfloat else []), *where, *tree,
        f"    {vt} x = *a; {vi} y = *p; const {vi} c = ({vi})(v0 {better} x);",
        f"    x = {_select(vt, vi, 'c', 'v0', 'x')}; "
        f"y = {_select(vi, vi, 'c', f'(q0 + ({idx})j)', 'y')};",
        "    *a = x; *p = y; return 0;"]


def _row(p: str, t: str, size: int, isfloat: bool) -> list[str]:
    """The body of `<p>_row`: the first blocks offered, then a tight loop of tests and an
    offer where one holds, until the row turns out dense (most tested blocks held a new
    best: ascending values), whose rest is offered untested (ascending rows 20-25% faster
    with `DENSE_HITS` 4 than 8).  The last, partial block overlaps the one before it:
    an element offered twice only ties with itself, and the lane that kept the first
    position of the best keeps it."""
    b, vt, vi = BLOCK_VECTORS * 64 // size, f"{p}_vt", f"{p}_vi"
    most = "INT32_MAX" if size == 4 else "INT64_MAX"
    offer = (f"if ({p}_block(row, j, &a, &p)) return {p}_nan(row, j);" if isfloat
             else f"{p}_block(row, j, &a, &p);")
    return [
        f"    {vt} a = ({vt}){{}} + row[0]; {vi} p = ({vi}){{}};",
        f"    int64_t j = 0, hits = 0, untested = {WARM_BLOCKS * b};",
        "    for (;;) {",
        f"        for (; j + {b} <= inner && j < untested; j += {b})",
        f"            {offer}",
        f"        if (j + {b} > inner) break;",
        f"        const {vt} b = ({vt}){{}} + {p}_best(a);",
        f"        while (j + {b} <= inner && !{p}_hit(row, j, b)) j += {b};",
        "        hits++;",
        f"        untested = hits >= {DENSE_HITS} && 2 * hits > j / {b} ? inner : j + 1;",
        "    }",
        f"    if (j < inner) {{ j = inner - {b}; {offer} }}",
        f"    const {vt} m = ({vt}){{}} + {p}_best(a); const {vi} c = ({vi})(a == m);",
        f"    const {vi} at = {_select(vi, vi, 'c', 'p', f'(({vi}){{}} + {most})')};",
        f"    return {p}_first(at);"]


def _lanes_row(t: str, better: str, size: int, value: Any) -> list[str]:
    """Lines that answer an output whose one reduced row of 1- or 2-byte elements is
    unit-stride in one vectorized pass and `continue`: `ROW_LANES` lanes each keep the best
    value they saw and its first position (a NaN counting as better than any number, the
    first NaN as better than a later one), then the lanes' winner, then the tail.  Two
    passes (the extremum, then its first position) ran 1.9x NumPy with two threads and 3.7x
    with one, and a branch on every element that may be the new best 4-5x.  `value(e)`:
    the element read as `e` as its value (a bool's byte as 0 or 1)."""
    n = ROW_LANES
    first, element, tail = value("row[k]"), value("row[j + k]"), value("row[j]")
    return [
        f"        if (n_rows == 1 && s == {size} && inner >= {2 * n} && inner < INT32_MAX) {{",
        f"            const {t} *row = (const {t} *)base;",
        f"            {t} lane[{n}]; int32_t pos[{n}];",
        f"            for (int k = 0; k < {n}; k++) {{ lane[k] = {first}; pos[k] = k; }}",
        f"            int64_t j = {n};",
        f"            for (; j + {n} <= inner; j += {n}) {{",
        "                #pragma omp simd",
        f"                for (int k = 0; k < {n}; k++) {{",
        f"                    const {t} v = {element}, w = lane[k];",
        f"                    const int c = (v {better} w) | ((v != v) & (w == w));",
        "                    lane[k] = c ? v : w;",
        "                    pos[k] = c ? (int32_t)(j + k) : pos[k];",
        "                }",
        "            }",
        f"            {t} best = lane[0]; int64_t at = pos[0];",
        f"            for (int k = 1; k < {n}; k++) {{  /* a NaN, the best, the first */",
        f"                const {t} v = lane[k]; const int64_t p = pos[k];",
        "                const int take = best != best ? (v != v && p < at)",
        f"                    : (v != v || v {better} best || (v == best && p < at));",
        "                if (take) { best = v; at = p; }",
        "            }",
        "            for (; j < inner && best == best; j++) {",
        f"                const {t} v = {tail};",
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
            if type(x) is not np.ndarray or x.dtype is not din or x.ndim != ndim:
                x = checked_input(x, din, ndim, op.kind, x_var)
            if x.size == 0:
                raise ValueError(f"{op.kind} of an empty array (shape {x.shape}) is undefined")
            out = np.empty(tuple(x.shape[d] for d in keep), np.int64)
            shape = tuple(x.shape[d] for d in order) + (() if red else (1,))
            strides = tuple(x.strides[d] for d in order) + (() if red else (0,))
            kernel(arrays(shape), arrays(strides), ptr(x), fb(out))
            return (out,)

        return thunk

    return NativePlan((source,), make_thunk)
