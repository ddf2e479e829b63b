"""The plugin manager: finds plugins, calls their hooks once, and keeps what they registered.

Loading is lazy and idempotent: nothing happens at `import theanine`; the first compile (or the
first query) registers the core's own built-in plugins, then every entry point of the group
`theanine` among the installed distributions, filtered by `THEANINE_PLUGINS` (allow-list;
`none` loads none) and `THEANINE_DISABLE_PLUGINS` (block-list), both comma-separated entry-point
names; a name no installed plugin has is an error listing the installed ones.

Flags a plugin declares are namespaced by it: `add("device", ...)` from plugin `opencl` declares
`opencl.device` (see `_flag_declarer`).

The core's Python backend is a built-in plugin registered through the same hooks as a third-party
one.  Tests get a fresh manager with `use_registry(PluginRegistry(...))`.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any

import pluggy

from theanine import hookspecs
from theanine.config import ConfigError, config

BUILTIN_PLUGINS: tuple[str, ...] = ("theanine.link.python", "theanine.rewriting.builtin",
                                     "theanine.scan_module.rewriting",
                                     "theanine.compile.builders",
                                     "theanine.distributed.plugin")


class PluginError(RuntimeError):
    """A plugin failed to load or registered something invalid."""


@dataclass
class PluginInfo:
    name: str
    source: str  # "builtin", "entry point", or "in-process"
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)


@dataclass
class RewriteRegistration:
    rewriter: Any
    stage: str
    tags: tuple[str, ...]
    position: float | None
    name: str
    plugin: str
    #: runs only when its name or a tag is included (its tags name no optimizer)
    opt_in: bool = False


def _split_env(name: str) -> set[str]:
    return {p.strip() for p in os.environ.get(name, "").split(",") if p.strip()}


class PluginRegistry:
    """A pluggy manager plus the tables collected from its hooks."""

    def __init__(self, builtins: bool = True, entry_points: bool = True):
        self._builtins = builtins
        self._entry_points = entry_points
        self._pm: pluggy.PluginManager | None = None
        self._infos: dict[str, PluginInfo] = {}
        self._tables: dict[str, Any] | None = None

    # Loading ------------------------------------------------------------------------------
    @property
    def pm(self) -> pluggy.PluginManager:
        # Published only once fully loaded: a plugin that fails to load fails every query the
        # same way instead of being silently missing from the second one on.
        if self._pm is None:
            pm = pluggy.PluginManager("theanine")
            pm.add_hookspecs(hookspecs)
            infos: dict[str, PluginInfo] = {}
            if self._builtins:
                for modname in BUILTIN_PLUGINS:
                    _register_checked(pm, import_module(modname), modname, "")
                    infos[modname] = PluginInfo(modname, "builtin", "theanine",
                                                _version("theanine"))
            if self._entry_points:
                self._load_entry_points(pm, infos)
            self._infos = infos
            self._pm = pm
        return self._pm

    def _load_entry_points(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]
                           ) -> None:
        allow = _split_env("THEANINE_PLUGINS")
        block = _split_env("THEANINE_DISABLE_PLUGINS")
        eps = list(metadata.entry_points(group="theanine"))
        _check_filter_names({ep.name for ep in eps}, allow, block)
        for ep in eps:
            if (allow and ep.name not in allow) or ep.name in block or pm.has_plugin(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            origin = f"entry point {ep.value}" + (f" of {dist_name}" if dist_name else "")
            hint = f"; disable it with THEANINE_DISABLE_PLUGINS={ep.name}"
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {ep.name!r} ({origin}) failed to load: "
                                  f"{type(exc).__name__}: {exc}{hint}") from exc
            _register_checked(pm, plugin, ep.name, hint)
            infos[ep.name] = PluginInfo(ep.name, "entry point", dist_name,
                                        dist.version if dist is not None else None)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register an in-process plugin object (module or instance with hookimpls)."""
        pm = self.pm
        registered = _register_checked(pm, plugin, name, "")
        self._infos[registered] = PluginInfo(registered, "in-process")
        self._tables = None
        return registered

    def unregister(self, name: str) -> None:
        if self.pm.unregister(name=name) is None:
            raise PluginError(f"no plugin named {name!r} is registered")
        self._infos.pop(name, None)
        self._tables = None

    # Collected tables ---------------------------------------------------------------------
    def _collect(self) -> dict[str, Any]:
        if self._tables is not None:
            return self._tables
        pm = self.pm
        tables: dict[str, Any] = {"backends": {}, "op_impls": {}, "rewrites": [],
                                  "fuzz_ops": {}, "flags": {}}
        hook = pm.hook
        for impl in reversed(hook.theanine_register_config.get_hookimpls()):
            self._call_hook(impl, add=_flag_declarer(tables["flags"], impl.plugin_name))
        config.check_pending()
        for impl in reversed(hook.theanine_register_backends.get_hookimpls()):
            self._call_hook(impl, register=_backend_registrar(tables["backends"], impl.plugin_name))
        for impl in reversed(hook.theanine_register_op_impls.get_hookimpls()):
            self._call_hook(impl, register=_impl_registrar(tables["op_impls"], impl.plugin_name))
        for impl in reversed(hook.theanine_register_rewrites.get_hookimpls()):
            self._call_hook(impl, register=_rewrite_registrar(tables["rewrites"], impl.plugin_name))
        for impl in reversed(hook.theanine_register_fuzz_ops.get_hookimpls()):
            self._call_hook(impl, register=_fuzz_op_registrar(tables["fuzz_ops"],
                                                              impl.plugin_name))
        self._tables = tables
        return tables

    def _call_hook(self, impl: Any, **kwargs: Any) -> None:
        """Call one plugin's hook implementation; an unexpected failure names the plugin."""
        try:
            impl.function(**kwargs)
        except (PluginError, ConfigError):
            raise
        except Exception as exc:
            info = self._infos.get(impl.plugin_name)
            hint = (f"; disable it with THEANINE_DISABLE_PLUGINS={impl.plugin_name}"
                    if info is not None and info.source == "entry point" else "")
            raise PluginError(f"plugin {impl.plugin_name!r} failed in {impl.function.__name__}: "
                              f"{type(exc).__name__}: {exc}{hint}") from exc

    @property
    def backends(self) -> dict[str, tuple[Any, str]]:
        """name -> (backend, plugin name)."""
        return self._collect()["backends"]

    @property
    def rewrites(self) -> list[RewriteRegistration]:
        return self._collect()["rewrites"]

    @property
    def flags(self) -> dict[str, str]:
        """The config flags plugins declared: full name -> plugin name."""
        return self._collect()["flags"]

    @property
    def fuzz_ops(self) -> dict[str, tuple[Any, str]]:
        """Fuzzer op declarations from plugins: name -> (OpSpec, plugin name)."""
        return self._collect()["fuzz_ops"]

    def get_backend(self, name: str) -> Any:
        backends = self.backends
        if name not in backends:
            filters = [f"{var}={os.environ[var]}" for var in
                       ("THEANINE_PLUGINS", "THEANINE_DISABLE_PLUGINS")
                       if self._entry_points and os.environ.get(var)]
            note = f" (plugin loading is filtered by {', '.join(filters)})" if filters else ""
            raise ValueError(f"unknown backend {name!r}; registered backends: "
                             f"{', '.join(sorted(backends)) or 'none'}{note}")
        return backends[name][0]

    def find_impl(self, op_type: type, backend_name: str) -> Any | None:
        """The impl registered for the nearest class of `op_type`'s MRO on `backend_name`."""
        table = self._collect()["op_impls"]
        for cls in op_type.__mro__:
            impl = table.get((cls, backend_name))
            if impl is not None:
                return impl
        return None

    def plugin_infos(self) -> list[PluginInfo]:
        pm = self.pm
        infos = []
        for name, info in self._infos.items():
            plugin = pm.get_plugin(name)
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
            infos.append(info)
        return infos


