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
take contiguous reduced dimensions as one row.  Above `PARALLEL_THRESHOLD` elements a loop
splits across outputs, or, for a reduction to one output, across chunks of a number of its
elements fixed by the shape, combined in order (`RowLoops.chunk_loop`: the same bits on any
number of threads).
"""

from __future__ import annotations

from theanine.codegen.cstyle import CStyleRenderer, Unit
from theanine.codegen.kernels import ElemwiseKernel, ReduceKernel
from theanine_c import tiles
from theanine_c.loops import PARALLEL_THRESHOLD, RowLoops, RowOperand

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
#: the longest row the strided kernels merge outer dimensions into (`_merged_rows`)
MERGED_ROW = 4096


#: no fused multiply-add: NumPy rounds after every operation, so `x * y - z` with z == x * y
#: is exactly 0; GCC contracts across statements unless told not to (clang honours the
#: standard pragma, GCC only its own)
_NO_CONTRACTION = """#pragma STDC FP_CONTRACT OFF
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("fp-contract=off")
#endif
"""


class CRenderer(RowLoops, CStyleRenderer):
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
        """One output element per iteration of the (parallel) outer loop, or chunks of one
        long output split across threads (`chunk_loop`); the reduced dimensions run as rows
        of the last one (vectorized when unit-stride)."""
        identity, combine = self.reduce_parts(unit, kernel)
        nk, nr = kernel.n_keep, kernel.n_red
        nd = nk + nr
        in_t, acc_t = self.ctype(kernel.in_dtype), self.ctype(kernel.acc_dtype)
        out_t = self.ctype(kernel.out_dtype)
        load = self.reduce_value("v", kernel)
        first = identity if identity is not None else self.cast(
            f"*(const {in_t} *)b0", kernel.in_dtype, kernel.acc_dtype)
        step = combine.format(a="acc", b=load)

        def row_step(elements: list[str], acc: str, indent: str) -> list[str]:
            value = self.reduce_value(elements[0], kernel)
            return [f"{indent}{acc} = {combine.format(a=acc, b=value)};"]

        def unit_step(indent: str, acc: str = "acc") -> list[str]:
            return [f"{indent}{in_t} v = t[j]; {acc} = {combine.format(a=acc, b=load)};"]

        def strided_step(indent: str) -> list[str]:
            return [f"{indent}{in_t} v = *(const {in_t} *)(q0 + j * s); acc = {step};"]

        def row(count: str, indent: str) -> list[str]:
            i = indent + "    "
            return [f"{indent}if (s == {self._size(kernel.in_dtype)}) {{",
                    f"{i}const {in_t} *t = (const {in_t} *)q0;",
                    *(self.lanes(combine, acc_t, lambda acc, i: unit_step(i, acc), count, i)
                      if kernel.kind in ("max", "min") else
                      self.reduce_loop(kernel, count, unit_step, self.omp_reduction(kernel), i)),
                    f"{indent}}} else {{",
                    *self.reduce_loop(kernel, count, strided_step, indent=i),
                    f"{indent}}}"]

        operands = [RowOperand("x", "s", 0, kernel.in_dtype)]
        lines = [f"void {name}(const int64_t *shape, const int64_t *strides, char *x, "
                 f"{out_t} *{self.restrict} out) {{",
                 "    int64_t n_out = 1, n_rows = 1;",
                 f"    for (int d = 0; d < {nk}; d++) n_out *= shape[d];",
                 f"    for (int d = {nk}; d < {nd - 1}; d++) n_rows *= shape[d];",
                 f"    int64_t inner = shape[{nd - 1}];",
                 f"    const int64_t s = strides[{nd - 1}];",
                 *self.merge_reduced_rows(kernel, [0]),
                 *self.row_walk(kernel, operands, identity, row_step),
                 *self.chunk_loop(kernel, operands, first, row, combine),
                 *self.output_loop(kernel, operands, first, row),
                 "}"]
        unit.kernels.append("\n".join(ln for ln in lines if ln))
        unit.declarations.append(f"void {name}(void *, void *, void *, void *);")
