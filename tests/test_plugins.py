"""The plugin manager: built-in and in-process plugins, every hook, entry-point filtering and
the errors a user sees.  Every test uses a fresh registry so the global one is never touched."""

from __future__ import annotations

import sys
import types
from importlib import metadata

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine import plugins
from theanine.compile.mode import Mode
from theanine.config import config
from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.link.backend import select_backend
from theanine.link.python import BACKEND as PYTHON_BACKEND
from theanine.plugins import BUILTIN_PLUGINS, PluginError, PluginRegistry, use_registry
from theanine.tensor.elemwise import Elemwise


@pytest.fixture
def registry():
    """A fresh registry with the built-in plugins and no entry points, made current (so only
    the Python backend exists: the backend under test comes from an entry point)."""
    reg = PluginRegistry(entry_points=False)
    with use_registry(reg), config.change_flags(backend="python"):
        yield reg


# Helpers ------------------------------------------------------------------------------------
class CountingBackend:
    """Runs programs through the Python backend, counting links and calls."""

    priority = -1
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()

    def __init__(self, name: str = "counting", available: tuple[bool, str] = (True, ""),
                 priority: int = -1):
        self.name = name
        self.priority = priority
        self.available = available
        self.links = 0
        self.runs = 0

    def is_available(self) -> tuple[bool, str]:
        return self.available

    def link(self, fgraph):
        self.links += 1
        program = PYTHON_BACKEND.link(fgraph)

        def run(*values):
            self.runs += 1
            return program(*values)

        return run


class BackendPlugin:
    def __init__(self, *backends: CountingBackend):
        self.backends = backends

    @theanine.hookimpl
    def theanine_register_backends(self, register):
        for b in self.backends:
            register(b)


