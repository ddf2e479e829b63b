"""A stand-in for pycuda's context: device arrays are NumPy buffers, and a kernel "runs" by
evaluating its scalar op with NumPy at each thread index the launch covers.

The kernel's arguments are bound by the parameter names in its source (`n`, `v<k>`, `in<k>`,
`o<k>`, `s<k>_<j>`, `d<j>`, `out`, `oo`, `so_<j>`), so argument order, offsets, strides and
launch sizes are all exercised: a grid too small leaves elements unwritten (NaN-filled).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Pointer:
    buf: np.ndarray  # the allocation, flat
    at: int  # element offset of the array's first element


class FakeArray:
    """A device array: a flat buffer, an element offset, a shape and byte strides."""

    def __init__(self, buf: np.ndarray, shape: tuple, strides: tuple | None = None,
                 at: int = 0):
        self.buf, self.shape, self.dtype, self.at = buf, tuple(shape), buf.dtype, at
        self.strides = strides if strides is not None else np.empty(shape, buf.dtype).strides
        self.size = int(np.prod(self.shape, dtype=np.int64))
        contiguous = self.strides == np.empty(self.shape, self.dtype).strides or self.size <= 1
        self.flags = type("Flags", (), {"c_contiguous": contiguous})()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def view_numpy(self) -> np.ndarray:
        return np.lib.stride_tricks.as_strided(self.buf[self.at:], self.shape, self.strides)

    def transpose(self) -> FakeArray:
        return FakeArray(self.buf, self.shape[::-1], self.strides[::-1], self.at)


_PARAM = re.compile(r"(\w+)\s*(?:,|\))")


class FakeRuntime:
    arch = "sm_80"

    def __init__(self) -> None:
        self.array_type = FakeArray
        self.call_lock = threading.RLock()
        self.ops: dict[str, Any] = {}  # kernel source -> its scalar op (see the fixture)
        self.launches: list[tuple[str, tuple, tuple]] = []

    def describe(self) -> str:
        return "fake CUDA device"

    def to_device(self, arr: np.ndarray) -> FakeArray:
        return FakeArray(arr.ravel().copy(), arr.shape)

    def to_host(self, x: FakeArray) -> np.ndarray:
        assert x.flags.c_contiguous, "storage must gather a strided array before reading it"
        return x.view_numpy().copy()

    def empty(self, shape: tuple, dtype: Any) -> FakeArray:
        dtype = np.dtype(dtype)
        fill = np.nan if dtype.kind == "f" else 123
        return FakeArray(np.full(int(np.prod(shape, dtype=np.int64)), fill, dtype), shape)

    def pointer(self, x: FakeArray) -> Pointer:
        return Pointer(x.buf, x.at)

    def function(self, source: str, name: str, label: str = "") -> Any:
        head = re.search(rf"__kernel void {name}\((.*?)\)\s*{{", source, re.S)
        assert head, f"kernel {name} not in its source"
        params = [p.strip().split()[-1].lstrip("*") for p in head.group(1).split(",")]
        scalar_op = self.ops[source]

        def launch(*args: Any, grid: tuple, block: tuple) -> None:
            assert len(args) == len(params), (params, args)
            self.launches.append((name, grid, block))
            bound = dict(zip(params, args))
            ids = np.arange(grid[0] * block[0])
            ids = ids[ids < bound["n"]]
            strided = name.endswith("_s")
            nd = sum(1 for p in params if re.fullmatch(r"d\d+", p))
            xs = [ids // int(np.prod([bound[f"d{i}"] for i in range(j + 1, nd)], dtype=np.int64))
                  % bound[f"d{j}"] for j in range(nd)] if strided else []

            def at(ptr: Pointer, off: Any, strides: list[Any] | None, scalar: bool) -> Any:
                if scalar:
                    return ptr.at + off + np.zeros_like(ids)
                if strides is None:
                    return ptr.at + off + ids
                return ptr.at + off + sum((x * s for x, s in zip(xs, strides)),
                                          np.zeros_like(ids))

            loads = []
            for k in range(len(scalar_op_inputs(params))):
                if f"v{k}" in bound:
                    loads.append(np.full(ids.shape, bound[f"v{k}"]))
                    continue
                ptr = bound[f"in{k}"]
                scalar = f"in{k}[o{k}]" in source and not strided
                strides = [bound[f"s{k}_{j}"] for j in range(nd)] if strided else None
                loads.append(ptr.buf[at(ptr, bound[f"o{k}"], strides, scalar)])
            out = bound["out"]
            result = np.asarray(scalar_op.impl(*loads))
            so = [bound[f"so_{j}"] for j in range(nd)] if strided else None
            out.buf[at(out, bound["oo"], so, False)] = result.astype(out.buf.dtype)

        return launch


def scalar_op_inputs(params: list[str]) -> list[int]:
    """Input indices a kernel's parameters name (as buffers `in<k>` or values `v<k>`)."""
    return sorted({int(p[2:]) if p.startswith("in") else int(p[1:]) for p in params
                   if re.fullmatch(r"in\d+|v\d+", p)})
