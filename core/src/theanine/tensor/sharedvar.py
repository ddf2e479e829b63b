"""Shared variables: symbolic variables with a value that outlives any one function call.

A shared variable's value lives in a `Container` that every compiled function using it reads
(and, through `updates`, writes); `get_value`/`set_value` go through the variable's type, so a
value of the wrong type is refused with a clear error.

They belong to the tensor layer (as in PyTensor's `tensor.sharedvar`), so that graphs that own
state, such as random streams, are built without the compile layer; which device a new value
goes to is asked of the backend through the plugin registry, not of the link layer.  Theano's
import path, `compile/sharedvalue.py`, re-exports these names (old pickles name it).
"""

from __future__ import annotations

import copy
import itertools
import threading
from typing import Any

import numpy as np

from theanine.config import config
from theanine.graph.basic import Variable
from theanine.graph.type import Type
from theanine.tensor.type import TensorType, describe_value
from theanine.tensor.variable import TensorOperators

_container_ids = itertools.count()


class Container:
    """A mutable cell holding a shared variable's current value.

    `lock` serializes the read-compute-write of functions with updates (and `set_value`) on
    this value; `order` is a global creation rank, so that a function locking several
    containers always takes their locks in the same order and two such functions never wait
    for each other in a cycle.
    """

    __slots__ = ("value", "lock", "order", "storage")

    def __init__(self, value: Any, storage: Any = None):
        self.value = value
        self.lock = threading.RLock()
        self.order = next(_container_ids)
        #: the device storage (a backend's `storage`) the value lives in; None: the host
        self.storage = storage

    def __getstate__(self) -> Any:
        # a lock does not pickle; the rank is per process; a device value pickles as NumPy
        return self.host_value()

    def host_value(self) -> Any:
        """The value, copied to the host when it lives on a device."""
        if self.storage is None:
            return self.value
        return self.storage.to_host(self.value)

    def __setstate__(self, value: Any) -> None:
        Container.__init__(self, value)


