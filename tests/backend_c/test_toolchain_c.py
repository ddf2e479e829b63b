"""Without a C compiler: `theanine plugins` says backend c is unavailable and why,
`backend=c` raises that reason, and `backend=auto` falls back to the Python backend.
Each scenario runs in a subprocess with a PATH holding no compiler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from c_checks import require_c

require_c()   # the plugin must be installed for "unavailable" to mean "no compiler"

PROGRAM = r"""
import json, warnings
import numpy as np
import theanine, theanine.tensor as T
x = T.dvector("x")
result = {}
try:
    theanine.function([x], x * 2, backend="c")
    result["c"] = "compiled"
except Exception as exc:
    result["c"] = f"{type(exc).__name__}: {exc}"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    f = theanine.function([x], x * 2, backend="auto")
result["auto"] = f.maker.backend.name
result["value"] = f(np.array([1.0, 2.5])).tolist()
result["warnings"] = [str(w.message) for w in caught]
print(json.dumps(result))
"""


def _bare_env(tmp_path: Path, cc: str | None) -> dict:
    """A PATH of one empty directory (python is run as sys.executable), no CC unless given,
    and a cache of its own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("cc", "gcc", "clang"):
        assert not (bin_dir / name).exists()
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "THEANINE_FLAGS")}
    env["PATH"] = str(bin_dir)
    env["THEANINE_CACHE_DIR"] = str(tmp_path / "cache")
    env["THEANINE_FLAGS"] = "tiered=False"
    if cc is not None:
        env["CC"] = cc
    return env


@pytest.mark.parametrize("cc", ["/nonexistent", None])
def test_without_a_compiler_c_is_unavailable_and_auto_falls_back(tmp_path, cc):
    env = _bare_env(tmp_path, cc)
    reason = "CC='/nonexistent' is not an executable" if cc else "no C compiler"
    for name in ("cc", "gcc", "clang"):
        assert shutil.which(name, path=env["PATH"]) is None
    plugins = subprocess.run([sys.executable, "-m", "theanine", "plugins", "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert plugins.returncode == 0, plugins.stderr
    listed = {b["name"]: b for b in json.loads(plugins.stdout)["backends"]}
    assert "c" in listed, listed
    text = json.dumps(listed["c"])
    assert reason in text, text
    table = subprocess.run([sys.executable, "-m", "theanine", "plugins"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert reason in table.stdout, table.stdout

    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert reason in result["c"] and "not available" in result["c"], result["c"]
    assert result["auto"] == "python"
    assert result["value"] == [2.0, 5.0]
    # the lead is adding one warning for this fallback: when present, it gives the reason
    for message in result["warnings"]:
        if "backend=auto" in message:
            assert reason in message, message
