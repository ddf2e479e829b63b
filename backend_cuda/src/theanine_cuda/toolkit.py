"""The CUDA toolkit on this machine: where nvcc is, its version, and compiling with it.

Used both by the runtime (a cubin for the device's architecture) and by the compile-only
check of recorded kernels, which needs no driver and no GPU.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: warnings the generated code triggers harmlessly (unused variables and helpers)
QUIET = ("-diag-suppress", "177,550")


class ToolkitMissing(RuntimeError):
    """No nvcc: the message says where it was looked for."""


def find_nvcc() -> str:
    """`$THEANINE_NVCC`, else nvcc on PATH, else `$CUDA_HOME/bin/nvcc`, else the default
    install location; ToolkitMissing naming each place looked at."""
    looked = []
    explicit = os.environ.get("THEANINE_NVCC")
    if explicit:
        if Path(explicit).is_file():
            return explicit
        raise ToolkitMissing(f"THEANINE_NVCC={explicit!r} is not a file")
    on_path = shutil.which("nvcc")
    if on_path:
        return on_path
    looked.append("PATH")
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home:
            candidate = Path(home) / "bin" / "nvcc"
            if candidate.is_file():
                return str(candidate)
            looked.append(str(candidate))
    raise ToolkitMissing("nvcc not found (looked in " + ", ".join(looked) + "); install the "
                         "CUDA toolkit or set THEANINE_NVCC")


@functools.cache
def toolkit_version(nvcc: str) -> str:
    """nvcc's release line, e.g. 'Cuda compilation tools, release 13.0, V13.0.88' (part of
    every cache key: a cubin is tied to the compiler that made it)."""
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True)
    lines = [ln for ln in out.stdout.splitlines() if "release" in ln]
    return lines[0].strip() if lines else out.stdout.strip()


def gencode(archs: Sequence[str]) -> list[str]:
    """nvcc flags building real code for each `sm_XY` in `archs`."""
    flags = []
    for arch in archs:
        if not arch.startswith("sm_") or not arch[3:].isdigit():
            raise ValueError(f"architecture {arch!r}: expected sm_<digits>, e.g. sm_80")
        flags += ["-gencode", f"arch=compute_{arch[3:]},code={arch}"]
    return flags


def compile_cuda(nvcc: str, source_path: Path, out_path: Path, archs: Sequence[str],
                 kind: str = "-cubin", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run nvcc on one .cu file (`kind`: -cubin for one architecture, -fatbin for several)."""
    cmd = [nvcc, kind, "-O3", *QUIET, *gencode(archs), "-o", str(out_path), str(source_path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
