"""The loop shapes of the C renderer's reductions (`RowLoops`, a base of `CRenderer`): the
row-block walk of batch-axis reductions, the loop over outputs, the chunks that split long
reductions to few outputs across threads, the vector lanes of a max or min along a row, the
integer lanes and early exit of all/any, and the merge of contiguous reduced dimensions.
The plain reduction (`CRenderer.reduce`) and the fused one (`fused_reduce`) share them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from theanine.codegen.cstyle import Unit
from theanine.codegen.kernels import ReduceKernel

#: elements above which loops are split across threads
PARALLEL_THRESHOLD = 200_000
#: reduced elements per chunk when a reduction to one output splits its rows across threads
#: (`RowLoops.chunk_loop`): a constant, so results do not depend on the number of threads;
#: 64 KiB of float32, long enough that a chunk's loop setup, tail and
#: lane merge cost nothing measurable (a 1M float32 sum or max on one thread: 54-63 us in
#: one pass or in chunks) and short enough for 61 chunks to share out evenly
CHUNK = 16384
#: the most partial results a split reduction keeps, on the stack (8 KiB of doubles): a
#: reduction of over `CHUNK * MAX_PARTS` elements cuts them into `MAX_PARTS` longer chunks
MAX_PARTS = 1024
#: accumulators of a max or min along a unit-stride row (`RowLoops.lanes`)
LANES = 16
#: groups of `LANES` accumulators the long rows of `RowLoops.lanes` run at once: independent
#: compare-and-select chains that hide each other's latency (a power of two)
LANE_GROUPS = 4
#: rows at least this long run `LANE_GROUPS` groups (merging them costs more than a short
#: row gains)
WIDE_ROW = 512
#: outputs that accumulate together when a reduction walks rows (`RowLoops.row_walk`)
ROW_BLOCK = 256
#: bytes of (accumulator-wide) elements an all/any reduces between looks at whether it is
#: decided (`RowLoops.reduce_loop`)
DECIDE_BYTES = 8192
#: all/any over integer lanes of 0s and 1s (`RowLoops.reduce_parts`): (identity, combine
#: template, OpenMP reduction operator, C condition under which `acc` is decided)
_TRUTH = {"all": ("1", "({a} & {b})", "&", "!acc"), "any": ("0", "({a} | {b})", "|", "acc")}
#: the kinds whose contiguous reduced dimensions always run as one row (`merge_reduced_rows`)
_MERGED = (*_TRUTH, "max", "min")

#: `step(elements, acc, indent)` of `RowLoops.row_walk`: the lines combining one element of
#: each operand (C expressions) into the accumulator `acc`
StepLines = Callable[[list[str], str, str], list[str]]
#: `row(count, indent)` of `RowLoops.output_loop` and `chunk_loop`: the lines reducing
#: elements 0 to `count` (a C expression) of the row each operand k's `q<k>` starts
RowLines = Callable[[str, str], list[str]]


@dataclass(frozen=True)
class RowOperand:
    """One operand of a reduction's row-block walk (`RowLoops.row_walk`): where it is and how
    it is laid out, so the plain reduction (one operand) and the fused one (several, some
    broadcast) render the same walk."""

    #: its base pointer, a `char *` C expression (`x`, `p[1]`)
    pointer: str
    #: the C variable holding its byte stride along the last reduced dimension (`s`, `s1`)
    stride: str
    #: where its strides start in the kernel's `strides` array (k * nd for operand k)
    offset: int
    dtype: str
    #: broadcast (stride 0, known from its type) along the last kept dimension
    kept_bcast: bool = False
    #: broadcast along the last reduced dimension
    inner_bcast: bool = False


def _at(o: RowOperand) -> str:
    """The index of operand `o`'s stride along dimension `d` in the kernel's `strides`."""
    return f"{o.offset} + d" if o.offset else "d"


class RowLoops:
    """Reduction loops for a C-family renderer that has `ctype`, `cast`, `parallel_if`,
    `_size` and `restrict` (`CRenderer`)."""

    def row_walk(self, kernel: ReduceKernel, operands: Sequence[RowOperand], start: str | None,
                 step: StepLines) -> list[str]:
        """When the last kept dimension is unit-stride (or broadcast) for every operand and the
        rows of the last reduced one are not (a sum over the batch axis), a column walk per
        output would stride through memory: instead each block of `ROW_BLOCK` outputs
        accumulates the reduced elements in order, one vectorized pass along the kept
        dimension each.  Every output combines its elements in the same order as the column
        walk, so the results are the same to the bit.

        Lines that take the walk and return, for the top of a reduction kernel whose scope has
        `shape`, `strides`, `n_out`, `n_rows`, `inner`, `out` and each operand's `stride`
        variable; none without a kept dimension.  `start`: the accumulator's first value, or
        None for each output's first element (max/min without identity; one operand only).
        `step(elements, acc, indent)`: the lines that combine the operands' elements (C
        expressions, in operand order) into the accumulator `acc`."""
        nk, nd = kernel.n_keep, kernel.n_keep + kernel.n_red
        if not nk:
            return []
        types = [self.ctype(o.dtype) for o in operands]
        sizes = [self._size(o.dtype) for o in operands]
        unit_kept = " && ".join([f"strides[{o.offset + nk - 1}] == {n}"
                                 for o, n in zip(operands, sizes) if not o.kept_bcast] or ["1"])
        unit_inner = " && ".join([f"{o.stride} == {n}"
                                  for o, n in zip(operands, sizes) if not o.inner_bcast] or ["1"])
        if start is None:
            if len(operands) != 1:
                raise ValueError("the first-element start needs exactly one operand")
            start = self.cast(f"((const {types[0]} *)b0)[kk]", operands[0].dtype,
                              kernel.acc_dtype)
        ks = range(len(operands))
        elements = [f"*e{k}" if o.kept_bcast else f"e{k}[kk]" for k, o in enumerate(operands)]
        return [
            f"    if ({unit_kept} && !({unit_inner}) && shape[{nk - 1}] > 1) {{",
            f"        const int64_t K = shape[{nk - 1}], kb = (K + {ROW_BLOCK - 1}) / {ROW_BLOCK};",
            "        const int64_t n_blocks = n_out / K * kb;",
            *self.parallel_if(
                f"n_out * n_rows * inner > {PARALLEL_THRESHOLD} && n_blocks > 1", [
            "        for (int64_t c = 0; c < n_blocks; c++) {",
            f"            const int64_t oo = c / kb, k0 = (c % kb) * {ROW_BLOCK};",
            f"            const int64_t m = K - k0 < {ROW_BLOCK} ? K - k0 : {ROW_BLOCK};",
            *[f"            char *b{k} = {o.pointer}"
              f"{'' if o.kept_bcast else f' + k0 * {n}'};"
              for k, (o, n) in enumerate(zip(operands, sizes))],
            "            int64_t rem = oo;",
            f"            for (int d = {nk - 2}; d >= 0; d--) {{",
            "                int64_t cc = rem % shape[d]; rem /= shape[d];",
            *[f"                b{k} += cc * strides[{_at(o)}];" for k, o in enumerate(operands)],
            "            }",
            f"            {self.ctype(kernel.acc_dtype)} acc[{ROW_BLOCK}];",
            f"            for (int64_t kk = 0; kk < m; kk++) acc[kk] = {start};",
            "            for (int64_t r = 0; r < n_rows; r++) {",
            *[f"                char *q{k} = b{k};" for k in ks],
            "                int64_t rr = r;",
            f"                for (int d = {nd - 2}; d >= {nk}; d--) {{",
            "                    int64_t cc = rr % shape[d]; rr /= shape[d];",
            *[f"                    q{k} += cc * strides[{_at(o)}];"
              for k, o in enumerate(operands)],
            "                }",
            "                for (int64_t j = 0; j < inner; j++) {",
            *[f"                    const {t} *e{k} = (const {t} *)(q{k} + j * {o.stride});"
              for k, (o, t) in enumerate(zip(operands, types))],
            "                    #pragma omp simd",
            "                    for (int64_t kk = 0; kk < m; kk++) {",
            *step(elements, "acc[kk]", "                        "),
            "                    }",
            "                }",
            "            }",
            "            for (int64_t kk = 0; kk < m; kk++) out[oo * K + k0 + kk] = "
            f"{self.cast('acc[kk]', kernel.acc_dtype, kernel.out_dtype)};",
            "        }"], indent="        "),
            "        return;",
            "    }"]

    @staticmethod
    def _bases(kernel: ReduceKernel, operands: Sequence[RowOperand], indent: str) -> list[str]:
        """Lines pointing each operand k's `b<k>` at its first element of output `o`."""
        i = indent
        return [*[f"{i}char *b{k} = {o.pointer};" for k, o in enumerate(operands)],
                f"{i}int64_t rem = o;",
                f"{i}for (int d = {kernel.n_keep - 1}; d >= 0; d--) {{",
                f"{i}    const int64_t c = rem % shape[d]; rem /= shape[d];",
                *[f"{i}    b{k} += c * strides[{_at(o)}];" for k, o in enumerate(operands)],
                f"{i}}}"]

    @staticmethod
    def _row_starts(kernel: ReduceKernel, operands: Sequence[RowOperand], indent: str,
                    column: str = "") -> list[str]:
        """Lines pointing each operand k's `q<k>` at row `r` of its output (from `b<k>`),
        `column` elements into it (a C expression) when given."""
        i, nk, nd = indent, kernel.n_keep, kernel.n_keep + kernel.n_red
        return [*[f"{i}char *q{k} = b{k}{f' + {column} * {o.stride}' if column else ''};"
                  for k, o in enumerate(operands)],
                f"{i}int64_t rr = r;",
                f"{i}for (int d = {nd - 2}; d >= {nk}; d--) {{",
                f"{i}    const int64_t c = rr % shape[d]; rr /= shape[d];",
                *[f"{i}    q{k} += c * strides[{_at(o)}];" for k, o in enumerate(operands)],
                f"{i}}}"]

    def output_loop(self, kernel: ReduceKernel, operands: Sequence[RowOperand], start: str,
                    row: RowLines) -> list[str]:
        """Lines reducing each output's `n_rows` rows of `inner` elements in order, one output
        per iteration of a loop split across threads above `PARALLEL_THRESHOLD` elements
        when there are several outputs, for a scope with `shape`, `strides`, `n_out`,
        `n_rows`, `inner` and `out`.  `start`: the accumulator's first value (it may read
        `b<k>`); `row(count, indent)`: the lines reducing a row into `acc`."""
        acc_t = self.ctype(kernel.acc_dtype)
        return self.parallel_if(
            f"n_out * n_rows * inner > {PARALLEL_THRESHOLD} && n_out > 1", [
                "    for (int64_t o = 0; o < n_out; o++) {",
                *self._bases(kernel, operands, "        "),
                f"        {acc_t} acc = {start};",
                "        for (int64_t r = 0; r < n_rows; r++) {",
                *self._row_starts(kernel, operands, "            "),
                *row("inner", "            "),
                *self.decided_break(kernel, "            "),
                "        }",
                f"        out[o] = {self.cast('acc', kernel.acc_dtype, kernel.out_dtype)};",
                "    }"])

    def chunk_loop(self, kernel: ReduceKernel, operands: Sequence[RowOperand], start: str,
                   row: RowLines, combine: str) -> list[str]:
        """Lines that split a reduction to one output (`T.sum(x)`, `max(abs(x))`), which
        `output_loop` would run on one thread, and return: above `PARALLEL_THRESHOLD`
        elements, its elements (in the order `output_loop` walks them) are cut into chunks
        of `CHUNK` (of more where that would make over `MAX_PARTS` chunks); the threads
        reduce the chunks as rows are reduced (`row`, vectorized), then one thread combines
        the partials in chunk order.  The chunks are fixed by the shape, not by the number
        of threads, and every chunk runs the same code on any thread, so the result is the
        same to the bit on 1 or 16 threads (a float sum's value would otherwise depend on
        the machine's core count or OMP_NUM_THREADS); a sum adds in another order than one
        pass along the row (as NumPy's pairwise sum also does), in partials of 16K elements,
        which keeps it as accurate or more.  Contiguous reduced dimensions are walked as one
        row here for sums and products too, whose order is new anyway.  An all/any stops at
        the block deciding it within a chunk, and marks the output decided so that the
        chunks not yet started (on any thread) are skipped: they keep the identity, and the
        deciding chunk's partial decides.  Below the threshold nothing changes: no region is
        entered (`parallel_if`).

        1000 x 1000 float32 on this 2-core VM, one thread to two: `T.sum(x)` 64 to 39 us,
        `sum(x ** 2)` 68 to 39, `max(abs(x))` 57 to 44, `T.max(x)` 50 to 37 (NumPy 148,
        243, 125, 40; memory-bound); one thread as before.  A float64 sum of 2^20 uniform
        values erred by 1.2e-9 (median, against `math.fsum`), 5.8e-11 in chunks.

        Only kernels that keep no dimension carry it: in every kernel it made gcc take 80%
        longer on a fused max along rows (0.22 to 0.39 s) and 18% longer on a sum over the
        batch axis, and a reduction that keeps dimensions has its outputs to split across
        threads."""
        if kernel.n_keep:
            return []
        acc_t = self.ctype(kernel.acc_dtype)
        i = " " * 12
        walk = [
            f"{i}for (int64_t e = e0, r = e0 / inner, jb = e0 % inner; e < e1; r++, jb = 0) {{",
            f"{i}    const int64_t n_seg = inner - jb < e1 - e ? inner - jb : e1 - e;",
            *self._row_starts(kernel, operands, i + "    ", column="jb"),
            *row("n_seg", i + "    "),
            f"{i}    e += n_seg;",
            *self.decided_break(kernel, i + "    "),
            f"{i}}}"]
        stop: list[str] = []
        if self.decided(kernel) is not None:
            stop = ["        unsigned char stop = 0;"]
            walk = [f"{i}unsigned char skip;", f"{i}#pragma omp atomic read",
                    f"{i}skip = stop;", f"{i}if (!skip) {{", *["    " + ln for ln in walk],
                    f"{i}    if ({self.decided(kernel)}) {{",
                    f"{i}        #pragma omp atomic write", f"{i}        stop = 1;",
                    f"{i}    }}", f"{i}}}"]
        offsets = [o.offset for o in operands]
        merge = [] if kernel.kind in _MERGED else [
            "    " + ln for ln in self.merge_reduced_rows(kernel, offsets, every_kind=True)]
        pragma = ["        #pragma omp parallel for schedule(static)"] if self.openmp else []
        return [
            f"    if (n_rows * inner > {PARALLEL_THRESHOLD}) {{",
            "        const int64_t n_red = n_rows * inner;",
            f"        const int64_t chunk = n_red > {CHUNK * MAX_PARTS} ? "
            f"(n_red + {MAX_PARTS - 1}) / {MAX_PARTS} : {CHUNK};",
            "        const int64_t n_chunks = (n_red + chunk - 1) / chunk;", *merge,
            f"        {acc_t} part[{MAX_PARTS}];", *stop, *pragma,
            "        for (int64_t ck = 0; ck < n_chunks; ck++) {",
            "            const int64_t e0 = ck * chunk, e1 = n_red - e0 < chunk ? n_red : "
            "e0 + chunk;",
            *[f"{i}char *b{k} = {o.pointer};" for k, o in enumerate(operands)],
            f"{i}{acc_t} acc = {start};",
            *walk,
            f"{i}part[ck] = acc;",
            "        }",
            f"        {acc_t} acc = part[0];",
            f"        for (int64_t ck = 1; ck < n_chunks; ck++) "
            f"acc = {combine.format(a='acc', b='part[ck]')};",
            f"        out[0] = {self.cast('acc', kernel.acc_dtype, kernel.out_dtype)};",
            "        return;",
            "    }"]

    def lanes(self, combine: str, acc_t: str, step: Callable[[str, str], list[str]],
              count: str, indent: str = "                ") -> list[str]:
        """Lines that reduce a unit-stride row of `count` elements of a max or min into
        `acc`, which already holds the identity or an element of the row (taking it again
        changes nothing).  From `2 * LANES` elements on, `LANES` accumulators start from
        `acc` (a vectorized compare-and-select: as one chain of selects a max ran 4x slower
        than NumPy along rows, and max(abs(x)) fused with its producer 6x); from `WIDE_ROW`
        on, `LANE_GROUPS` groups of them run at once first, folded into one group after:
        independent chains that hide each other's latency (`max(axis=1)` of 10 x 100000
        float32 on one thread: 160 to 65 us, NumPy 47; of 1000 x 1000: 189 to 90-126 us,
        NumPy 111).  Then the lanes merge into `acc` and a plain loop takes the tail.
        `combine` is the helper's template over {a} {b}; `step(acc, indent)` gives the lines
        that combine element `j` of the row into `acc`.  The plain and the fused max/min
        use it."""
        i, n, wide = indent, LANES, LANES * LANE_GROUPS

        def chain(width: int) -> list[str]:
            return [f"{i}    for (; j0 + {width} <= {count}; j0 += {width}) {{",
                    f"{i}        #pragma omp simd",
                    f"{i}        for (int k = 0; k < {width}; k++) {{",
                    f"{i}            const int64_t j = j0 + k;",
                    *step("lane[k]", i + "            "),
                    f"{i}        }}",
                    f"{i}    }}"]

        def fold(width: int) -> list[str]:
            folded = combine.format(a="lane[k]", b=f"lane[k + {width}]")
            return [f"{i}    #pragma omp simd", f"{i}    for (int k = 0; k < {width}; k++) "
                    f"lane[k] = {folded};"]

        return [
            f"{i}int64_t j0 = 0;",
            f"{i}if ({count} >= {2 * n}) {{",
            f"{i}    {acc_t} lane[{wide}];",
            f"{i}    for (int k = 0; k < {n}; k++) lane[k] = acc;",
            f"{i}    if ({count} >= {WIDE_ROW}) {{",
            f"{i}    for (int k = {n}; k < {wide}; k++) lane[k] = acc;",
            *chain(wide),
            *[line for s in range(1, LANE_GROUPS.bit_length()) for line in fold(wide >> s)],
            f"{i}    }}",
            *chain(n),
            f"{i}    for (int k = 0; k < {n}; k++) acc = {combine.format(a='acc', b='lane[k]')};",
            f"{i}}}",
            f"{i}for (int64_t j = j0; j < {count}; j++) {{",
            *step("acc", i + "    "),
            f"{i}}}"]

    @staticmethod
    def omp_reduction(kernel: ReduceKernel) -> str | None:
        """The OpenMP reduction operator of a vectorized row (sum/prod of floats add in
        another order, like NumPy's pairwise sum; all/any AND/OR integer lanes of 0 and 1,
        `reduce_parts`); None for max/min, which keep their NaN-propagating helper
        (`lanes`)."""
        if kernel.kind in _TRUTH:
            return _TRUTH[kernel.kind][2]
        return {"sum": "+", "prod": "*"}.get(kernel.kind)

    def reduce_parts(self, unit: Unit, kernel: ReduceKernel) -> tuple[str | None, str]:
        """(identity, combine template over {a} {b}) in the accumulator's type.  all/any
        accumulate in an unsigned integer (`reduce_acc_dtype`: as wide as the elements, so the
        vectorizer packs no masks) combined with `&`/`|`: GCC vectorizes no `_Bool`
        accumulator under `&&`/`||`, and a chain of them ran 20x slower than NumPy."""
        if kernel.kind in _TRUTH:
            if not kernel.acc_dtype.startswith("uint"):
                raise ValueError(f"{kernel.kind} accumulates in an unsigned integer, not "
                                 f"{kernel.acc_dtype}")
            return _TRUTH[kernel.kind][:2]
        return super().reduce_parts(unit, kernel)

    def reduce_value(self, expr: str, kernel: ReduceKernel) -> str:
        """`expr`, an element of the kernel's input dtype, as the accumulator takes it: all/any
        take its truth (`x != 0`: NaN is true) as a 0 or 1 of the integer lanes."""
        expr = self.value(expr, kernel.in_dtype)
        if kernel.kind in _TRUTH:
            return self.cast(self.cast(expr, kernel.in_dtype, "bool"), "bool", kernel.acc_dtype)
        return self.cast(expr, kernel.in_dtype, kernel.acc_dtype)

    @staticmethod
    def decided(kernel: ReduceKernel) -> str | None:
        """The C condition under which the accumulator `acc` of an all/any can change no more
        (a false of all, a true of any); None for the other kinds."""
        return _TRUTH[kernel.kind][3] if kernel.kind in _TRUTH else None

    def decided_break(self, kernel: ReduceKernel, indent: str) -> list[str]:
        """`if (<decided>) break;` for an all/any, nothing for the others."""
        cond = self.decided(kernel)
        return [f"{indent}if ({cond}) break;"] if cond else []

    @staticmethod
    def merge_reduced_rows(kernel: ReduceKernel, offsets: Sequence[int],
                           every_kind: bool = False) -> list[str]:
        """Lines making the rows of an all/any, max or min (whose order of reduction nothing
        shows) whose reduced dimensions every operand walks on from the last one (each
        stride its successor's times its extent: a C-contiguous block, or one broadcast
        along all of them) one row of `n_rows * inner` elements, for a scope with `shape`,
        `strides`, `n_rows` and a mutable `inner`; `offsets`: where each operand's strides
        start.  A row costs a vectorized loop's setup and tail and the reduction of its
        lanes (an all of a 1000 x 1000 bool matrix took 27 us by rows, 9 as one); sums keep
        their rows, whose order of addition their results show, except where `every_kind`
        (`chunk_loop`, whose order is its own)."""
        nk, nd = kernel.n_keep, kernel.n_keep + kernel.n_red
        if not (every_kind or kernel.kind in _MERGED) or kernel.n_red < 2:
            return []
        walks = " && ".join(f"strides[{o} + d] == strides[{o} + d + 1] * shape[d + 1]"
                            for o in offsets)
        # n_rows > 1: no reduced extent is 0 (the row loop divides by each)
        return ["    int one_row = n_rows > 1;",
                f"    for (int d = {nk}; d < {nd - 1}; d++) one_row &= {walks};",
                "    if (one_row) { inner *= n_rows; n_rows = 1; }"]

    def reduce_loop(self, kernel: ReduceKernel, count: str, body: Callable[[str], list[str]],
                    simd: str | None = None, indent: str = "                ") -> list[str]:
        """Lines of `for (j = 0; j < count; j++) <body>` accumulating into `acc`, vectorized
        with `omp simd reduction(<simd>:acc)` when `simd` is given; `body(indent)` gives the
        loop's statements.  An all/any runs in blocks of `DECIDE_BYTES` of accumulator-wide
        elements and stops after the first block that decides it (NumPy's all/any also
        return at the first false/true): long enough that the vectorized loop's setup and the
        reduction of its lanes cost little (1 KiB blocks took an all of 1M bools from 8 to
        16 us; 8 KiB ones cost about 1 us)."""
        i = indent
        if self.decided(kernel) is None:
            pragma = [f"{i}#pragma omp simd reduction({simd}:acc)"] if simd else []
            return [*pragma, f"{i}for (int64_t j = 0; j < {count}; j++) {{", *body(i + "    "),
                    f"{i}}}"]
        pragma = [f"{i}    #pragma omp simd reduction({simd}:acc)"] if simd else []
        block = DECIDE_BYTES // self._size(kernel.acc_dtype)
        return [
            f"{i}for (int64_t j0 = 0; j0 < {count}; j0 += {block}) {{",
            f"{i}    const int64_t j1 = {count} - j0 < {block} ? {count} : j0 + {block};",
            *pragma,
            f"{i}    for (int64_t j = j0; j < j1; j++) {{", *body(i + "        "), f"{i}    }}",
            *self.decided_break(kernel, i + "    "),
            f"{i}}}"]

