"""Config flags: defaults, the rc file, THEANINE_FLAGS, change_flags and their errors.

Environment handling is tested on fresh `Config` objects (declared like the global one and fed
an explicit environment), plus a few subprocesses for what happens at `import theanine`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.config import Config, ConfigError, config
from theanine.plugins import PluginRegistry, use_registry

CORE_FLAGS = ("backend", "cache_dir", "floatX", "impl_fallback", "optimizer",
              "optimizer_excluding", "optimizer_including", "tiered")


def fresh_config(environ: dict[str, str] | None = None) -> Config:
    """A Config declaring the same flags as the global one, loaded from `environ` only."""
    cfg = Config()
    for flag in config.flags().values():
        if flag.name in CORE_FLAGS:
            cfg.add(flag.name, flag.doc, flag.default, flag.convert, flag.choices)
    cfg.load_environment({"THEANINERC": os.devnull, **(environ or {})})
    return cfg


@pytest.fixture
def rcfile(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "theaninerc"
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


# Defaults -----------------------------------------------------------------------------------
def test_core_flags_and_defaults():
    flags = config.flags()
    assert set(CORE_FLAGS) <= set(flags)
    defaults = {name: flags[name].default for name in CORE_FLAGS if name != "cache_dir"}
    assert defaults == {"backend": "auto", "floatX": "float32", "impl_fallback": "allow",
                        "optimizer": "fast_run", "optimizer_excluding": (),
                        "optimizer_including": (), "tiered": True}
    if "THEANINE_CACHE_DIR" in os.environ:
        assert flags["cache_dir"].default == os.environ["THEANINE_CACHE_DIR"]
    else:
        assert os.path.basename(flags["cache_dir"].default) == "theanine"
    assert all(flags[name].doc for name in CORE_FLAGS)


def test_empty_environment_gives_the_defaults():
    cfg = fresh_config()
    for name in CORE_FLAGS:
        assert getattr(cfg, name) == config.flags()[name].default


def test_str_lists_every_flag_with_its_doc():
    text = str(config)
    for name in CORE_FLAGS:
        assert f"{name} = {getattr(config, name)!r}  # {config.flags()[name].doc}" in text


# THEANINE_FLAGS -----------------------------------------------------------------------------
def test_theanine_flags_parsing():
    cfg = fresh_config({"THEANINE_FLAGS": " floatX = float64,optimizer=None,,"
                                          "optimizer_excluding=fusion:inplace, backend=python"})
    assert cfg.floatX == "float64"
    assert cfg.optimizer is None
    assert cfg.optimizer_excluding == ("fusion", "inplace")
    assert cfg.backend == "python"
    assert cfg.impl_fallback == "allow"


def test_theanine_flags_item_without_equals():
    with pytest.raises(ConfigError, match="THEANINE_FLAGS item 'floatX' is not of the form "
                                          "name=value"):
        fresh_config({"THEANINE_FLAGS": "floatX"})


def test_theanine_flags_invalid_choice_names_flag_source_and_choices():
    with pytest.raises(ConfigError, match=r"invalid value 'float8' for flag 'floatX' \(from "
                                          r"THEANINE_FLAGS\); expected one of 'float16', "
                                          r"'float32', 'float64'"):
        fresh_config({"THEANINE_FLAGS": "floatX=float8"})


def test_theanine_flags_unknown_name_is_rejected_once_plugins_had_their_chance():
    cfg = fresh_config({"THEANINE_FLAGS": "floatx=float64"})
    with pytest.raises(ConfigError) as info:
        cfg.check_pending()
    msg = str(info.value)
    assert "unknown config flag(s) 'floatx' (from THEANINE_FLAGS) (did you mean 'floatX'?)" in msg
    assert "valid flags: " + ", ".join(sorted(CORE_FLAGS)) in msg


def test_flag_declared_later_takes_its_environment_value():
    cfg = fresh_config({"THEANINE_FLAGS": "late_flag=12"})
    cfg.add("late_flag", "declared by a plugin", 3, int)
    assert cfg.late_flag == 12
    cfg.check_pending()  # nothing left over


def test_flag_declared_later_with_bad_environment_value():
    cfg = fresh_config({"THEANINE_FLAGS": "late_flag=twelve"})
    with pytest.raises(ConfigError, match=r"invalid value 'twelve' for flag 'late_flag' \(from "
                                          r"THEANINE_FLAGS\): invalid literal for int"):
        cfg.add("late_flag", "declared by a plugin", 3, int)
    assert "late_flag" not in cfg.flags()


@pytest.mark.parametrize(("raw", "expected"), [("False", False), ("0", False), ("off", False),
                                               ("True", True), ("yes", True), ("1", True)])
def test_bool_flag_parses_words(raw, expected):
    cfg = fresh_config({"THEANINE_FLAGS": f"debug_flag={raw}"})
    cfg.add("debug_flag", "a boolean flag", not expected, bool)
    assert cfg.debug_flag is expected


def test_bool_flag_rejects_other_words():
    cfg = Config()
    cfg.add("debug_flag", "a boolean flag", False, bool)
    with pytest.raises(ConfigError, match="invalid value 'maybe' for flag 'debug_flag': "
                                          "expected one of true, 1"):
        cfg.debug_flag = "maybe"


# rc file ------------------------------------------------------------------------------------
def test_rc_file_global_section(rcfile):
    path = rcfile("""
        [global]
        floatX = float64
        optimizer_including = extra_a extra_b
        cache_dir = /tmp/100%theanine
        [nvcc]
        floatX = float16
        """)
    cfg = fresh_config({"THEANINERC": path})
    assert cfg.floatX == "float64"
    assert cfg.optimizer_including == ("extra_a", "extra_b")
    assert cfg.cache_dir == "/tmp/100%theanine"


def test_rc_file_invalid_value_names_the_file(rcfile):
    path = rcfile("[global]\nfloatX = float8\n")
    with pytest.raises(ConfigError, match=rf"invalid value 'float8' for flag 'floatX' \(from "
                                          rf"{path}\)"):
        fresh_config({"THEANINERC": path})


def test_rc_file_that_does_not_parse(rcfile):
    path = rcfile("floatX = float64\n")  # no section header
    with pytest.raises(ConfigError, match=f"cannot parse config file {path}"):
        fresh_config({"THEANINERC": path})


def test_precedence_rc_then_flags_then_change_flags(rcfile):
    path = rcfile("[global]\nfloatX = float16\nimpl_fallback = warn\n")
    cfg = fresh_config({"THEANINERC": path, "THEANINE_FLAGS": "floatX=float64"})
    assert cfg.floatX == "float64"  # THEANINE_FLAGS beats the rc file
    assert cfg.impl_fallback == "warn"  # the rc file beats the default
    with cfg.change_flags(floatX="float32"):
        assert cfg.floatX == "float32"  # change_flags beats both
    assert cfg.floatX == "float64"


def test_precedence_holds_for_flags_declared_after_loading(rcfile):
    path = rcfile("[global]\nplugin_flag = from_rc\nother_flag = rc_only\n")
    cfg = fresh_config({"THEANINERC": path, "THEANINE_FLAGS": "plugin_flag=from_env"})
    cfg.add("plugin_flag", "a plugin's flag", "default")
    cfg.add("other_flag", "a plugin's flag", "default")
    assert (cfg.plugin_flag, cfg.other_flag) == ("from_env", "rc_only")


# change_flags -------------------------------------------------------------------------------
def test_change_flags_restores_on_exception():
    before = (config.floatX, config.optimizer)
    with pytest.raises(KeyError), config.change_flags(floatX="float16", optimizer=None):
        assert (config.floatX, config.optimizer) == ("float16", None)
        raise KeyError("boom")
    assert (config.floatX, config.optimizer) == before


def test_change_flags_invalid_value_changes_nothing():
    before = (config.floatX, config.impl_fallback)
    other = "raise" if before[1] != "raise" else "warn"
    with pytest.raises(ConfigError, match=r"invalid value 'float8' for flag 'floatX'; expected "
                                          r"one of 'float16', 'float32', 'float64'"):
        with config.change_flags(impl_fallback=other, floatX="float8"):
            pass
    assert (config.floatX, config.impl_fallback) == before


def test_change_flags_unknown_flag_names_it_and_lists_valid_ones():
    with pytest.raises(ConfigError) as info, config.change_flags(floatx="float64"):
        pass
    msg = str(info.value)
    assert msg.startswith("unknown config flag 'floatx' (did you mean 'floatX'?); valid flags: ")
    for name in CORE_FLAGS:
        assert name in msg


def test_change_flags_as_decorator():
    @config.change_flags(floatX="float64")
    def dtype_of_matrix():
        return T.matrix().dtype

    before = config.floatX
    assert dtype_of_matrix() == "float64"
    assert dtype_of_matrix() == "float64"  # reusable
    assert config.floatX == before


def test_setting_and_reading_unknown_flags():
    with pytest.raises(ConfigError, match="unknown config flag 'no_such_flag'"):
        config.no_such_flag = 1
    assert not hasattr(config, "no_such_flag")
    with pytest.raises(AttributeError, match=r"unknown config flag 'floatx' \(did you mean "
                                             r"'floatX'\?\); valid flags: "):
        config.floatx  # noqa: B018


def test_assignment_validates():
    cfg = fresh_config()
    cfg.floatX = "float64"
    assert cfg.floatX == "float64"
    with pytest.raises(ConfigError, match="expected one of 'float16', 'float32', 'float64'"):
        cfg.floatX = "float8"
    assert cfg.floatX == "float64"


def test_declaring_a_flag_twice():
    with pytest.raises(ConfigError, match="flag 'floatX' is already declared"):
        config.add("floatX", "again", "float64")


# Flags drive behaviour ----------------------------------------------------------------------
@pytest.mark.parametrize("floatx", ["float16", "float32", "float64"])
def test_floatx_drives_unprefixed_constructors(floatx):
    with config.change_flags(floatX=floatx):
        assert T.matrix("m").dtype == floatx
        assert T.scalar().dtype == floatx
        assert T.vector().type.ndim == 1
    assert T.dmatrix().dtype == "float64"
    assert T.fmatrix().dtype == "float32"


def test_floatx_float64_computes_in_float64():
    with config.change_flags(floatX="float64"):
        x = T.vector("x")
        f = theanine.function([x], x * 3)
    out = f(np.array([1e-10, 1.0]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [3e-10, 3.0])


def test_backend_flag_with_unknown_backend_names_the_valid_ones():
    x = T.dscalar("x")
    with use_registry(PluginRegistry(entry_points=False)), \
            config.change_flags(backend="nonexistent"):
        with pytest.raises(ValueError, match="unknown backend 'nonexistent'; registered "
                                             "backends: python"):
            theanine.function([x], x + 1)


# At import time (subprocesses) --------------------------------------------------------------
def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("THEANINE_FLAGS", "THEANINERC")}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=60)


def test_import_reads_rc_and_flags(rcfile):
    path = rcfile("[global]\nfloatX = float64\nimpl_fallback = warn\n")
    code = ("import theanine, theanine.tensor as T; c = theanine.config;"
            "print(c.floatX, c.impl_fallback, c.optimizer, T.matrix().dtype)")
    proc = _run_python(code, THEANINERC=path, THEANINE_FLAGS="optimizer=fast_compile")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["float64", "warn", "fast_compile", "float64"]
    proc = _run_python(code, THEANINERC=path, THEANINE_FLAGS="floatX=float16")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["float16", "warn", "fast_run", "float16"]


def test_import_with_invalid_flag_value_fails_clearly():
    proc = _run_python("import theanine", THEANINERC=os.devnull, THEANINE_FLAGS="floatX=float8")
    assert proc.returncode != 0
    assert ("ConfigError: invalid value 'float8' for flag 'floatX' (from THEANINE_FLAGS); "
            "expected one of 'float16', 'float32', 'float64'") in proc.stderr


def test_unknown_flag_in_environment_fails_at_first_compile():
    code = textwrap.dedent("""
        import theanine, theanine.tensor as T
        print("imported")
        x = T.dscalar("x")
        theanine.function([x], x + 1)
        """)
    proc = _run_python(code, THEANINERC=os.devnull, THEANINE_FLAGS="flaotX=float64")
    assert proc.stdout.split() == ["imported"]
    assert proc.returncode != 0
    assert "unknown config flag(s) 'flaotX' (from THEANINE_FLAGS) (did you mean 'floatX'?)" \
        in proc.stderr
