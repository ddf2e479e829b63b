"""Compiling translation units into shared libraries through the artifact cache, and loading
them with cffi in ABI mode (no setuptools, no Python headers: a unit is plain C).

cffi's C-level FFI (`_cffi_backend.FFI`, what out-of-line modules use) reads type strings with
its own small parser, and functions are looked up by name with their prototypes' types
(`Symbols`): nothing is declared with `cdef`, so pycparser is never imported (its import and
first parse cost every process's first native function about 50 ms).

Units that are not cached yet compile in parallel, one compiler process per core.  A loaded
library is memoized per cache key, so a second `function()` of the same graph in one process
touches neither the disk nor the compiler.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import _cffi_backend

from theanine_c.toolchain import Toolchain

#: loaded libraries, by unit key and by file: weak, so a library whose programs are all gone is
#: unloaded (a long-running process that compiles many graphs would otherwise run out of
#: memory mappings, one set per .so)
_LOADED: weakref.WeakValueDictionary[str, Library] = weakref.WeakValueDictionary()
_HANDLES: weakref.WeakValueDictionary[Path, _Handle] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()
_FFI = _cffi_backend.FFI()


@dataclass(frozen=True)
class Source:
    """A translation unit: its C text and the cffi declarations of its entry points."""

    text: str
    cdefs: tuple[str, ...]
    #: may be concatenated with other units into one translation unit (rendered kernels, whose
    #: helpers are guarded and names content-hashed); an Op's own C code is built alone
    batchable: bool = True


class _Handle:
    """One dlopen'ed file, through libc's dlopen/dlsym (declaring each kernel to cffi would
    keep every declaration in the FFI for good: tens of KB per kernel); dlclose'd when the
    last Library using it is collected."""

    def __init__(self, path: Path):
        libc = _libc()
        self.path = path
        self.raw = libc.dlopen(str(path).encode(), _RTLD_NOW)
        if self.raw == ffi().NULL:
            raise OSError(f"cannot load {path}: {_dlerror(libc)}")
        _pin_runtimes(libc)
        # not at exit: the process unmaps it anyway, and a build thread still loading a
        # kernel then would look up symbols in a closed library
        weakref.finalize(self, libc.dlclose, self.raw).atexit = False

    def symbol(self, name: str, signature: str) -> Any:
        address = _libc().dlsym(self.raw, name.encode())
        if address == ffi().NULL:
            raise OSError(f"no symbol {name} in {self.path}: {_dlerror(_libc())}")
        return ffi().cast(signature, address)


def _dlerror(libc: Any) -> str:
    """libc's message for the last dlopen/dlsym failure of this thread (None when another
    call consumed it: then say so rather than fail on the NULL)."""
    message = libc.dlerror()
    if message == ffi().NULL:
        return "the dynamic loader gave no message"
    return ffi().string(message).decode(errors="replace")


@dataclass
class Library:
    """A unit's entry points.  Whoever calls them keeps this object alive (the linked program
    holds the libraries of its thunks): the file is unloaded when the last holder is gone."""

    key: str
    path: Path
    handle: _Handle
    signatures: dict[str, str]

    def function(self, name: str) -> Any:
        return self.handle.symbol(name, self.signatures[name])


_RTLD_NOW, _RTLD_NOLOAD, _RTLD_NODELETE = 2, 4, 0x1000
#: runtimes kernels link to that must never be unloaded with the last kernel: OpenMP's idle
#: worker threads live in libgomp's code (unloading it crashed the process at exit)
_RUNTIMES = (b"libgomp.so.1", b"libmvec.so.1")
_PINNED: set[bytes] = set()


def _pin_runtimes(libc: Any) -> None:
    for name in _RUNTIMES:
        if name not in _PINNED and libc.dlopen(name, _RTLD_NOW | _RTLD_NOLOAD | _RTLD_NODELETE
                                               ) != ffi().NULL:
            _PINNED.add(name)
_DECLARATION = re.compile(r"^\s*(.+?)\b(\w+)\s*\((.*)\)\s*$", re.S)


def _signatures(cdefs: Sequence[str]) -> dict[str, str]:
    """name -> function-pointer type, from prototypes like `void k(int64_t, void *);` (several
    in one string, each ended by its semicolon)."""
    out = {}
    for text in cdefs:
        for line in text.split(";"):
            if not line.strip():
                continue
            m = _DECLARATION.match(line)
            if m is None:
                raise ValueError(f"not a function declaration: {line!r}")
            out[m.group(2)] = f"{m.group(1).strip()}(*)({m.group(3)})"
    return out


class Symbols:
    """The functions of a shared library (`path` None: the process's own, libc's included) that
    `prototypes` declare, each looked up by name the first time it is read as an attribute."""

    def __init__(self, path: str | None, prototypes: Sequence[str]):
        self._library = _cffi_backend.load_library(path, _RTLD_NOW)
        self._types = _signatures(prototypes)

    def __getattr__(self, name: str) -> Any:
        signature = self.__dict__["_types"].get(name)
        if signature is None:
            raise AttributeError(name)
        function = self._library.load_function(_FFI.typeof(signature), name)
        setattr(self, name, function)
        return function


@lru_cache(maxsize=1)
def _libc() -> Any:
    libc = Symbols(None, ["void *dlopen(const char *, int); void *dlsym(void *, const char *); "
                          "int dlclose(void *); char *dlerror(void);"])
    libc.dlerror  # noqa: B018 (looked up now: a lookup after a failure clears its message)
    return libc


def ffi() -> Any:
    """The one FFI of the backend (see the module's docstring)."""
    return _FFI


def buffer_pointer() -> Any:
    """`ffi.from_buffer` for arrays without its Python-level wrapper (0.1 us instead of 0.27
    per array: it is called for every operand of every native node on every call)."""
    return partial(_cffi_backend.from_buffer, _FFI.typeof("char[]"))


def array_pointer() -> Callable[[Any], Any]:
    """A char* to the first element of any array (strided, reversed, an offset view): the
    buffer's for a C-contiguous one (0.1 us), the array interface's otherwise (1 us: NumPy
    builds a dict for it)."""
    fb, cast = buffer_pointer(), ffi().cast

    def pointer(a: Any) -> Any:
        if a.flags.c_contiguous:
            return fb(a)
        return cast("char *", a.__array_interface__["data"][0])

    return pointer


def int64_arrays(limit: int = 32) -> Callable[[tuple[int, ...]], Any]:
    """`int64_t[]` cdata of a tuple (a kernel's shape and strides), made once per distinct
    tuple: a thunk sees few, and `ffi.new` costs 0.3 us a call.  Kernels only read them
    (`const int64_t *`), so threads share them; at most `limit` are kept."""
    new = ffi().new
    made: dict[tuple[int, ...], Any] = {}

    def array(values: tuple[int, ...]) -> Any:
        got = made.get(values)
        if got is None:
            if len(made) >= limit:
                made.clear()
            got = made[values] = new("int64_t[]", values)
        return got

    return array


def unit_key(tool: Toolchain, source: Source) -> str:
    from theanine.cache import artifact_key

    return artifact_key(kind="c-kernel", source=source.text, **tool.key_parts())


def _compile(tool: Toolchain, text: str, key: str, label: str) -> Path:
    """The path of the library built from `text` (through the cache)."""
    from theanine.cache import CompileError, get_cache

    filename = f"th_{key[:16]}.so"

    def build(tmp: Path) -> None:
        src = tmp / f"th_{key[:16]}.c"
        src.write_text(text)
        command = tool.compile_command(src, tmp / filename)
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp, timeout=600)
        if done.returncode != 0:
            raise CompileError(f"{command[0]} failed on generated kernels", source=text,
                               command=command, stderr=done.stderr, returncode=done.returncode)

    return get_cache().get_or_build(key, build, label=label) / filename


