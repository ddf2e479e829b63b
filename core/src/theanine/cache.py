"""The compiled-artifact cache that every native backend shares.

A backend derives a key from everything that decides the artifact (`artifact_key`: source,
compiler identity, flags, ABI, ...) and asks `get_cache().get_or_build(key, build)` for the
entry directory. Layout under the root:

    <key[:2]>/<key>/   complete entries: the artifact files and meta.json
    locks/<key>.lock   per-entry build locks (fcntl.flock: the kernel drops them when a holder dies)
    tmp/               builds in progress, leftovers of killed builds, entries being deleted
    failures/<key>/    source, command and compiler output of the last failed build of a key

An entry only ever appears by `os.replace` of a finished temporary directory and disappears by
`os.replace` into tmp/, so readers see whole entries or none, and never need a lock. The
mtime of an entry directory is its last-used time (bumped once per process on lookup).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 1 << 30
"""Automatic pruning keeps the cache under this size (override: THEANINE_CACHE_MAX_BYTES)."""
DEFAULT_MAX_AGE_DAYS = 30.0
"""Automatic pruning drops entries unused this long (override: THEANINE_CACHE_MAX_AGE_DAYS)."""
PRUNE_TO = 0.8
"""An automatic prune by size goes down to this fraction of the limit, so that the next few
additions do not prune again."""
_RESCAN_SECONDS = 600.0
"""How long a process trusts its running total of the cache size before rescanning."""

_HEX = frozenset("0123456789abcdef")
_SIZE_PATTERN = r"(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_NO_LIMIT = ("none", "off", "no", "unlimited")


def _is_key(name: str) -> bool:
    """Whether `name` has the form of an artifact key: 8 to 128 lowercase hex digits."""
    return 8 <= len(name) <= 128 and _HEX.issuperset(name)


class CacheError(Exception):
    """The cache directory cannot be used (owned by another user, not a directory, ...)."""


class CompileError(Exception):
    """A build failed. The cache fills `failure_dir` with where source, command and compiler
    output were kept, so the message tells the user where to look."""

    def __init__(self, message: str = "", *, source: str = "", command: Sequence[str] = (),
                 stderr: str = "", returncode: int | None = None,
                 failure_dir: Path | None = None) -> None:
        super().__init__(message)
        self.message = message or "compilation failed"
        self.source = source
        self.command = [str(c) for c in command]
        self.stderr = stderr
        self.returncode = returncode
        self.failure_dir = failure_dir

    def __str__(self) -> str:
        lines = [self.message]
        if self.command:
            status = "" if self.returncode is None else f" (exit status {self.returncode})"
            import shlex

            lines.append(f"command{status}: {shlex.join(self.command)}")
        tail = self.stderr.strip().splitlines()[-20:]
        if tail:
            lines.append("compiler output (last lines):")
            lines.extend("  " + line for line in tail)
        if self.failure_dir is not None:
            lines.append(f"source, command and full output kept in {self.failure_dir}")
        return "\n".join(lines)

    def __reduce__(self) -> tuple:
        # keyword-only fields: the default reduce would lose them across processes
        return (_rebuild_compile_error, (self.message, self.source, self.command, self.stderr,
                                         self.returncode, self.failure_dir))


def _rebuild_compile_error(message: str, source: str, command: list[str], stderr: str,
                           returncode: int | None, failure_dir: Path | None) -> CompileError:
    return CompileError(message, source=source, command=command, stderr=stderr,
                        returncode=returncode, failure_dir=failure_dir)


def _theanine_version() -> str:
    import theanine

    return theanine.__version__


def artifact_key(**parts: str | bytes) -> str:
    """The sha256 hex key of an artifact: over the parts sorted by name, and theanine's version
    (a new release may generate different code from the same source). Each part is
    length-prefixed, so no two different sets of parts hash the same bytes."""
    if not parts:
        raise TypeError("artifact_key() needs at least one part, e.g. source=..., backend=...")
    digest = hashlib.sha256()
    version = _theanine_version().encode()
    digest.update(b"theanine-artifact-1\0%d:%s" % (len(version), version))
    for name in sorted(parts):
        value = parts[name]
        if isinstance(value, str):
            tag, data = b"s", value.encode("utf-8", "surrogatepass")
        elif isinstance(value, bytes | bytearray | memoryview):
            tag, data = b"b", bytes(value)
        else:
            raise TypeError(f"artifact_key(): part {name!r} must be str or bytes, got "
                            f"{type(value).__name__} {value!r:.80}")
        encoded = name.encode()
        digest.update(b"%d:%s%s%d:" % (len(encoded), encoded, tag, len(data)))
        digest.update(data)
    return digest.hexdigest()


def parse_size(text: str) -> int:
    """Bytes from '1073741824', '500M', '2G', '1.5GiB' (units are powers of 1024)."""
    match = re.fullmatch(_SIZE_PATTERN, text.strip(), re.IGNORECASE)
    if match is None:
        raise ValueError(f"expected a number of bytes such as 1073741824, 500M or 2G, "
                         f"got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _env_limit(var: str, default: float, parse: Callable[[str], float]) -> float | None:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    if raw.lower() in _NO_LIMIT:
        return None
    try:
        value = parse(raw)
    except ValueError as exc:
        raise CacheError(f"invalid {var}={raw!r}: {exc}; use a number, or 'none' for no "
                         "limit") from None
    if not value >= 0:
        raise CacheError(f"invalid {var}={raw!r}: must not be negative")
    return value


@dataclass(frozen=True)
class CacheEntry:
    """One complete entry, as `ArtifactCache.entries` lists it."""

    key: str
    label: str
    path: Path
    size_bytes: int
    created: float
    last_used: float

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "path": str(self.path),
                "size_bytes": self.size_bytes, "created": self.created,
                "last_used": self.last_used}


class ArtifactCache:
    """A directory of compiled artifacts, safe to share between concurrent processes."""

    def __init__(self, root: str | os.PathLike) -> None:
        if not isinstance(root, str | os.PathLike):
            raise TypeError(f"ArtifactCache(root): expected a directory path (str or "
                            f"os.PathLike), got {type(root).__name__} {root!r:.80}")
        self.root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
        self._locks = self.root / "locks"
        self._tmp = self.root / "tmp"
        self._failures = self.root / "failures"
        self._memo: dict[str, Path] = {}
        self._prepared = False
        # limits of the automatic pruning after an addition (None: no limit)
        limit = _env_limit("THEANINE_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES, parse_size)
        self.max_bytes: int | None = None if limit is None else int(limit)
        self.max_age_days: float | None = _env_limit("THEANINE_CACHE_MAX_AGE_DAYS",
                                                     DEFAULT_MAX_AGE_DAYS, float)
        self._usage: int | None = None  # running total of entry sizes since the last scan
        self._usage_scanned = 0.0

    def __repr__(self) -> str:
        return f"ArtifactCache({str(self.root)!r})"

    # -- setup --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the root (mode 0700) and its folders; refuse a root that another user owns
        or could write into, since backends load code from it."""
        if not self._prepared:
            _check_root(self.root)
            self._prepared = True
        for folder in (self._locks, self._tmp):
            folder.mkdir(mode=0o700, exist_ok=True)

    def _entry_path(self, key: str) -> Path:
        if not isinstance(key, str) or not _is_key(key):
            raise ValueError(f"cache key must be a lowercase hex string (from artifact_key()), "
                             f"got {key!r:.100}")
        return self.root / key[:2] / key

    # -- reading ------------------------------------------------------------------------------
    def lookup(self, key: str) -> Path | None:
        """The entry directory of `key` when it is complete, else None. A key already seen in
        this process costs no disk access; otherwise one syscall, which also marks the entry
        used (for pruning)."""
        path = self._memo.get(key)
        if path is not None:
            return path
        path = self._entry_path(key)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        except PermissionError:  # a read-only cache: still usable, not marked used
            if not path.is_dir():
                return None
        self._memo[key] = path
        return path

    def driver_dir(self, name: str) -> Path:
        """A folder for a driver's own cache (e.g. PoCL's compiled kernels, `POCL_CACHE_DIR`),
        under `drivers/`: `clear()` empties it with the entries."""
        self.prepare()
        path = self.root / "drivers" / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def forget(self, key: str) -> None:
        """Drop `key` from this process's memo: for a caller that found the entry's files gone
        (another process pruned it), before calling `get_or_build` again."""
        self._memo.pop(key, None)

    # -- building -----------------------------------------------------------------------------
    def get_or_build(self, key: str, build: Callable[[Path], None], *, label: str = "") -> Path:
        """The entry directory of `key`, calling `build(tmpdir)` to make it when absent.

        `build` writes the artifact files into `tmpdir` (a fresh directory inside the cache
        root) and raises CompileError on failure. Concurrent callers of one key wait on its
        lock and find the entry built by the first; a dead holder's lock is released by the
        kernel. On CompileError the failure is recorded and the error re-raised with
        `failure_dir` set."""
        found = self.lookup(key)
        if found is not None:
            return found
        if not callable(build):
            raise TypeError(f"get_or_build(): build must be a callable taking the temporary "
                            f"directory, got {type(build).__name__}")
        from tempfile import mkdtemp  # imported on a build only: a lookup needs none of it

        self.prepare()
        path = self._entry_path(key)
        with self._locked(key):
            if path.is_dir():  # built by another process while we waited for the lock
                self._memo[key] = path
                return path
            tmpdir = Path(mkdtemp(prefix=f"{key}.{os.getpid()}.", dir=self._tmp))
            try:
                try:
                    build(tmpdir)
                except CompileError as exc:
                    if exc.failure_dir is None:
                        exc.failure_dir = self.record_failure(key, exc.source, exc.command,
                                                              exc.stderr)
                    raise
                size = self._write_meta(tmpdir, key, label)
                path.parent.mkdir(mode=0o700, exist_ok=True)
                os.replace(tmpdir, path)
            finally:
                shutil.rmtree(tmpdir, ignore_errors=True)  # absent after a successful replace
            os.utime(path)  # last use: now, not the time the last file was written
            self._discard(self._failures / key)  # an earlier failure of the key is history
        self._memo[key] = path
        self._after_add(size)
        return path

    @staticmethod
    def _write_meta(tmpdir: Path, key: str, label: str) -> int:
        sizes = {}
        for file in sorted(tmpdir.rglob("*")):
            if file.is_file() and not file.is_symlink():
                sizes[file.relative_to(tmpdir).as_posix()] = file.stat().st_size
        meta = {"key": key, "label": label, "created": time.time(), "sizes": sizes,
                "theanine_version": _theanine_version()}
        data = json.dumps(meta, indent=1).encode()
        (tmpdir / "meta.json").write_bytes(data)
        return sum(sizes.values()) + len(data)

    def record_failure(self, key: str, source: str, command: Sequence[str], stderr: str) -> Path:
        """Keep a failed build's source, command and compiler output in failures/<key>/ (the
        last failure of a key replaces the one before) and return that directory."""
        import shlex
        from tempfile import mkdtemp

        self._entry_path(key)  # validates the key
        self.prepare()
        self._failures.mkdir(mode=0o700, exist_ok=True)
        staging = Path(mkdtemp(prefix=f"failure-{key}.", dir=self._tmp))
        command = [str(c) for c in command]
        (staging / "source.txt").write_text(source)
        (staging / "command.txt").write_text(shlex.join(command) + "\n")
        (staging / "stderr.txt").write_text(stderr)
        (staging / "failure.json").write_text(json.dumps(
            {"key": key, "command": command, "time": time.time(),
             "theanine_version": _theanine_version()}, indent=1))
        target = self._failures / key
        self._discard(target)
        try:
            os.replace(staging, target)
        except OSError:  # another process recorded the same failure just now: keep theirs
            shutil.rmtree(staging, ignore_errors=True)
        return target

    # -- locks --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        fd = self._lock(key, blocking=True)
        assert fd is not None
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _lock(self, key: str, *, blocking: bool) -> int | None:
        """The descriptor holding the exclusive lock of `key`, or None if it is held elsewhere
        (only when not `blocking`). Retries when prune unlinked the lock file between our open
        and our flock, so two holders never lock different files of one key."""
        path = self._locks / f"{key}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                held, current = os.fstat(fd), os.stat(path)
                if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
                    return fd
            except BlockingIOError:
                os.close(fd)
                return None
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    # -- listing ------------------------------------------------------------------------------
    def _entry_dirs(self) -> Iterator[tuple[str, Path]]:
        for shard in _scandir(self.root):
            if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                continue
            for entry in _scandir(Path(shard.path)):
                if entry.name[:2] == shard.name and _is_key(entry.name):
                    yield entry.name, Path(entry.path)

    def entries(self) -> list[CacheEntry]:
        """The complete entries, least recently used first."""
        found = []
        for key, path in self._entry_dirs():
            try:
                last_used = path.stat().st_mtime
                meta = json.loads((path / "meta.json").read_text())
                size = sum(meta["sizes"].values()) + (path / "meta.json").stat().st_size
                label, created = str(meta.get("label", "")), float(meta["created"])
            except FileNotFoundError:  # removed while we listed it
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                label, created, size = "", last_used, _tree_size(path)  # unreadable meta.json
            found.append(CacheEntry(key, label, path, size, created, last_used))
        found.sort(key=lambda e: (e.last_used, e.key))
        return found

    def _temp_dirs(self) -> list[Path]:
        return [Path(e.path) for e in _scandir(self._tmp)]

    def info(self) -> dict[str, Any]:
        """Counts and sizes, as plain data (`theanine cache info`)."""
        entries = self.entries()
        failures = [e for e in _scandir(self._failures) if _is_key(e.name)]
        return {"root": str(self.root), "n_entries": len(entries),
                "total_bytes": sum(e.size_bytes for e in entries),
                "n_failures": len(failures), "failures_dir": str(self._failures),
                "n_temp": len(self._temp_dirs()),
                "n_locks": len(list(_scandir(self._locks))),
                "max_bytes": self.max_bytes, "max_age_days": self.max_age_days,
                "theanine_version": _theanine_version()}

    # -- removal ------------------------------------------------------------------------------
    def prune(self, max_bytes: int | None = None, max_age_days: float | None = None) -> int:
        """Remove entries unused for `max_age_days`, then the least recently used ones until the
        rest fit in `max_bytes`; also leftovers of killed builds, and lock files and failures
        that no longer serve. Safe while other processes read and build: an entry whose lock
        is held is skipped, and entries vanish atomically. Returns the number of entries
        removed."""
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"prune(): max_bytes must be >= 0, got {max_bytes}")
        if max_age_days is not None and not max_age_days >= 0:
            raise ValueError(f"prune(): max_age_days must be >= 0, got {max_age_days}")
        if not self.root.is_dir():
            return 0
        self.prepare()
        entries = self.entries()
        removed = 0
        total = sum(e.size_bytes for e in entries)
        cutoff = None if max_age_days is None else time.time() - max_age_days * 86400.0
        for entry in entries:  # least recently used first
            too_old = cutoff is not None and entry.last_used < cutoff
            too_big = max_bytes is not None and total > max_bytes
            if (too_old or too_big) and self._remove_entry(entry.key, entry.path):
                removed += 1
                total -= entry.size_bytes
        self._collect_garbage(cutoff)
        self._usage, self._usage_scanned = total, time.monotonic()
        return removed

    def clear(self) -> int:
        """Remove every entry and recorded failure; returns the number of entries removed."""
        removed = self.prune(max_bytes=0)
        for failure in _scandir(self._failures):
            self._discard(Path(failure.path))
        for driver in _scandir(self.root / "drivers"):  # their files, not the folders in use
            for item in _scandir(Path(driver.path)):
                if item.is_dir(follow_symlinks=False):
                    self._discard(Path(item.path))
                else:
                    Path(item.path).unlink(missing_ok=True)
        return removed

    def _remove_entry(self, key: str, path: Path) -> bool:
        fd = self._lock(key, blocking=False)
        if fd is None:  # someone is building or removing it right now
            return False
        try:
            self._memo.pop(key, None)
            return self._discard(path)
        finally:
            os.close(fd)

    def _discard(self, path: Path) -> bool:
        """Move `path` out of sight into tmp/ (atomic), then delete it. False if it was gone."""
        trash = self._tmp / f"trash-{path.name}.{os.getpid()}.{time.monotonic_ns()}"
        try:
            os.replace(path, trash)
        except FileNotFoundError:
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def _collect_garbage(self, failure_cutoff: float | None) -> None:
        """Temporary directories whose build is dead, trash left by a killed prune, lock files
        of absent entries, and failures older than `failure_cutoff`."""
        for tmp in self._temp_dirs():
            key = tmp.name.split(".", 1)[0]
            if _is_key(key):  # a build: only when no live process holds its lock
                fd = self._lock(key, blocking=False)
                if fd is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
                    os.close(fd)
            elif _older_than(tmp, time.time() - 3600.0):  # trash, staging: an hour is plenty
                shutil.rmtree(tmp, ignore_errors=True)
        for lock in _scandir(self._locks):
            key = lock.name.removesuffix(".lock")
            if not _is_key(key) or self._entry_path(key).is_dir():
                continue
            fd = self._lock(key, blocking=False)
            if fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock.path)  # holders re-check the inode, so this is safe
                os.close(fd)
        if failure_cutoff is not None:
            for failure in _scandir(self._failures):
                if _older_than(Path(failure.path), failure_cutoff):
                    self._discard(Path(failure.path))

    def _after_add(self, size: int) -> None:
        """Automatic pruning, cheap: a process scans the cache at its first addition (and every
        ten minutes), then keeps a running total; it prunes only past a limit."""
        if self.max_bytes is None and self.max_age_days is None:
            return
        now = time.monotonic()
        if self._usage is None or now - self._usage_scanned > _RESCAN_SECONDS:
            entries = self.entries()
            self._usage, self._usage_scanned = sum(e.size_bytes for e in entries), now
            cutoff = (None if self.max_age_days is None
                      else time.time() - self.max_age_days * 86400.0)
            if cutoff is not None and entries and entries[0].last_used < cutoff:
                self.prune(max_age_days=self.max_age_days)
        else:
            self._usage += size
        if self.max_bytes is not None and self._usage > self.max_bytes:
            self.prune(max_bytes=int(self.max_bytes * PRUNE_TO), max_age_days=self.max_age_days)


