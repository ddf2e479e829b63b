"""Three float32 scalar ops that read or write a float's exponent field directly.

They are the only new scalar ops the approximations need: everything else is built from the
core's table (`scalar/basic.py`), so fusion puts a whole approximation into one elementwise
kernel and every C-family renderer turns it into straight-line code.  Each op has a NumPy
`impl` (the reference the Python backend runs) and a `c_expr` that reinterprets bits through a
union compound literal: an expression, so it is usable inside a fused kernel's statements.
Both compute exactly the same float32 values (the C backend compiles without contraction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.scalar.basic import ScalarOp

#: bits of float32(sqrt(0.5)): mantissas are taken in [sqrt(0.5), sqrt(2))
_SQRT_HALF_BITS = 0x3F3504F3
_FRACTION_MASK = 0x7FFFFF
_BITS = "((union {{ float f; uint32_t u; }}){{ .f = {0} }}).u"


def _as_f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _ldexp(p: Any, n: Any) -> np.ndarray:
    return np.ldexp(_as_f32(p), _as_f32(n).astype(np.int32)).astype(np.float32, copy=False)


def _offset_bits(x: Any) -> np.ndarray:
    """x's bits minus those of sqrt(0.5), as int64 (no unsigned wrap-around in NumPy)."""
    return _as_f32(x).view(np.uint32).astype(np.int64) - _SQRT_HALF_BITS


def _mantissa(x: Any) -> np.ndarray:
    bits = (_offset_bits(x) & _FRACTION_MASK) + _SQRT_HALF_BITS
    return bits.astype(np.uint32).view(np.float32)


def _exponent(x: Any) -> np.ndarray:
    return (_offset_bits(x) >> 23).astype(np.float32)


def _g_ldexp(inputs: Sequence[Any], outputs: Sequence[Any], grads: Sequence[Any]) -> list:
    from theanine.tensor.basic import ones_like, zeros_like

    p, n = inputs
    return [grads[0] * ldexp(ones_like(p), n), zeros_like(n)]


def _g_mantissa(inputs: Sequence[Any], outputs: Sequence[Any], grads: Sequence[Any]) -> list:
    return [grads[0] * outputs[0] / inputs[0]]  # m = x / 2**e, e locally constant


def _g_exponent(inputs: Sequence[Any], outputs: Sequence[Any], grads: Sequence[Any]) -> list:
    from theanine.tensor.basic import zeros_like

    return [zeros_like(inputs[0])]


class Float32BitOp(ScalarOp):
    """A scalar op defined for float32 operands only, with a float32 result."""

    def output_dtypes(self, dtypes: Sequence[str]) -> list[str]:
        if any(str(d) != "float32" for d in dtypes):
            raise TypeError(f"{self.name} takes float32 operands only, got "
                            f"{', '.join(map(str, dtypes))}")
        return ["float32"]


#: p * 2**n for an integral float32 n in [-126, 127] (a normal power of two; the caller
#: guarantees the range, the approximations clamp n)
LDEXP = Float32BitOp(
    "fastmath_ldexp", _ldexp,
    "({0} * ((union {{ float f; uint32_t u; }})"
    "{{ .u = (uint32_t)((int32_t)({1}) + 127) << 23 }}).f)",
    _g_ldexp, nin=2)
#: the m of x = m * 2**e with m in [sqrt(0.5), sqrt(2)), for a positive normal float32 x
MANTISSA = Float32BitOp(
    "fastmath_mantissa", _mantissa,
    "((union {{ float f; uint32_t u; }}){{ .u = ((" + _BITS + " - 0x3f3504f3u) & 0x7fffffu) "
    "+ 0x3f3504f3u }}).f", _g_mantissa)
#: the e of x = m * 2**e (as a float32), for a positive normal float32 x
EXPONENT = Float32BitOp(
    "fastmath_exponent", _exponent,
    "((float)((int32_t)(" + _BITS + " - 0x3f3504f3u) >> 23))", _g_exponent)


def _elemwise(op: ScalarOp) -> Any:
    from theanine.tensor.elemwise import Elemwise

    return Elemwise(op)


ldexp = _elemwise(LDEXP)
mantissa = _elemwise(MANTISSA)
exponent = _elemwise(EXPONENT)
