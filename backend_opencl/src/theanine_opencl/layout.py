"""Moving elements within the device: a strided (or broadcast) array copied into a fresh
C-ordered one.  Views that need a layout change (reading a transposed matrix back, reshaping a
non-contiguous array, `alloc` of a value to a shape) use it."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine_opencl.plan import work_size
from theanine_opencl.runtime import runtime

LOCAL_SIZE = 256
_KERNELS: dict[tuple[int, int], Any] = {}


#: copies move bytes: one unsigned type per item size, whatever the dtype
_WORDS = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong", 16: "ulong2"}


def _copy_source(ctype: str, nd: int) -> str:
    params = ["const long n", *[f"const long d{j}" for j in range(nd)],
              f"__global const {ctype} *src", "const long o",
              *[f"const long s{j}" for j in range(nd)], f"__global {ctype} *dst"]
    lines = [f"__kernel void th_copy({', '.join(params)}) {{",
             "    const long i = get_global_id(0);", "    if (i >= n) return;",
             "    long r = i, at = o;"]
    for j in reversed(range(nd)):
        lines.append(f"    at += (r % d{j}) * s{j}; r /= d{j};")
    lines += ["    dst[i] = src[at];", "}"]
    return "\n".join(lines) + "\n"


def _kernel(dtype: np.dtype, nd: int) -> Any:
    key = (dtype.itemsize, nd)
    knl = _KERNELS.get(key)
    if knl is None:
        rt = runtime()
        knl = rt.kernel(_copy_source(_WORDS[dtype.itemsize], nd), "th_copy", label="opencl copy")
        knl.set_scalar_arg_dtypes([np.int64] * (1 + nd) + [None, np.int64]
                                  + [np.int64] * nd + [None])
        _KERNELS[key] = knl
    return knl


def broadcast_copy(x: Any, shape: tuple[int, ...], strides: tuple[int, ...] | None = None
                   ) -> Any:
    """A new C-ordered array of `shape` reading `x` with element `strides` (default: x's own,
    0 where x has extent 1 and the shape does not)."""
    rt = runtime()
    size = x.dtype.itemsize
    if strides is None:
        lead = len(shape) - x.ndim
        strides = tuple([0] * lead + [0 if (n == 1 and m != 1) else s // size
                                      for n, m, s in zip(x.shape, shape[lead:], x.strides)])
    out = rt.empty(shape, x.dtype)
    n = out.size
    if n == 0:
        return out
    gsize, lsize = work_size(n, LOCAL_SIZE)
    _kernel(x.dtype, len(shape))(rt.queue, gsize, lsize, n, *shape, x.base_data,
                                 x.offset // size, *strides, out.base_data)
    return out


def contiguous(x: Any) -> Any:
    """`x` itself when C-contiguous, else a C-ordered copy made on the device."""
    if x.flags.c_contiguous:
        return x
    return broadcast_copy(x, x.shape)
