"""Compiling translation units into shared libraries through the artifact cache, and loading
them with cffi in ABI mode (no setuptools, no Python headers: a unit is plain C).

Units that are not cached yet compile in parallel, one compiler process per core.  A loaded
library is memoized per cache key, so a second `function()` of the same graph in one process
touches neither the disk nor the compiler.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from theanine_c.toolchain import Toolchain

_LOADED: dict[str, Library] = {}
_LOCK = threading.Lock()
_FFI: Any = None


@dataclass(frozen=True)
class Source:
    """A translation unit: its C text and the cffi declarations of its entry points."""

    text: str
    cdefs: tuple[str, ...]


@dataclass
class Library:
    key: str
    path: Path
    lib: Any

    def function(self, name: str) -> Any:
        return getattr(self.lib, name)


def ffi() -> Any:
    """The one cffi.FFI of the backend (its first creation imports pycparser, ~50 ms)."""
    global _FFI
    if _FFI is None:
        import cffi

        from theanine.codegen.native import C_ARRAY_CDEF

        _FFI = cffi.FFI()
        _FFI.cdef(C_ARRAY_CDEF)
    return _FFI


def buffer_pointer() -> Any:
    """`ffi.from_buffer` for arrays without its Python-level wrapper (0.1 us instead of 0.27
    per array: it is called for every operand of every native node on every call)."""
    f = ffi()
    return partial(f._backend.from_buffer, f.BCharA)


def unit_key(tool: Toolchain, source: Source) -> str:
    from theanine.cache import artifact_key

    return artifact_key(kind="c-kernel", source=source.text, **tool.key_parts())


def _compile(tool: Toolchain, source: Source, key: str) -> Path:
    from theanine.cache import CompileError, get_cache

    filename = f"th_{key[:16]}.so"

    def build(tmp: Path) -> None:
        src = tmp / f"th_{key[:16]}.c"
        src.write_text(source.text)
        command = tool.compile_command(src, tmp / filename)
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp, timeout=600)
        if done.returncode != 0:
            raise CompileError(f"{command[0]} failed on a generated kernel",
                               source=source.text, command=command, stderr=done.stderr,
                               returncode=done.returncode)

    return get_cache().get_or_build(key, build, label="c kernels") / filename


def _load(key: str, path: Path, source: Source) -> Library:
    # libgomp reads this when the first kernel loads it: idle OpenMP threads sleep instead of
    # spinning on the cores NumPy's BLAS threads need next (an MLP step went from 11 ms to
    # 1.2 ms on 2 cores); the user's own setting wins
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    f = ffi()
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            for line in source.cdefs:
                try:
                    f.cdef(line, override=True)
                except Exception:  # already declared with the same signature
                    pass
            loaded = _LOADED[key] = Library(key, path, f.dlopen(str(path)))
    return loaded


def build_all(tool: Toolchain, sources: Sequence[Source]) -> list[Library | BaseException]:
    """Each source's loaded library (or the exception its build raised), compiling the ones
    not cached yet in parallel."""
    keys = [unit_key(tool, s) for s in sources]
    results: list[Library | BaseException | None] = [_LOADED.get(k) for k in keys]
    todo = [i for i, r in enumerate(results) if r is None]

    def one(i: int) -> Library | BaseException:
        try:
            try:
                return _load(keys[i], _compile(tool, sources[i], keys[i]), sources[i])
            except OSError:  # pruned by another process after this one memoized the entry
                from theanine.cache import get_cache

                get_cache().forget(keys[i])
                return _load(keys[i], _compile(tool, sources[i], keys[i]), sources[i])
        except Exception as exc:  # reported per unit: its nodes fall back
            return exc

    if len(todo) == 1:
        results[todo[0]] = one(todo[0])
    elif todo:
        with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            for i, r in zip(todo, pool.map(one, todo)):
                results[i] = r
    return results  # type: ignore[return-value]
