"""Device storage for the CUDA backend: values as the runtime's device arrays (pycuda
`GPUArray`), and the only two ways across the bus, counted in `TRANSFERS`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from theanine_cuda.runtime import runtime

#: host↔device copies made so far: keys "to_device" and "to_host"
TRANSFERS: Counter[str] = Counter()


class CUDAStorage:
    """The `storage` of the CUDA backend (see `theanine.link.storage.DeviceStorage`)."""

    name = "cuda"
    transfers = TRANSFERS

    def is_device(self, value: Any) -> bool:
        return isinstance(value, runtime().array_type)

    def to_device(self, value: Any) -> Any:
        """A device copy of a host value (a NumPy array or scalar), C-ordered."""
        arr = np.asarray(value)  # not ascontiguousarray: it makes a 0-d array 1-d
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        rt = runtime()
        with rt.call_lock:
            TRANSFERS["to_device"] += 1
            return rt.to_device(arr)

    def to_host(self, value: Any) -> np.ndarray:
        """The host copy of a device array (waits for the kernels that write it); a strided
        view is gathered on the device first, so one contiguous block crosses."""
        rt = runtime()
        with rt.call_lock:
            TRANSFERS["to_host"] += 1
            if not value.flags.c_contiguous and value.size:
                value = self.copy(value)
            return rt.to_host(value)

    def copy(self, value: Any) -> Any:
        """A C-ordered device copy of a device array (any strides)."""
        from theanine_cuda.elemwise import gather

        with runtime().call_lock:
            return gather(value)


STORAGE = CUDAStorage()
