"""The `theanine` command (plugins, demo, --version), the README/CI set-up commands and a smoke
run of the benchmark harness."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import theanine
from theanine import cli, demo
from theanine.plugins import PluginRegistry, use_registry

REPO = Path(__file__).resolve().parents[1]


def _plugins_json(capsys: pytest.CaptureFixture[str]) -> dict:
    assert cli.main(["plugins", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _by_name(entries: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in entries}


def _check_python_backend_is_builtin(report: dict) -> None:
    backends = _by_name(report["backends"])
    assert backends["python"] == {"name": "python", "plugin": "theanine.link.python",
                                  "source": "builtin", "available": True, "reason": None,
                                  "device": None}
    plugin = _by_name(report["plugins"])["theanine.link.python"]
    assert plugin["source"] == "builtin"
    assert plugin["distribution"] == "theanine"
    assert plugin["version"] == metadata.version("theanine")
    assert "theanine_register_backends" in plugin["hooks"]


# theanine plugins ---------------------------------------------------------------------------
def test_plugins_json_lists_the_builtin_python_backend(capsys):
    _check_python_backend_is_builtin(_plugins_json(capsys))


def test_plugins_table_lists_the_builtin_python_backend(capsys):
    assert cli.main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {tuple(line.split()[:2]): line.split() for line in lines if line.startswith("  ")}
    assert rows[("theanine.link.python", "builtin")][2:5] == [
        "theanine", metadata.version("theanine"), "theanine_register_backends"]
    assert rows[("python", "theanine.link.python")][2:] == ["yes"]


def test_python_dash_m_theanine_is_the_command():
    proc = subprocess.run([sys.executable, "-m", "theanine", "plugins", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    _check_python_backend_is_builtin(json.loads(proc.stdout))


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "theanine"
    if not script.exists():
        pytest.skip(f"no `theanine` console script next to {sys.executable} (core not installed "
                    "with pip in this environment)")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"theanine {metadata.version('theanine')}"


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"theanine {metadata.version('theanine')}"


def test_missing_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


class _FakeBackend:
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()
    priority = -1

    def __init__(self, name: str, availability: tuple[bool, str] | Exception):
        self.name = name
        self._availability = availability

    def is_available(self) -> tuple[bool, str]:
        if isinstance(self._availability, Exception):
            raise self._availability
        return self._availability

    def link(self, fgraph):
        raise AssertionError("the listing must not link anything")


class _FakeDevicePlugin:
    @theanine.hookimpl
    def theanine_register_backends(self, register):
        register(_FakeBackend("fake-ready", (True, "")))
        register(_FakeBackend("fake-missing", (False, "no fake device attached")))
        register(_FakeBackend("fake-broken", RuntimeError("probe crashed")))


def test_in_process_plugin_and_its_backends_are_listed(capsys):
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(_FakeDevicePlugin(), name="fake-device-plugin")
        report = _plugins_json(capsys)
        assert cli.main(["plugins"]) == 0
        table = capsys.readouterr().out

    plugin = _by_name(report["plugins"])["fake-device-plugin"]
    assert plugin == {"name": "fake-device-plugin", "source": "in-process", "distribution": None,
                      "version": None, "hooks": ["theanine_register_backends"]}
    backends = _by_name(report["backends"])
    assert backends["fake-ready"]["available"] is True
    assert backends["fake-missing"] == {
        "name": "fake-missing", "plugin": "fake-device-plugin", "source": "in-process",
        "available": False, "reason": "no fake device attached", "device": None}
    assert backends["fake-broken"]["available"] is False
    assert backends["fake-broken"]["reason"] == "is_available() raised RuntimeError: probe crashed"
    _check_python_backend_is_builtin(report)

    lines = {line.split()[0]: line for line in table.splitlines() if line.startswith("  ")}
    assert lines["fake-missing"].split(None, 2)[1:] == ["fake-device-plugin",
                                                        "no: no fake device attached"]
    assert lines["fake-ready"].split()[1:] == ["fake-device-plugin", "yes"]
    assert lines["fake-device-plugin"].split()[1:] == ["in-process", "-", "-",
                                                       "theanine_register_backends"]


def test_the_global_registry_is_untouched_by_in_process_registration(capsys):
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(_FakeDevicePlugin(), name="fake-device-plugin")
    report = _plugins_json(capsys)
    assert "fake-device-plugin" not in _by_name(report["plugins"])
    assert "fake-missing" not in _by_name(report["backends"])


# theanine demo ------------------------------------------------------------------------------
#: With the tutorial's w ~ N(0, 1) the training passes 95% accuracy after about 250 steps.
STEPS = 300


def _numpy_training(steps: int) -> tuple[np.ndarray, float, float]:
    """The tutorial's gradient descent written by hand: (w, b, training accuracy)."""
    x, y, w = demo.make_dataset(seed=0)
    b = 0.0
    for _ in range(steps):
        p_1 = 1 / (1 + np.exp(-(x @ w) - b))
        dz = (p_1 - y) / len(y)
        w = w - demo.LEARNING_RATE * (x.T @ dz + 2 * demo.L2 * w)
        b = b - demo.LEARNING_RATE * dz.sum()
    accuracy = float(np.mean((1 / (1 + np.exp(-(x @ w) - b)) > 0.5) == y))
    return w, b, accuracy


