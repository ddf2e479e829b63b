"""Finding and probing the C compiler, lazily: nothing here runs at `import theanine`.

The probe compiles two tiny files once per compiler (the result is kept in the artifact cache,
keyed by the compiler's path, size and mtime, so later processes pay one stat): one to see
that the compiler works at all, one to see whether OpenMP and glibc's vector math (libmvec)
are there.  What it finds becomes part of every kernel's cache key, with the CPU's features
(`-march=native` code only runs on the CPU it was built for).  On a cold cache the probe
starts in the background when the backend is chosen (`probe_soon`), so the first function's
rewriting overlaps it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# -ffp-contract=off: no fused multiply-add across NumPy's rounding steps (x*y - z is exactly 0
# when z == x*y, as in NumPy)
BASE_FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-fwrapv", "-fno-math-errno",
              "-ffp-contract=off", "-std=gnu11", "-w")
_PROBE_SOURCE = "int theanine_probe(int x) { return x + 1; }\n"
_FEATURES_SOURCE = """#include <math.h>
#include <omp.h>
#pragma omp declare simd notinbranch
extern double exp(double);
void theanine_features(long n, double *x) {
    #pragma omp parallel for simd if(n > 1000)
    for (long i = 0; i < n; i++) x[i] = exp(x[i]) + omp_get_num_threads();
}
"""


class ToolchainUnavailable(Exception):
    """No working C compiler; the message says why."""


@dataclass(frozen=True)
class Toolchain:
    """A probed compiler: its command, identity and the flags kernels are built with."""

    command: tuple[str, ...]
    identity: str
    flags: tuple[str, ...]
    libs: tuple[str, ...]
    openmp: bool
    vector_math: bool
    cpu: str

    def compile_command(self, source: Path, output: Path) -> list[str]:
        return [*self.command, *self.flags, str(source), "-o", str(output), *self.libs]

    def key_parts(self) -> dict[str, str]:
        return {"compiler": self.identity, "flags": " ".join(self.flags + self.libs),
                "cpu": self.cpu}


def compiler_command() -> list[str]:
    """The compiler to use: `$CC` (which may carry arguments), else `cc` or `gcc` on PATH."""
    cc = os.environ.get("CC")
    if cc:
        parts = shlex.split(cc)
        if not parts or shutil.which(parts[0]) is None:
            raise ToolchainUnavailable(f"CC={cc!r} is not an executable")
        return parts
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    raise ToolchainUnavailable("no C compiler: CC is unset and neither cc, gcc nor clang is on "
                               "PATH (on Debian: apt-get install gcc)")


def cpu_features() -> str:
    """A digest of the CPU's model and flags, for the cache keys of `-march=native` code."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        import platform

        return platform.machine() + ":" + platform.processor()
    keep = [ln for ln in text.splitlines() if ln.startswith(("flags", "model name", "Features"))]
    return hashlib.sha256("\n".join(sorted(set(keep))).encode()).hexdigest()[:16]


def _run(command: list[str], cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def _probe_uncached(command: list[str]) -> dict:
    """One compile with every feature in the common case (the version query runs beside it);
    only when that fails, the trivial file and OpenMP alone, to say what is missing."""
    with tempfile.TemporaryDirectory(prefix="theanine-probe-") as tmp:
        src, out = Path(tmp, "features.c"), Path(tmp, "features.so")
        src.write_text(_FEATURES_SOURCE)
        try:
            version_query = subprocess.Popen([*command, "--version"], cwd=tmp, text=True,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            both = _run([*command, *BASE_FLAGS, "-fopenmp", str(src), "-o", str(out),
                         "-lmvec", "-lm"], tmp)
            version = version_query.communicate(timeout=60)[0].splitlines()
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolchainUnavailable(f"the C compiler {command[0]} could not run: {exc}"
                                       ) from None
        identity = f"{command} {version[0] if version else 'unknown version'}"
        if both.returncode == 0:
            return {"identity": identity, "openmp": True, "vector_math": True}
        src.write_text(_PROBE_SOURCE)
        done = _run([*command, *BASE_FLAGS, str(src), "-o", str(out)], tmp)
        if done.returncode != 0 or not out.exists():
            raise ToolchainUnavailable(f"the C compiler {command[0]} fails on a trivial file: "
                                       f"{done.stderr.strip()[:500]}")
        src.write_text(_FEATURES_SOURCE.replace("#pragma omp declare simd notinbranch\n", ""))
        openmp = _run([*command, *BASE_FLAGS, "-fopenmp", str(src), "-o", str(out), "-lm"],
                      tmp).returncode == 0
    return {"identity": identity, "openmp": openmp, "vector_math": False}


def _probe_key(command: tuple[str, ...]) -> str:
    from theanine.cache import artifact_key

    st = os.stat(shutil.which(command[0]) or command[0])
    return artifact_key(kind="c-toolchain-probe", command=" ".join(command),
                        stamp=f"{st.st_size}:{st.st_mtime_ns}", python=sys.version)


def probed() -> bool:
    """Whether the compiler's probe result is at hand (in this process or in the cache), so
    `toolchain()` costs no compile."""
    from theanine.cache import get_cache

    command = tuple(compiler_command())
    return (command in _PROBED or command in _FAILED
            or get_cache().lookup(_probe_key(command)) is not None)


_PROBED: set[tuple[str, ...]] = set()
_FAILED: dict[tuple[str, ...], ToolchainUnavailable] = {}


@cache
def _probe(command: tuple[str, ...]) -> Toolchain:
    from theanine.cache import get_cache

    key = _probe_key(command)
    cache = get_cache()

    def build(tmp: Path) -> None:
        (tmp / "probe.json").write_text(json.dumps(_probe_uncached(list(command))))

    found = json.loads((cache.get_or_build(key, build, label="c toolchain probe")
                        / "probe.json").read_text())
    _PROBED.add(command)
    flags = BASE_FLAGS + (("-fopenmp",) if found["openmp"] else ())
    libs = (("-lmvec",) if found["vector_math"] else ()) + ("-lm",)
    return Toolchain(command, found["identity"], flags, libs, found["openmp"],
                     found["vector_math"], cpu_features())


_PROBING = threading.Lock()  # one probe at a time: a caller waits for one in flight


def toolchain() -> Toolchain:
    """The probed compiler; raises ToolchainUnavailable with the reason when there is none
    (remembered for the process: a broken compiler is probed once)."""
    command = tuple(compiler_command())
    if command in _FAILED:
        raise _FAILED[command]
    with _PROBING:
        try:
            return _probe(command)
        except ToolchainUnavailable as exc:
            _FAILED[command] = exc
            raise


_STARTING = threading.Lock()
_STARTED: set[tuple[str, ...]] = set()  # compilers whose background probe has started


def probe_soon() -> None:
    """Start the compiler's probe (about 70 ms of gcc) on a thread of its own, once per
    compiler: the first function of a cold cache links after its rewrites, which overlap it;
    `toolchain()` then waits for it, and raises what it found wrong."""
    command = tuple(compiler_command())
    with _STARTING:
        if command in _STARTED:
            return
        _STARTED.add(command)

    def probe() -> None:
        try:
            toolchain()
        except ToolchainUnavailable:
            pass  # remembered in _FAILED: the link that needs the compiler raises it

    threading.Thread(target=probe, name="theanine-c-probe", daemon=True).start()