def _register_checked(pm: pluggy.PluginManager, plugin: object, name: str | None,
                      hint: str) -> str:
    """Register `plugin` and check its hook names, leaving `pm` untouched if either fails."""
    label = name or pm.get_canonical_name(plugin)
    try:
        registered = pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        detail = str(exc).replace("\n", "; ")
        raise PluginError(f"plugin {label!r} is invalid: {detail}{hint}") from exc
    except ValueError as exc:  # pluggy: name or object already registered
        raise PluginError(f"plugin {label!r} is already registered") from exc
    if registered is None:
        raise PluginError(f"plugin {label!r} is blocked")
    unknown = [hc.name for hc in pm.get_hookcallers(plugin) or [] if not hc.has_spec()
               and any(i.plugin is plugin and not i.optionalhook for i in hc.get_hookimpls())]
    if unknown:
        pm.unregister(plugin, name=registered)
        known = [n for n in dir(hookspecs) if n.startswith("theanine_")]
        details = []
        for hook in unknown:
            close = difflib.get_close_matches(hook, known, n=1)
            details.append(hook + (f" (did you mean {close[0]}?)" if close else ""))
        raise PluginError(f"plugin {registered!r} implements unknown hook(s) "
                          f"{', '.join(details)}; known hooks: {', '.join(known)}{hint}")
    return registered


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _check_filter_names(installed: set[str], allow: set[str], block: set[str]) -> None:
    """A name in THEANINE_PLUGINS or THEANINE_DISABLE_PLUGINS that no installed plugin has is
    a typo (or a plugin that is not installed): say so, with the names that exist."""
    for variable, names in (("THEANINE_PLUGINS", allow - {"none"}),
                            ("THEANINE_DISABLE_PLUGINS", block)):
        unknown = sorted(names - installed)
        if not unknown:
            continue
        details = []
        for name in unknown:
            if name in BUILTIN_PLUGINS:
                details.append(f"{name!r} (built in: always loaded)")
                continue
            close = difflib.get_close_matches(name, sorted(installed), n=1)
            details.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise PluginError(f"{variable}={os.environ[variable]} names no installed plugin "
                          f"{', '.join(details)}; installed plugins: "
                          f"{', '.join(sorted(installed)) or 'none'}"
                          + ("; THEANINE_PLUGINS=none loads none of them"
                             if variable == "THEANINE_PLUGINS" else ""))


