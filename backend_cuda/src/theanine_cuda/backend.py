"""The CUDA backend: the core's device linker (`theanine.link.device`) over the CUDA runtime
and storage.  Nodes with a CUDA impl run as kernels; the others run `perform` on the host,
with copies only where a value changes sides."""

from __future__ import annotations

from typing import Any

from theanine.link.device import DeviceLinker
from theanine_cuda.runtime import DeviceUnavailable, runtime
from theanine_cuda.storage import STORAGE


class CUDABackend(DeviceLinker):
    name = "cuda"
    # above C (10) when a GPU is there: `auto` then takes it; without one is_available() is
    # False and `auto` never considers it
    priority = 20
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()
    storage = STORAGE

    def __init__(self) -> None:
        self._renderer: Any = None

    def runtime(self) -> Any:
        return runtime()

    def build_errors(self, rt: Any) -> tuple[type[BaseException], ...]:
        from theanine.cache import CompileError

        return (CompileError,)

    def is_available(self) -> tuple[bool, str]:
        try:
            runtime()
        except DeviceUnavailable as exc:
            return False, str(exc)
        return True, ""

    def describe(self) -> str:
        """The device in use (for `theanine plugins`)."""
        return runtime().describe()

    @property
    def renderer(self) -> Any:
        if self._renderer is None:
            from theanine_cuda.renderer import CUDARenderer

            self._renderer = CUDARenderer()
        return self._renderer


BACKEND = CUDABackend()
