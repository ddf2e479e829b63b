"""Moving a compiled function's values between host and device at its edges.

A function compiled for a device backend gets its shared values as they are stored (device
arrays stay put) and brings its user outputs back to NumPy, except borrowed ones
(`Out(borrow=True)`) and all of them under `config.device_outputs`.  Updated shared values are
stored where their container lives.  A host backend given shared values that live on a device
reads them back first.  A function with nothing to place skips all of this (`active` False).
"""

from __future__ import annotations

from typing import Any

from numpy import ndarray as _ndarray

from theanine.link.storage import to_host_all


class Placement:
    def __init__(self, storage: Any, containers: list[Any],
                 update_slots: list[tuple[Any, int]], host_outputs: list[int]):
        from theanine.config import config

        self.storage = storage
        self.containers = containers
        self.device_reads = ([] if storage is not None else
                             [k for k, c in enumerate(containers) if c.storage is not None])
        self.host_outputs = [] if storage is None or config.device_outputs else host_outputs
        # updates whose value may land on the wrong side: the device values of host
        # containers (read back with the user outputs) and (slot, storage) of device ones
        updates = [(slot, c.storage) for c, slot in update_slots
                   if c.storage is not None or storage is not None]
        self.host_updates = [slot for slot, target in updates if target is None]
        self.device_updates = [(slot, target) for slot, target in updates
                               if target is not None]
        self.active = bool(storage is not None or self.device_reads or updates)

    def inputs(self, values: list[Any], first_shared: int) -> None:
        for k in self.device_reads:
            v = values[first_shared + k]
            values[first_shared + k] = v if isinstance(v, _ndarray) else (
                self.containers[k].host_value())

    def outputs(self, outs: Any, copies: list[int]) -> list[Any]:
        """The program's results placed; those in `copies` (which may alias an input or
        another result) copied unless bringing them to the host copied them already.  What
        goes to the host is read back with one wait for all of it."""
        outs = list(outs)
        storage = self.storage
        fresh: list[int] = []
        if storage is not None:
            is_device = storage.is_device
            fresh = [k for k in self.host_outputs if is_device(outs[k])]
            fresh += [k for k in self.host_updates if is_device(outs[k])]
            if fresh:
                for k, v in zip(fresh, to_host_all(storage, [outs[k] for k in fresh])):
                    outs[k] = v
        for k in copies:
            if k not in fresh:
                v = outs[k]
                outs[k] = storage.copy(v) if storage is not None and storage.is_device(v) \
                    else v.copy()
        for slot, target in self.device_updates:
            v = outs[slot]
            if not target.is_device(v):
                outs[slot] = target.to_device(v)
        return outs
