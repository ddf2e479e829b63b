"""The host-C dialect of the shared C-family renderer: loops instead of work items.

Two entry points per elementwise kernel:
- `<name>_contig(n, p0, ..., out)`: every operand is C-contiguous with the result's shape or
  is read as a scalar; one flat loop the compiler vectorizes (`omp simd`, with glibc's vector
  math for exp/log/tanh/... when the probe found libmvec), split across OpenMP threads above
  `PARALLEL_THRESHOLD` elements (a serial path first: entering an OpenMP region costs ~0.3 us);
- `<name>_strided(shape, strides, p0, ..., out)`: any strides (in bytes, 0 where an input is
  broadcast, negative for reversed views); rows of the last dimension, each a vectorizable
  typed loop when the row is unit-stride, else a byte-strided loop.

A program that calls glibc's vector math runs in blocks of `BLOCK` elements through one
non-inlined block function, the tail padded to a whole block: libmvec's lanes and libm's
scalar functions differ in the last ulp, and an element's value must not depend on where it
sits (equal inputs give equal outputs, as in NumPy, or a later sort or comparison diverges).

Reductions: `<name>(shape, strides, x, out)` where the input is presented (by the caller's
strides) with the kept dimensions first; out is C-contiguous over the kept dimensions.
all/any accumulate 0s and 1s in unsigned integer lanes with `&`/`|` (which vectorize, as a
`_Bool` under `&&`/`||` does not), stop at the first block of a row that decides them, and
take contiguous reduced dimensions as one row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from theanine.codegen.cstyle import CStyleRenderer, Unit
from theanine.codegen.kernels import ElemwiseKernel, ReduceKernel
from theanine_c import tiles

#: elements above which loops are split across threads
PARALLEL_THRESHOLD = 200_000

#: libm functions glibc's libmvec has vector variants of (double and float)
_VECTOR_MATH = frozenset({
    "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "erf", "erfc", "exp",
    "exp2", "expm1", "log", "log10", "log1p", "log2", "sin", "sinh", "tan", "tanh", "atan2",
    "pow",
})
_ARITY2 = frozenset({"atan2", "pow"})


def _vector_base(fn: str) -> str | None:
    """The libmvec function `fn` is (expf -> exp, exp -> exp), or None."""
    base = fn[:-1] if fn.endswith("f") and fn[:-1] in _VECTOR_MATH else fn
    return base if base in _VECTOR_MATH else None

#: elements per call of a vector-math block function
BLOCK = 64
#: accumulators of a max or min along a unit-stride row (`CRenderer.lanes`)
LANES = 16
#: groups of `LANES` accumulators the long rows of `CRenderer.lanes` run at once: independent
#: compare-and-select chains that hide each other's latency (a power of two)
LANE_GROUPS = 4
#: rows at least this long run `LANE_GROUPS` groups (merging them costs more than a short
#: row gains)
WIDE_ROW = 512
#: the longest row the strided kernels merge outer dimensions into (`_merged_rows`)
MERGED_ROW = 4096
#: outputs that accumulate together when a reduction walks rows (`CRenderer.row_walk`)
ROW_BLOCK = 256
#: bytes of (accumulator-wide) elements an all/any reduces between looks at whether it is
#: decided (`CRenderer.reduce_loop`)
DECIDE_BYTES = 8192
#: all/any over integer lanes of 0s and 1s (`CRenderer.reduce_parts`): (identity, combine
#: template, OpenMP reduction operator, C condition under which `acc` is decided)
_TRUTH = {"all": ("1", "({a} & {b})", "&", "!acc"), "any": ("0", "({a} | {b})", "|", "acc")}

#: `step(elements, acc, indent)` of `CRenderer.row_walk`: the lines combining one element of
#: each operand (C expressions) into the accumulator `acc`
StepLines = Callable[[list[str], str, str], list[str]]


@dataclass(frozen=True)
class RowOperand:
    """One operand of a reduction's row-block walk (`CRenderer.row_walk`): where it is and how
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