class SharedVariable(Variable):
    """A variable with a persistent value, usable in any number of functions."""

    def __init__(self, type: Any, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None, borrow: bool = False):
        super().__init__(type, None, None, name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        converted = self._filter(value, "shared()")
        self.container = Container(converted if borrow else copy.deepcopy(converted))
        self.default_update: Variable | None = None

    def _label(self) -> str:
        return f"shared variable {self.name!r}" if self.name else "unnamed shared variable"

    def _filter(self, value: Any, action: str) -> Any:
        """`value` converted to this variable's type, or a TypeError naming the variable."""
        try:
            return self.type.filter(value, strict=self.strict,
                                    allow_downcast=self.allow_downcast)
        except TypeError as exc:
            reason = str(exc)
            if not self.strict and not self.allow_downcast and self._fits_with_downcast(value):
                reason = (f"expected dtype {self.type.dtype} but got "
                          f"{describe_value(value)}, which does not convert without loss; "
                          f"cast it first (e.g. value.astype('{self.type.dtype}')), or create "
                          "the shared variable with allow_downcast=True")
            raise TypeError(f"{action} of {self._label()} ({self.type}): {reason}") from None

    def _fits_with_downcast(self, value: Any) -> bool:
        try:
            self.type.filter(value, allow_downcast=True)
        except (TypeError, ValueError):
            return False
        return True

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current value; a copy unless `borrow=True`. `return_internal_type` is
        Theano's: the internal type is the NumPy array (or RandomState) itself here."""
        container = self.container
        if container.storage is not None:  # on a device: the device array itself, or NumPy
            if borrow and return_internal_type:
                return container.value
            return container.host_value()
        v = container.value
        return v if borrow else copy.deepcopy(v)

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value (converted and checked by the variable's type); a variable on a
        device takes a host array (copied over) or one of that device's arrays."""
        storage = self.container.storage
        if storage is not None:
            new = self._device_value(value, storage, borrow)
        else:
            new = self._filter(value, "set_value")
            if new is value and not borrow:
                new = copy.deepcopy(new)
        with self.container.lock:  # not in the middle of an update function's call
            self.container.value = new

    def _device_value(self, value: Any, storage: Any, borrow: bool) -> Any:
        if not storage.is_device(value):
            return storage.to_device(self._filter(value, "set_value"))
        ttype = self.type
        if value.dtype != ttype.dtype or value.ndim != ttype.ndim or any(
                b and n != 1 for b, n in zip(ttype.broadcastable, value.shape)):
            raise TypeError(f"set_value of {self._label()} ({ttype}): expected a "
                            f"{ttype.ndim}-d {ttype.dtype} array but got a {storage.name} "
                            f"array of shape {value.shape} and dtype {value.dtype}")
        return value if borrow else storage.copy(value)

    def clone(self) -> SharedVariable:
        cp = object.__new__(type(self))
        Variable.__init__(cp, self.type, None, None, self.name)
        cp.tag = dict(self.tag)
        cp.container = self.container
        cp.strict = self.strict
        cp.allow_downcast = self.allow_downcast
        cp.default_update = self.default_update
        return cp


class TensorSharedVariable(TensorOperators, SharedVariable):
    """A shared ndarray."""


class GenericType(Type):
    """Values that are instances of one Python class, such as a NumPy `RandomState`.

    Such values have no dtype or shape: Ops that take them (random draws) read them whole, and
    their only operations are the ones those Ops define.  Two GenericTypes are equal when they
    hold the same class.
    """

    def __init__(self, cls: type):
        self.cls = cls

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None,
               name: str | None = None) -> Any:
        if isinstance(value, self.cls):
            return value
        what = f"input {name!r}" if name else "value"
        raise TypeError(f"{what} expected a {self.cls.__module__}.{self.cls.__qualname__} "
                        f"({self}) but got {describe_value(value)}")

    def __eq__(self, other: object) -> bool:
        return type(other) is GenericType and other.cls is self.cls  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((GenericType, self.cls))

    def __str__(self) -> str:
        return f"{self.cls.__name__}Type"

    __repr__ = __str__

    def value_signature(self, value: Any) -> Any:
        return id(value)  # such values are mutable: only the same object is interchangeable


class GenericSharedVariable(SharedVariable):
    """A shared value of a `GenericType` (e.g. the state of a random stream)."""


#: value classes `shared()` wraps in a GenericSharedVariable rather than a tensor
GENERIC_SHARED_CLASSES: tuple[type, ...] = (np.random.RandomState, np.random.Generator)


#: values `shared()` never offers to a plugin's constructor
_PLAIN_VALUES = (np.ndarray, np.generic, int, float, complex, list, tuple)


def _plugin_constructor(value: Any) -> Any:
    """The constructor a plugin registered (`theanine_register_shared_constructors`) for the
    nearest class of `value`'s MRO, or None.  Asked only for values that are not arrays or
    numbers, so plain `shared()` calls never load the plugins."""
    if isinstance(value, _PLAIN_VALUES):
        return None
    from theanine.plugins import get_registry

    table: dict[type, Any] = {}

    def register(value_class: type, constructor: Any) -> None:
        table.setdefault(value_class, constructor)

    get_registry().pm.hook.theanine_register_shared_constructors(register=register)
    return next((table[c] for c in type(value).__mro__ if c in table), None)


def _shared_storage() -> Any:
    """The device storage (a `DeviceStorage`, link/storage.py) a new shared value goes to:
    that of the backend the `backend` flag names explicitly, when it has one and is available
    (`auto` keeps values on the host: it never picks a device backend for you)."""
    name = config.backend
    if name == "auto":
        return None
    from theanine.plugins import get_registry  # loads importlib.metadata: not at import

    try:
        backend = get_registry().get_backend(name)
    except Exception:  # an unknown name is reported when a function is compiled
        return None
    storage = getattr(backend, "storage", None)
    if storage is None or not backend.is_available()[0]:
        return None
    return storage


def shared(value: Any, name: str | None = None, strict: bool = False,
           allow_downcast: bool | None = None, borrow: bool = False,
           broadcastable: tuple[bool, ...] | None = None) -> SharedVariable:
    """A shared variable holding `value`: an array or a Python number (a tensor), or a NumPy
    `RandomState`/`Generator` (a GenericSharedVariable, as random streams use), or a value of
    a class some plugin registered a constructor for (a scipy.sparse matrix with
    theanine-sparse installed).

    Dimensions are not broadcastable unless `broadcastable` says so, since the value's shape
    may change with `set_value`.
    """
    if isinstance(value, Variable):
        raise TypeError(f"shared() takes a value, not the symbolic variable {value}")
    if isinstance(value, GENERIC_SHARED_CLASSES):
        if broadcastable is not None:
            raise TypeError(f"shared(): broadcastable applies to arrays, not to a "
                            f"{type(value).__name__}")
        return GenericSharedVariable(GenericType(type(value)), value, name=name, strict=strict,
                                     allow_downcast=allow_downcast, borrow=borrow)
    constructor = _plugin_constructor(value)
    if constructor is not None:
        return constructor(value, name=name, strict=strict, allow_downcast=allow_downcast,
                           borrow=borrow, broadcastable=broadcastable)
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"shared() takes a numeric value, got {type(value).__name__} {value!r}")
    if broadcastable is None:
        broadcastable = (False,) * arr.ndim
    ttype = TensorType(arr.dtype, broadcastable)
    var = TensorSharedVariable(ttype, arr, name=name, strict=strict,
                               allow_downcast=allow_downcast, borrow=borrow)
    storage = _shared_storage()
    if storage is not None:  # the selected backend keeps values on its device
        var.container.value = storage.to_device(var.container.value)
        var.container.storage = storage
    return var
