"""`CumOp` (cumsum / cumprod along one axis or over the flattened array) natively.

Each output element is the previous one of its line combined with the next input element, in
the output dtype and in order, as `numpy.add.accumulate` / `multiply.accumulate` compute it:
floats are bit-identical to NumPy's, integers wrap as NumPy's do (`-fwrapv`).

The thunk presents the input as `m` outer dimensions (independent lines), the scanned axis
and one inner dimension (merging what merges, dropping extents of 1), and the kernel walks:
- lines (no inner dimension): `LINE_BLOCK` lines at once, so that their independent chains
  hide the latency of an add (one line alone runs at one add latency per element): as
  tiles transposed in registers where they are unit-stride and read without conversion
  (`_tile`: vector loads, adds and stores), else one scalar accumulator per line;
- planes (an inner dimension): the scanned axis in the outer loop, each output row the
  previous one combined with an input row, a vectorized pass over the contiguous inner
  dimension (a line-by-line walk would stride through memory);
- axis None over a layout that does not flatten to one stride: the lines in C order, the
  running value carried from one to the next.
Independent lines (or inner chunks) split across OpenMP threads above `PARALLEL_THRESHOLD`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.codegen.cstyle import Unit, Unsupported
from theanine.graph.basic import Apply
from theanine_c.build import array_pointer, buffer_pointer, ffi
from theanine_c.loops import PARALLEL_THRESHOLD
from theanine_c.plan import NativePlan, checked_input, named_source
from theanine_c.renderer import CRenderer

#: lines a block of the lines walk scans together: independent chains that hide an add's
#: latency (enough for 4-cycle adds at two a cycle)
LINE_BLOCK = 8
#: elements of the inner dimension one item of the planes walk takes at most: its output row
#: stays in L1 for the next row to read
PLANE_CHUNK = 2048
#: bytes of the GCC vectors the tile path of the lines walk transposes (`_tile`)
TILE_BYTES = 32
#: the C combine of each mode
_COMBINE = {"add": "({a} + {b})", "mul": "({a} * {b})"}
#: layouts (the kernel's arguments for one shape and strides) a thunk keeps
_LAYOUTS_KEPT = 32

Layout = tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], int]


def cumulative_plan(node: Apply, renderer: CRenderer) -> NativePlan:
    """The node's native scan; float16 (whose C type GCC may keep in float between
    statements, so the per-step rounding NumPy does is not guaranteed) and complex dtypes
    (no C type) fall back."""
    op = node.op
    if op.mode not in _COMBINE:
        raise Unsupported(f"{op}: mode {op.mode!r}")
    if getattr(op, "destroy_map", None) or getattr(op, "view_map", None):
        raise Unsupported(f"{op}: an in-place or view variant")
    in_dtype, out_dtype = node.inputs[0].type.dtype, node.outputs[0].type.dtype
    for d in (in_dtype, out_dtype):
        if np.dtype(d).kind not in "biuf" or d == "float16":
            raise Unsupported(f"{op} of {in_dtype} to {out_dtype}")
    unit = Unit(renderer)
    _render(renderer, unit, in_dtype, out_dtype, op.mode)
    source, name = named_source(unit.source(), unit.declarations)

    def make_thunk(libs: Any) -> Any:
        return _thunk(node, libs[0].function(name))

    return NativePlan((source,), make_thunk)


def _thunk(node: Apply, kernel: Any) -> Any:
    """The node's thunk: checks, the output, and the kernel's arguments for the input's
    layout, made once per (shape, strides) seen (a call then costs one dict lookup)."""
    op = node.op
    x_var = node.inputs[0]
    din, dout = np.dtype(x_var.type.dtype), np.dtype(node.outputs[0].type.dtype)
    ndim, axis = x_var.type.ndim, op.axis
    fb, ptr, new = buffer_pointer(), array_pointer(), ffi().new
    arguments: dict[tuple, tuple] = {}

    def thunk(x: Any) -> tuple:
        if type(x) is not np.ndarray or x.dtype is not din or x.ndim != ndim:
            x = checked_input(x, din, ndim, op, x_var)
        out = np.empty((x.size,) if axis is None else x.shape, dout)
        if out.size == 0:
            return (out,)
        key = (x.shape, x.strides)
        args = arguments.get(key)
        if args is None:
            if len(arguments) >= _LAYOUTS_KEPT:
                arguments.clear()
            m, shape, xs, os, carry = layout(x.shape, x.strides, axis, din.itemsize)
            args = arguments[key] = (m, new("int64_t[]", shape), new("int64_t[]", xs),
                                     new("int64_t[]", os), carry)
        kernel(*args, ptr(x), fb(out))
        return (out,)

    return thunk


# -- the layout the kernel walks ---------------------------------------------------------


def _merged(dims: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(extent, input stride, output stride) dimensions, outer first, without extents of 1
    and with each pair that walks on as one dimension (both strides the next one's times its
    extent) merged: fewer, longer loops."""
    out: list[tuple[int, int, int]] = []
    for n, s, o in dims:
        if n == 1:
            continue
        if out and out[-1][1] == s * n and out[-1][2] == o * n:
            out[-1] = (out[-1][0] * n, s, o)
        else:
            out.append((n, s, o))
    return out


