"""OpenCL C, a dialect of the shared C-family renderer: its strings and one work item per element.

What differs from host C is small: buffers are `__global`, `bool` is stored as `uchar` (OpenCL
gives `bool` no defined size in buffers), math builtins are overloaded (so `expf` and friends,
which the shared helpers spell with a suffix, are macros for the builtin), float64 needs
`cl_khr_fp64`, and a kernel computes one element per work item instead of looping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theanine.codegen.cstyle import MATH_FUNCTIONS, CStyleRenderer, Unit, Unsupported
from theanine.codegen.kernels import ElemwiseKernel

OPENCL_TYPES = {
    "bool": "uchar", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
    "uint8": "uchar", "uint16": "ushort", "uint32": "uint", "uint64": "ulong",
    "float32": "float", "float64": "double",
}
_SUFFIXED = sorted(MATH_FUNCTIONS | {"fmod", "copysign", "lgamma", "round"})


def _headers(fp64: bool) -> str:
    lines = ["#pragma OPENCL EXTENSION cl_khr_fp64 : enable"] if fp64 else []
    lines += [f"typedef {c} {d}_t;" for d, c in OPENCL_TYPES.items()
              if d.startswith(("int", "uint"))]
    lines += [f"#define {fn}f {fn}" for fn in _SUFFIXED]
    return "\n".join(lines) + "\n"


class OpenCLRenderer(CStyleRenderer):
    dialect = "opencl"
    buffer_qualifier = "__global "
    bool_temp = "bool"

    def __init__(self, fp64: bool):
        self.fp64 = fp64
        self.headers = _headers(fp64)
        self.dtypes = frozenset(d for d in OPENCL_TYPES if fp64 or d != "float64")

    def ctype(self, dtype: str) -> str:
        if dtype not in self.dtypes:
            why = "the device has no cl_khr_fp64" if dtype == "float64" else "not rendered"
            raise Unsupported(f"dtype {dtype} on OpenCL: {why}")
        return OPENCL_TYPES[dtype]

    def math_name(self, fn: str, dtype: str) -> str:
        return fn  # OpenCL's math builtins are overloaded on float and double

    def expr(self, unit: Unit, op: Any, args: Sequence[str], arg_dtypes: Sequence[str],
             out_dtype: str) -> str:
        if getattr(op, "name", "") == "switch" and arg_dtypes[0] != "bool":
            # OpenCL refuses a floating-point condition in `?:`: compare it with 0 first
            args = [f"(({args[0]}) != 0)", *args[1:]]
            arg_dtypes = ["bool", *arg_dtypes[1:]]
        return super().expr(unit, op, args, arg_dtypes, out_dtype)

    # -- elementwise --------------------------------------------------------------------

    def elemwise(self, unit: Unit, kernel: ElemwiseKernel, name: str,
                 by_value: frozenset[int] = frozenset()) -> None:
        """Two kernels: `<name>_c` over contiguous operands (flat index; a scalar operand is
        read once) and `<name>_s` over any strides (the index unravelled per work item).
        Scalar inputs in `by_value` are kernel arguments (`v<k>`), not buffers: a host scalar
        then never needs a copy to the device."""
        program, nd, nin = kernel.program, kernel.ndim, kernel.nin
        ins = [(self.ctype(program.in_dtypes[k]), k) for k in range(nin) if k not in by_value]
        vals = [f"const {self.ctype(program.in_dtypes[k])} v{k}" for k in sorted(by_value)]
        out_t = self.ctype(program.out_dtype)
        g = self.buffer_qualifier
        # contiguous
        params = ["const long n", *vals]
        params += [f"{g}const {t} *in{k}, const long o{k}" for t, k in ins]
        params += [f"{g}{out_t} *out, const long oo"]
        loads = [f"v{k}" if k in by_value else
                 f"in{k}[o{k}{'' if kernel.scalar_inputs[k] else ' + i'}]" for k in range(nin)]
        body, result = self.program_body(unit, program, loads)
        unit.kernels.append("\n".join([
            f"__kernel void {name}_c({', '.join(params)}) {{",
            "    const long i = get_global_id(0);",
            "    if (i >= n) return;",
            *body,
            f"    out[oo + i] = {result};",
            "}"]))
        # strided
        params = ["const long n", *vals] + [f"const long d{j}" for j in range(nd)]
        for t, k in ins:
            params.append(f"{g}const {t} *in{k}, const long o{k}")
            params += [f"const long s{k}_{j}" for j in range(nd)]
        params.append(f"{g}{out_t} *out, const long oo")
        params += [f"const long so_{j}" for j in range(nd)]
        unravel = ["    long r = get_global_id(0);", "    if (r >= n) return;"]
        for j in reversed(range(nd)):
            unravel.append(f"    const long x{j} = r % d{j}; r /= d{j};")

        def at(prefix: str, k: str) -> str:
            return " + ".join([f"o{k}" if prefix == "s" else "oo"]
                              + [f"x{j} * {prefix}{k}_{j}" if prefix == "s" else
                                 f"x{j} * so_{j}" for j in range(nd)])

        loads = [f"v{k}" if k in by_value else f"in{k}[{at('s', str(k))}]" for k in range(nin)]
        body, result = self.program_body(unit, program, loads)
        unit.kernels.append("\n".join([
            f"__kernel void {name}_s({', '.join(params)}) {{",
            *unravel,
            *body,
            f"    out[{at('o', '')}] = {result};",
            "}"]))
