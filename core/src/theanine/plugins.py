"""The plugin manager: finds plugins, calls their hooks once, and keeps what they registered.

Loading is lazy and idempotent: nothing happens at `import theanine`; the first compile (or the
first query) registers the core's own built-in plugins, then every entry point of the group
`theanine` among the installed distributions, filtered by `THEANINE_PLUGINS` (allow-list) and
`THEANINE_DISABLE_PLUGINS` (block-list), both comma-separated entry-point names.

The core's Python backend is a built-in plugin registered through the same hooks as a third-party
one.  Tests get a fresh manager with `use_registry(PluginRegistry(...))`.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any

import pluggy

from theanine import hookspecs
from theanine.config import ConfigError, config

BUILTIN_PLUGINS: tuple[str, ...] = ("theanine.link.python", "theanine.rewriting.builtin",
                                     "theanine.scan_module.rewriting",
                                     "theanine.compile.builders")


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
        for ep in metadata.entry_points(group="theanine"):
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
                                  "fuzz_ops": {}}
        hook = pm.hook
        for impl in reversed(hook.theanine_register_config.get_hookimpls()):
            self._call_hook(impl, add=_idempotent_add)
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


def _idempotent_add(name: str, doc: str, default: Any, convert: Any = str,
                    choices: tuple | None = None) -> None:
    if name not in config.flags():
        config.add(name, doc, default, convert, choices)


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
    def register(rewriter: Any, stage: str = "canonicalize", tags: tuple[str, ...] = (),
                 position: float | None = None, name: str | None = None) -> None:
        rname = name or getattr(rewriter, "name", None) or getattr(rewriter, "__name__", None)
        if rname is None:
            raise PluginError(f"plugin {plugin!r} registered an unnamed rewrite")
        table.append(RewriteRegistration(rewriter, stage, tuple(tags), position, rname, plugin))
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