def _flag_declarer(table: dict[str, str], plugin: str):
    """The `add` callback of `theanine_register_config` for `plugin`: declares each flag under
    the plugin's namespace (its name, `-` and `.` as `_`), once per process (registries are
    many, the config is one).  A name that already starts with the namespace and `.` or `_`
    (`opencl_device`, the spelling before namespacing) declares the same flag, the
    underscore spelling kept as an alias."""
    namespace = re.sub(r"\W", "_", plugin)

    def add(name: str, doc: str, default: Any, convert: Any = str,
            choices: tuple | None = None, aliases: tuple[str, ...] = ()) -> None:
        if not namespace.isidentifier():
            raise PluginError(f"plugin {plugin!r} declares flag {name!r} but has no name to "
                              "namespace it by; register it with a name: "
                              "register(plugin, name=...)")
        if not isinstance(name, str) or not name.strip("._"):
            raise PluginError(f"plugin {plugin!r} declared a flag named {name!r}; expected a "
                              "non-empty string")
        if isinstance(aliases, str):
            raise PluginError(f"plugin {plugin!r} gave flag {name!r} aliases={aliases!r}; "
                              "expected a tuple of strings")
        full, aliases = name.replace("__", "."), tuple(aliases)
        if full.startswith(namespace + "_"):
            aliases += (name,)
            full = namespace + "." + full[len(namespace) + 1:]
        elif not full.startswith(namespace + "."):
            full = f"{namespace}.{full}"
        if full not in config.flags():
            config.add(full, doc, default, convert, choices)
            for alias in aliases:
                config.add_alias(alias, full)
        table[full] = plugin
    return add


def _backend_registrar(table: dict, plugin: str):
    def register(backend: Any) -> None:
        for attr in ("name", "is_available", "link"):
            if not hasattr(backend, attr):
                raise PluginError(f"plugin {plugin!r} registered a backend without {attr!r}")
        if backend.name in table and table[backend.name][1] != plugin:
            raise PluginError(f"backend {backend.name!r} from plugin {plugin!r} clashes with "
                              f"the one from {table[backend.name][1]!r}")
        table[backend.name] = (backend, plugin)
    return register


def _impl_registrar(table: dict, plugin: str):
    def register(op_type: type, backend_name: str, impl: Any) -> None:
        if not isinstance(op_type, type):
            raise PluginError(f"plugin {plugin!r} registered an impl for {op_type!r}, "
                              "which is not an Op class")
        table[(op_type, backend_name)] = impl
    return register


def _fuzz_op_registrar(table: dict, plugin: str):
    def register(spec: Any) -> None:
        for attr in ("name", "expr", "dtypes", "domain", "render"):
            if not hasattr(spec, attr):
                raise PluginError(f"plugin {plugin!r} registered a fuzz op without {attr!r}; "
                                  "declare it with theanine.testing.fuzz.OpSpec")
        if spec.name in table and table[spec.name][1] != plugin:
            raise PluginError(f"fuzz op {spec.name!r} from plugin {plugin!r} clashes with "
                              f"the one from {table[spec.name][1]!r}")
        table[spec.name] = (spec, plugin)
    return register


def _rewrite_registrar(table: list, plugin: str):
    from theanine.rewriting import registration_tags

    def register(rewriter: Any, stage: str = "canonicalize", tags: tuple[str, ...] = (),
                 position: float | None = None, name: str | None = None,
                 opt_in: bool = False) -> None:
        rname = name or getattr(rewriter, "name", None) or getattr(rewriter, "__name__", None)
        if rname is None:
            raise PluginError(f"plugin {plugin!r} registered an unnamed rewrite")
        try:
            labels = registration_tags(stage, tags, opt_in)
        except ValueError as exc:
            raise PluginError(f"plugin {plugin!r} registered rewrite {rname!r} with {exc}"
                              ) from None
        table.append(RewriteRegistration(rewriter, stage, labels, position, rname, plugin,
                                         opt_in))
    return register


_current = PluginRegistry()


def get_registry() -> PluginRegistry:
    return _current


@contextlib.contextmanager
def use_registry(registry: PluginRegistry) -> Iterator[PluginRegistry]:
    """Use `registry` instead of the global one inside the block (tests, embedding)."""
    global _current
    saved, _current = _current, registry
    try:
        yield registry
    finally:
        _current = saved


def register(plugin: object, name: str | None = None) -> str:
    """Register an in-process plugin object with the current registry."""
    return _current.register(plugin, name=name)


def unregister(name: str) -> None:
    _current.unregister(name)
