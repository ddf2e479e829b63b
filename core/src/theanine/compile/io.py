"""`In` and `Out`: per-input and per-output options of `theanine.function`."""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Variable

_NO_VALUE = object()


class In:
    """A function input with options (Theano's signature).

    `value`: a default used when the caller omits the argument (None: no default);
    `name`: the keyword the argument can be passed by (defaults to the variable's name);
    `update`: an expression whose value, after each call, becomes the new default (state kept
    by the function itself; needs `value`); `mutable`: the function may overwrite the
    argument's buffer (it never does today); `borrow`: an output may be the argument itself
    instead of a copy; `strict`: refuse values that are not already of the exact type;
    `allow_downcast`: accept lossy casts for this input.
    """

    def __init__(self, variable: Variable, name: str | None = None, value: Any = None,
                 update: Variable | None = None, mutable: bool | None = None,
                 strict: bool = False, allow_downcast: bool | None = None,
                 autoname: bool = True, implicit: bool | None = None,
                 borrow: bool | None = None, shared: bool = False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() takes a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None or not autoname else variable.name
        self.value = _NO_VALUE if value is None else value
        if update is not None:
            if not isinstance(update, Variable):
                raise TypeError(f"In({variable}, update=...) takes a symbolic expression, got "
                                f"{type(update).__name__}")
            if value is None:
                raise ValueError(f"In({variable}, update=...) needs an initial value=")
        self.update = update
        self.mutable = bool(mutable if mutable is not None else update is not None)
        self.borrow = bool(borrow if borrow is not None else self.mutable)
        if self.mutable and not self.borrow:
            raise ValueError(f"In({variable}): a mutable input is borrowed too; "
                             "mutable=True with borrow=False is contradictory")
        self.implicit = bool(implicit)
        self.strict = strict
        self.allow_downcast = allow_downcast

    @property
    def has_default(self) -> bool:
        return self.value is not _NO_VALUE

    def __repr__(self) -> str:
        return f"In({self.variable}, name={self.name!r})"


_PARAM_WARNED: list[bool] = []


def Param(variable: Variable, default: Any = None, name: str | None = None,  # noqa: N802
          mutable: bool = False, strict: bool = False, allow_downcast: bool | None = None,
          implicit: bool | None = None, borrow: bool | None = None) -> In:
    """Theano's deprecated `Param`: `In` with `default` for `value`; warns once."""
    if not _PARAM_WARNED:
        _PARAM_WARNED.append(True)
        import warnings

        warnings.warn("theano.Param is deprecated: use In(variable, value=default) instead",
                      DeprecationWarning, stacklevel=2)
    return In(variable, name=name, value=default, mutable=mutable, strict=strict,
              allow_downcast=allow_downcast, implicit=implicit, borrow=borrow)


class Out:
    """A function output; `borrow=True` lets the function return its internal buffer."""

    def __init__(self, variable: Variable, borrow: bool = False):
        if not isinstance(variable, Variable):
            raise TypeError(f"Out() takes a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.borrow = borrow