def layout(shape: tuple[int, ...], strides: tuple[int, ...], axis: int | None,
           itemsize: int) -> Layout:
    """(m, extents, input byte strides, output element strides, carry) of a non-empty input:
    m outer dimensions, then the scanned one, then the inner one (extent 1 when there is
    none).  The output is C-contiguous (a vector for axis None)."""
    out_strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    dims = list(zip(shape, strides, out_strides))
    if axis is None:
        flat = _merged(dims) or [(1, 0, 1)]
        outer, (n, s, so) = flat[:-1], flat[-1]
        return _packed(outer, (n, s, so), (1, 0, 1), carry=len(outer) > 0)
    outer = _merged(dims[:axis])
    inner = _merged(dims[axis + 1:])
    scan = (shape[axis], strides[axis], out_strides[axis])
    if not inner:
        return _packed(outer, scan, (1, 0, 1), carry=False)
    *rest, last = inner
    if abs(scan[1]) == itemsize and last[1] != itemsize:
        # the scanned axis is the input's unit-stride one: lines, adjacent ones together
        return _packed(outer + inner, scan, (1, 0, 1), carry=False)
    return _packed(outer + rest, scan, last, carry=False)


def _packed(outer: list[tuple[int, int, int]], scan: tuple[int, int, int],
            inner: tuple[int, int, int], carry: bool) -> Layout:
    dims = [*outer, scan, inner]
    return (len(outer), tuple(d[0] for d in dims), tuple(d[1] for d in dims),
            tuple(d[2] for d in dims), int(carry))


# -- the kernel ----------------------------------------------------------------------------


def _render(r: CRenderer, unit: Unit, in_dtype: str, out_dtype: str, mode: str) -> None:
    """`KNAME(m, shape, xs, os, carry, x, out)` and its static helpers."""
    out_t = r.ctype(out_dtype)
    in_t = r.ctype(in_dtype)
    load = f"({r.cast(r.value('(v)', in_dtype), in_dtype, out_dtype)})"
    combine = _COMBINE[mode]
    # tiles only where an element is loaded as it is (a widening load would need wider
    # vectors) and a whole number of them fills a vector
    lanes = TILE_BYTES // np.dtype(out_dtype).itemsize if in_dtype == out_dtype else 0
    tiled = lanes > 1 and LINE_BLOCK % lanes == 0
    parts = [
        "#ifdef _OPENMP\n#include <omp.h>\n#endif",
        f"#define KNAME_LOAD(v) {load}",
        f"#define KNAME_OP(a, b) {combine.format(a='(a)', b='(b)')}",
        _DECODE,
        _line(out_t, in_t),
        _tile(out_t, np.dtype(out_dtype).itemsize, lanes) if tiled else "",
        "\n".join(_lines(r, out_t, in_t, lanes if tiled else 0)),
        "\n".join(_planes(r, out_t, in_t)),
        _MAIN.replace("OUT_T", out_t),
        "#undef KNAME_LOAD\n#undef KNAME_OP\n#undef KNAME_SHUF"]
    unit.kernels.append("\n".join(p for p in parts if p))
    unit.declarations.append("void KNAME(int64_t, void *, void *, void *, int64_t, void *, "
                             "void *);")