def test_demo_trains_like_the_numpy_reference(backend_name):
    result = demo.run(backend=backend_name, steps=STEPS)
    w, b, accuracy = _numpy_training(STEPS)
    assert result.backend == backend_name
    np.testing.assert_allclose(result.w, w, rtol=1e-9, atol=1e-12)
    assert result.b == pytest.approx(b, rel=1e-9, abs=1e-12)
    assert result.accuracy == accuracy
    assert result.accuracy > 0.95
    assert result.compile_seconds > 0 and result.steps_per_second > 0


def test_demo_command_prints_the_four_facts(capsys, backend_name):
    assert cli.main(["demo", "--backend", backend_name, "--steps", str(STEPS)]) == 0
    out = capsys.readouterr().out
    facts = dict(line.split(":", 1) for line in out.strip().splitlines())
    assert facts["backend"].strip() == backend_name
    assert re.fullmatch(r"\s*\d+\.\d ms", facts["compile time"])
    assert re.fullmatch(rf"\s*[\d,]+ steps/s \({STEPS} steps\)", facts["training speed"])
    accuracy = re.fullmatch(r"\s*(\d+\.\d)%", facts["training accuracy"])
    assert accuracy is not None
    assert float(accuracy.group(1)) == pytest.approx(100 * _numpy_training(STEPS)[2], abs=0.05)


def test_demo_names_an_unknown_backend(capsys):
    assert cli.main(["demo", "--backend", "no-such-backend", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "no-such-backend" in err and "python" in err


def test_demo_rejects_a_non_positive_step_count(capsys):
    assert cli.main(["demo", "--steps", "0"]) == 2
    assert "--steps must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="steps must be a positive number"):
        demo.run(steps=-3)


# README, CI and benchmarks ------------------------------------------------------------------
def test_ci_runs_the_readme_set_up_commands():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    setup, tests = blocks[0].strip(), blocks[1].strip()
    assert "\n" not in setup and "\n" not in tests
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    commands = ci_lines[ci_lines.index('cd "$(dirname "${BASH_SOURCE[0]}")/.."') + 1:]
    assert commands == [*setup.split(" && "), tests]


def test_benchmark_harness_runs_and_checks_results(backend_name):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "call_overhead",
         "--only", "logistic_step", "--engines", "numpy,theanine", "--repeat", "1",
         "--min-time", "0.001", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["results"]
    timed = {(r["workload"], r["case"], r["engine"]) for r in rows if r["seconds"]}
    engine = f"theanine[{backend_name}]"
    for case in ("0-d arrays", "python floats"):
        assert {("call_overhead", case, "numpy"), ("call_overhead", case, engine)} <= timed
    assert {("logistic_step", "train step", "numpy"),
            ("logistic_step", "train step", engine)} <= timed
    assert not [r for r in rows if r["note"].startswith("WRONG RESULT")]
