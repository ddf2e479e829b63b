"""Compiling on backend c from many processes into one empty artifact cache, and compilers
killed mid-build: every process gets correct results, every cache entry is complete (a fresh
process loads and runs it without compiling), and a killed build leaves nothing that blocks
or corrupts the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from c_checks import require_c

require_c()

WORKER = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    import theanine, theanine.tensor as T
    x, y = T.dmatrix("x"), T.drow("y")
    v = T.ivector("v")
    graphs = [([x, y], T.exp(x) * y - T.tanh(x)), ([x], T.sum(x, axis=1) * 3),
              ([x], T.dot(x, x.T) + 1), ([v], (v // 3) % 5 + T.max(v))]
    xv = np.linspace(-2, 2, 12).reshape(3, 4)
    yv = np.linspace(0, 1, 4).reshape(1, 4)
    vv = np.arange(-7, 9, dtype="int32")
    expected = [np.exp(xv) * yv - np.tanh(xv), xv.sum(axis=1) * 3, xv @ xv.T + 1,
                (vv // 3) % 5 + vv.max()]
    hows = []
    for (inputs, out), want in zip(graphs, expected):
        f = theanine.function(inputs, out, backend="c")
        args = [vv] if inputs[0] is v else [xv, yv][:len(inputs)]
        got = f(*args)
        assert np.allclose(got, want, rtol=1e-12), (out, got, want)
        hows += [n.how for n in f.maker.program.report.nodes]
    print(json.dumps(hows))
""")


def _env(cache: Path, **extra: str) -> dict:
    env = dict(os.environ, THEANINE_CACHE_DIR=str(cache), THEANINE_FLAGS="tiered=False")
    env.update(extra)
    return env


def _entries(cache: Path) -> list[Path]:
    return [p for p in cache.glob("??/*") if p.is_dir()]


def _run_worker(env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_eight_processes_fill_one_empty_cache(tmp_path):
    cache = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(cache))
             for _ in range(8)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "fallback" not in out, out
    entries = _entries(cache)
    assert entries, "nothing was cached"
    for entry in entries:
        files = {f.name for f in entry.iterdir()}
        assert "meta.json" in files, (entry, files)
    kernels = [e for e in entries if any(f.suffix == ".so" for f in e.iterdir())]
    assert len(kernels) >= 4
    leftovers = list((cache / "tmp").iterdir()) if (cache / "tmp").exists() else []
    assert leftovers == [], leftovers
    # a fresh process finds every kernel: same results, nothing compiled, nothing added
    stamps = {f: (f.stat().st_ino, f.stat().st_mtime_ns) for e in kernels for f in e.iterdir()}
    fresh = _run_worker(_env(cache))
    assert fresh.returncode == 0, fresh.stderr
    assert "fallback" not in fresh.stdout
    assert sorted(_entries(cache)) == sorted(entries)
    assert {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in stamps} == stamps


def _slow_compiler(tmp_path: Path) -> Path:
    """A CC that, with SLOW_CC set, writes its pid into the file $SLOW_CC and turns into a
    minute-long sleep on the first kernel it is asked to build (to be killed there); it
    runs gcc otherwise (the toolchain probe is never delayed)."""
    gcc = subprocess.run(["sh", "-c", "command -v gcc || command -v cc"], capture_output=True,
                         text=True).stdout.strip()
    if not gcc:
        pytest.skip("no gcc/cc to wrap")
    script = tmp_path / "slowcc"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        case "$*" in
          *th_*.c*) if [ -n "$SLOW_CC" ] && [ ! -s "$SLOW_CC" ]; then
                      echo $$ >> "$SLOW_CC"; exec sleep 60; fi ;;
        esac
        exec {gcc} "$@"
        """))
    script.chmod(0o755)
    return script


def _wait_for(path: Path, timeout: float = 120) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.05)
    raise AssertionError(f"the slow compiler never started ({path})")


@pytest.mark.parametrize("victim", ["python process", "compiler"])
def test_a_build_killed_midway_does_not_block_or_corrupt_the_next(tmp_path, victim):
    cache = tmp_path / "cache"
    cc = _slow_compiler(tmp_path)
    marker = tmp_path / "compiling"
    env = _env(cache, CC=str(cc), SLOW_CC=str(marker))
    first = subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
    try:
        pids = _wait_for(marker)
        if victim == "compiler":
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            out, err = first.communicate(timeout=240)
            # the killed build is reported and its node falls back, with correct results
            assert first.returncode == 0, err
            assert "fallback" in out, out
        else:
            first.kill()
            first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
        try:
            os.killpg(first.pid, signal.SIGKILL)   # the orphaned sleeping compiler, if any
        except ProcessLookupError:
            pass
    start = time.monotonic()
    nxt = _run_worker(_env(cache, CC=str(cc)), timeout=120)
    assert nxt.returncode == 0, nxt.stderr
    assert "fallback" not in nxt.stdout, nxt.stdout
    assert time.monotonic() - start < 60, "the next compile waited for the dead build"
    for entry in _entries(cache):
        assert (entry / "meta.json").exists(), entry
    check = _run_worker(_env(cache, CC=str(cc)))
    assert check.returncode == 0 and "fallback" not in check.stdout
