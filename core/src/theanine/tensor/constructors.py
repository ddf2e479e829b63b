"""Theano's variable constructors: `scalar vector matrix row col tensor3 tensor4`, their
dtype-prefixed forms (`b w i l f d c`: int8, int16, int32, int64, float32, float64, complex128)
and plural forms (`dmatrices('a', 'b')`)."""

from __future__ import annotations

from collections.abc import Callable

from theanine.config import config
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

_PATTERNS: dict[str, tuple[bool, ...]] = {
    "scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
    "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4,
    "tensor5": (False,) * 5,
}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "c": "complex128", "z": "complex128"}


def tensor(dtype: str | None = None, broadcastable: tuple[bool, ...] = (),
           name: str | None = None, shape: tuple[int | None, ...] | None = None
           ) -> TensorVariable:
    """A symbolic tensor of `dtype` (default `config.floatX`) with the given pattern."""
    return TensorType(dtype or config.floatX, broadcastable, shape=shape)(name)


def _single(pattern: tuple[bool, ...], fixed_dtype: str | None) -> Callable[..., TensorVariable]:
    def make(name: str | None = None, dtype: str | None = None) -> TensorVariable:
        return TensorType(fixed_dtype or dtype or config.floatX, pattern)(name)
    return make


def _plural(pattern: tuple[bool, ...], fixed_dtype: str | None
            ) -> Callable[..., list[TensorVariable]]:
    def make(*names: str | int, dtype: str | None = None) -> list[TensorVariable]:
        if len(names) == 1 and isinstance(names[0], int):
            names = (None,) * names[0]  # type: ignore[assignment]
        return [TensorType(fixed_dtype or dtype or config.floatX, pattern)(n)  # type: ignore
                for n in names]
    return make


def _build() -> dict[str, Callable]:
    table: dict[str, Callable] = {}
    for kind, pattern in _PATTERNS.items():
        table[kind] = _single(pattern, None)
        table[kind + "s"] = _plural(pattern, None)
        if kind == "matrix":
            table["matrices"] = table.pop("matrixs")
        for prefix, dtype in _PREFIXES.items():
            table[prefix + kind] = _single(pattern, dtype)
            plural = prefix + ("matrices" if kind == "matrix" else kind + "s")
            table[plural] = _plural(pattern, dtype)
    for name, fn in table.items():
        fn.__name__ = name
        fn.__qualname__ = name
    return table


CONSTRUCTORS = _build()
globals().update(CONSTRUCTORS)
