"""Device storage: values as `pyopencl.array.Array`, and the only ways across the bus.

Every host↔device copy the backend makes goes through `to_device`, `to_host` or
`to_host_all`, which count them (`TRANSFERS`), so tests can check that a training step moves
only its inputs and outputs.

Each wait for the device costs a round trip through the driver (tens of µs on PoCL, far more
than a small copy), so crossings are made to wait as little as possible: a small upload is
copied when its buffer is created (no command on the queue, nothing to wait for), and the
outputs of one call are read back with one wait for all of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine_opencl.runtime import Runtime, runtime

#: host↔device copies made so far: keys "to_device" and "to_host"
TRANSFERS: Counter[str] = Counter()

#: uploads up to this size are copied by `clCreateBuffer` (COPY_HOST_PTR) instead of an
#: enqueued write: no round trip to the queue; larger ones reuse warm memory from the pool
SMALL_UPLOAD = 1 << 16


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

    def to_host_all(self, values: Sequence[Any]) -> list[np.ndarray]:
        return to_host_all(values)

    def copy(self, value: Any) -> Any:
        from theanine_opencl.layout import broadcast_copy

        with runtime().call_lock:
            return broadcast_copy(value, value.shape)


def to_device(value: Any, wait: bool = True) -> Any:
    """A device copy of a host value (a NumPy array or scalar); the host value may change as
    soon as this returns.  `wait=False`, inside a call: a large copy may still be under way
    when this returns (the runtime's `settle` waits for it at the end of the call)."""
    rt = runtime()
    arr = np.asarray(value)  # not ascontiguousarray: it makes a 0-d array 1-d
    if arr.dtype == object:
        raise TypeError(f"an array of Python objects cannot go to the OpenCL device: {arr!r}")
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")
    with rt.call_lock:
        TRANSFERS["to_device"] += 1
        if 0 < arr.nbytes <= SMALL_UPLOAD:
            flags = rt.cl.mem_flags
            data = rt.cl.Buffer(rt.context, flags.READ_WRITE | flags.COPY_HOST_PTR, hostbuf=arr)
            return rt.empty(arr.shape, arr.dtype, data)
        out = rt.empty(arr.shape, arr.dtype)
        if arr.nbytes:
            event = rt.cl.enqueue_copy(rt.queue, out.base_data, arr, is_blocking=wait)
            if not wait:
                rt.uploads.append(event)
        return out


def to_host(value: Any) -> np.ndarray:
    """The host copy of a device array (waits for the kernels that write it)."""
    return to_host_all([value])[0]


def to_host_all(values: Sequence[Any]) -> list[np.ndarray]:
    """Host copies of device arrays, read back with one wait for all of them: the reads are
    enqueued without waiting but the last (the queue is in order: when it is done, so are
    the others)."""
    rt = runtime()
    with rt.call_lock:
        TRANSFERS["to_host"] += len(values)
        last = len(values) - 1
        reads = [_read(rt, v, k == last) for k, v in enumerate(values)]
        for _, event in reads:
            if event is not None:
                event.wait()  # complete already: a status check, no round trip
        return [host for host, _ in reads]


def _read(rt: Runtime, value: Any, wait: bool) -> tuple[np.ndarray, Any]:
    """(host array, the event of its read, None when there was nothing to read)."""
    flags = value.flags
    if value.size == 0:
        return np.empty(value.shape, value.dtype), None
    if not flags.forc:
        # a strided view: gather it on the device first, then read one contiguous block
        from theanine_opencl.layout import contiguous

        value = contiguous(value)
        flags = value.flags
    host = np.empty(value.shape, value.dtype, order="C" if flags.c_contiguous else "F")
    event = rt.cl.enqueue_copy(rt.queue, host, value.base_data, src_offset=value.offset,
                               wait_for=value.events or None, is_blocking=wait)
    return host, event


STORAGE = OpenCLStorage()
