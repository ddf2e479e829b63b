"""Config flags that plugins declare: namespaced by the plugin, aliases, values given in the
environment before the plugin loads, and their listing in `theanine plugins`.  Every test uses
a fresh registry and a fresh Config."""

from __future__ import annotations

import json
import sys

import pytest
from test_plugins import BackendPlugin, CountingBackend

import theanine
from theanine import cli, plugins
from theanine.config import Config, ConfigError, config
from theanine.plugins import PluginError, PluginRegistry, use_registry


@pytest.fixture
def registry():
    """A fresh registry with the built-in plugins and no entry points, made current."""
    reg = PluginRegistry(entry_points=False)
    with use_registry(reg), config.change_flags(backend="python"):
        yield reg


# Flags -------------------------------------------------------------------------------------
@pytest.fixture
def fresh_config(monkeypatch):
    """A config of its own (with the core flags the CLI reads) for the plugins' flags, so that
    the process-wide one never gets test flags."""
    fresh = Config()
    fresh.add("tiered", "as the core's", True, bool)
    monkeypatch.setattr(plugins, "config", fresh)
    # the module (the package's attribute `theanine.config` is the Config object)
    monkeypatch.setattr(sys.modules["theanine.config"], "config", fresh)
    return fresh


class FlagPlugin:
    def __init__(self, *declarations):
        self.declarations = declarations

    @theanine.hookimpl
    def theanine_register_config(self, add):
        for args, kwargs in self.declarations:
            add(*args, **kwargs)


def _block_size_plugin():
    return FlagPlugin((("block_size", "threads per block of a test backend", 64, int), {}))


def test_plugin_flag_is_namespaced_by_the_plugin(registry, fresh_config):
    registry.register(_block_size_plugin(), name="tgpu")
    assert "tgpu.block_size" not in fresh_config.flags()  # loading is lazy
    assert registry.flags == {"tgpu.block_size": "tgpu"}  # collecting runs the hooks
    assert "block_size" not in fresh_config.flags()
    assert fresh_config.tgpu.block_size == 64
    assert fresh_config.flags()["tgpu.block_size"].doc == "threads per block of a test backend"
    with fresh_config.change_flags({"tgpu.block_size": "128"}):
        assert fresh_config.tgpu.block_size == 128
        assert fresh_config.tgpu__block_size == 128  # PyTensor's spelling
    assert fresh_config.tgpu.block_size == 64
    fresh_config.tgpu__block_size = 32
    assert fresh_config.value("tgpu.block_size") == 32
    # collecting again (after another registration) does not re-declare it
    registry.register(BackendPlugin(CountingBackend()))
    assert "counting" in registry.backends
    assert registry.flags == {"tgpu.block_size": "tgpu"}
    assert "tgpu.block_size" not in config.flags()


def test_namespace_of_odd_plugin_names_and_already_namespaced_flags(registry, fresh_config):
    registry.register(_block_size_plugin(), name="my-gpu")
    registry.register(FlagPlugin((("tgpu.width", "w", 1, int), {}),
                                 (("tgpu__depth", "d", 2, int), {})), name="tgpu")
    assert registry.flags == {"my_gpu.block_size": "my-gpu", "tgpu.depth": "tgpu",
                              "tgpu.width": "tgpu"}
    assert fresh_config.my_gpu.block_size == 64
    assert fresh_config.aliases() == {}


@pytest.mark.parametrize("spelling", ["tgpu.vec", "tgpu__vec", "tgpu_vec"])
def test_plugin_flag_picks_up_its_environment_value(registry, fresh_config, spelling):
    fresh_config.load_environment({"THEANINE_FLAGS": f"{spelling}=7",
                                   "THEANINERC": "/nonexistent"})
    # the pre-namespacing spelling `tgpu_vec` declares `tgpu.vec`, the old name an alias
    registry.register(FlagPlugin((("tgpu_vec", "vector width", 4, int), {})), name="tgpu")
    assert registry.flags == {"tgpu.vec": "tgpu"}
    assert fresh_config.tgpu.vec == 7
    assert fresh_config.tgpu_vec == 7


def test_old_flag_name_stays_an_alias(registry, fresh_config):
    registry.register(FlagPlugin((("device", "which device", "", str),
                                  {"aliases": ("tgpu_device_name",)})), name="tgpu")
    registry.backends  # noqa: B018
    assert fresh_config.aliases() == {"tgpu_device_name": "tgpu.device"}
    fresh_config.tgpu_device_name = "0:1"
    assert fresh_config.tgpu.device == "0:1"
    with fresh_config.change_flags(tgpu_device_name="1:0"):
        assert fresh_config.tgpu.device == "1:0"
    assert fresh_config.tgpu_device_name == "0:1"


def test_alias_may_not_shadow_another_flag(registry, fresh_config):
    registry.register(FlagPlugin((("device", "d", ""), {"aliases": ("tiered",)})), name="tgpu")
    with pytest.raises(ConfigError, match="cannot alias 'tiered' to 'tgpu.device': it already "
                                          "names flag 'tiered'"):
        registry.backends  # noqa: B018


def test_unnamed_plugin_cannot_declare_flags(registry, fresh_config):
    registry.register(_block_size_plugin())
    with pytest.raises(PluginError, match="declares flag 'block_size' but has no name to "
                                          r"namespace it by.*register\(plugin, name=\.\.\.\)"):
        registry.backends  # noqa: B018


def test_environment_flag_no_plugin_declares_is_rejected(registry, fresh_config):
    # `block_size` is outside the plugin's namespace: only `tgpu.block_size` exists
    fresh_config.load_environment({"THEANINE_FLAGS": "no_such_flag_anywhere=1,block_size=128",
                                   "THEANINERC": "/nonexistent"})
    registry.register(_block_size_plugin(), name="tgpu")
    with pytest.raises(ConfigError, match="unknown config flag.*'block_size'.*"
                                          "'no_such_flag_anywhere'.*valid flags: tgpu.block_size"
                                          ", tiered"):
        registry.backends  # noqa: B018


def test_theanine_plugins_lists_flags_with_plugin_value_and_doc(registry, fresh_config, capsys):
    registry.register(FlagPlugin((("block_size", "threads per block", 64, int), {}),
                                 (("tgpu_device", "which device", "0:0"), {})), name="tgpu")
    registry.flags  # noqa: B018  (declares them)
    fresh_config.tgpu.block_size = 256
    assert cli.main(["plugins", "--json"]) == 0
    flags = {f["name"]: f for f in json.loads(capsys.readouterr().out)["flags"]}
    assert flags == {
        "tgpu.block_size": {"name": "tgpu.block_size", "plugin": "tgpu", "value": 256,
                            "default": 64, "doc": "threads per block", "aliases": []},
        "tgpu.device": {"name": "tgpu.device", "plugin": "tgpu", "value": "0:0",
                        "default": "0:0", "doc": "which device", "aliases": ["tgpu_device"]}}
    assert cli.main(["plugins"]) == 0
    table = capsys.readouterr().out.split("Plugin flags")[1].splitlines()
    assert table[1].split() == ["NAME", "PLUGIN", "VALUE", "DOC"]
    assert table[2].split() == ["tgpu.block_size", "tgpu", "256", "threads", "per", "block"]
    assert table[3].split()[:5] == ["tgpu.device", "(or", "tgpu_device)", "tgpu", "'0:0'"]