def _scandir(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def _tree_size(path: Path) -> int:
    total = 0
    for file in path.rglob("*"):
        with contextlib.suppress(OSError):
            if file.is_file():
                total += file.stat().st_size
    return total


def _check_root(root: Path) -> None:
    """Create `root` with mode 0700 if absent; refuse one we cannot trust or write."""
    fix = ("set THEANINE_CACHE_DIR (or the cache_dir flag) to a directory of your own, e.g. "
           "THEANINE_CACHE_DIR=~/.cache/theanine")
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(root)
    except FileExistsError:
        raise CacheError(f"theanine cache directory {root} exists and is not a directory; "
                         f"{fix}") from None
    except OSError as exc:
        raise CacheError(f"cannot create the theanine cache directory {root}: "
                         f"{exc.strerror or exc}; {fix}") from None
    if not os.path.isdir(root):
        raise CacheError(f"theanine cache directory {root} is not a directory; {fix}")
    uid = os.getuid()
    if st.st_uid != uid:
        raise CacheError(f"theanine cache directory {root} is owned by {_user(st.st_uid)}, not "
                         f"by you ({_user(uid)}); theanine loads compiled code from it, so it "
                         f"only uses a directory you own. Fix: {fix}")
    if st.st_mode & 0o022:
        import shlex

        raise CacheError(f"theanine cache directory {root} is writable by other users (mode "
                         f"{st.st_mode & 0o777:o}); theanine loads compiled code from it. Fix: "
                         f"chmod go-w {shlex.quote(str(root))}, or {fix}")
    if not os.access(root, os.W_OK | os.X_OK):
        raise CacheError(f"theanine cache directory {root} is not writable (mode "
                         f"{st.st_mode & 0o777:o}); {fix}")


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name!r} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def cache_root() -> Path:
    """Where `get_cache` keeps the cache: $THEANINE_CACHE_DIR if set, else the cache_dir flag."""
    from theanine.config import config

    raw = os.environ.get("THEANINE_CACHE_DIR") or config.cache_dir
    return Path(os.path.abspath(os.path.expanduser(raw)))


_caches: dict[Path, ArtifactCache] = {}


def get_cache() -> ArtifactCache:
    """The process-wide cache at `cache_root()`, created (mode 0700) and checked on first use;
    CacheError when another user owns it or it is not writable."""
    root = cache_root()
    cache = _caches.get(root)
    if cache is None:
        cache = ArtifactCache(root)
        cache.prepare()
        _caches[root] = cache
    return cache
