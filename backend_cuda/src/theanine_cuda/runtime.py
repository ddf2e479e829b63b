"""The CUDA runtime: pycuda's driver, one context and stream, and kernels compiled with nvcc
for the device's architecture through the compiled-artifact cache.

Nothing here touches a driver at import.  `runtime()` builds the process's runtime on first
use, or raises `DeviceUnavailable` saying which step failed: pycuda not importable, the driver
not initializing, no device, no nvcc.  Tests install a stand-in with the same few methods
(`use_runtime`), so the host side runs without a GPU.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from theanine_cuda.prelude import to_cuda


class DeviceUnavailable(RuntimeError):
    """No usable CUDA device; the message says why."""


class Runtime:
    """pycuda's context on one device: device arrays, and kernels by name."""

    def __init__(self, driver: Any, gpuarray: Any, device: Any, context: Any, nvcc: str):
        self.driver, self.gpuarray, self.device, self.context = driver, gpuarray, device, context
        self.nvcc = nvcc
        major, minor = device.compute_capability()
        self.arch = f"sm_{major}{minor}"
        self.array_type = gpuarray.GPUArray
        self.modules: dict[str, Any] = {}
        self.lock = threading.Lock()
        #: held while a thread uses the context (launches and copies must not interleave)
        self.call_lock = threading.RLock()

    def describe(self) -> str:
        return f"{self.device.name()} ({self.arch}, {self.device.total_memory() >> 20} MiB)"

    def to_device(self, arr: np.ndarray) -> Any:
        return self.gpuarray.to_gpu(arr)

    def to_host(self, value: Any) -> np.ndarray:
        return value.get()

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.gpuarray.empty(shape, dtype)

    def pointer(self, value: Any) -> Any:
        """The kernel argument for a device array's first element."""
        return value.gpudata

    def function(self, source: str, name: str, label: str = "") -> Any:
        """Kernel `name` of OpenCL-dialect `source` (one module per source, built once)."""
        module = self.modules.get(source)
        if module is None:
            with self.lock:
                module = self.modules.get(source)
                if module is None:
                    module = self.modules[source] = self._build(source, label)
        kernel = module.get_function(name)

        def launch(*args: Any, grid: tuple, block: tuple) -> None:
            kernel(*args, grid=grid[:2], block=block)

        return launch

    def _build(self, source: str, label: str) -> Any:
        from theanine.cache import CompileError, artifact_key, get_cache
        from theanine_cuda.toolkit import compile_cuda, toolkit_version

        text = to_cuda(source)
        key = artifact_key(kind="cuda-cubin", source=text, arch=self.arch,
                           toolkit=toolkit_version(self.nvcc))

        def build(tmp: Path) -> None:
            (tmp / "kernel.cu").write_text(text)
            done = compile_cuda(self.nvcc, tmp / "kernel.cu", tmp / "kernel.cubin", [self.arch])
            if done.returncode:
                raise CompileError(f"nvcc failed for {label or 'a CUDA kernel'}", source=text,
                                   command=f"{self.nvcc} -cubin {self.arch}",
                                   stderr=done.stderr)

        entry = get_cache().get_or_build(key, build, label=label or "cuda kernel")
        return self.driver.module_from_buffer((entry / "kernel.cubin").read_bytes())


_RUNTIME: Any = None
_FAILURE: str | None = None
_INIT_LOCK = threading.Lock()


def runtime() -> Any:
    """The process's CUDA runtime, or DeviceUnavailable saying why there is none."""
    global _RUNTIME, _FAILURE
    if _RUNTIME is not None:
        return _RUNTIME
    with _INIT_LOCK:
        if _RUNTIME is None:
            if _FAILURE is not None:
                raise DeviceUnavailable(_FAILURE)
            try:
                _RUNTIME = _find_runtime()
            except DeviceUnavailable as exc:
                _FAILURE = str(exc)
                raise
    return _RUNTIME


@contextlib.contextmanager
def use_runtime(rt: Any) -> Iterator[Any]:
    """Use `rt` (a stand-in with Runtime's methods) as the process's runtime, for tests."""
    global _RUNTIME, _FAILURE
    saved = _RUNTIME, _FAILURE
    _RUNTIME, _FAILURE = rt, None
    try:
        yield rt
    finally:
        _RUNTIME, _FAILURE = saved


def _find_runtime() -> Runtime:
    """Each step that can fail, in order, with what it says."""
    try:
        import pycuda.driver as driver
        import pycuda.gpuarray as gpuarray
    except ImportError as exc:
        raise DeviceUnavailable(f"pycuda is not importable ({exc}): pip install "
                                "'theanine-cuda[pycuda]' (built against your CUDA toolkit)"
                                ) from None
    try:
        driver.init()
    except Exception as exc:  # noqa: BLE001 - pycuda raises its own error types
        raise DeviceUnavailable(f"the CUDA driver does not initialize ({exc})") from None
    if driver.Device.count() == 0:
        raise DeviceUnavailable("the CUDA driver initializes but reports no device")
    from theanine_cuda.toolkit import ToolkitMissing, find_nvcc

    try:
        nvcc = find_nvcc()
    except ToolkitMissing as exc:
        raise DeviceUnavailable(str(exc)) from None
    device = driver.Device(0)
    context = device.make_context()
    import atexit

    atexit.register(context.pop)
    return Runtime(driver, gpuarray, device, context, nvcc)