_DECODE = """
/* the input's and the output's offsets of outer line `o` */
static inline void KNAME_decode(int64_t m, const int64_t *shape, const int64_t *xs,
                                const int64_t *os, int64_t o, int64_t *xo, int64_t *oo) {
    int64_t a = 0, b = 0;
    for (int64_t d = m - 1; d >= 0; d--) {
        const int64_t c = o % shape[d];
        o /= shape[d];
        a += c * xs[d];
        b += c * os[d];
    }
    *xo = a;
    *oo = b;
}"""


def _line(out_t: str, in_t: str) -> str:
    """One line scanned alone (a chain: one add latency per element), from `acc` when
    `carry` (axis None across lines) else from its first element."""
    return f"""
static inline {out_t} KNAME_line(const char *p, int64_t n, int64_t s, {out_t} *q,
                                 int64_t so, int carry, {out_t} acc) {{
    int64_t k = 0;
    if (!carry) {{ acc = KNAME_LOAD(*(const {in_t} *)p); q[0] = acc; k = 1; }}
    for (; k < n; k++) {{
        acc = KNAME_OP(acc, KNAME_LOAD(*(const {in_t} *)(p + k * s)));
        q[k * so] = acc;
    }}
    return acc;
}}"""


def _lines(r: CRenderer, out_t: str, in_t: str, lanes: int) -> list[str]:
    """The lines walk: blocks of `LINE_BLOCK` lines scanned in step (the last, partial
    block line by line), blocks split across threads.  With `lanes`, blocks of lines that
    are unit-stride in the input and the output run as tiles (`_tile`)."""
    b = LINE_BLOCK
    tiles = [
        f"        if (s == sizeof({in_t}) && so == 1 && n >= {lanes}) {{",
        f"            for (int g = 0; g < {b}; g += {lanes}) KNAME_tile(px + g, po + g, n);",
        "            continue;",
        "        }"] if lanes else []
    return [
        f"static void KNAME_lines(int64_t m, const int64_t *shape, const int64_t *xs, "
        f"const int64_t *os, int64_t n_lines, const char *x, {out_t} *out) {{",
        "    const int64_t n = shape[m], s = xs[m], so = os[m];",
        f"    const int64_t n_blocks = (n_lines + {b - 1}) / {b};",
        *r.parallel_if(f"n_lines * n > {PARALLEL_THRESHOLD} && n_blocks > 1", [
        "    for (int64_t blk = 0; blk < n_blocks; blk++) {",
        f"        const char *px[{b}]; {out_t} *po[{b}];",
        f"        const int64_t l0 = blk * {b};",
        f"        const int64_t nl = n_lines - l0 < {b} ? n_lines - l0 : {b};",
        "        for (int64_t l = 0; l < nl; l++) {",
        "            int64_t xo, oo;",
        "            KNAME_decode(m, shape, xs, os, l0 + l, &xo, &oo);",
        "            px[l] = x + xo; po[l] = out + oo;",
        "        }",
        f"        if (nl < {b}) {{",
        "            for (int64_t l = 0; l < nl; l++) KNAME_line(px[l], n, s, po[l], so, 0, 0);",
        "            continue;",
        "        }",
        *tiles,
        f"        {out_t} acc[{b}];",
        f"        #pragma GCC unroll {b}",
        f"        for (int l = 0; l < {b}; l++) {{",
        f"            acc[l] = KNAME_LOAD(*(const {in_t} *)px[l]); po[l][0] = acc[l];",
        "        }",
        "        for (int64_t k = 1; k < n; k++) {",
        f"            #pragma GCC unroll {b}",
        f"            for (int l = 0; l < {b}; l++) {{",
        f"                acc[l] = KNAME_OP(acc[l], KNAME_LOAD(*(const {in_t} *)"
        "(px[l] + k * s)));",
        "                po[l][k * so] = acc[l];",
        "            }",
        "        }",
        "    }"]),
        "}"]


