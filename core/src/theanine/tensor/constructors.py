"""Theano's variable constructors: `scalar vector matrix row col tensor3 tensor4 tensor5`, their
dtype-prefixed forms (`b w i l f d c z`: int8, int16, int32, int64, float32, float64,
complex64, complex128) and plural forms (`dmatrices('a', 'b')`, `scalars('xy')`).

As in Theano, the dtype-prefixed singular forms are `TensorType` instances (so
`x.type == T.dmatrix` holds and `T.dmatrix('m')` makes a variable), while the floatX forms
(`T.matrix`) are functions that read `config.floatX` at each call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from theanine.config import config
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

_PATTERNS: dict[str, tuple[bool, ...]] = {
    "scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
    "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4,
    "tensor5": (False,) * 5,
}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "c": "complex64", "z": "complex128"}


def tensor(dtype: str | None = None, broadcastable: tuple[bool, ...] = (),
           name: str | None = None, shape: tuple[int | None, ...] | None = None
           ) -> TensorVariable:
    """A symbolic tensor of `dtype` (default `config.floatX`) with the given pattern."""
    return TensorType(dtype or config.floatX, broadcastable, shape=shape)(name)


def _single(pattern: tuple[bool, ...]) -> Callable[..., TensorVariable]:
    def make(name: str | None = None, dtype: str | None = None) -> TensorVariable:
        return TensorType(dtype or config.floatX, pattern)(name)
    return make


def _names(kind: str, names: tuple[Any, ...]) -> tuple[list[str | None], bool]:
    """The names a plural constructor was given, and whether Theano returned one variable.

    Theano's rules: an int n makes n unnamed variables; a single string is split into one
    name per character (`'xy'`: x and y; `'x'`: one variable, not a list); a single list or
    tuple gives its names; several arguments are one name each.
    """
    if names and isinstance(names[0], int) and not isinstance(names[0], bool):
        if len(names) != 1:
            raise TypeError(f"{kind}: pass a count or names, not both; got {names!r}")
        return [None] * names[0], False
    if len(names) == 1 and isinstance(names[0], list | tuple):
        names = tuple(names[0])
    elif len(names) == 1 and isinstance(names[0], str):
        names = tuple(names[0])
        if len(names) == 1:
            return [names[0]], True
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"{kind}: variable names must be strings, got "
                            f"{type(n).__name__} {n!r}")
    return list(names), False


def _plural(kind: str, pattern: tuple[bool, ...], fixed_dtype: str | None) -> Callable[..., Any]:
    def make(*names: Any, dtype: str | None = None) -> Any:
        listed, single = _names(kind, names)
        made = [TensorType(fixed_dtype or dtype or config.floatX, pattern)(n) for n in listed]
        return made[0] if single else made
    return make


def _build() -> dict[str, Any]:
    table: dict[str, Any] = {}
    for kind, pattern in _PATTERNS.items():
        plural = "matrices" if kind == "matrix" else kind + "s"
        table[kind] = _single(pattern)
        table[plural] = _plural(plural, pattern, None)
        for name in (kind, plural):
            table[name].__name__ = table[name].__qualname__ = name
        for prefix, dtype in _PREFIXES.items():
            table[prefix + kind] = TensorType(dtype, pattern)
            fn = table[prefix + plural] = _plural(prefix + plural, pattern, dtype)
            fn.__name__ = fn.__qualname__ = prefix + plural
    return table


CONSTRUCTORS = _build()
globals().update(CONSTRUCTORS)
