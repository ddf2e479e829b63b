"""The tiled walk of the strided elementwise kernels (`CRenderer._elemwise_strided` and
`_elemwise_blocked`), for operands read across their rows.

The results are C-ordered, so the strided kernels walk the rows of the result; an operand
whose elements along a row lie more than a cache line apart (`x.T + 1`, a (0, 2, 3, 1)
dimshuffle of images) then costs a line, and soon a page, per element: a 1000 x 1000 float32
`x.T + 1` ran 7x slower than NumPy, which allocates its result in its input's order.  When
some input is far along the row (more than `NEAR` bytes apart) and near along another
dimension, and the result is unit-stride along the row, the kernel walks the plane of those
two dimensions in tiles of `tile_rows` x `TILE_COLS` elements instead (`plan`, `walk`), and
each tile (`tile_function`):

- copies every input that is not unit-stride along the row into a buffer of its own, row by
  row (`helpers`: `VECTOR` x `VECTOR` blocks transposed in registers with
  `__builtin_shufflevector` where the input is unit-stride along the tile's rows, element
  by element elsewhere);
- computes its rows as the unit-stride path does: one vectorized typed loop, or whole
  blocks of the vector-math block function (`block_row`; a shorter row is gathered and
  padded, so every element is still computed by the block function).

x.T + 1 of a 1000 x 1000 float32 went from 660 to 150 us on one thread (NumPy 80), x.T * y
from 800 to 190 (NumPy's own 620: it reads x.T across its rows too).

Tiles only reorder independent element computations, so results are the same.  In place,
the result is the destroyed input itself (one array, one layout) and no other input views
that input (`DestroyHandler`): both are unit-stride along the row, neither is buffered, and
each element is read and written by the same iteration.  A result that is not unit-stride
along the row (an in-place node's transposed destroyed input) keeps the row walk.

Only kernels that read a view reordering its operand's dimensions carry the tiled walk
(`ElemwiseKernel.across_rows`, from `codegen.cstyle.reorders_dimensions`: a `DimShuffle`
such as `x.T` in the graph): it costs compile time, a unit of a 2-d elementwise kernel took
about 0.17 s of gcc with it instead of 0.10, and the MLP step's cold compile 20% more when
every kernel had it.  An input the caller gives in another order (a Fortran-ordered array)
keeps the row walk.  Within such a kernel the decision is made at run time from the strides,
so one compiled kernel serves every layout, and one whose operands all turn out unit-stride,
broadcast or a short stride apart along the row keeps its row walk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: columns (along the result's row) of a tile: the vector-math block function's `BLOCK`, so
#: that a tile's row is one call of it
TILE_COLS = 64
#: bytes: an operand whose stride along the row is larger is far (an element per cache line)
NEAR = 64
#: bytes of a tile buffer at most (one per operand that needs one, on the stack)
BUFFER_BYTES = 8192
#: elements of the vectors transposed in registers, per element size (32-byte vectors; 16
#: bytes for 1-byte elements, so a tile of 16 rows still holds whole blocks)
VECTOR = {1: 16, 2: 16, 4: 8, 8: 4}
_UINT = {1: "uint8_t", 2: "uint16_t", 4: "uint32_t", 8: "uint64_t"}


def tile_rows(sizes: Sequence[int]) -> int:
    """Rows of a tile of a kernel whose operands have these element sizes: 32, or 16 where
    some element has 8 bytes (a buffer of float64 stays at `BUFFER_BYTES`)."""
    return min(32, BUFFER_BYTES // (TILE_COLS * max(sizes)))


def helpers(unit, sizes: Sequence[int], rows: int) -> None:
    """Add the fill functions of these element sizes and tile rows to `unit`'s helpers:
    `th_tile_fill<size>_<rows>(th, tw, d, b, u, s)` copies the th x tw tile whose element
    (r, j) is at `b + r * u + j * s` into `d[r * TILE_COLS + j]`."""
    unit.helpers.setdefault("tile0", "\n".join([
        "#if defined(__has_builtin)", "#if __has_builtin(__builtin_shufflevector)",
        "#define TH_TILE_SHUFFLE 1", "#endif", "#endif"]))
    for size in sorted(set(sizes)):
        unit.helpers.setdefault(f"tile{size}", _transpose(size))
        unit.helpers.setdefault(f"tile{size}r{rows}", _fill(size, rows))


def _transpose(size: int) -> str:
    """The element type of `size` bytes that may alias anything, and (where the compiler has
    `__builtin_shufflevector`) an in-register V x V transpose of the vectors `x[0..V)` in
    log2(V) stages, each swapping the off-diagonal b x b blocks of every 2b x 2b block."""
    v, b, vt = VECTOR[size], VECTOR[size] // 2, f"th_tile_v{size}"
    lines = [f"typedef {_UINT[size]} th_tile_u{size} __attribute__((may_alias));",
             "#ifdef TH_TILE_SHUFFLE",
             f"typedef {_UINT[size]} {vt} __attribute__((vector_size({v * size})));",
             f"static inline __attribute__((always_inline)) void th_tile_transpose{size}"
             f"({vt} *x) {{", f"    {vt} y;"]
    while b:
        for i in range(v):
            if i & b:
                continue
            lo = [lane if not lane & b else v + lane - b for lane in range(v)]
            hi = [lane + b if not lane & b else v + lane for lane in range(v)]
            lines += [f"    y = __builtin_shufflevector(x[{i}], x[{i + b}], "
                      f"{', '.join(map(str, lo))});",
                      f"    x[{i + b}] = __builtin_shufflevector(x[{i}], x[{i + b}], "
                      f"{', '.join(map(str, hi))});",
                      f"    x[{i}] = y;"]
        b //= 2
    return "\n".join([*lines, "}", "#endif"])


def _fill(size: int, rows: int) -> str:
    """`th_tile_fill<size>_<rows>` (see `helpers`): V x V blocks transposed in registers
    where the tile's rows are unit-stride (a whole tile with constant bounds, which the
    compiler unrolls: 10% faster), element by element elsewhere."""
    v, t, w, vt = VECTOR[size], f"th_tile_u{size}", TILE_COLS, f"th_tile_v{size}"

    def blocks(rv: str, jv: str) -> list[str]:
        return [f"        for (int64_t r = 0; r < {rv}; r += {v})",
                f"            for (int64_t j = 0; j < {jv}; j += {v}) {{",
                f"                {vt} x[{v}];",
                f"                for (int k = 0; k < {v}; k++) __builtin_memcpy(&x[k], "
                f"b + (j + k) * s + r * {size}, sizeof x[k]);",
                f"                th_tile_transpose{size}(x);",
                f"                for (int k = 0; k < {v}; k++) __builtin_memcpy("
                f"d + (r + k) * {w} + j, &x[k], sizeof x[k]);",
                "            }"]

    return "\n".join([
        f"static void th_tile_fill{size}_{rows}(int64_t th, int64_t tw, {t} *d, const char *b, "
        "int64_t u, int64_t s) {",
        "    int64_t rv = 0, jv = 0;",
        "#ifdef TH_TILE_SHUFFLE",
        f"    if (u == {size} && th == {rows} && tw == {w}) {{",
        *blocks(str(rows), str(w)),
        "        return;",
        "    }",
        f"    if (u == {size}) {{",
        f"        rv = th - th % {v}; jv = tw - tw % {v};",
        *blocks("rv", "jv"),
        "    }",
        "#endif",
        "    for (int64_t j = 0; j < tw; j++)",
        "        for (int64_t r = j < jv ? rv : 0; r < th; r++)",
        f"            d[r * {w} + j] = *(const {t} *)(b + r * u + j * s);",
        "}"])


def plan(nd: int, nops: int, out_size: int) -> list[str]:
    """C lines, after `_merged_rows` (which declares `shape` and `strides`, `nops` operands
    operand-major, the result last), declaring `int tiled`: some input is far along the row
    and near along another dimension, and the result is unit-stride along the row (it is,
    but for an in-place node's odd destroyed input, which keeps the row walk).  When set,
    `tshape` and `tstrides` hold the tile plane: the merged dimensions with the far input's
    nearest one moved next to the row (to `nd - 2`) and the outer ones that every operand
    walks on from the row or from that one merged into it (a (b, h, w, c) view of
    (b, c, h, w) images tiles over (h * w, c), a (2, 0, 1) view of (a, b, c) over
    (c, a * b))."""
    last = nd - 1

    def mag(at: str) -> str:
        return f"(strides[{at}] < 0 ? -strides[{at}] : strides[{at}])"

    # an outer dimension that every operand walks on from the row (or the near dimension)
    # joins it: the row keeps no cap here (`MERGED_ROW` keeps rows for the row walk's
    # threads), and longer rows leave fewer partial tiles
    merge = [
        f"            for (int d = {nd - 3}; d >= 0; d--) {{",
        "                if (tshape[d] <= 1) continue;",
        "                int row = 1, col = 1;",
        f"                for (int k = 0; k < {nops}; k++) {{",
        f"                    row &= tstrides[k * {nd} + d] == "
        f"tstrides[k * {nd} + {last}] * tshape[{last}];",
        f"                    col &= tstrides[k * {nd} + d] == "
        f"tstrides[k * {nd} + {nd - 2}] * tshape[{nd - 2}];",
        "                }",
        "                if (!row && !col) continue;",
        f"                tshape[row ? {last} : {nd - 2}] *= tshape[d];",
        "                tshape[d] = 1;",
        "            }"] if nd > 2 else []

    return [
        "    int tiled = 0;",
        f"    int64_t tshape[{nd}], tstrides[{nops * nd}];",
        f"    if (strides[{(nops - 1) * nd + last}] == {out_size} && shape[{last}] > 1) {{",
        f"        int w = -1, near = -1; int64_t far = {NEAR}, best = {NEAR} + 1;",
        f"        for (int k = 0; k < {nops - 1}; k++) {{",
        f"            const int64_t a = {mag(f'k * {nd} + {last}')};",
        "            if (a > far) { far = a; w = k; }",
        "        }",
        f"        for (int d = 0; w >= 0 && d < {last}; d++) {{",
        f"            const int64_t a = {mag(f'w * {nd} + d')};",
        "            if (shape[d] > 1 && a && a < best) { best = a; near = d; }",
        "        }",
        "        if (near >= 0) {",
        "            tiled = 1;",
        "            int m = 0;",
        f"            for (int d = 0; d <= {last}; d++) {{",
        f"                const int to = d == near ? {nd - 2} : d == {last} ? {last} : m++;",
        "                tshape[to] = shape[d];",
        f"                for (int k = 0; k < {nops}; k++) "
        f"tstrides[k * {nd} + to] = strides[k * {nd} + d];",
        "            }",
        *merge,
        "        }",
        "    }"]


def walk(name: str, nd: int, nin: int, rows: int, threshold: int,
         parallel_if: Callable[..., list[str]]) -> list[str]:
    """C lines that, when `plan` set `tiled`, call `<name>_tile` on every tile (on the OpenMP
    threads above `threshold` elements) and return."""
    ks = range(nin)
    args = ", ".join([*(f"b{k}, u{k}, s{k}" for k in ks), "bo, uo"])
    # the tile's offset along the dimensions outside its plane
    outer = [
        "            int64_t rem = tile / (nr * nc);",
        f"            for (int d = {nd - 3}; d >= 0; d--) {{",
        "                const int64_t c = rem % tshape[d]; rem /= tshape[d];",
        *[f"                b{k} += c * tstrides[{k * nd} + d];" for k in ks],
        f"                bo += c * tstrides[{nin * nd} + d];",
        "            }"] if nd > 2 else []
    return [
        "    if (tiled) {",
        f"        const int64_t R = tshape[{nd - 2}], C = tshape[{nd - 1}];",
        f"        const int64_t nr = (R + {rows - 1}) / {rows}, "
        f"nc = (C + {TILE_COLS - 1}) / {TILE_COLS};",
        "        int64_t n_tiles = nr * nc;",
        *([f"        for (int d = 0; d < {nd - 2}; d++) n_tiles *= tshape[d];"] if nd > 2 else []),
        *[f"        const int64_t u{k} = tstrides[{k * nd + nd - 2}], "
          f"s{k} = tstrides[{k * nd + nd - 1}];" for k in ks],
        f"        const int64_t uo = tstrides[{nin * nd + nd - 2}];",
        *parallel_if(f"n_tiles / (nr * nc) * R * C >= {threshold} && n_tiles > 1", [
            "        for (int64_t tile = 0; tile < n_tiles; tile++) {",
            f"            const int64_t r0 = tile / nc % nr * {rows}, "
            f"c0 = tile % nc * {TILE_COLS};",
            *[f"            char *b{k} = p{k} + r0 * u{k} + c0 * s{k};" for k in ks],
            f"            char *bo = out + r0 * uo + c0 * tstrides[{nin * nd + nd - 1}];",
            *outer,
            f"            {name}_tile(R - r0 < {rows} ? R - r0 : {rows}, "
            f"C - c0 < {TILE_COLS} ? C - c0 : {TILE_COLS}, {args});",
            "        }"], indent="        "),
        "        return;",
        "    }"]


def tile_function(name: str, types: Sequence[str], sizes: Sequence[int],
                  inner_broadcast: Sequence[bool], out_t: str, rows: int, restrict: str,
                  row: list[str]) -> str:
    """`<name>_tile(th, tw, b0, u0, s0, ..., bo, uo)`: one tile of th x tw elements whose
    element (r, j) of operand k is at `b<k> + r * u<k> + j * s<k>` (the result unit-stride
    along j).  It copies each operand that is not unit-stride along the row into a buffer,
    then runs `row` (lines at 8 spaces computing `tw` elements of one tile row into `eo`, from
    `e<k>`, a typed pointer to the row, for the operands that vary along it and `v<k>`, the
    value, for those broadcast along it) for each row.  Not inlined: the kernel calls it from
    its parallel and its serial walk."""
    n = rows * TILE_COLS
    params = ", ".join(["int64_t th", "int64_t tw",
                        *(f"char *b{k}, int64_t u{k}, int64_t s{k}" for k in range(len(types))),
                        "char *bo", "int64_t uo"])
    lines = [f"static __attribute__((noinline)) void {name}_tile({params}) {{"]
    for k, (t, size) in enumerate(zip(types, sizes)):
        if not inner_broadcast[k]:
            lines += [f"    {t} buf{k}[{n}];", f"    const int f{k} = s{k} != {size};",
                      f"    if (f{k}) th_tile_fill{size}_{rows}(th, tw, "
                      f"(th_tile_u{size} *)buf{k}, b{k}, u{k}, s{k});"]
    lines.append("    for (int64_t r = 0; r < th; r++) {")
    for k, t in enumerate(types):
        if inner_broadcast[k]:
            lines.append(f"        const {t} v{k} = *(const {t} *)(b{k} + r * u{k});")
        else:
            lines.append(f"        const {t} *{restrict} e{k} = f{k} ? buf{k} + r * {TILE_COLS}"
                         f" : (const {t} *)(b{k} + r * u{k});")
    lines += [f"        {out_t} *{restrict} eo = ({out_t} *)(bo + r * uo);", *row, "    }", "}"]
    return "\n".join(lines)


def block_row(name: str, types: Sequence[str], sizes: Sequence[int],
              inner_broadcast: Sequence[bool], out_size: int, block: int) -> list[str]:
    """`row` for `tile_function` in a vector-math kernel: a tile's row of `block` elements is
    one call of `<name>_block` (an operand broadcast along it spread over a block first),
    a shorter one goes through `<name>_gather`, which pads it to a block."""
    if block < TILE_COLS:
        raise ValueError(f"a tile's row ({TILE_COLS}) must fit in one block ({block})")
    whole = ", ".join(f"c{k}" if b else f"e{k}" for k, b in enumerate(inner_broadcast))
    part = ", ".join(f"(const char *)&v{k}, 0" if b else f"(const char *)e{k}, {size}"
                     for k, (b, size) in enumerate(zip(inner_broadcast, sizes)))
    return [f"        if (tw == {block}) {{",
            *[f"            {t} c{k}[{block}]; for (int j = 0; j < {block}; j++) c{k}[j] = v{k};"
              for k, t in enumerate(types) if inner_broadcast[k]],
            f"            {name}_block({whole}, eo);",
            "        } else {",
            f"            {name}_gather(tw, {part}, (char *)eo, {out_size});",
            "        }"]


def render(renderer, unit, kernel, name: str, threshold: int, row: list[str]) -> list[str]:
    """The tiled walk's lines (`plan` and `walk`) for the top of an elementwise kernel's
    strided entry point, after `_merged_rows`; adds `<name>_tile` (`row` as for
    `tile_function`) and the fill helpers it calls to `unit`."""
    prog, nd, nin = kernel.program, kernel.ndim, kernel.nin
    if nd < 2 or not kernel.across_rows:
        return []
    sizes = [renderer._size(d) for d in prog.in_dtypes]
    out_size = renderer._size(prog.out_dtype)
    rows = tile_rows([*sizes, out_size])
    helpers(unit, [s for s, b in zip(sizes, kernel.inner_broadcast) if not b], rows)
    restrict = "" if kernel.inplace else f" {renderer.restrict}"
    unit.kernels.append(tile_function(
        name, [renderer.ctype(d) for d in prog.in_dtypes], sizes, kernel.inner_broadcast,
        renderer.ctype(prog.out_dtype), rows, restrict, row))
    return plan(nd, nin + 1, out_size) + walk(name, nd, nin, rows, threshold,
                                              renderer.parallel_if)