def _tile(t: str, size: int, w: int) -> str:
    """`w` unit-stride lines scanned together through `w` x `w` tiles in registers: each
    line's next `w` elements loaded as a vector, the tile transposed so that a vector holds
    one element of each line, the vectors combined in order into a vector of running values
    (each lane the same sequence of operations as a scalar scan), and transposed back.  A
    scalar block of lines stores one element a cycle; 1000 x 1000 float32 rows took
    220 us that way, 110 us as tiles."""
    return "\n".join([
        f"typedef {t} KNAME_vt __attribute__((vector_size({w * size})));",
        f"typedef int{8 * size}_t KNAME_vm __attribute__((vector_size({w * size})));",
        "#if defined(__clang__)",
        "#define KNAME_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)",
        "#else",
        "#define KNAME_SHUF(a, b, ...) __builtin_shuffle(a, b, (KNAME_vm){__VA_ARGS__})",
        "#endif",
        "/* in place: r[i][j] <-> r[j][i], by swapping blocks of h x h for h = w/2 .. 1 */",
        "static inline void KNAME_transpose(KNAME_vt *r) {",
        "    KNAME_vt a, b;",
        *_transpose_stages(w),
        "}",
        f"static inline void KNAME_tile(const char *const *px, {t} *const *po, int64_t n) {{",
        f"    KNAME_vt acc, r[{w}];",
        "    int64_t k = 0;",
        f"    for (; k + {w} <= n; k += {w}) {{",
        f"        #pragma GCC unroll {w}",
        f"        for (int l = 0; l < {w}; l++) "
        f"__builtin_memcpy(&r[l], px[l] + k * {size}, {w * size});",
        "        KNAME_transpose(r);",
        "        if (k == 0) acc = r[0]; else { acc = KNAME_OP(acc, r[0]); r[0] = acc; }",
        f"        #pragma GCC unroll {w}",
        f"        for (int j = 1; j < {w}; j++) {{ acc = KNAME_OP(acc, r[j]); r[j] = acc; }}",
        "        KNAME_transpose(r);",
        f"        #pragma GCC unroll {w}",
        f"        for (int l = 0; l < {w}; l++) __builtin_memcpy(po[l] + k, &r[l], {w * size});",
        "    }",
        f"    for (int l = 0; l < {w}; l++) {{",
        f"        {t} a = acc[l];",
        "        for (int64_t j = k; j < n; j++) {",
        f"            a = KNAME_OP(a, ((const {t} *)px[l])[j]);",
        "            po[l][j] = a;",
        "        }",
        "    }",
        "}"])


def _transpose_stages(w: int) -> list[str]:
    """The shuffles of `KNAME_transpose`: for each block size h, rows i and i + h (i without
    the bit h) exchange the top-right and bottom-left h x h blocks of their 2h x 2h block."""
    lines = []
    h = w // 2
    while h:
        low = [p if not p & h else w + p - h for p in range(w)]
        high = [p + h if not p & h else w + p for p in range(w)]
        for i in (i for i in range(w) if not i & h):
            lines += [f"    a = r[{i}]; b = r[{i + h}];",
                      f"    r[{i}] = KNAME_SHUF(a, b, {', '.join(map(str, low))});",
                      f"    r[{i + h}] = KNAME_SHUF(a, b, {', '.join(map(str, high))});"]
        h //= 2
    return lines


