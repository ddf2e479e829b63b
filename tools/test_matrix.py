"""Run the test suite once per backend this machine has (and once per plugin), with tox.

Which tox environments run is decided here, not guessed: a backend env runs when
`theanine plugins --json` (in the set-up venv) says its backend is available; an env that
cannot run is listed with the reason, so nothing is skipped silently.  Extra arguments go to
tox (e.g. `-- -x`).  Exit status: tox's.
"""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: tox env -> the backend it needs (envs not listed here need only the core)
BACKEND_ENVS = {"c": "c", "opencl": "opencl", "cuda": "cuda"}


def tox_envs() -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "tox.ini")
    listed = parser.get("tox", "env_list", fallback="")
    return [e.strip() for e in listed.replace("\n", ",").split(",") if e.strip()]


def available_backends() -> dict[str, str | None]:
    """backend name -> None when available, else the reason it is not."""
    theanine = Path(sys.executable).with_name("theanine")
    proc = subprocess.run([str(theanine), "plugins", "--json"], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"`theanine plugins --json` failed:\n{proc.stderr}")
    return {b["name"]: (None if b["available"] else b["reason"])
            for b in json.loads(proc.stdout)["backends"]}


def cuda_reason(backends: dict[str, str | None]) -> str | None:
    """Without a GPU the cuda env compiles, with nvcc, every kernel the opencl env built: it
    needs nvcc and that env."""
    if not shutil.which("nvcc"):
        return "nvcc is not on PATH"
    if backends.get("opencl", "not installed") is not None:
        return "its compile-only check compiles the kernels the opencl env builds, and opencl " \
               f"is not available ({backends.get('opencl', 'not installed')})"
    return None


def main(argv: list[str]) -> int:
    backends = available_backends()
    run, skipped = [], []
    for env in tox_envs():
        backend = BACKEND_ENVS.get(env)
        if backend == "cuda":
            reason = cuda_reason(backends)
        elif backend is not None:
            reason = backends.get(backend, f"the {backend} backend is not installed")
        else:
            reason = None
        (skipped.append(f"{env}: {reason}") if reason else run.append(env))
    for line in skipped:
        print(f"test_matrix: not running tox env {line}", flush=True)
    print(f"test_matrix: running tox envs {', '.join(run)}", flush=True)
    tox = Path(sys.executable).with_name("tox")
    return subprocess.run([str(tox), "-p", "auto", "-e", ",".join(run), *argv],
                          cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
