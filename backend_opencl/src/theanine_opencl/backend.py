"""The OpenCL backend: the core's device linker (`theanine.link.device`: plans, sides,
copies only where a value changes sides) over the OpenCL runtime and storage.  Kernels come
from the impls this package registers (`plugin.py`); a node without one runs `perform` on the
host, listed in the compile report."""

from __future__ import annotations

from typing import Any

from theanine.codegen.opencl import OpenCLRenderer
from theanine.link.device import DeviceLinker
from theanine_opencl.runtime import DeviceUnavailable, passed_over, runtime
from theanine_opencl.storage import STORAGE, to_device


class OpenCLBackend(DeviceLinker):
    name = "opencl"
    priority = 5  # below C: on a CPU device, C is faster; `auto` takes OpenCL only without C
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()
    storage = STORAGE

    def __init__(self) -> None:
        self._renderer: OpenCLRenderer | None = None

    def runtime(self) -> Any:
        return runtime()

    def build_errors(self, rt: Any) -> tuple[type[BaseException], ...]:
        return (rt.cl.Error,)

    def upload(self, value: Any) -> Any:
        """A call's host input copied without waiting: `Runtime.settle` waits at the end of
        the call, when the kernels enqueued meanwhile have usually given it time to finish."""
        return to_device(value, wait=False)

    def is_available(self) -> tuple[bool, str]:
        try:
            runtime()
        except DeviceUnavailable as exc:
            return False, str(exc)
        return True, ""

    def describe(self) -> str:
        """The device in use (for `theanine plugins`), and devices passed over."""
        text = runtime().describe()
        skipped = passed_over()
        return text + (f"; passed over: {'; '.join(skipped)}" if skipped else "")

    @property
    def renderer(self) -> OpenCLRenderer:
        if self._renderer is None:
            self._renderer = OpenCLRenderer(fp64=runtime().fp64)
        return self._renderer


BACKEND = OpenCLBackend()
