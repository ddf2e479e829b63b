"""`In` and `Out`: per-input and per-output options of `theanine.function`."""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Variable

_NO_VALUE = object()


class In:
    """A function input with options.

    `value`: a default used when the caller omits the argument; `name`: the keyword the
    argument can be passed by (defaults to the variable's name); `strict`: refuse values that
    are not already of the exact type; `allow_downcast`: accept lossy casts for this input.
    """

    def __init__(self, variable: Variable, name: str | None = None, value: Any = _NO_VALUE,
                 strict: bool = False, allow_downcast: bool | None = None):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() takes a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.strict = strict
        self.allow_downcast = allow_downcast

    @property
    def has_default(self) -> bool:
        return self.value is not _NO_VALUE

    def __repr__(self) -> str:
        return f"In({self.variable}, name={self.name!r})"


class Out:
    """A function output; `borrow=True` lets the function return its internal buffer."""

    def __init__(self, variable: Variable, borrow: bool = False):
        if not isinstance(variable, Variable):
            raise TypeError(f"Out() takes a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.borrow = borrow