def _cached_path(key: str) -> Path | None:
    """The library of a unit already in the cache: its own, or the batch it was built in
    (an `alias` entry names the batch); None when absent or when the batch was pruned."""
    from theanine.cache import get_cache

    cache = get_cache()
    entry = cache.lookup(key)
    if entry is None:
        return None
    own = entry / f"th_{key[:16]}.so"
    if own.exists():
        return own
    try:
        alias = json.loads((entry / "alias.json").read_text())
    except (OSError, ValueError):
        return None
    batch = cache.lookup(alias["batch"])
    return None if batch is None else batch / alias["file"]


def _build_batch(tool: Toolchain, sources: Sequence[Source], keys: Sequence[str]) -> Path:
    """Compile several units as one translation unit (one compiler process and one parse of
    the headers instead of one each: a function's kernels build 2-3x faster), then record
    each unit's own cache entry as an alias of the batch, so later graphs find every kernel
    on its own."""
    from theanine.cache import artifact_key, get_cache

    text = "\n".join(s.text for s in sources)
    batch_key = artifact_key(kind="c-batch", units=" ".join(keys), **tool.key_parts())
    path = _compile(tool, text, batch_key, f"c kernels ({len(sources)} batched)")
    alias = json.dumps({"batch": batch_key, "file": path.name})
    for key in keys:
        get_cache().get_or_build(key, lambda tmp: (tmp / "alias.json").write_text(alias),
                                 label="c kernel (in a batch)")
    return path


