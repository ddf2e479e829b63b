"""Device storage: values as `pyopencl.array.Array`, and the only two ways across the bus.

Every host↔device copy the backend makes goes through `to_device` or `to_host`, which count
them (`TRANSFERS`), so tests can check that a training step moves only its inputs and outputs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from theanine_opencl.runtime import runtime

#: host↔device copies made so far: keys "to_device" and "to_host"
TRANSFERS: Counter[str] = Counter()


def device_array_type() -> type:
    import pyopencl.array as cla

    return cla.Array


class OpenCLStorage:
    """The `storage` of the OpenCL backend (see `theanine.link.storage.DeviceStorage`)."""

    name = "opencl"
    transfers = TRANSFERS

    def __init__(self) -> None:
        self._array_type: type | None = None

    @property
    def array_type(self) -> type:
        if self._array_type is None:
            self._array_type = device_array_type()
        return self._array_type

    def is_device(self, value: Any) -> bool:
        return isinstance(value, self.array_type)

    def to_device(self, value: Any) -> Any:
        return to_device(value)

    def to_host(self, value: Any) -> np.ndarray:
        return to_host(value)

    def copy(self, value: Any) -> Any:
        from theanine_opencl.layout import broadcast_copy

        with runtime().call_lock:
            return broadcast_copy(value, value.shape)


def to_device(value: Any) -> Any:
    """A device copy of a host value (a NumPy array or scalar)."""
    import pyopencl.array as cla

    rt = runtime()
    arr = np.asarray(value)  # not ascontiguousarray: it makes a 0-d array 1-d
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")
    with rt.call_lock:
        TRANSFERS["to_device"] += 1
        return cla.to_device(rt.queue, arr, allocator=rt.allocator)


def to_host(value: Any) -> np.ndarray:
    """The host copy of a device array (waits for the kernels that write it)."""
    with runtime().call_lock:
        TRANSFERS["to_host"] += 1
        if value.flags.forc or value.size == 0:
            return value.get()
        # a strided view: gather it on the device first, then read one contiguous block
        from theanine_opencl.layout import contiguous

        return contiguous(value).get()


STORAGE = OpenCLStorage()
