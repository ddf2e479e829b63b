"""CUDA C++: the OpenCL renderer's kernels with the CUDA prelude in front.

The kernel frames (one thread per element, `get_global_id`) are the OpenCL renderer's; what
differs is the header (the prelude of `prelude.py` instead of `#pragma OPENCL` and overloaded
builtins: CUDA has `expf` and friends), device helper functions, and float64 always being
available.
"""

from __future__ import annotations

from theanine.codegen.cstyle import CStyleRenderer
from theanine.codegen.opencl import OPENCL_TYPES, OpenCLRenderer
from theanine_cuda.prelude import prelude


def _headers() -> str:
    lines = [f"typedef {c} {d}_t;" for d, c in OPENCL_TYPES.items()
             if d.startswith(("int", "uint"))]
    return prelude() + "\n".join(lines) + "\n"


class CUDARenderer(OpenCLRenderer):
    dialect = "cuda"
    helper_qualifier = "static __device__ inline"

    def __init__(self) -> None:
        super().__init__(fp64=True)
        self.headers = _headers()

    def math_name(self, fn: str, dtype: str) -> str:
        return CStyleRenderer.math_name(self, fn, dtype)  # CUDA spells expf, exp, ...
