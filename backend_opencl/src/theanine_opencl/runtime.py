"""The OpenCL runtime: which device, its context and queue, and programs built through the
compiled-artifact cache.

Everything here is lazy: importing the backend touches no driver.  The first query finds the
platforms (pyopencl's bundled PoCL and any system ICD), takes the device the `opencl.device`
flag names (a `platform:device` index pair or a substring of the device or platform name), or
else the first device that really builds a kernel: a PoCL whose LLVM does not know the host CPU
lists a device that fails every build ("unknown target CPU 'generic'"), and `auto` must never
pick such a device.  Why each device was passed over is kept for `theanine plugins`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

_PROBE_SOURCE = "__kernel void theanine_probe(__global float *x) { x[get_global_id(0)] += 1.0f; }"


class DeviceUnavailable(RuntimeError):
    """No usable OpenCL device; the message says why (and what to install)."""


@dataclass
class Runtime:
    """One device, its context and in-order queue, and the programs built for it."""

    cl: Any
    device: Any
    context: Any
    queue: Any
    fp64: bool
    allocator: Any
    programs: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: held while a thread uses the queue, the memory pool or a kernel object (setting a
    #: kernel's arguments and enqueueing it must not interleave with another thread's)
    call_lock: threading.RLock = field(default_factory=threading.RLock)
    #: checks queued by kernels that report on the device (see `check_later`)
    pending: list[tuple[Any, Any, Any, Any, Any]] = field(default_factory=list)
    #: copies from host memory enqueued without waiting during this call (see `settle`)
    uploads: list[Any] = field(default_factory=list)

    @property
    def identity(self) -> str:
        """What decides a program binary: platform, device and driver version."""
        d = self.device
        return "|".join((d.platform.name, d.platform.version, d.name, d.version,
                         d.driver_version))

    @property
    def is_cpu(self) -> bool:
        """Whether the device is the host's CPU (PoCL): a work-group then runs on one core."""
        return bool(self.device.type & self.cl.device_type.CPU)

    def describe(self) -> str:
        d = self.device
        return (f"{d.name} ({d.platform.name} {d.platform.version.strip()}; "
                f"{'fp64' if self.fp64 else 'no fp64'})")

    def program(self, source: str, label: str = "", portable: bool = True) -> Any:
        """The built program of `source`, its binary kept in the artifact cache.  A program
        written for this kind of device only (`portable=False`: the CPU GEMM's vector types)
        is left out of the kernels recorded for the CUDA check."""
        prog = self.programs.get(source)
        if prog is None:
            with self.lock:
                prog = self.programs.get(source)
                if prog is None:
                    prog = self.programs[source] = _build(self, source, label, portable)
        return prog

    def empty(self, shape: tuple[int, ...], dtype: Any, data: Any = None) -> Any:
        """A C-ordered device array of `shape` over `data` (a buffer), else over a buffer
        from the memory pool.  pyopencl's fast constructor: `cla.empty` spends ~7 µs a call
        checking what a thunk has already checked."""
        import numpy as np
        import pyopencl.array as cla

        dtype = np.dtype(dtype)
        strides = []
        step = size = dtype.itemsize
        dims = []
        for n in reversed(shape):
            n = int(n)
            dims.append(n)
            strides.append(step)
            step *= max(n, 1)
            size *= n
        if data is None and size:
            data = self.allocator(size)
        return cla.Array(None, tuple(reversed(dims)), dtype, allocator=self.allocator,
                         data=data, strides=tuple(reversed(strides)), _fast=True,
                         _size=size // dtype.itemsize, _context=self.context,
                         _queue=self.queue)

    def check_later(self, word: Any, fine: int, error: Any) -> None:
        """Read the int32 status `word` (a device array) back without waiting; at the end of
        the call (`settle`) raise `error(value)` unless it still holds `fine`.  Kernels that
        find a bad index on the device report this way, so no launch waits for its result."""
        import numpy as np

        host = np.empty(1, np.int32)
        event = self.cl.enqueue_copy(self.queue, host, word.base_data, src_offset=word.offset,
                                     is_blocking=False)
        self.pending.append((host, event, fine, error, word))

    def settle(self, raise_errors: bool = True) -> None:
        """Check what `check_later` queued during this call (in order: the first bad one
        raises); a failed call (`raise_errors=False`) only drops them.  Either way, wait
        for the call's uploads: the caller may change its arrays once the call returns."""
        try:
            if not self.pending:
                return
            pending, self.pending = self.pending, []
            if not raise_errors:
                return
            pending[-1][1].wait()  # the queue is in order: one wait for all of them
            for host, event, fine, error, _word in pending:
                event.wait()  # complete already: a status check
                if int(host[0]) != fine:
                    raise error(int(host[0]))
        finally:
            if self.uploads:
                uploads, self.uploads = self.uploads, []
                for event in uploads:
                    event.wait()  # done already when a later read waited (in-order queue)

    def kernel(self, source: str, name: str, arg_dtypes: Any = None, label: str = "",
               portable: bool = True) -> Any:
        """A fresh kernel object `name` of `source`'s program (built once), its scalar
        argument dtypes set (`None` for buffers).  Each node gets its own object: a kernel
        holds its argument values, and pyopencl's attribute access rebuilds it every time."""
        knl = self.cl.Kernel(self.program(source, label, portable), name)
        if arg_dtypes is not None:
            knl.set_scalar_arg_dtypes(list(arg_dtypes))
        return knl


