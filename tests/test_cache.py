"""The compiled-artifact cache: keys, build/lookup/memo, failures, concurrent builds by 8
processes, a compiler killed mid-build, ownership checks, pruning, and `theanine cache`."""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import theanine
from theanine import cli
from theanine.cache import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_MAX_BYTES,
    ArtifactCache,
    CacheError,
    CompileError,
    artifact_key,
    get_cache,
    parse_size,
)
from theanine.config import config

CC = shutil.which("cc")


@pytest.fixture(autouse=True)
def _no_limits_from_the_environment(monkeypatch):
    for var in ("THEANINE_CACHE_MAX_BYTES", "THEANINE_CACHE_MAX_AGE_DAYS", "THEANINE_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)


def _writer(content: bytes, calls: list | None = None):
    def build(tmpdir: Path) -> None:
        if calls is not None:
            calls.append(tmpdir)
        (tmpdir / "artifact.bin").write_bytes(content)
    return build


def _disk_bytes(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files)


def _key(name: str) -> str:
    return artifact_key(test=name)


# keys ---------------------------------------------------------------------------------------
BASE_PARTS = {"source": "int f(void) { return 1; }", "backend": "c", "compiler": "gcc 13.2",
              "flags": b"-O2 -fPIC", "abi": "cp312-numpy2"}


def test_key_is_stable_across_processes_and_independent_of_argument_order():
    code = ("from theanine.cache import artifact_key; "
            f"print(artifact_key(**{BASE_PARTS!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    key = artifact_key(**BASE_PARTS)
    assert proc.stdout.strip() == key
    assert artifact_key(**dict(reversed(list(BASE_PARTS.items())))) == key
    assert len(key) == 64 and int(key, 16) >= 0


def test_key_differs_when_any_part_differs():
    base = artifact_key(**BASE_PARTS)
    variants = [artifact_key(**BASE_PARTS, extra="")]
    for name, value in BASE_PARTS.items():
        changed = value + (b" " if isinstance(value, bytes) else " ")
        variants.append(artifact_key(**{**BASE_PARTS, name: changed}))
        variants.append(artifact_key(**{n: v for n, v in BASE_PARTS.items() if n != name}))
    # str and bytes of the same text, and parts whose concatenation is the same
    variants += [artifact_key(**{**BASE_PARTS, "flags": "-O2 -fPIC"})]
    assert len({base, *variants}) == len(variants) + 1
    assert artifact_key(ab="c") != artifact_key(a="bc")
    assert artifact_key(a="1", b="2") != artifact_key(a="12", b="")


def test_key_includes_the_theanine_version(monkeypatch):
    before = artifact_key(**BASE_PARTS)
    monkeypatch.setattr(theanine, "__version__", theanine.__version__ + ".post1")
    assert artifact_key(**BASE_PARTS) != before


def test_key_rejects_parts_that_are_not_text_or_bytes():
    with pytest.raises(TypeError, match="part 'flags' must be str or bytes, got list"):
        artifact_key(source="x", flags=["-O2"])
    with pytest.raises(TypeError, match="at least one part"):
        artifact_key()


# build, lookup, memo --------------------------------------------------------------------------
def test_get_or_build_builds_once_and_lays_out_the_entry(tmp_path):
    cache = ArtifactCache(tmp_path / "c")
    key, calls = _key("a"), []
    assert cache.lookup(key) is None
    path = cache.get_or_build(key, _writer(b"payload", calls), label="my kernel")
    assert path == tmp_path / "c" / key[:2] / key
    assert (path / "artifact.bin").read_bytes() == b"payload"
    assert len(calls) == 1 and calls[0].parent == tmp_path / "c" / "tmp"  # inside the root
    meta = json.loads((path / "meta.json").read_text())
    assert meta["label"] == "my kernel" and meta["sizes"] == {"artifact.bin": 7}
    assert abs(meta["created"] - time.time()) < 60
    assert cache.get_or_build(key, _writer(b"other", calls)) == path
    assert ArtifactCache(tmp_path / "c").get_or_build(key, _writer(b"other", calls)) == path
    assert len(calls) == 1
    assert list((tmp_path / "c" / "tmp").iterdir()) == []


def test_a_key_seen_in_this_process_costs_no_disk_access(tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    key = _key("memo")
    path = cache.get_or_build(key, _writer(b"x"))

    def no_disk(*args, **kwargs):
        raise AssertionError(f"disk access or build {args}")

    with monkeypatch.context() as m:
        for name in ("stat", "lstat", "utime", "open", "scandir", "replace", "mkdir"):
            m.setattr(os, name, no_disk)
        assert cache.get_or_build(key, no_disk) == path and cache.lookup(key) == path


def test_lookup_in_a_new_process_is_one_syscall_and_marks_the_entry_used(tmp_path, monkeypatch):
    key = _key("used")
    path = ArtifactCache(tmp_path).get_or_build(key, _writer(b"x"))
    old = time.time() - 5 * 86400
    os.utime(path, (old, old))
    fresh = ArtifactCache(tmp_path)  # a new process has an empty memo
    calls = []
    with monkeypatch.context() as m:
        for name in ("stat", "lstat", "utime", "open", "scandir"):
            real = getattr(os, name)
            m.setattr(os, name, lambda *a, _real=real, _n=name, **k: (calls.append(_n),
                                                                       _real(*a, **k))[1])
        assert fresh.lookup(key) == path
    assert len(calls) == 1
    assert abs(path.stat().st_mtime - time.time()) < 60
    os.utime(path, (old, old))
    assert fresh.lookup(key) == path  # at most once per process: not touched again
    assert path.stat().st_mtime == old


def test_bad_arguments_are_named(tmp_path):
    cache = ArtifactCache(tmp_path)
    with pytest.raises(ValueError, match="cache key must be a lowercase hex string"):
        cache.get_or_build("../../etc", _writer(b""))
    with pytest.raises(TypeError, match="build must be a callable"):
        cache.get_or_build(_key("x"), "cc -o x.so x.c")
    with pytest.raises(TypeError, match=r"ArtifactCache\(root\): expected a directory path"):
        ArtifactCache(None)
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        cache.prune(max_bytes=-1)


# failures -------------------------------------------------------------------------------------
def test_compile_error_is_recorded_and_reraised_with_its_folder(tmp_path):
    cache = ArtifactCache(tmp_path)
    key = _key("broken")
    source, command = "int f( {", ["cc", "-shared", "-o", "m.so", "m.c"]
    stderr = "m.c:1:9: error: expected declaration\n1 error generated."

    def build(tmpdir):
        (tmpdir / "m.c").write_text(source)
        raise CompileError("cc could not compile m.c", source=source, command=command,
                           stderr=stderr, returncode=1)

    with pytest.raises(CompileError) as info:
        cache.get_or_build(key, build)
    exc = info.value
    assert exc.failure_dir == tmp_path / "failures" / key
    assert (exc.source, exc.command, exc.stderr) == (source, command, stderr)
    assert (exc.failure_dir / "source.txt").read_text() == source
    assert (exc.failure_dir / "stderr.txt").read_text() == stderr
    assert (exc.failure_dir / "command.txt").read_text() == "cc -shared -o m.so m.c\n"
    assert json.loads((exc.failure_dir / "failure.json").read_text())["command"] == command
    text = str(exc)
    assert "cc could not compile m.c" in text and "exit status 1" in text
    assert "expected declaration" in text and str(exc.failure_dir) in text
    assert cache.lookup(key) is None and list((tmp_path / "tmp").iterdir()) == []
    assert cache.info()["n_failures"] == 1
    # the lock was released: the next build of the key proceeds
    assert (cache.get_or_build(key, _writer(b"fixed")) / "artifact.bin").read_bytes() == b"fixed"
    assert not exc.failure_dir.exists() and cache.info()["n_failures"] == 0
    copy = pickle.loads(pickle.dumps(exc))  # crosses process pools intact
    assert (copy.command, copy.stderr, copy.failure_dir) == (command, stderr, exc.failure_dir)


def test_other_exceptions_leave_no_entry_failure_or_temp_dir(tmp_path):
    cache = ArtifactCache(tmp_path)
    key = _key("bug")

    def build(tmpdir):
        (tmpdir / "half.o").write_bytes(b"...")
        raise RuntimeError("a bug in the backend")

    with pytest.raises(RuntimeError, match="a bug in the backend"):
        cache.get_or_build(key, build)
    assert cache.lookup(key) is None
    assert list((tmp_path / "tmp").iterdir()) == [] and not (tmp_path / "failures").exists()


# 8 processes, one empty cache -------------------------------------------------------------------
WORKER = r"""
import hashlib, json, os, subprocess, sys, time
from pathlib import Path
from theanine.cache import ArtifactCache

root, ready, go, log_dir, keys, cc, offset = sys.argv[1:8]
keys = json.loads(keys)
cache = ArtifactCache(root)
Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.002)

def build_for(key, kind):
    def build(tmp):
        Path(log_dir, f"{key}.{os.getpid()}").touch()
        time.sleep(0.05)
        if kind == "cc":
            src = tmp / "mod.c"
            src.write_text(f"long value(void) {{ return {int(key[:12], 16)}L; }}\n")
            subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp / "mod.so"), str(src)],
                           check=True)
        else:
            (tmp / "artifact.bin").write_bytes(hashlib.sha256(key.encode()).digest() * 64)
    return build

out = {}
for i in range(len(keys)):
    key, kind = keys[(i + int(offset)) % len(keys)]
    out[key] = str(cache.get_or_build(key, build_for(key, kind), label=kind))
print(json.dumps(out))
"""


def test_eight_processes_build_each_key_once_into_an_empty_cache(tmp_path):
    root, logs, sync = tmp_path / "cache", tmp_path / "builds", tmp_path / "sync"
    for folder in (logs, sync):
        folder.mkdir()
    keys = [[_key(f"parallel-{i}"), "data"] for i in range(5)]
    if CC:
        keys[2][1] = "cc"
    procs = [subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root), str(sync / f"ready{n}"), str(sync / "go"),
         str(logs), json.dumps(keys), CC or "", str(n)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(8)]
    deadline = time.monotonic() + 60
    while len(list(sync.glob("ready*"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    (sync / "go").touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert all(r == results[0] for r in results)
    for key, kind in keys:
        assert len(list(logs.glob(f"{key}.*"))) == 1  # built exactly once
        path = Path(results[0][key])
        assert path == root / key[:2] / key
        if kind == "cc":
            lib = ctypes.CDLL(str(path / "mod.so"))
            lib.value.restype = ctypes.c_long
            assert lib.value() == int(key[:12], 16)
        else:
            expected = hashlib.sha256(key.encode()).digest() * 64
            assert (path / "artifact.bin").read_bytes() == expected
        meta = json.loads((path / "meta.json").read_text())
        assert meta["sizes"] == {f: (path / f).stat().st_size for f in meta["sizes"]}
    assert list((root / "tmp").iterdir()) == []
    assert sorted(e.key for e in ArtifactCache(root).entries()) == sorted(k for k, _ in keys)
    if not CC:
        pytest.skip("no `cc` on PATH: the data builds ran, the C compile part was skipped")


def test_threads_of_one_process_build_a_key_once(tmp_path):
    cache, key, calls, paths = ArtifactCache(tmp_path), _key("threads"), [], []
    gate = threading.Barrier(6)

    def slow_build(tmpdir):
        calls.append(tmpdir)
        time.sleep(0.05)
        (tmpdir / "artifact.bin").write_bytes(b"once")

    def worker():
        gate.wait(10)
        paths.append(cache.get_or_build(key, slow_build))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(calls) == 1 and len(paths) == 6 and len(set(paths)) == 1
    assert (paths[0] / "artifact.bin").read_bytes() == b"once"


# a compiler killed mid-build --------------------------------------------------------------------
KILLED = r"""
import os, sys, time
from pathlib import Path
from theanine.cache import ArtifactCache

root, key, marker = sys.argv[1:4]

def build(tmp):
    (tmp / "partial.o").write_bytes(b"half an object file")
    Path(marker + ".part").write_text(str(tmp))
    os.replace(marker + ".part", marker)  # the test never reads it half written
    time.sleep(120)

ArtifactCache(root).get_or_build(key, build)
"""


def test_a_build_killed_mid_way_blocks_nobody_and_its_temp_dir_is_collected(tmp_path):
    root, marker, key = tmp_path / "cache", tmp_path / "started", _key("killed")
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(root), key, str(marker)],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "timeout"
        killed_tmp = Path(marker.read_text())
        with open(root / "locks" / f"{key}.lock") as lock:  # the killed build held the lock
            with pytest.raises(BlockingIOError):
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    cache = ArtifactCache(root)
    assert cache.lookup(key) is None and killed_tmp.is_dir()
    start = time.monotonic()
    path = cache.get_or_build(key, _writer(b"complete"))
    assert time.monotonic() - start < 5  # the kernel released the dead holder's lock
    assert sorted(p.name for p in path.iterdir()) == ["artifact.bin", "meta.json"]
    assert (path / "artifact.bin").read_bytes() == b"complete"
    assert [e.path for e in cache.entries()] == [path]
    assert killed_tmp.is_dir()
    assert cache.prune() == 0
    assert not killed_tmp.exists() and list((root / "tmp").iterdir()) == []
    assert (path / "artifact.bin").read_bytes() == b"complete"


def test_prune_and_clear_leave_a_build_in_progress_alone(tmp_path):
    cache = ArtifactCache(tmp_path)
    key, started, release, result = _key("slow"), threading.Event(), threading.Event(), []

    def build(tmpdir):
        (tmpdir / "artifact.bin").write_bytes(b"slow")
        result.append(tmpdir)
        started.set()
        assert release.wait(30)

    worker = threading.Thread(target=lambda: result.append(cache.get_or_build(key, build)))
    worker.start()
    try:
        assert started.wait(30)
        assert cache.prune(max_bytes=0, max_age_days=0) == 0 and cache.clear() == 0
        assert result[0].is_dir() and (tmp_path / "locks" / f"{key}.lock").exists()
    finally:
        release.set()
        worker.join(30)
    assert (result[1] / "artifact.bin").read_bytes() == b"slow"


def test_prune_keeps_a_held_lock_file_and_removes_free_ones(tmp_path):
    cache = ArtifactCache(tmp_path)
    held, free = _key("held"), _key("free")
    cache.prepare()
    fd = cache._lock(held, blocking=False)
    os.close(cache._lock(free, blocking=False))
    try:
        cache.prune()
        assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == [f"{held}.lock"]
    finally:
        os.close(fd)


def test_a_lock_file_unlinked_between_open_and_flock_is_opened_again(tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    cache.prepare()
    key = _key("race")
    lock_path = tmp_path / "locks" / f"{key}.lock"
    real_flock, raced = fcntl.flock, []

    def flock_after_a_prune(fd, operation):
        if not raced:  # a concurrent prune unlinks the file we just opened
            raced.append(os.fstat(fd).st_ino)
            os.unlink(lock_path)
        return real_flock(fd, operation)

    with monkeypatch.context() as m:
        m.setattr(fcntl, "flock", flock_after_a_prune)
        fd = cache._lock(key, blocking=True)
    try:
        assert raced and os.fstat(fd).st_ino == lock_path.stat().st_ino
        assert cache._lock(key, blocking=False) is None  # one lock for both holders
    finally:
        os.close(fd)


# the root: ownership, mode, get_cache ------------------------------------------------------------
def test_get_cache_creates_the_root_with_mode_0700(tmp_path, monkeypatch):
    root = tmp_path / "deep" / "theanine"
    monkeypatch.setenv("THEANINE_CACHE_DIR", str(root))
    cache = get_cache()
    assert cache.root == root and get_cache() is cache
    assert root.stat().st_mode & 0o777 == 0o700


def test_get_cache_follows_the_flag_and_the_environment_overrides_it(tmp_path, monkeypatch):
    with config.change_flags(cache_dir=str(tmp_path / "from_flag")):
        assert get_cache().root == tmp_path / "from_flag"
        monkeypatch.setenv("THEANINE_CACHE_DIR", str(tmp_path / "from_env"))
        assert get_cache().root == tmp_path / "from_env"


def test_a_root_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("THEANINE_CACHE_DIR", str(root))
    monkeypatch.setattr(os, "getuid", lambda: root.stat().st_uid + 4242)
    with pytest.raises(CacheError) as info:
        get_cache()
    text = str(info.value)
    assert str(root) in text and f"uid {root.stat().st_uid}" in text
    assert "THEANINE_CACHE_DIR" in text
    with pytest.raises(CacheError, match="owned by"):
        ArtifactCache(root).get_or_build(_key("x"), _writer(b""))


def test_unusable_roots_are_refused_with_the_reason(tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(CacheError, match=f"{a_file} exists and is not a directory"):
        ArtifactCache(a_file).prepare()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(CacheError, match="writable by other users .*chmod go-w"):
        ArtifactCache(shared).prepare()
    mine = tmp_path / "mine"
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(CacheError, match=f"{mine} is not writable.*THEANINE_CACHE_DIR"):
        ArtifactCache(mine).prepare()


# pruning, clear, info ----------------------------------------------------------------------------
def _fill(cache: ArtifactCache, n: int) -> list[str]:
    """n entries of growing sizes, last used one hour apart (the first the oldest)."""
    keys, now = [], time.time()
    for i in range(n):
        key = _key(f"lru-{i}")
        path = cache.get_or_build(key, _writer(bytes(1000 * (i + 1))), label=f"e{i}")
        stamp = now - (n - i) * 3600
        os.utime(path, (stamp, stamp))
        keys.append(key)
    return keys


def test_entries_and_info_match_the_disk(tmp_path):
    cache = ArtifactCache(tmp_path)
    keys = _fill(cache, 4)
    entries = cache.entries()
    assert [e.key for e in entries] == keys  # least recently used first
    for entry in entries:
        assert entry.size_bytes == _disk_bytes(entry.path)
        assert entry.last_used == entry.path.stat().st_mtime and entry.created > 0
    info = cache.info()
    assert info["n_entries"] == 4 and info["root"] == str(tmp_path)
    assert info["total_bytes"] == sum(_disk_bytes(tmp_path / k[:2] / k) for k in keys)


def test_prune_by_size_removes_least_recently_used_first(tmp_path):
    cache = ArtifactCache(tmp_path)
    keys = _fill(cache, 6)
    os.utime(tmp_path / keys[0][:2] / keys[0])  # the oldest is used again: now the newest
    order = keys[1:] + keys[:1]
    sizes = {k: _disk_bytes(tmp_path / k[:2] / k) for k in keys}
    limit = sum(sizes.values()) // 2
    expected, total = list(order), sum(sizes.values())
    while total > limit:
        total -= sizes[expected.pop(0)]
    assert cache.prune(max_bytes=limit) == len(keys) - len(expected)
    assert [e.key for e in cache.entries()] == expected
    assert all(cache.lookup(k) is None for k in keys if k not in expected)


def test_prune_by_age(tmp_path):
    cache = ArtifactCache(tmp_path)
    keys = _fill(cache, 4)
    old = time.time() - 10 * 86400
    for key in keys[:2]:
        os.utime(tmp_path / key[:2] / key, (old, old))
    assert cache.prune(max_age_days=5) == 2
    assert [e.key for e in cache.entries()] == keys[2:]
    assert cache.prune(max_age_days=5) == 0


def test_automatic_pruning_keeps_the_cache_under_its_limit(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.max_bytes, cache.max_age_days = 5000, None
    added = []
    for i in range(8):
        added.append(cache.get_or_build(_key(f"auto-{i}"), _writer(bytes(1200))).name)
        total = sum(e.size_bytes for e in cache.entries())
        assert total <= 5000 and total == _disk_bytes(tmp_path) - _disk_bytes(tmp_path / "locks")
        kept = [e.key for e in cache.entries()]
        assert kept == added[-len(kept):]  # the newest survive, in order of use


def test_limits_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("THEANINE_CACHE_MAX_BYTES", "2K")
    monkeypatch.setenv("THEANINE_CACHE_MAX_AGE_DAYS", "0.5")
    cache = ArtifactCache(tmp_path)
    assert (cache.max_bytes, cache.max_age_days) == (2048, 0.5)
    monkeypatch.setenv("THEANINE_CACHE_MAX_BYTES", "none")
    assert ArtifactCache(tmp_path).max_bytes is None
    monkeypatch.setenv("THEANINE_CACHE_MAX_BYTES", "lots")
    with pytest.raises(CacheError, match="THEANINE_CACHE_MAX_BYTES='lots'"):
        ArtifactCache(tmp_path)
    monkeypatch.setenv("THEANINE_CACHE_MAX_BYTES", "")
    monkeypatch.delenv("THEANINE_CACHE_MAX_AGE_DAYS")
    cache = ArtifactCache(tmp_path)
    assert (cache.max_bytes, cache.max_age_days) == (DEFAULT_MAX_BYTES, DEFAULT_MAX_AGE_DAYS)


@pytest.mark.parametrize("text, expected", [("123", 123), ("2k", 2 * 1024), ("500M", 500 << 20),
                                            ("1.5GiB", 3 << 29), ("3 GB", 3 << 30)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_clear_removes_entries_failures_and_locks(tmp_path):
    cache = ArtifactCache(tmp_path)
    keys = _fill(cache, 3)
    cache.record_failure(_key("f"), "src", ["cc", "x.c"], "error")
    assert cache.info()["n_failures"] == 1
    assert cache.clear() == 3
    info = cache.info()
    assert (info["n_entries"], info["n_failures"], info["n_locks"], info["n_temp"]) == (0, 0, 0, 0)
    assert all(cache.lookup(k) is None for k in keys)


# theanine cache ... ----------------------------------------------------------------------------
def test_cli_info_list_prune_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THEANINE_CACHE_DIR", str(tmp_path))
    keys = _fill(get_cache(), 3)
    assert cli.main(["cache", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["root"], info["n_entries"]) == (str(tmp_path), 3)
    assert info["total_bytes"] == sum(_disk_bytes(tmp_path / k[:2] / k) for k in keys)
    assert cli.main(["cache", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["key"] for e in listed] == keys[::-1]  # most recently used first
    assert cli.main(["cache", "list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [row[:2] for row in rows] == [[k[:16], f"e{i}"] for i, k in reversed(
        list(enumerate(keys)))]
    assert cli.main(["cache", "info"]) == 0
    assert f"entries:         3 ({info['total_bytes'] / 1024:.1f} KiB)" in capsys.readouterr().out
    newest = _disk_bytes(tmp_path / keys[2][:2] / keys[2])
    assert cli.main(["cache", "prune", "--max-bytes", str(newest)]) == 0
    assert capsys.readouterr().out.startswith("removed 2 entries")
    assert [e.key for e in get_cache().entries()] == keys[2:]
    assert cli.main(["cache", "clear"]) == 0
    assert capsys.readouterr().out.startswith("removed 1 entry")
    with pytest.raises(SystemExit):
        cli.main(["cache", "prune", "--max-bytes", "5X"])
    assert "expected a number of bytes" in capsys.readouterr().err


def test_cli_reports_an_unusable_cache_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THEANINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(os, "getuid", lambda: tmp_path.stat().st_uid + 1)
    assert cli.main(["cache", "info"]) == 1
    assert "theanine cache: theanine cache directory" in capsys.readouterr().err


def test_the_installed_command_reads_the_cache_dir_from_the_environment(tmp_path):
    ArtifactCache(tmp_path).get_or_build(_key("cmd"), _writer(b"x"))
    env = {**os.environ, "THEANINE_CACHE_DIR": str(tmp_path)}
    script = Path(sys.executable).with_name("theanine")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "theanine"]
    proc = subprocess.run([*command, "cache", "info", "--json"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_entries"] == 1


def test_clear_empties_the_driver_caches_kept_inside(tmp_path):
    """A driver's own cache (PoCL's kernels) lives under drivers/ and goes with `clear`."""
    from theanine.cache import ArtifactCache

    cache = ArtifactCache(tmp_path / "root")
    pocl = cache.driver_dir("pocl")
    (pocl / "kcache" / "ab").mkdir(parents=True)
    (pocl / "kcache" / "ab" / "kernel.so").write_bytes(b"x")
    (pocl / "stray.txt").write_text("y")
    cache.clear()
    assert pocl.is_dir() and list(pocl.iterdir()) == []