#: no fused multiply-add: NumPy rounds after every operation, so `x * y - z` with z == x * y
#: is exactly 0; GCC contracts across statements unless told not to (clang honours the
#: standard pragma, GCC only its own)
_NO_CONTRACTION = """#pragma STDC FP_CONTRACT OFF
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("fp-contract=off")
#endif
"""


class CRenderer(CStyleRenderer):
    dialect = "c"
    headers = _NO_CONTRACTION + "#include <stdint.h>\n#include <math.h>\n"

    def __init__(self, openmp: bool = True, vector_math: bool = True):
        self.openmp = openmp
        self.vector_math = vector_math

    def math_declarations(self, used: set[str]) -> str:
        """`declare simd` redeclarations so the vectorizer calls libmvec's variants (glibc
        declares them only under -ffast-math, which would also drop NaN/Inf semantics)."""
        if not self.vector_math:
            return ""
        lines = []
        for fn in sorted(used):
            base = _vector_base(fn)
            if base is None:
                continue
            t = "float" if fn != base else "double"
            args = ", ".join([t] * (2 if base in _ARITY2 else 1))
            lines.append(f"#pragma omp declare simd notinbranch\nextern {t} {fn}({args});")
        return "\n".join(lines)

    def parallel_if(self, condition: str, loop: list[str], indent: str = "    ",
                    simd: bool = False) -> list[str]:
        """`loop` (lines of one for statement) on the OpenMP threads when `condition` holds,
        else on this one, outside any region: entering a region costs 0.3-0.5 us even when its
        if() clause is false, which a small operand would pay on every call.  `simd`: the
        loop's iterations are vectorized too (`parallel for simd`, `simd` when serial)."""
        serial = [f"{indent}#pragma omp simd", *loop] if simd else loop
        if not self.openmp:
            return serial
        clause = "parallel for simd" if simd else "parallel for"
        return [f"{indent}if ({condition}) {{", f"{indent}#pragma omp {clause} schedule(static)",
                *loop, f"{indent}}} else {{", *serial, f"{indent}}}"]

    def _vector_math_used(self, kernel: ElemwiseKernel) -> bool:
        if not self.vector_math:
            return False
        probe = Unit(self)
        self.program_body(probe, kernel.program, [f"p{k}" for k in range(kernel.nin)])
        return any(_vector_base(fn) is not None for fn in probe.math)

    def elemwise(self, unit: Unit, kernel: ElemwiseKernel, name: str) -> None:
        if self._vector_math_used(kernel):
            self._elemwise_blocked(unit, kernel, name)
            return
        prog = kernel.program
        r = "" if kernel.inplace else f" {self.restrict}"
        ins = [self.ctype(d) for d in prog.in_dtypes]
        out_t = self.ctype(prog.out_dtype)
        # flat loop
        params = ["int64_t n"] + [f"const {t} *{r} p{k}" for k, t in enumerate(ins)] + \
            [f"{out_t} *{r} out"]
        hoisted = [f"    const {t} s{k} = p{k}[0];" for k, t in enumerate(ins)
                   if kernel.scalar_inputs[k]]
        operands = [f"s{k}" if kernel.scalar_inputs[k] else f"p{k}[i]" for k in range(len(ins))]
        body, res = self.program_body(unit, prog, operands, indent="        ")
        loop = ["    for (int64_t i = 0; i < n; i++) {", *body, f"        out[i] = {res};", "    }"]
        unit.kernels.append("\n".join([
            f"void {name}_contig({', '.join(params)}) {{", *hoisted,
            *self.parallel_if(f"n >= {PARALLEL_THRESHOLD}", loop, simd=True), "}"]))
        unit.declarations.append(f"void {name}_contig(int64_t{', void *' * (len(ins) + 1)});")
        if kernel.ndim:
            self._elemwise_strided(unit, kernel, name, ins, out_t)

    def _elemwise_strided(self, unit: Unit, kernel: ElemwiseKernel, name: str,
                          ins: list[str], out_t: str) -> None:
        prog, nd, nin = kernel.program, kernel.ndim, kernel.nin
        r = "" if kernel.inplace else f" {self.restrict}"
        params = ["const int64_t *given_shape", "const int64_t *given_strides"] + \
            [f"char *p{k}" for k in range(nin)] + ["char *out"]
        pre = self._merged_rows(nd, nin + 1)
        ops = [f"v{k}" if kernel.inner_broadcast[k] else f"e{k}[j]" for k in range(nin)]
        body, res = self.program_body(unit, prog, ops, indent=" " * 12)
        pre += tiles.render(self, unit, kernel, name, PARALLEL_THRESHOLD, [
            "        #pragma omp simd", "        for (int64_t j = 0; j < tw; j++) {",
            *body, f"            eo[j] = {res};", "        }"])
        pre += [f"    int64_t inner = shape[{nd - 1}], outer = 1;"]
        pre += [f"    for (int d = 0; d < {nd - 1}; d++) outer *= shape[d];"]
        row = ["        int64_t rem = o;"]
        row += [f"        char *q{k} = p{k};" for k in range(nin)] + ["        char *qo = out;"]
        row += [f"        for (int d = {nd - 2}; d >= 0; d--) {{",
                "            int64_t c = rem % shape[d]; rem /= shape[d];"]
        row += [f"            q{k} += c * strides[{k * nd} + d];" for k in range(nin)]
        row += [f"            qo += c * strides[{nin * nd} + d];", "        }"]
        row += [f"        const int64_t s{k} = strides[{k * nd + nd - 1}];" for k in range(nin)]
        row += [f"        const int64_t so = strides[{nin * nd + nd - 1}];"]
        unit_stride = [f"so == {self._size(prog.out_dtype)}"] + [
            f"s{k} == {self._size(d)}" for k, d in enumerate(prog.in_dtypes)
            if not kernel.inner_broadcast[k]]
        # a typed unit-stride row the vectorizer handles
        typed_ops = []
        for k, t in enumerate(ins):
            if kernel.inner_broadcast[k]:
                typed_ops.append(f"*(const {t} *)q{k}")
            else:
                row_ptr = f"        const {t} *{r} r{k} = (const {t} *)q{k};"
                row.append(row_ptr)
                typed_ops.append(f"r{k}[j]")
        row.append(f"        {out_t} *{r} ro = ({out_t} *)qo;")
        body, res = self.program_body(unit, prog, typed_ops, indent="                ")
        row += [f"        if ({' && '.join(unit_stride)}) {{", "            #pragma omp simd",
                "            for (int64_t j = 0; j < inner; j++) {", *body,
                f"                ro[j] = {res};", "            }", "        } else {"]
        strided_ops = [f"*(const {t} *)(q{k} + j * s{k})" for k, t in enumerate(ins)]
        body, res = self.program_body(unit, prog, strided_ops, indent="                ")
        row += ["            for (int64_t j = 0; j < inner; j++) {", *body,
                f"                *({out_t} *)(qo + j * so) = {res};", "            }", "        }"]
        loop = ["    for (int64_t o = 0; o < outer; o++) {", *row, "    }"]
        unit.kernels.append("\n".join([
            f"void {name}_strided({', '.join(params)}) {{", *pre,
            *self.parallel_if(f"outer * inner >= {PARALLEL_THRESHOLD} && outer > 1", loop),
            "}"]))
        unit.declarations.append(f"void {name}_strided(void *, void *{', void *' * (nin + 1)});")

    def _elemwise_blocked(self, unit: Unit, kernel: ElemwiseKernel, name: str) -> None:
        """Both entry points, every element computed by the one block function."""
        prog, nin, nd = kernel.program, kernel.nin, kernel.ndim
        r = "" if kernel.inplace else f" {self.restrict}"
        ins = [self.ctype(d) for d in prog.in_dtypes]
        out_t = self.ctype(prog.out_dtype)
        body, res = self.program_body(unit, prog, [f"b{k}[j]" for k in range(nin)],
                                      indent="        ")
        block_params = [f"const {t} *{r} b{k}" for k, t in enumerate(ins)] + \
            [f"{out_t} *{r} bo"]
        # gathers up to BLOCK elements (padding with the last one), runs the block, scatters
        gather = [f"const char *g{k}, int64_t s{k}" for k in range(nin)]
        unit.kernels.append("\n".join([
            f"__attribute__((noinline)) static void {name}_block({', '.join(block_params)}) {{",
            "    #pragma omp simd", f"    for (int64_t j = 0; j < {BLOCK}; j++) {{", *body,
            f"        bo[j] = {res};", "    }", "}",
            f"static void {name}_gather(int64_t m, {', '.join(gather)}, char *go, int64_t so) {{",
            *[f"    {t} b{k}[{BLOCK}];" for k, t in enumerate(ins)], f"    {out_t} bo[{BLOCK}];",
            f"    for (int64_t j = 0; j < {BLOCK}; j++) {{",
            "        const int64_t at = j < m ? j : m - 1;",
            *[f"        b{k}[j] = *(const {t} *)(g{k} + at * s{k});" for k, t in enumerate(ins)],
            "    }", f"    {name}_block({', '.join(f'b{k}' for k in range(nin))}, bo);",
            f"    for (int64_t j = 0; j < m; j++) *({out_t} *)(go + j * so) = bo[j];", "}"]))
        sizes = [self._size(d) for d in prog.in_dtypes]
        out_size = self._size(prog.out_dtype)
        params = ["int64_t n"] + [f"const {t} *p{k}" for k, t in enumerate(ins)] + \
            [f"{out_t} *out"]
        # a scalar input is a whole block of its one value
        splat = [f"    {t} c{k}[{BLOCK}]; for (int j = 0; j < {BLOCK}; j++) c{k}[j] = p{k}[0];"
                 for k, t in enumerate(ins) if kernel.scalar_inputs[k]]
        full = [f"c{k}" if kernel.scalar_inputs[k] else f"p{k} + b" for k in range(nin)]
        tail = [f"(const char *)(p{k}), 0" if kernel.scalar_inputs[k]
                else f"(const char *)(p{k} + nb), {sizes[k]}" for k in range(nin)]
        blocks = [f"    for (int64_t b = 0; b < nb; b += {BLOCK}) "
                  f"{name}_block({', '.join(full)}, out + b);"]
        unit.kernels.append("\n".join([
            f"void {name}_contig({', '.join(params)}) {{", *splat,
            f"    const int64_t nb = n - n % {BLOCK};",
            *self.parallel_if(f"n > {PARALLEL_THRESHOLD}", blocks),
            f"    if (nb < n) {name}_gather(n - nb, {', '.join(tail)}, (char *)(out + nb), "
            f"{out_size});", "}"]))
        unit.declarations.append(f"void {name}_contig(int64_t{', void *' * (nin + 1)});")
        if not nd:
            return
        params = ["const int64_t *given_shape", "const int64_t *given_strides"] + \
            [f"char *p{k}" for k in range(nin)] + ["char *out"]
        chunk = ", ".join(f"q{k} + j * s{k}, s{k}" for k in range(nin))
        # a row whose operands are unit-stride (or constant along it) runs whole blocks in
        # place, as the flat loop does; any other row gathers every block
        direct = " && ".join([f"so == {out_size}"] + [f"(s{k} == {sizes[k]} || s{k} == 0)"
                                                    for k in range(nin)])
        splat_row = [f"            {t} c{k}[{BLOCK}]; const {t} *d{k} = (const {t} *)q{k};\n"
                     f"            if (!s{k}) {{ for (int j = 0; j < {BLOCK}; j++) "
                     f"c{k}[j] = *d{k}; d{k} = c{k}; }}" for k, t in enumerate(ins)]
        blocks = ", ".join(f"d{k} + (s{k} ? j : 0)" for k in range(nin))
        rows = [
            "    for (int64_t o = 0; o < outer; o++) {",
            "        int64_t rem = o;",
            *[f"        const char *q{k} = p{k};" for k in range(nin)], "        char *qo = out;",
            f"        for (int d = {nd - 2}; d >= 0; d--) {{",
            "            int64_t c = rem % shape[d]; rem /= shape[d];",
            *[f"            q{k} += c * strides[{k * nd} + d];" for k in range(nin)],
            f"            qo += c * strides[{nin * nd} + d];", "        }",
            f"        const int64_t so = strides[{nin * nd + nd - 1}];",
            *[f"        const int64_t s{k} = strides[{k * nd + nd - 1}];" for k in range(nin)],
            "        int64_t j = 0;",
            f"        if ({direct}) {{", *splat_row,
            f"            for (; j + {BLOCK} <= inner; j += {BLOCK}) "
            f"{name}_block({blocks}, ({out_t} *)qo + j);", "        }",
            f"        for (; j < inner; j += {BLOCK}) {name}_gather("
            f"inner - j < {BLOCK} ? inner - j : {BLOCK}, {chunk}, qo + j * so, so);",
            "    }"]
        unit.kernels.append("\n".join([
            f"void {name}_strided({', '.join(params)}) {{", *self._merged_rows(nd, nin + 1),
            *tiles.render(self, unit, kernel, name, PARALLEL_THRESHOLD,
                          tiles.block_row(name, ins, sizes, kernel.inner_broadcast, out_size,
                                          BLOCK)),
            f"    int64_t inner = shape[{nd - 1}], outer = 1;",
            f"    for (int d = 0; d < {nd - 1}; d++) outer *= shape[d];",
            *self.parallel_if(f"outer * inner > {PARALLEL_THRESHOLD} && outer > 1", rows),
            "}"]))
        unit.declarations.append(f"void {name}_strided(void *, void *{', void *' * (nin + 1)});")

    @staticmethod
    def _merged_rows(nd: int, nops: int) -> list[str]:
        """C lines declaring `shape` and `strides` (`nops` operands' strides, operand-major) from
        the caller's `given_shape` and `given_strides`, with the outer dimensions that every
        operand walks on from the last one (its stride times its extent) merged into the rows,
        while they are shorter than `MERGED_ROW`, and dimensions of extent 1 dropped; the
        dimensions left over in front become extent 1.  Rows of a (500, 20, 12, 12) result
        plus a per-channel bias are then 144 elements long, not 12: a short row ran whole
        blocks of `BLOCK` elements and a loop's setup for a few of them.  A merge keeps every
        operand's stride along the row, so one broadcast along it stays broadcast."""
        last = nd - 1
        return [
            f"    int64_t shape[{nd}], strides[{nops * nd}];",
            f"    int m = {last}, merging = 1;",
            f"    shape[{last}] = given_shape[{last}];",
            f"    for (int k = 0; k < {nops}; k++) "
            f"strides[k * {nd} + {last}] = given_strides[k * {nd} + {last}];",
            f"    for (int d = {last - 1}; d >= 0; d--) {{",
            "        const int64_t e = given_shape[d];",
            "        if (e == 1) continue;",
            f"        if (merging && m == {last} && shape[m] * e <= {MERGED_ROW}) {{",
            "            int walks = 1;",
            f"            for (int k = 0; k < {nops}; k++)",
            f"                walks &= given_strides[k * {nd} + d] == "
            f"strides[k * {nd} + m] * shape[m];",
            "            if (walks) { shape[m] *= e; continue; }",
            "        }",
            "        merging = 0;",
            "        m--;",
            "        shape[m] = e;",
            f"        for (int k = 0; k < {nops}; k++) "
            f"strides[k * {nd} + m] = given_strides[k * {nd} + d];",
            "    }",
            "    for (int d = 0; d < m; d++) {",
            "        shape[d] = 1;",
            f"        for (int k = 0; k < {nops}; k++) strides[k * {nd} + d] = 0;",
            "    }"] if nd > 1 else [
            "    const int64_t *shape = given_shape, *strides = given_strides;"]

    @staticmethod
    def _size(dtype: str) -> int:
        import numpy as np

        return np.dtype(dtype).itemsize

    def reduce(self, unit: Unit, kernel: ReduceKernel, name: str) -> None:
        """One output element per iteration of the (parallel) outer loop; the reduced
        dimensions run as rows of the last one (vectorized when unit-stride)."""
        identity, combine = self.reduce_parts(unit, kernel)
        nk, nr = kernel.n_keep, kernel.n_red
        nd = nk + nr
        in_t, acc_t = self.ctype(kernel.in_dtype), self.ctype(kernel.acc_dtype)
        out_t = self.ctype(kernel.out_dtype)
        load = self.reduce_value("v", kernel)
        first = identity if identity is not None else self.cast(
            f"*(const {in_t} *)q", kernel.in_dtype, kernel.acc_dtype)
        step = combine.format(a="acc", b=load)

        def row_step(elements: list[str], acc: str, indent: str) -> list[str]:
            value = self.reduce_value(elements[0], kernel)
            return [f"{indent}{acc} = {combine.format(a=acc, b=value)};"]

        def unit_step(indent: str) -> list[str]:
            return [f"{indent}{in_t} v = t[j]; acc = {step};"]

        def strided_step(indent: str) -> list[str]:
            return [f"{indent}{in_t} v = *(const {in_t} *)(row + j * s); acc = {step};"]

        lines = [f"void {name}(const int64_t *shape, const int64_t *strides, char *x, "
                 f"{out_t} *{self.restrict} out) {{",
                 "    int64_t n_out = 1, n_rows = 1;",
                 f"    for (int d = 0; d < {nk}; d++) n_out *= shape[d];",
                 f"    for (int d = {nk}; d < {nd - 1}; d++) n_rows *= shape[d];",
                 f"    int64_t inner = shape[{nd - 1}];",
                 f"    const int64_t s = strides[{nd - 1}];",
                 *self.merge_reduced_rows(kernel, [0]),
                 *self.row_walk(kernel, [RowOperand("x", "s", 0, kernel.in_dtype)], identity,
                                row_step),
                 *self.parallel_if(f"n_out * n_rows * inner > {PARALLEL_THRESHOLD} && "
                                    "n_out > 1", [
                 "    for (int64_t o = 0; o < n_out; o++) {",
                 "        char *base = x; int64_t rem = o;",
                 f"        for (int d = {nk - 1}; d >= 0; d--) {{",
                 "            base += (rem % shape[d]) * strides[d]; rem /= shape[d]; }",
                 "        char *q = base;",
                 f"        {acc_t} acc = {first};",
                 "        for (int64_t r = 0; r < n_rows; r++) {",
                 "            char *row = base; int64_t rr = r;",
                 f"            for (int d = {nd - 2}; d >= {nk}; d--) {{",
                 "                row += (rr % shape[d]) * strides[d]; rr /= shape[d]; }",
                 f"            if (s == {self._size(kernel.in_dtype)}) {{",
                 f"                const {in_t} *t = (const {in_t} *)row;",
                 "                int64_t count = inner;",
                 *(self.lanes(combine, in_t, acc_t,
                              self.cast("t[k]", kernel.in_dtype, kernel.acc_dtype), load)
                   if kernel.kind in ("max", "min") else []),
                 *self.reduce_loop(kernel, "count", unit_step, self.omp_reduction(kernel)),
                 "            } else {",
                 *self.reduce_loop(kernel, "inner", strided_step),
                 "            }",
                 *self.decided_break(kernel, "            "),
                 "        }",
                 f"        out[o] = {self.cast('acc', kernel.acc_dtype, kernel.out_dtype)};",
                 "    }"]),
                 "}"]
        unit.kernels.append("\n".join(ln for ln in lines if ln))
        unit.declarations.append(f"void {name}(void *, void *, void *, void *);")

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

        def at(o: RowOperand) -> str:
            return f"{o.offset} + d" if o.offset else "d"

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
            *[f"                b{k} += cc * strides[{at(o)}];" for k, o in enumerate(operands)],
            "            }",
            f"            {self.ctype(kernel.acc_dtype)} acc[{ROW_BLOCK}];",
            f"            for (int64_t kk = 0; kk < m; kk++) acc[kk] = {start};",
            "            for (int64_t r = 0; r < n_rows; r++) {",
            *[f"                char *q{k} = b{k};" for k in ks],
            "                int64_t rr = r;",
            f"                for (int d = {nd - 2}; d >= {nk}; d--) {{",
            "                    int64_t cc = rr % shape[d]; rr /= shape[d];",
            *[f"                    q{k} += cc * strides[{at(o)}];"
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

    def lanes(self, combine: str, in_t: str, acc_t: str, first: str, load: str,
              indent: str = "                ") -> list[str]:
        """Lines that reduce a unit-stride row `t` of `count` elements of a max or min in
        `LANES` accumulators (a vectorized compare-and-select), merge them into `acc` and
        leave `t` and `count` at the tail, which the caller's plain loop then finishes.
        `combine` is the helper's template over {a} {b}; `first` (over `t[k]`) and `load`
        (over `v`) put an element in the accumulator's type.  A max or min is exact in any
        order (a NaN wherever it sits wins), and as one chain of selects it ran 4x slower
        than NumPy along rows.  A row of `WIDE_ROW` elements or more first runs
        `LANE_GROUPS` groups of lanes at once, folded into one group after: independent
        chains that hide each other's latency (`max(axis=1)` of 10 x 100000 float32 on one
        thread: 160 to 65 us, NumPy 47; of 1000 x 1000: 189 to 90-126 us, NumPy 111).  `acc`
        may already hold an element of the row (it starts from the first): taking it again
        changes nothing.  The max/min reductions use it."""
        lane = combine.format(a="lane[k]", b=load)
        i, n, wide = indent, LANES, LANES * LANE_GROUPS

        def chain(width: int) -> list[str]:
            return [f"{i}    for (; j + {width} <= count; j += {width}) {{",
                    f"{i}        #pragma omp simd",
                    f"{i}        for (int k = 0; k < {width}; k++) {{",
                    f"{i}            {in_t} v = t[j + k]; lane[k] = {lane}; }}",
                    f"{i}    }}"]

        def fold(width: int) -> list[str]:
            folded = combine.format(a="lane[k]", b=f"lane[k + {width}]")
            return [f"{i}    #pragma omp simd", f"{i}    for (int k = 0; k < {width}; k++) "
                    f"lane[k] = {folded};"]

        return [
            f"{i}if (count >= {2 * n}) {{",
            f"{i}    {acc_t} lane[{wide}];",
            f"{i}    for (int k = 0; k < {n}; k++) lane[k] = {first};",
            f"{i}    int64_t j = {n};",
            f"{i}    if (count >= {WIDE_ROW}) {{",
            f"{i}    for (int k = {n}; k < {wide}; k++) lane[k] = lane[k % {n}];",
            *chain(wide),
            *[line for s in range(1, LANE_GROUPS.bit_length()) for line in fold(wide >> s)],
            f"{i}    }}",
            *chain(n),
            f"{i}    for (int k = 0; k < {n}; k++) acc = {combine.format(a='acc', b='lane[k]')};",
            f"{i}    t += j;",
            f"{i}    count -= j;",
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
    def merge_reduced_rows(kernel: ReduceKernel, offsets: Sequence[int]) -> list[str]:
        """Lines making the rows of an all/any, max or min (whose order of reduction nothing
        shows) whose reduced dimensions every operand walks on from the last one (each
        stride its successor's times its extent: a C-contiguous block, or one broadcast
        along all of them) one row of `n_rows * inner` elements, for a scope with `shape`,
        `strides`, `n_rows` and a mutable `inner`; `offsets`: where each operand's strides
        start.  A row costs a vectorized loop's setup and tail and the reduction of its
        lanes (an all of a 1000 x 1000 bool matrix took 27 us by rows, 9 as one); sums keep
        their rows, whose order of addition their results show."""
        nk, nd = kernel.n_keep, kernel.n_keep + kernel.n_red
        if kernel.kind not in (*_TRUTH, "max", "min") or kernel.n_red < 2:
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