def _build(rt: Runtime, source: str, label: str, portable: bool = True) -> Any:
    """Build from the cached binary when there is one, else from source (and cache that)."""
    from theanine.cache import artifact_key, get_cache
    from theanine.codegen.record import record_source

    if portable:
        record_source(source)  # THEANINE_RECORD_KERNELS: the CUDA backend's compile-only check
    cl = rt.cl
    key = artifact_key(kind="opencl-program", source=source, device=rt.identity)

    def build(tmp: Any) -> None:
        prog = cl.Program(rt.context, source).build()
        (tmp / "program.bin").write_bytes(prog.binaries[0])
        (tmp / "program.cl").write_text(source)

    entry = get_cache().get_or_build(key, build, label=label or "opencl program")
    binary = (entry / "program.bin").read_bytes()
    try:
        return cl.Program(rt.context, [rt.device], [binary]).build()
    except cl.Error:  # a binary the driver no longer takes: build again from source
        return cl.Program(rt.context, source).build()


_RUNTIME: Runtime | None = None
_FAILURE: str | None = None
_PASSED_OVER: list[str] = []
_INIT_LOCK = threading.Lock()


def _point_pocl_cache_inside_ours() -> None:
    """PoCL keeps compiled kernels under `POCL_CACHE_DIR`; inside theanine's cache, `theanine
    cache clear` clears both.  Must happen before the first platform query."""
    if "POCL_CACHE_DIR" in os.environ:
        return
    try:
        from theanine.cache import get_cache

        os.environ["POCL_CACHE_DIR"] = str(get_cache().driver_dir("pocl"))
    except Exception:  # an unusable cache is reported when a program is built
        pass


def _candidates(cl: Any, wanted: str) -> list[tuple[str, Any]]:
    devices = []
    for p, platform in enumerate(cl.get_platforms()):
        try:
            found = platform.get_devices()
        except cl.Error:  # DEVICE_NOT_FOUND: a platform with none
            found = []
        for d, device in enumerate(found):
            devices.append((f"{p}:{d}", device))
    if not wanted:
        return devices
    if ":" in wanted and wanted.replace(":", "").isdigit():
        chosen = [(i, dev) for i, dev in devices if i == wanted]
    else:
        low = wanted.lower()
        chosen = [(i, dev) for i, dev in devices
                  if low in dev.name.lower() or low in dev.platform.name.lower()
                  or low in dev.platform.version.lower()]
    if not chosen:
        listed = "; ".join(f"{i} {dev.name} ({dev.platform.version.strip()})"
                           for i, dev in devices)
        raise DeviceUnavailable(f"opencl.device={wanted!r} matches no OpenCL device; the "
                                f"devices are: {listed}")
    return chosen


def _probe(cl: Any, device: Any) -> Runtime:
    import shutil

    import numpy as np
    from pyopencl.tools import ImmediateAllocator, MemoryPool

    if "Portable Computing Language" in device.platform.name and shutil.which("ld") is None:
        # PoCL links each kernel with the system linker and aborts the process without one
        raise RuntimeError("error: PoCL links kernels with `ld`, which is not on PATH "
                           "(install binutils)")
    context = cl.Context([device])
    queue = cl.CommandQueue(context)
    prog = cl.Program(context, _PROBE_SOURCE).build()
    buf = cl.Buffer(context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                    hostbuf=np.zeros(4, np.float32))
    prog.theanine_probe(queue, (4,), None, buf)
    out = np.empty(4, np.float32)
    cl.enqueue_copy(queue, out, buf)
    if not (out == 1).all():
        raise RuntimeError("the probe kernel computed a wrong result")
    fp64 = "cl_khr_fp64" in device.extensions
    return Runtime(cl, device, context, queue, fp64, MemoryPool(ImmediateAllocator(queue)))


def runtime() -> Runtime:
    """The process's OpenCL runtime, or DeviceUnavailable saying why there is none."""
    global _RUNTIME, _FAILURE
    if _RUNTIME is not None:
        return _RUNTIME
    with _INIT_LOCK:
        if _RUNTIME is not None:
            return _RUNTIME
        if _FAILURE is not None:
            raise DeviceUnavailable(_FAILURE)
        try:
            _RUNTIME = _find_runtime()
        except DeviceUnavailable as exc:
            _FAILURE = str(exc)
            raise
        return _RUNTIME


def _find_runtime() -> Runtime:
    from theanine.config import config
    from theanine.plugins import get_registry

    try:
        import pyopencl as cl
    except ImportError as exc:
        raise DeviceUnavailable(f"pyopencl is not installed ({exc}): pip install "
                                "'pyopencl[pocl]' mako") from None
    _point_pocl_cache_inside_ours()
    try:
        # reading the registry's flags loads the plugins, which declares opencl.device
        wanted = config.opencl.device if "opencl.device" in get_registry().flags else ""
        candidates = _candidates(cl, str(wanted or "").strip())
    except cl.Error as exc:
        raise DeviceUnavailable(f"no OpenCL device: no platform found ({str(exc).strip()}); "
                                "install a driver, e.g. pip install 'pyopencl[pocl]' or apt "
                                "install pocl-opencl-icd") from None
    if not candidates:
        names = ", ".join(p.name for p in cl.get_platforms())
        raise DeviceUnavailable(f"no OpenCL device: the platforms ({names}) list none")
    _PASSED_OVER.clear()
    for index, device in candidates:
        try:
            return _probe(cl, device)
        except Exception as exc:  # noqa: BLE001 - any failure means: not this device
            first = next((ln for ln in str(exc).splitlines()
                          if "error" in ln.lower() and "failed" not in ln.lower()),
                         str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            _PASSED_OVER.append(f"{index} {device.name} ({device.platform.version.strip()}): "
                                f"cannot build a kernel: {first.strip()}")
    raise DeviceUnavailable("no OpenCL device builds a kernel: " + "; ".join(_PASSED_OVER))


def passed_over() -> list[str]:
    """Devices skipped while choosing, with why (for `theanine plugins`)."""
    return list(_PASSED_OVER)
