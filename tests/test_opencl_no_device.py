"""Without an OpenCL device (the system ICDs hidden with OCL_ICD_VENDORS pointing at an empty
folder, and pyopencl's bundled PoCL given no device with POCL_DEVICES), `backend=opencl` fails
with one clear message, `auto` never picks OpenCL, and `theanine plugins` says why.  Each case
runs in a subprocess, since a process chooses its OpenCL device once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("theanine_opencl", reason="the OpenCL backend (theanine-opencl) is not "
                    "installed")

PROGRAM = r"""
import json
import theanine, theanine.tensor as T
x = T.dvector("x")
result = {}
try:
    theanine.function([x], x * 2, backend="opencl")
    result["opencl"] = "compiled"
except Exception as exc:
    result["opencl"] = f"{type(exc).__name__}: {exc}"
result["auto"] = theanine.function([x], x * 2, backend="auto").maker.backend.name
print(json.dumps(result))
"""


@pytest.fixture
def no_device_env(tmp_path):
    empty = tmp_path / "vendors"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "THEANINE_FLAGS"}
    env.update(OCL_ICD_VENDORS=str(empty), POCL_DEVICES="none",
               THEANINE_CACHE_DIR=str(tmp_path / "cache"))
    return env


def test_no_device_means_one_clear_error_and_auto_passes_over_it(no_device_env):
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                          env=no_device_env, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["opencl"].startswith("RuntimeError: backend 'opencl' is not available: no "
                                       "OpenCL device"), result
    assert "\n" not in result["opencl"]
    assert result["auto"] != "opencl"


def test_plugins_says_why_opencl_is_unavailable(no_device_env):
    done = subprocess.run([sys.executable, "-m", "theanine", "plugins", "--json"],
                          capture_output=True, text=True, env=no_device_env, timeout=300)
    assert done.returncode == 0, done.stderr
    listed = {b["name"]: b for b in json.loads(done.stdout)["backends"]}
    assert listed["opencl"]["available"] is False
    assert "no OpenCL device" in listed["opencl"]["reason"]


def test_plugins_names_the_device_in_use():
    from theanine.cli import plugin_report
    from theanine.link.backend import select_backend

    try:
        backend = select_backend("opencl")
    except RuntimeError as exc:
        pytest.skip(f"no OpenCL device here: {exc}")
    from theanine_opencl.runtime import runtime

    listed = {b["name"]: b for b in plugin_report()["backends"]}
    assert listed["opencl"]["device"] == backend.describe()
    assert listed["opencl"]["device"].startswith(runtime().device.name)
