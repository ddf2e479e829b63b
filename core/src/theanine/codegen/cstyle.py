"""The C-family renderer: kernel descriptions (`codegen.kernels`) to source text.

One class renders what every C-family dialect shares: C types for dtypes, scalar-op
expressions from `ScalarOp.c_expr` with NumPy's semantics (operands cast to the ufunc's loop
dtypes, helpers from `codegen.helpers`), the straight-line body of a fused program, and the
reduction combiners.  A dialect is a subclass that overrides a handful of strings and the
kernel frames (host loops for C, one work item per element for OpenCL and CUDA), as tinygrad's
`renderer/cstyle.py` does.

Rendering happens in a `Unit`: it collects the helpers and headers the kernels use, so the
translation unit holds only what it needs (compile time grows with source size).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.codegen.helpers import HELPER_NAMES, helper_source
from theanine.codegen.kernels import REDUCTIONS, ElemwiseKernel, ReduceKernel, ScalarProgram


class Unsupported(Exception):
    """This dialect has no native rendering for the given op and dtypes (the node falls back)."""


#: libm functions c_expr may call; for float32 (and float16, computed in float) they take `f`
MATH_FUNCTIONS = frozenset({
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "sin", "cos", "tan",
    "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "floor", "ceil", "trunc", "rint", "erf", "erfc", "tgamma", "pow", "fabs",
})
#: what a libm function becomes on integer operands (None: unsupported)
_INT_MATH = {"floor": "", "ceil": "", "trunc": "", "rint": "", "fabs": "th_abs"}
_HELPER_ALIASES = {"py_mod": "mod"}
_COMPARISONS = frozenset({"lt", "gt", "le", "ge", "eq", "neq"})
_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\(")

#: the types of buffer elements; a bool buffer is bytes (`value` reads them)
_CTYPES = {
    "bool": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
    "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
    "uint64": "uint64_t", "float16": "_Float16", "float32": "float", "float64": "double",
}


def loop_dtypes(op: Any, in_dtypes: Sequence[str], out_dtype: str) -> tuple[str, ...]:
    """The dtypes the operands are converted to before `op` applies, as NumPy's ufunc loop
    does (`int32 / int32` divides in float64); non-ufunc ops work in their output dtype,
    except `switch`'s condition and a cast's operand, which stay as they are."""
    name = getattr(op, "name", "")
    if name == "switch":
        return (in_dtypes[0], out_dtype, out_dtype)
    if name.startswith("cast_"):
        return tuple(in_dtypes)
    impl = op.__dict__.get("impl") if hasattr(op, "__dict__") else None
    if isinstance(impl, np.ufunc):
        try:
            resolved = impl.resolve_dtypes(tuple(np.dtype(d) for d in in_dtypes)
                                           + (None,) * impl.nout)
        except TypeError as exc:
            raise Unsupported(f"{name} has no loop for {list(in_dtypes)}") from exc
        return tuple(str(d) for d in resolved[:impl.nin])
    return tuple(out_dtype for _ in in_dtypes)


class CStyleRenderer:
    """Renders kernels for a C-family dialect; subclasses override the strings below and the
    kernel frames."""

    #: the dialect's name, part of every cache key
    dialect = "c-family"
    #: qualifier of helper functions
    helper_qualifier = "static inline"
    #: qualifier of pointers to kernel buffers (OpenCL: "__global ")
    buffer_qualifier = ""
    restrict = "restrict"
    #: the type of a bool temporary: one that makes any nonzero value 1 on assignment
    bool_temp = "_Bool"
    #: dtypes the dialect can load, compute and store
    dtypes = frozenset(_CTYPES)
    headers = "#include <stdint.h>\n#include <math.h>\n"

    def ctype(self, dtype: str) -> str:
        if dtype not in self.dtypes:
            raise Unsupported(f"dtype {dtype} is not supported by the {self.dialect} renderer")
        return _CTYPES[dtype]

    # -- scalar expressions -------------------------------------------------------------

    def value(self, expr: str, dtype: str) -> str:
        """An element read from a buffer, as the value it stands for.  Bool buffers are bytes,
        and NumPy reads any nonzero byte as True (a `u8.view(bool)` holds 2s): as 0/1 they
        add, xor and convert as NumPy's bools do, where the raw byte would add as 2."""
        return f"(({expr}) != 0)" if dtype == "bool" else expr

    def math_name(self, fn: str, dtype: str) -> str:
        """The libm name of `fn` for a float `dtype`."""
        return fn if dtype == "float64" else fn + "f"

    def cast(self, expr: str, from_dtype: str, to_dtype: str) -> str:
        if from_dtype == to_dtype:
            return expr
        if to_dtype == "bool":
            return f"(({expr}) != 0)"
        return f"(({self.ctype(to_dtype)})({expr}))"

    def expr(self, unit: Unit, op: Any, args: Sequence[str], arg_dtypes: Sequence[str],
             out_dtype: str) -> str:
        """C for `op(*args)`, args given as C expressions of `arg_dtypes`."""
        template = getattr(op, "c_expr", None)
        name = getattr(op, "name", str(op))
        if template is None:
            raise Unsupported(f"scalar op {name} has no C expression")
        if "complex" in out_dtype or any("complex" in d for d in arg_dtypes):
            raise Unsupported(f"{name}: complex dtypes are not rendered natively yet")
        loops = loop_dtypes(op, arg_dtypes, out_dtype)
        for d in (*loops, out_dtype):
            self.ctype(d)
        operands = [self.cast(a, d, lo) for a, d, lo in zip(args, arg_dtypes, loops)]
        if name.startswith("cast_"):
            return self.cast(operands[0], loops[0], out_dtype)
        work = loops[-1] if loops else out_dtype
        if name == "invert" and work == "bool":
            template = "(!{0})"
        if name in ("isnan", "isinf") and not work.startswith("float"):
            return "0"
        if name == "pow" and not work.startswith("float"):
            raise Unsupported("integer pow is not rendered natively (NumPy raises on negative "
                              "exponents)")
        if name in _COMPARISONS and {lo[0] for lo in loops} == {"i", "u"}:
            operands = [self._mixed_sign_order(operands, loops), "0"]
        text = template.format(*[f"({o})" for o in operands])
        return _CALL.sub(lambda m: self._call(unit, m.group(1), work, name), text)

    def _mixed_sign_order(self, operands: Sequence[str], loops: Sequence[str]) -> str:
        """-1, 0 or 1 as a signed operand compares with an unsigned one (NumPy's loops for
        int64 against uint64 compare values; C would convert the signed one to unsigned)."""
        a, b = operands
        if loops[0].startswith("int"):
            u = self.cast(a, loops[0], loops[1])
            return f"(({a}) < 0 ? -1 : (({u}) > ({b})) - (({u}) < ({b})))"
        u = self.cast(b, loops[1], loops[0])
        return f"(({b}) < 0 ? 1 : (({a}) > ({u})) - (({a}) < ({u})))"

    def _call(self, unit: Unit, fn: str, dtype: str, op_name: str) -> str:
        if fn in MATH_FUNCTIONS:
            if dtype.startswith("float"):
                unit.math.add(self.math_name(fn, dtype))
                return self.math_name(fn, dtype) + "("
            if fn not in _INT_MATH:
                raise Unsupported(f"{op_name}: {fn} of {dtype}")
            fn = _INT_MATH[fn]
            if not fn:
                return "("
            fn = fn[3:]
        if fn in ("isnan", "isinf"):  # C99 type-generic macros
            return fn + "("
        fn = _HELPER_ALIASES.get(fn, fn)
        if fn in HELPER_NAMES:
            source = helper_source(fn, dtype, self.ctype(dtype), self.helper_qualifier)
            if source is None:
                raise Unsupported(f"{op_name}: no {fn} helper for {dtype}")
            unit.helpers.setdefault(f"th_{fn}_{dtype}", source)
            return f"th_{fn}_{dtype}("
        raise Unsupported(f"{op_name}: unknown function {fn} in its C expression")

    def temp_ctype(self, dtype: str) -> str:
        """The type of a temporary of `dtype`: bool buffers hold bytes, a bool temporary must
        make 1 + 1 (NumPy's True + True) 1 again."""
        return self.bool_temp if dtype == "bool" else self.ctype(dtype)

    def program_body(self, unit: Unit, program: ScalarProgram, operands: Sequence[str],
                     indent: str = "    ") -> tuple[list[str], str]:
        """Lines computing `program` on the C expressions `operands` (one temporary per step,
        each stored in its step's dtype, as NumPy rounds after every op), and the result.
        `operands` are elements as read from buffers (`value` makes them values)."""
        names = [self.value(o, d) for o, d in zip(operands, program.in_dtypes)]
        lines = []
        for k, (op, refs, dtype) in enumerate(program.steps):
            e = self.expr(unit, op, [names[r] for r in refs],
                          [program.dtype_of(r) for r in refs], dtype)
            var = f"t{k}"
            lines.append(f"{indent}{self.temp_ctype(dtype)} {var} = {e};")
            names.append(var)
        return lines, names[-1]

    # -- reductions ----------------------------------------------------------------------

    def reduce_parts(self, unit: Unit, kernel: ReduceKernel) -> tuple[str | None, str]:
        """(identity, combine template over {a} {b}) in the accumulator's type."""
        identity, combine = REDUCTIONS[kernel.kind]
        if kernel.kind in ("max", "min"):
            acc = kernel.acc_dtype
            self.ctype(acc)
            source = helper_source(kernel.kind, acc, self.ctype(acc), self.helper_qualifier)
            if source is None:
                raise Unsupported(f"{kernel.kind} of {acc}")
            unit.helpers.setdefault(f"th_{kernel.kind}_{acc}", source)
            combine = f"th_{kernel.kind}_{acc}({{a}}, {{b}})"
        if "complex" in kernel.acc_dtype or "complex" in kernel.in_dtype:
            raise Unsupported("complex reductions are not rendered natively yet")
        return identity, combine