class Double(Op):
    """y = 2 * x, for float64 vectors."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = 2 * inputs[0]


class DoubleSubclass(Double):
    pass


def _compile_exp(**kwargs):
    x = T.dscalar("x")
    return theanine.function([x], T.exp(x), **kwargs)


# Built-in plugins ---------------------------------------------------------------------------
def test_python_backend_is_registered_by_its_builtin_plugin(registry):
    backend, plugin = registry.backends["python"]
    assert backend is PYTHON_BACKEND
    assert plugin == "theanine.link.python"
    assert registry.pm.get_plugin("theanine.link.python") is sys.modules["theanine.link.python"]
    infos = {i.name: i for i in registry.plugin_infos()}
    assert infos["theanine.link.python"].source == "builtin"
    assert "theanine_register_backends" in infos["theanine.link.python"].hooks


def test_registry_without_builtins_has_no_backend():
    with use_registry(PluginRegistry(builtins=False, entry_points=False)):
        with pytest.raises(ValueError, match="unknown backend 'python'; registered backends: none"):
            select_backend("python")


def test_use_registry_restores_the_previous_one():
    before = plugins.get_registry()
    reg = PluginRegistry(entry_points=False)
    with pytest.raises(RuntimeError, match="boom"), use_registry(reg):
        assert plugins.get_registry() is reg
        raise RuntimeError("boom")
    assert plugins.get_registry() is before


# Backends -----------------------------------------------------------------------------------
def test_in_process_backend_plugin_is_used_by_function(registry):
    backend = CountingBackend()
    name = plugins.register(BackendPlugin(backend), name="counting-plugin")
    assert name == "counting-plugin"
    assert registry.backends["counting"] == (backend, "counting-plugin")
    x = T.dvector("x")
    f = theanine.function([x], x * 3, backend="counting")
    assert f.maker.backend is backend
    assert backend.links == 1
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [3.0, 6.0])
    np.testing.assert_allclose(f(np.array([-1.0])), [-3.0])
    assert backend.runs == 2


def test_backend_selected_through_config_flag(registry):
    backend = CountingBackend()
    registry.register(BackendPlugin(backend))
    x = T.dscalar("x")
    with config.change_flags(backend="counting"):
        f = theanine.function([x], x + 1)
    assert float(f(1.5)) == 2.5
    assert backend.runs == 1


def test_unknown_backend_lists_the_valid_ones(registry):
    registry.register(BackendPlugin(CountingBackend()))
    with pytest.raises(ValueError, match=r"unknown backend 'nope'; registered backends: "
                                         r"counting, python"):
        _compile_exp(backend="nope")


def test_unavailable_backend_raises_with_reason_and_auto_skips_it(registry):
    gpu = CountingBackend("fakegpu", available=(False, "no fake GPU on this machine"),
                          priority=100)
    registry.register(BackendPlugin(gpu))
    with pytest.raises(RuntimeError, match="backend 'fakegpu' is not available: no fake GPU"):
        _compile_exp(backend="fakegpu")
    with pytest.warns(RuntimeWarning, match=r"auto uses 'python'.*fakegpu \(no fake GPU"):
        f = _compile_exp(backend="auto")
    assert f.maker.backend is PYTHON_BACKEND
    assert float(f(0.0)) == 1.0
    assert gpu.links == 0


def test_auto_prefers_the_highest_priority_available_backend(registry):
    fast = CountingBackend("fast", priority=10)
    registry.register(BackendPlugin(fast))
    assert select_backend("auto") is fast


def test_backend_missing_link_is_rejected_naming_the_plugin(registry):
    class NoLink:
        name = "nolink"

        def is_available(self):
            return True, ""

    class Plugin:
        @theanine.hookimpl
        def theanine_register_backends(self, register):
            register(NoLink())

    registry.register(Plugin(), name="nolink-plugin")
    with pytest.raises(PluginError, match="'nolink-plugin' registered a backend without 'link'"):
        registry.backends  # noqa: B018


def test_backend_name_clash_between_plugins(registry):
    registry.register(BackendPlugin(CountingBackend("python")), name="impostor")
    with pytest.raises(PluginError, match="backend 'python' from plugin .* clashes"):
        registry.backends  # noqa: B018


def test_hook_that_raises_is_reported_with_the_plugin_name(registry):
    class Broken:
        @theanine.hookimpl
        def theanine_register_backends(self, register):
            raise KeyError("missing toolchain table")

    registry.register(Broken(), name="broken-backend")
    with pytest.raises(PluginError, match="'broken-backend' failed in theanine_register_backends:"
                                          " KeyError"):
        registry.backends  # noqa: B018


# Op implementations -------------------------------------------------------------------------
class TripleImpls:
    """Registers `impl` for Double on the python backend: the thunk triples instead."""

    @theanine.hookimpl
    def theanine_register_op_impls(self, register):
        register(Double, "python", lambda node: lambda x: [3 * x])


def test_op_own_thunk_without_registered_impl(registry):
    x = T.dvector("x")
    f = theanine.function([x], DoubleSubclass()(x))
    np.testing.assert_allclose(f(np.array([1.0, -2.0])), [2.0, -4.0])


def test_registered_impl_serves_subclasses_along_the_mro(registry):
    registry.register(TripleImpls())
    impl = registry.find_impl(Double, "python")
    assert impl is not None
    assert registry.find_impl(DoubleSubclass, "python") is impl
    assert registry.find_impl(DoubleSubclass, "other") is None
    assert registry.find_impl(Elemwise, "python") is None
    x = T.dvector("x")
    f = theanine.function([x], DoubleSubclass()(x))
    np.testing.assert_allclose(f(np.array([1.0, -2.0])), [3.0, -6.0])


def test_nearest_class_in_the_mro_wins(registry):
    class SubclassImpls:
        @theanine.hookimpl
        def theanine_register_op_impls(self, register):
            register(DoubleSubclass, "python", lambda node: lambda x: [x + 100])

    registry.register(TripleImpls())
    registry.register(SubclassImpls())
    x = T.dvector("x")
    f = theanine.function([x], [Double()(x), DoubleSubclass()(x)])
    a, b = f(np.array([1.0]))
    np.testing.assert_allclose(a, [3.0])
    np.testing.assert_allclose(b, [101.0])


def test_impl_for_a_non_class_is_rejected(registry):
    class Plugin:
        @theanine.hookimpl
        def theanine_register_op_impls(self, register):
            register(Double(), "python", lambda node: None)

    registry.register(Plugin(), name="instance-not-class")
    with pytest.raises(PluginError, match="'instance-not-class' registered an impl for Double, "
                                          "which is not an Op class"):
        registry.find_impl(Double, "python")


# Rewrites -----------------------------------------------------------------------------------
class ExpToNeg:
    """A rewrite plugin that replaces exp(x) by -x (visible in the result) and counts runs."""

    def __init__(self, tags=("test_tag",), opt_in=False, stage="canonicalize"):
        self.runs = 0
        self.tags = tags
        self.opt_in = opt_in
        self.stage = stage

    @theanine.hookimpl
    def theanine_register_rewrites(self, register):
        register(self.rewrite, stage=self.stage, tags=self.tags, name="test_exp_to_neg",
                 opt_in=self.opt_in)

    def rewrite(self, fgraph):
        self.runs += 1
        for node in fgraph.toposort():
            if isinstance(node.op, Elemwise) and node.op.scalar_op.name == "exp":
                fgraph.replace(node.outputs[0], -node.inputs[0], reason="test:test_exp_to_neg")


def _fired(plugin: ExpToNeg, **kwargs) -> bool:
    """Compile exp(x) and say whether the plugin's rewrite replaced it (checked on the value,
    against NumPy: exp(2) without the rewrite, -2 with it)."""
    runs = plugin.runs
    value = float(_compile_exp(**kwargs)(2.0))
    if plugin.runs == runs:
        assert value == pytest.approx(np.exp(2.0))
        return False
    assert value == -2.0
    return True


@pytest.mark.parametrize("tags", [(), ("test_tag",)])
def test_rewrite_without_optimizer_tags_runs_under_fast_run_only(registry, tags):
    plugin = ExpToNeg(tags=tags)
    registry.register(plugin, name="p")
    (reg,) = [r for r in registry.rewrites if r.plugin not in BUILTIN_PLUGINS]
    assert (reg.name, reg.plugin, reg.opt_in) == ("test_exp_to_neg", "p", False)
    assert set(reg.tags) == {"fast_run", *tags}
    assert _fired(plugin)
    assert plugin.runs == 1
    assert _fired(plugin, mode=Mode(optimizer="fast_run"))
    assert not _fired(plugin, mode=Mode(optimizer="fast_compile"))
    assert not _fired(plugin, mode=Mode(optimizer=None))


def test_rewrite_naming_its_optimizers_runs_under_those_only(registry):
    plugin = ExpToNeg(tags=("fast_compile", "test_tag"))
    registry.register(plugin, name="p")
    (reg,) = [r for r in registry.rewrites if r.plugin == "p"]
    assert set(reg.tags) == {"fast_compile", "test_tag"}
    assert _fired(plugin, mode=Mode(optimizer="fast_compile"))
    assert not _fired(plugin)


@pytest.mark.parametrize("label", ["test_exp_to_neg", "test_tag"])
def test_plugin_rewrite_excluded_by_flag_or_mode(registry, label):
    plugin = ExpToNeg()
    registry.register(plugin)
    with config.change_flags(optimizer_excluding=label):
        assert not _fired(plugin)
    assert not _fired(plugin, mode=Mode(excluding=(label,)))


def test_opt_in_rewrite_runs_only_when_included(registry):
    plugin = ExpToNeg(tags=("test_tag",), opt_in=True)
    registry.register(plugin, name="p")
    (reg,) = [r for r in registry.rewrites if r.plugin == "p"]
    assert reg.opt_in and reg.tags == ("test_tag",)
    assert not _fired(plugin)
    assert not _fired(plugin, mode=Mode(optimizer="fast_compile"))
    for label in ("test_exp_to_neg", "test_tag"):
        assert _fired(plugin, mode=Mode(including=(label,)))
        with config.change_flags(optimizer_including=label):
            assert _fired(plugin)
    # excluding wins over including
    assert not _fired(plugin, mode=Mode(including=("test_tag",), excluding=("test_exp_to_neg",)))


def test_opt_in_rewrite_included_by_a_backend_required_tag(registry):
    plugin = ExpToNeg(tags=("test_tag",), opt_in=True)
    registry.register(plugin)
    backend = CountingBackend("wants_tag")
    backend.required_tags = frozenset({"test_tag"})
    registry.register(BackendPlugin(backend))
    assert _fired(plugin, backend="wants_tag")
    assert not _fired(plugin, backend="python")


def test_opt_in_rewrite_included_by_a_backend_fast_run_tag_under_fast_run_only(registry):
    """A backend's `fast_run_tags` (rewrites that pay off on it, as `scan_pushout` on the C
    backend) join the fast_run optimizer; its required tags join every optimizer."""
    plugin = ExpToNeg(tags=("test_tag",), opt_in=True)
    registry.register(plugin)
    backend = CountingBackend("prefers_tag")
    backend.fast_run_tags = frozenset({"test_tag"})
    registry.register(BackendPlugin(backend))
    assert _fired(plugin, mode=Mode(optimizer="fast_run", backend="prefers_tag"))
    for optimizer in ("fast_compile", None):
        assert not _fired(plugin, mode=Mode(optimizer=optimizer, backend="prefers_tag"))
    assert not _fired(plugin, mode=Mode(optimizer="fast_run", backend="prefers_tag",
                                        excluding=("test_tag",)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"stage": "canonicalise"}, r"'p' registered rewrite 'test_exp_to_neg' with unknown stage "
                                r"'canonicalise'; stages: merge, canonicalize"),
    ({"tags": "test_tag"}, r"'p' registered rewrite 'test_exp_to_neg' with tags='test_tag'; "
                           r"expected a tuple of strings"),
    ({"tags": ("fast_run",), "opt_in": True}, r"with opt_in=True and tags naming the "
                                              r"optimizer\(s\) fast_run"),
])
def test_invalid_rewrite_registration_names_plugin_and_rewrite(registry, kwargs, message):
    registry.register(ExpToNeg(**kwargs), name="p")
    with pytest.raises(PluginError, match=message):
        registry.rewrites  # noqa: B018


# Registration errors ------------------------------------------------------------------------
class Misspelled:
    @theanine.hookimpl
    def theanine_register_backend(self, register):  # missing the final "s"
        register(CountingBackend())


def test_misspelled_hook_is_caught_and_leaves_the_registry_usable(registry):
    with pytest.raises(PluginError, match=r"plugin 'typo' implements unknown hook\(s\) "
                                          r"theanine_register_backend \(did you mean "
                                          r"theanine_register_backends\?\)"):
        registry.register(Misspelled(), name="typo")
    assert not registry.pm.has_plugin("typo")
    # the same name can be used again once fixed, and compiling still works
    registry.register(BackendPlugin(CountingBackend()), name="typo")
    assert float(_compile_exp(backend="counting")(0.0)) == 1.0


def test_optional_hook_with_unknown_name_is_allowed(registry):
    class Optional:
        @theanine.hookimpl(optionalhook=True)
        def theanine_future_hook(self):
            raise AssertionError("never called")

    registry.register(Optional(), name="optional")
    assert registry.pm.has_plugin("optional")


def test_wrong_hook_arguments_are_reported(registry):
    class WrongArgs:
        @theanine.hookimpl
        def theanine_register_backends(self, register, extra):
            raise AssertionError("never called")

    with pytest.raises(PluginError, match="plugin 'wrongargs' is invalid:.*extra"):
        registry.register(WrongArgs(), name="wrongargs")


def test_registering_a_name_twice(registry):
    registry.register(BackendPlugin(CountingBackend()), name="twice")
    with pytest.raises(PluginError, match="plugin 'twice' is already registered"):
        registry.register(BackendPlugin(CountingBackend("other")), name="twice")


def test_unregister_removes_what_the_plugin_registered(registry):
    registry.register(BackendPlugin(CountingBackend()), name="counting-plugin")
    assert "counting" in registry.backends
    plugins.unregister("counting-plugin")
    assert "counting" not in registry.backends
    assert "counting-plugin" not in {i.name for i in registry.plugin_infos()}
    with pytest.raises(ValueError, match="unknown backend 'counting'"):
        _compile_exp(backend="counting")
    with pytest.raises(PluginError, match="no plugin named 'counting-plugin' is registered"):
        plugins.unregister("counting-plugin")


# Entry points -------------------------------------------------------------------------------
@pytest.fixture
def fake_entry_points(monkeypatch):
    """Install three fake entry-point plugins (one per backend) and a broken one."""
    eps = []
    for tag in ("alpha", "beta", "gamma"):
        mod = types.ModuleType(f"theanine_test_ep_{tag}")
        mod.PLUGIN = BackendPlugin(CountingBackend(f"ep_{tag}"))
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
        eps.append(metadata.EntryPoint(tag, f"{mod.__name__}:PLUGIN", "theanine"))
    eps.append(metadata.EntryPoint("broken", "theanine_test_no_such_module_xyz", "theanine"))

    def entry_points(**params):
        assert params == {"group": "theanine"}
        return eps

    monkeypatch.setattr(plugins.metadata, "entry_points", entry_points)
    monkeypatch.delenv("THEANINE_PLUGINS", raising=False)
    monkeypatch.delenv("THEANINE_DISABLE_PLUGINS", raising=False)
    return monkeypatch


def _entry_point_backends() -> list[str]:
    with use_registry(PluginRegistry()) as reg:
        return sorted(n for n in reg.backends if n != "python")


def test_failing_entry_point_names_itself_and_how_to_disable_it(fake_entry_points):
    reg = PluginRegistry()
    for _ in range(2):  # fails the same way every time, never half-loaded
        with pytest.raises(PluginError, match=r"plugin 'broken' \(entry point "
                                              r"theanine_test_no_such_module_xyz\) failed to load:"
                                              r" ModuleNotFoundError.*"
                                              r"THEANINE_DISABLE_PLUGINS=broken"):
            reg.backends  # noqa: B018


def test_disable_plugins_blocks_entry_points(fake_entry_points):
    fake_entry_points.setenv("THEANINE_DISABLE_PLUGINS", "broken, beta")
    assert _entry_point_backends() == ["ep_alpha", "ep_gamma"]


def test_plugins_allow_list(fake_entry_points):
    fake_entry_points.setenv("THEANINE_PLUGINS", "gamma,alpha")
    assert _entry_point_backends() == ["ep_alpha", "ep_gamma"]


def test_allow_and_block_lists_combine(fake_entry_points):
    fake_entry_points.setenv("THEANINE_PLUGINS", "gamma,alpha")
    fake_entry_points.setenv("THEANINE_DISABLE_PLUGINS", "alpha")
    assert _entry_point_backends() == ["ep_gamma"]


@pytest.mark.parametrize("variable", ["THEANINE_PLUGINS", "THEANINE_DISABLE_PLUGINS"])
def test_misspelled_plugin_name_lists_the_installed_ones(fake_entry_points, variable):
    fake_entry_points.setenv(variable, "gamma,alhpa")
    with pytest.raises(PluginError, match=rf"{variable}=gamma,alhpa names no installed plugin "
                                          r"'alhpa' \(did you mean 'alpha'\?\); installed "
                                          r"plugins: alpha, beta, broken, gamma"):
        _entry_point_backends()


def test_builtin_plugins_cannot_be_blocked(fake_entry_points):
    fake_entry_points.setenv("THEANINE_DISABLE_PLUGINS", "broken,theanine.link.python")
    with pytest.raises(PluginError, match=r"'theanine.link.python' \(built in: always loaded\)"):
        _entry_point_backends()


def test_plugins_none_loads_no_entry_point(fake_entry_points):
    fake_entry_points.setenv("THEANINE_PLUGINS", "none")
    with use_registry(PluginRegistry()) as reg:
        assert sorted(reg.backends) == ["python"]
        assert {i.source for i in reg.plugin_infos()} == {"builtin"}


def test_entry_point_plugins_are_listed_and_used(fake_entry_points):
    fake_entry_points.setenv("THEANINE_PLUGINS", "beta")
    with use_registry(PluginRegistry()) as reg:
        infos = {i.name: i for i in reg.plugin_infos()}
        assert infos["beta"].source == "entry point"
        assert infos["beta"].hooks == ["theanine_register_backends"]
        backend = reg.get_backend("ep_beta")
        f = _compile_exp(backend="ep_beta")
        assert float(f(0.0)) == 1.0
        assert backend.runs == 1


def test_unknown_backend_mentions_active_plugin_filter(fake_entry_points):
    fake_entry_points.setenv("THEANINE_PLUGINS", "beta")
    with use_registry(PluginRegistry()):
        with pytest.raises(ValueError, match=r"unknown backend 'ep_alpha'; registered backends: "
                                             r"ep_beta, python \(plugin loading is filtered by "
                                             r"THEANINE_PLUGINS=beta\)"):
            _compile_exp(backend="ep_alpha")


def test_entry_point_with_misspelled_hook(fake_entry_points):
    mod = types.ModuleType("theanine_test_ep_typo")
    mod.PLUGIN = Misspelled()
    fake_entry_points.setitem(sys.modules, mod.__name__, mod)
    eps = [metadata.EntryPoint("typo", f"{mod.__name__}:PLUGIN", "theanine")]
    fake_entry_points.setattr(plugins.metadata, "entry_points", lambda **_: eps)
    with pytest.raises(PluginError, match="unknown hook.*THEANINE_DISABLE_PLUGINS=typo"):
        PluginRegistry().backends  # noqa: B018
