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


class Placement:
    def __init__(self, storage: Any, containers: list[Any],
                 update_slots: list[tuple[Any, int]], host_outputs: list[int]):
        from theanine.config import config

        self.storage = storage
        self.containers = containers
        self.device_reads = ([] if storage is not None else
                             [k for k, c in enumerate(containers) if c.storage is not None])
        self.host_outputs = [] if storage is None or config.device_outputs else host_outputs
        # (slot, convert) for updates whose value may land on the wrong side
        self.updates = [(slot, c.storage) for c, slot in update_slots
                        if c.storage is not None or storage is not None]
        self.active = bool(storage is not None or self.device_reads or self.updates)

    def inputs(self, values: list[Any], first_shared: int) -> None:
        for k in self.device_reads:
            v = values[first_shared + k]
            values[first_shared + k] = v if isinstance(v, _ndarray) else (
                self.containers[k].host_value())

    def outputs(self, outs: Any, copies: list[int]) -> list[Any]:
        """The program's results placed; those in `copies` (which may alias an input or
        another result) copied unless bringing them to the host copied them already."""
        outs = list(outs)
        storage = self.storage
        fresh = set()
        if storage is not None:
            for k in self.host_outputs:
                if storage.is_device(outs[k]):
                    outs[k] = storage.to_host(outs[k])
                    fresh.add(k)
        for k in copies:
            if k not in fresh:
                v = outs[k]
                outs[k] = storage.copy(v) if storage is not None and storage.is_device(v) \
                    else v.copy()
        for slot, target in self.updates:
            v = outs[slot]
            if target is None:  # a host container, a device value
                if storage is not None and storage.is_device(v):
                    outs[slot] = storage.to_host(v)
            elif not target.is_device(v):
                outs[slot] = target.to_device(v)
        return outs