def _planes(r: CRenderer, out_t: str, in_t: str) -> list[str]:
    """The planes walk: items of (outer line, chunk of the inner dimension), each walking
    the scanned axis and combining the previous output row with the input row; items split
    across threads (chunks made smaller when there are fewer lines than threads)."""

    def rows(element: str) -> list[str]:
        return [
            "            for (int64_t k = 0; k < n; k++) {",
            "                const char *xr = xb + k * s;",
            f"                {out_t} *cur = ob + k * so;",
            "                if (k == 0) {",
            "                    #pragma omp simd",
            "                    for (int64_t i = 0; i < len; i++) "
            f"cur[i] = KNAME_LOAD({element});",
            "                } else {",
            f"                    const {out_t} *prev = cur - so;",
            "                    #pragma omp simd",
            "                    for (int64_t i = 0; i < len; i++) "
            f"cur[i] = KNAME_OP(prev[i], KNAME_LOAD({element}));",
            "                }",
            "            }"]

    return [
        f"static void KNAME_planes(int64_t m, const int64_t *shape, const int64_t *xs, "
        f"const int64_t *os, int64_t n_lines, const char *x, {out_t} *out) {{",
        "    const int64_t n = shape[m], s = xs[m], so = os[m];",
        "    const int64_t inner = shape[m + 1], si = xs[m + 1];",
        f"    const int par = n_lines * n * inner > {PARALLEL_THRESHOLD};",
        f"    int64_t ch = inner < {PLANE_CHUNK} ? inner : {PLANE_CHUNK};",
        "#ifdef _OPENMP",
        "    if (par && n_lines * ((inner + ch - 1) / ch) < omp_get_max_threads()) {",
        "        const int64_t per = (omp_get_max_threads() + n_lines - 1) / n_lines;",
        "        ch = (((inner + per - 1) / per) + 15) & ~(int64_t)15;",
        "    }",
        "#endif",
        "    const int64_t nc = (inner + ch - 1) / ch, items = n_lines * nc;",
        *r.parallel_if("par && items > 1", [
        "    for (int64_t it = 0; it < items; it++) {",
        "        const int64_t i0 = (it % nc) * ch;",
        "        const int64_t len = inner - i0 < ch ? inner - i0 : ch;",
        "        int64_t xo, oo;",
        "        KNAME_decode(m, shape, xs, os, it / nc, &xo, &oo);",
        "        const char *xb = x + xo + i0 * si;",
        f"        {out_t} *ob = out + oo + i0;",
        f"        if (si == sizeof({in_t})) {{",
        *rows(f"((const {in_t} *)xr)[i]"),
        "        } else {",
        *rows(f"*(const {in_t} *)(xr + i * si)"),
        "        }",
        "    }"]),
        "}"]


_MAIN = """
void KNAME(int64_t m, const int64_t *shape, const int64_t *xs, const int64_t *os,
           int64_t carry, const char *x, OUT_T *out) {
    int64_t n_lines = 1;
    for (int64_t d = 0; d < m; d++) n_lines *= shape[d];
    if (carry) {  /* axis None: the lines in C order, one running value */
        OUT_T acc = 0;
        for (int64_t o = 0; o < n_lines; o++) {
            int64_t xo, oo;
            KNAME_decode(m, shape, xs, os, o, &xo, &oo);
            acc = KNAME_line(x + xo, shape[m], xs[m], out + oo, os[m], o > 0, acc);
        }
    } else if (shape[m + 1] > 1) {
        KNAME_planes(m, shape, xs, os, n_lines, x, out);
    } else {
        KNAME_lines(m, shape, xs, os, n_lines, x, out);
    }
}"""