class Unit:
    """One translation unit being rendered: kernels plus the helpers and math they use."""

    def __init__(self, renderer: CStyleRenderer):
        self.renderer = renderer
        self.helpers: dict[str, str] = {}
        self.math: set[str] = set()
        self.kernels: list[str] = []
        self.declarations: list[str] = []

    def source(self) -> str:
        r = self.renderer
        parts = [r.headers, r.math_declarations(self.math) if hasattr(r, "math_declarations")
                 else ""]
        # guarded, so units can be concatenated into one translation unit (batched builds)
        parts.extend(f"#ifndef TH_HELPER_{k}\n#define TH_HELPER_{k}\n{self.helpers[k]}\n#endif"
                     for k in sorted(self.helpers))
        parts.extend(self.kernels)
        return "\n".join(p for p in parts if p) + "\n"


def named_program(unit: Unit, placeholder: str = "KNAME") -> tuple[str, str]:
    """The unit's source with its kernel named after its content (equal kernels share one
    program and one cache entry), and that name."""
    text = unit.source()
    name = "th_" + hashlib.sha256(text.encode()).hexdigest()[:20]
    return text.replace(placeholder, name), name


def elemwise_kernel(scalar_op: Any, in_dtypes: Sequence[str], out_dtype: str,
                    broadcastable: Sequence[Sequence[bool]], ndim: int,
                    inplace: bool = False, across_rows: bool = False) -> ElemwiseKernel:
    """The description of an elementwise node every C-family backend renders: its scalar
    op's program, and which operands are scalars or constant along the inner dimension."""
    program = ScalarProgram.of(scalar_op, tuple(in_dtypes), out_dtype)
    if program.out_dtype != out_dtype:
        raise Unsupported(f"scalar program gives {program.out_dtype}, node wants {out_dtype}")
    scalar = tuple(all(b) for b in broadcastable)
    inner = tuple(bool(b[-1]) if ndim else True for b in broadcastable)
    return ElemwiseKernel(program, ndim, scalar, inner, inplace=inplace,
                          across_rows=across_rows and ndim > 1)


