"""Theano 1.0's config flags (issue 11): the flags ported code reads and sets, dotted sections
(`config.warn.round = False`), THEANO_FLAGS, and the one-time note for flags with no effect."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.config import Config, ConfigError, config

config_module = sys.modules["theanine.config"]

# Theano 1.0's defaults for the flags the brief names
THEANO_DEFAULTS = {
    "device": "cpu", "mode": "Mode", "profile": False, "exception_verbosity": "low",
    "compute_test_value": "off", "cast_policy": "custom", "openmp": False, "allow_gc": True,
    "optimizer_including": (), "optimizer_excluding": (), "on_unused_input": "raise",
    "warn_float64": "ignore", "gcc.cxxflags": "", "blas.ldflags": "", "dnn.enabled": "auto",
    "dnn.conv.algo_fwd": "small", "lib.cnmem": 0.0, "gpuarray.preallocate": 0.0,
    "nvcc.fastmath": False, "traceback.limit": 8, "print_active_device": True,
    "unittests.rseed": "666", "deterministic": "default", "warn.sum_div_dimshuffle_bug": True,
    "warn.round": True, "linker": "cvm",
}


@pytest.fixture
def fresh_notes(monkeypatch):
    """Forget which no-effect flags were already noted in this process."""
    monkeypatch.setattr(config_module, "_NOTED", set())


def full_config(environ: dict[str, str]) -> Config:
    """A Config declaring every flag the global one has, loaded from `environ` only."""
    cfg = Config()
    for f in config.flags().values():
        cfg.add(f.name, f.doc, f.default, f.convert, f.choices, f.noop, f.noop_if)
    cfg.load_environment({"THEANINERC": os.devnull, **environ})
    return cfg


def test_flags_exist_with_theano_defaults():
    flags = config.flags()
    for name, default in THEANO_DEFAULTS.items():
        assert flags[name].default == default, name
        assert flags[name].doc
    assert config.warn.sum_div_dimshuffle_bug is True
    assert config.dnn.conv.algo_fwd == "small"
    assert config.gcc.cxxflags == "" and config.lib.cnmem == 0.0


def test_sections_read_and_write_dotted_flags(fresh_notes):
    with pytest.warns(UserWarning, match=r"'warn.sum_div_dimshuffle_bug' \(set to False\) is "
                                         "accepted for Theano compatibility but has no effect"):
        with config.change_flags({"warn.sum_div_dimshuffle_bug": True}):
            config.warn.sum_div_dimshuffle_bug = False
            assert config.warn.sum_div_dimshuffle_bug is False
            assert config.flags()["warn.sum_div_dimshuffle_bug"].default is True
    assert config.warn.sum_div_dimshuffle_bug is True  # change_flags restored it
    assert "conv" in dir(config.dnn) and "algo_fwd" in dir(config.dnn.conv)
    with pytest.raises(AttributeError, match="unknown config flag 'warn.no_such_bug'"):
        config.warn.no_such_bug  # noqa: B018
    with pytest.raises(ConfigError, match="unknown config flag 'warn.no_such_bug'"):
        config.warn.no_such_bug = True


def test_setting_a_default_value_is_silent(fresh_notes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with config.change_flags({"warn.round": True, "allow_gc": True}):
            pass


def test_no_effect_note_names_the_flag_once(fresh_notes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with config.change_flags(allow_gc=False):
            pass
        with config.change_flags(allow_gc=False):
            pass
        with config.change_flags({"gpuarray.preallocate": 0.5,
                                  "traceback.compile_limit": 20}):
            assert config.gpuarray.preallocate == 0.5
            assert config.traceback.compile_limit == 20
    messages = [str(w.message) for w in caught]
    assert sum("'allow_gc'" in m for m in messages) == 1
    assert any("'gpuarray.preallocate' (set to 0.5)" in m and "no GPU backend" in m
               for m in messages)
    assert any("'traceback.compile_limit'" in m for m in messages)


def test_device_cpu_is_silent_and_other_devices_noted(fresh_notes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with config.change_flags(device="cpu"):
            pass
    with pytest.warns(UserWarning, match="'device' \\(set to 'cuda0'\\).*no GPU backend"):
        with config.change_flags(device="cuda0"):
            x = T.dvector("x")
            assert theano.function([x], x * 2)(np.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(ConfigError, match="invalid value 'tpu' for flag 'device'"):
        config.device = "tpu"


def test_choices_are_checked():
    with pytest.raises(ConfigError, match="invalid value 'medium' for flag "
                                          "'exception_verbosity'; expected one of 'low', "
                                          "'high'"):
        config.exception_verbosity = "medium"
    with pytest.raises(ConfigError, match="flag 'compute_test_value'"):
        config.compute_test_value = "sometimes"
    with pytest.raises(ConfigError, match="flag 'mode'"):
        config.mode = "FAST"
    assert config.exception_verbosity == "low"


def test_theano_flags_and_theanine_flags(fresh_notes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = full_config({"THEANO_FLAGS": "floatX=float64,warn.round=False,mode=FAST_COMPILE,"
                                           "dnn.conv.algo_fwd=time_once",
                           "THEANINE_FLAGS": "floatX=float16"})
    noted = sorted(str(w.message).split("'")[1] for w in caught)
    assert noted == ["dnn.conv.algo_fwd", "warn.round"]  # the flags with no effect, once each
    assert cfg.floatX == "float16"  # THEANINE_FLAGS wins
    assert cfg.mode == "FAST_COMPILE" and cfg.warn.round is False
    assert cfg.dnn.conv.algo_fwd == "time_once"


def test_unknown_theano_flag_warns_but_unknown_theanine_flag_fails():
    cfg = full_config({"THEANO_FLAGS": "cuda.enabled_fancy=True"})
    with pytest.warns(UserWarning, match="does not know the flag 'cuda.enabled_fancy' "
                                         r"\(from THEANO_FLAGS\).*; it is ignored"):
        cfg.check_pending()
    cfg = full_config({"THEANINE_FLAGS": "cuda.enabled_fancy=True"})
    with pytest.raises(ConfigError, match="unknown config flag\\(s\\) 'cuda.enabled_fancy'"):
        cfg.check_pending()


def test_mode_flag_drives_the_default_mode():
    x = T.dvector("x")
    expr = T.exp(x) * 2 + 1
    with config.change_flags(mode="FAST_COMPILE"):
        fc = theano.function([x], expr)
    fr = theano.function([x], expr)
    assert fc.maker.mode.optimizer == "fast_compile" and fr.maker.mode.optimizer == "fast_run"
    assert len(fc.maker.fgraph.apply_nodes) > len(fr.maker.fgraph.apply_nodes)  # no fusion
    xv = np.array([0.0, 1.0])
    np.testing.assert_allclose(fc(xv), np.exp(xv) * 2 + 1)
    np.testing.assert_allclose(fr(xv), np.exp(xv) * 2 + 1)


def test_change_flags_keeps_working_flags():
    with config.change_flags(floatX="float64", optimizer_including=("scan_pushout",)):
        assert T.scalar().dtype == "float64"
        assert "scan_pushout" in theano.compile.get_default_mode().include_tags


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("THEANINE_FLAGS", "THEANO_FLAGS", "THEANINERC")}
    environ.update(env, THEANINERC=os.devnull)
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=120)


def test_theano_flags_at_import():
    code = ("import theanine as theano, theanine.tensor as T\n"
            "c = theano.config\n"
            "print(c.floatX, c.mode, c.warn.round, c.device, T.matrix().dtype)\n"
            "c.warn.round = True\n")
    proc = _run(code, THEANO_FLAGS="floatX=float64,mode=FAST_COMPILE,warn.round=False,"
                                    "device=cpu,backend=python")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["float64", "FAST_COMPILE", "False", "cpu", "float64"]
    assert proc.stderr.count("'warn.round'") == 1  # noted once, not again on assignment
