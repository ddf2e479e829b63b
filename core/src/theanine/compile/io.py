"""`In` and `Out`: per-input and per-output options of `theanine.function`, and `converter`,
how a compiled function checks and converts each input value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from theanine.graph.basic import Variable
from theanine.tensor.type import TensorType


class _NoValue:
    """In()'s "no default": one object per process, also after unpickling."""

    def __reduce__(self) -> str:
        return "_NO_VALUE"

    def __repr__(self) -> str:
        return "<no default>"


_NO_VALUE = _NoValue()


class In:
    """A function input with options (Theano's signature).

    `value`: a default used when the caller omits the argument (None: no default);
    `name`: the keyword the argument can be passed by (defaults to the variable's name);
    `update`: an expression whose value, after each call, becomes the new default (state kept
    by the function itself; needs `value`); `mutable`: the function may overwrite the
    argument's buffer (an in-place Op may write its result there once nothing else reads
    it; the default when `update` is given); `borrow`: an output may be the argument itself
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


def converter(spec: In, position: int, ttype: Any, storage: Any = None
               ) -> Callable[[Any], Any]:
    """The per-input conversion, with a fast path for arrays already of the right type; with
    a device backend's `storage`, that device's arrays pass through without a copy."""
    name = spec.name or f"#{position}"
    if not isinstance(ttype, TensorType):  # another Type (a plugin's sparse matrices)
        return lambda value: ttype.filter(value, spec.strict, spec.allow_downcast, name)
    dtype = ttype.numpy_dtype
    ndim = ttype.ndim
    strict = spec.strict
    allow_downcast = spec.allow_downcast
    filt = ttype.filter
    ndarray = np.ndarray
    fast = not any(ttype.broadcastable)
    # Python floats always convert to a float dtype (Theano's rule); skip the general filter.
    float_scalars = (float,) if (dtype.kind == "f" and not (strict or ndim)
                                 and (allow_downcast is not False or dtype == np.float64)) else ()
    array = np.array

    def convert(value: Any) -> Any:
        if fast and type(value) is ndarray and value.dtype is dtype and value.ndim == ndim:
            return value
        if type(value) in float_scalars:
            return array(value, dtype)
        return filt(value, strict, allow_downcast, name)

    if storage is None or not hasattr(ttype, "ndim"):
        if fast:  # the tests a compiled function's entry inlines (`compile.entry`)
            convert.fast_check = (dtype, ndim)  # type: ignore[attr-defined]
            convert.takes_floats = bool(float_scalars)  # type: ignore[attr-defined]
        return convert

    def convert_device(value: Any) -> Any:
        if not storage.is_device(value):
            return convert(value)
        if value.dtype != dtype or value.ndim != ndim:
            raise TypeError(f"input {name!r} expected a {ndim}-d {dtype} array ({ttype}) but "
                            f"got a {storage.name} array of shape {value.shape} and dtype "
                            f"{value.dtype}")
        return value

    return convert_device