def elemwise_node_kernel(node: Any, inplace: bool = False) -> ElemwiseKernel:
    """`elemwise_kernel` of an Elemwise node (one output: several are not rendered)."""
    if len(node.outputs) != 1:
        raise Unsupported("Elemwise with several outputs")
    out = node.outputs[0]
    return elemwise_kernel(node.op.scalar_op, [i.type.dtype for i in node.inputs],
                           out.type.dtype, [i.type.broadcastable for i in node.inputs],
                           out.type.ndim, inplace,
                           any(reorders_dimensions(i) for i in node.inputs))


def reorders_dimensions(var: Any) -> bool:
    """Whether `var` is a view (through basic indexing and broadcast changes) of a
    `DimShuffle` that moves a dimension of extent > 1 past another, such as `x.T`: then its
    elements along a row of a C-ordered result lie far apart.  Arrays the graph does not
    make (inputs, shared values) are taken to be C-ordered, as NumPy makes them."""
    from theanine.tensor.basic import Rebroadcast
    from theanine.tensor.elemwise import DimShuffle
    from theanine.tensor.shape_ops import SpecifyShape
    from theanine.tensor.subtensor import AdvancedSubtensor, Subtensor

    while var.owner is not None:
        op = var.owner.op
        if isinstance(op, DimShuffle):
            kept = [d for d in op.new_order if d != "x" and not op.input_broadcastable[d]]
            if kept != sorted(kept):
                return True
        elif not isinstance(op, Subtensor | Rebroadcast | SpecifyShape) \
                or isinstance(op, AdvancedSubtensor):
            return False
        var = var.owner.inputs[0]
    return False

