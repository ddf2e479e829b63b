"""Where values live: the seam between host memory and a device backend's memory.

A device backend (OpenCL, CUDA) has a `storage` attribute implementing `DeviceStorage`; host
backends have none.  Three places consult it, and nothing else in the core knows devices:

- `shared()` (`tensor/sharedvar.py`) puts a new shared variable's value on the device of the
  selected backend, and `get_value`/`set_value` convert at that boundary;
- a compiled function passes device inputs through untouched, brings its user outputs back to
  the host unless they are borrowed (`Out(borrow=True)`), and keeps updated shared values where
  their container lives;
- a host backend handed a device value (a shared variable made under a device backend, used by
  a function compiled for the C backend) copies it to the host first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class DeviceStorage(Protocol):
    """How a device backend's values cross to the host and back."""

    name: str
    #: copies made so far, by direction ("to_device", "to_host"): tests count them
    transfers: Counter[str]

    def is_device(self, value: Any) -> bool:
        """Whether `value` is one of this device's arrays."""
        ...

    def to_device(self, value: Any) -> Any:
        """A device copy of a host array."""
        ...

    def to_host(self, value: Any) -> np.ndarray:
        """A host (NumPy) copy of a device array."""
        ...

    def copy(self, value: Any) -> Any:
        """A device copy of a device array (any strides), C-ordered."""
        ...

    # optional: `to_host_all(values) -> list[np.ndarray]`, several reads with one wait
    # (`to_host_all` below falls back to `to_host` one by one)


def storage_of(backend: Any) -> DeviceStorage | None:
    """The backend's device storage, None for a host backend."""
    return getattr(backend, "storage", None)


def to_host_all(storage: DeviceStorage, values: Sequence[Any]) -> list[np.ndarray]:
    """Host copies of `storage`'s device arrays `values`.  A storage may read them back with
    one wait for all (its `to_host_all`); else each is read by `to_host`."""
    many = getattr(storage, "to_host_all", None)
    if many is not None:
        return many(values)
    return [storage.to_host(v) for v in values]


def to_host_if_device(value: Any, storage: DeviceStorage | None) -> Any:
    """`value` on the host (copied back when it lives on `storage`'s device)."""
    if storage is not None and storage.is_device(value):
        return storage.to_host(value)
    return value