#: how long (in libgomp's spin iterations, ~50 ns each here) an idle OpenMP thread spins
#: before it sleeps: about 0.2 ms, so the threads of one training step's parallel regions stay
#: awake between them, but not across the NumPy BLAS calls that follow
SPIN_COUNT = 4000


def _wait_policy() -> None:
    """Set how idle OpenMP threads wait, before the first kernel loads the runtime (the user's
    own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins).  Spinning for libgomp's default 300,000
    iterations (15 ms here) took the cores NumPy's BLAS threads needed next (an MLP step
    went from 1.2 ms to 11 ms on 2 cores); sleeping at once costs a wake-up of 20-30 us per
    parallel region on this VM, more than a split gemv saves.  Runtimes other than libgomp
    read only the policy: passive."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def threads_spin() -> bool:
    """Whether idle OpenMP threads spin before they sleep (libgomp, loaded, with a spin count
    > 0): what a parallel region of a few microseconds needs to be worth its fork."""
    if b"libgomp.so.1" not in _PINNED:
        return False
    count = os.environ.get("GOMP_SPINCOUNT")
    if count is None:
        return os.environ.get("OMP_WAIT_POLICY", "").strip().upper() != "PASSIVE"
    try:
        return int(count.strip()) > 0
    except ValueError:  # "infinite", or a count with a suffix
        return True


def _load(key: str, path: Path, source: Source) -> Library:
    _wait_policy()
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            handle = _HANDLES.get(path)
            if handle is None:
                handle = _HANDLES[path] = _Handle(path)
            loaded = _LOADED[key] = Library(key, path, handle, _signatures(source.cdefs))
    return loaded


def build_all(tool: Toolchain, sources: Sequence[Source], stats: dict[str, int] | None = None
              ) -> list[Library | BaseException]:
    """Each source's loaded library (or the exception its build raised).  Units not cached
    yet compile in at most one batch per core, in parallel; a batch that fails is retried
    unit by unit, so one bad unit (an Op's own C code) costs only its own nodes.  `stats`
    (a profile's) gets how many units were "already loaded", "found in the cache" and
    "compiled"."""
    keys = [unit_key(tool, s) for s in sources]
    results: list[Library | BaseException | None] = [_LOADED.get(k) for k in keys]
    todo = []
    found = 0
    for i, r in enumerate(results):
        if r is None:
            path = _cached_path(keys[i])
            if path is not None:
                try:
                    results[i] = _load(keys[i], path, sources[i])
                    found += 1
                    continue
                except OSError:  # pruned by another process meanwhile: build again
                    pass
            todo.append(i)
    if stats is not None:
        stats["already loaded"] = len(keys) - len(todo) - found
        stats["found in the cache"] = found
        stats["compiled"] = len(todo)

    def one(i: int) -> None:
        try:
            results[i] = _load(keys[i], _compile(tool, sources[i].text, keys[i], "c kernels"),
                               sources[i])
        except Exception as exc:  # reported per unit: its nodes fall back
            results[i] = exc

    def batch(group: list[int]) -> None:
        if len(group) == 1:
            return one(group[0])
        try:
            path = _build_batch(tool, [sources[i] for i in group], [keys[i] for i in group])
            for i in group:
                results[i] = _load(keys[i], path, sources[i])
        except Exception:
            for i in group:
                one(i)

    batchable = [i for i in todo if sources[i].batchable]
    groups = _balanced(batchable, [len(sources[i].text) for i in batchable],
                       _workers(len(batchable)))
    groups += [[i] for i in todo if not sources[i].batchable]
    if len(groups) == 1:
        batch(groups[0])
    elif groups:
        with ThreadPoolExecutor(max_workers=_workers(len(groups))) as pool:
            list(pool.map(batch, groups))
    return results  # type: ignore[return-value]


def _balanced(units: list[int], sizes: list[int], n: int) -> list[list[int]]:
    """`units` in at most `n` non-empty groups of about equal total size, the largest unit
    first into the lightest group: a batch compiles in time that grows with its source, and
    the build waits for the slowest (round robin once gave the logistic step's two batches
    197 and 358 lines: 206 and 320 ms)."""
    groups: list[list[int]] = [[] for _ in range(max(1, n))]
    loads = [0] * len(groups)
    for unit, size in sorted(zip(units, sizes), key=lambda us: -us[1]):
        k = loads.index(min(loads))
        groups[k].append(unit)
        loads[k] += size
    return [sorted(g) for g in groups if g]


def _workers(n: int) -> int:
    """Compiler processes to run at once: one per core the process may use."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(n, cores))
