"""`Mode`: which rewrites run and which backend links, for one `theanine.function`.

Theano's API on top: `Mode(linker, optimizer)`, `mode.including(*tags)` / `excluding` /
`requiring` (each a new Mode), the predefined names `FAST_RUN` / `FAST_COMPILE`, and the mode
names `function(mode=...)` accepts as strings (`predefined_modes`).

A debugging mode defines `node_hook(i, node, thunk) -> thunk`; the compiler then links with it
(`link.backend.link_program`), so every node's thunk runs through the hook.  Plain modes have no
hook, and their programs are exactly what the backend links.
"""

from __future__ import annotations

from typing import Any

from theanine.config import config

#: Theano's linker names and the backend each picks (None: `config.backend` decides)
_LINKERS = {"py": "python", "c": "c", "cvm": None, "vm": None, "c|py": None, "c|py_nogc": None,
            "vm_nogc": None, "cvm_nogc": None}
_OPTIMIZERS = ("fast_run", "fast_compile", "merge", None)


class Mode:
    """How a function is compiled.

    `linker`: a Theano linker name ('py' runs on the Python backend, 'c' on the C backend;
    'cvm', 'vm', 'c|py', ... leave it to `config.backend`) or a theanine backend name;
    `optimizer`: 'fast_run', 'fast_compile', 'merge' (merging only), None (no
    rewrites) or 'default' (`config.optimizer`); `backend`: a theanine backend name, or None
    for `config.backend`; `including` / `excluding` / `requiring`: rewrite names or tags to
    add, to refuse, and that every selected rewrite must carry.
    """

    #: `node_hook(i, node, thunk) -> thunk` in debugging modes (see `link.backend.NodeHook`)
    node_hook: Any = None

    def __init__(self, linker: str | None = None, optimizer: str | None = "default",
                 backend: str | None = None, including: tuple[str, ...] = (),
                 excluding: tuple[str, ...] = (), requiring: tuple[str, ...] = ()):
        if optimizer == "default":
            optimizer = config.optimizer
        if optimizer == "None":
            optimizer = None
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"Mode: unknown optimizer {optimizer!r}; expected one of "
                             "'fast_run', 'fast_compile', 'merge', None or 'default'")
        self.linker = linker
        self.optimizer = optimizer
        if backend is None and linker is not None:
            backend = _LINKERS[linker] if linker in _LINKERS else linker
        self.backend = backend
        self.include_tags = tuple(including) + (("merge",) if optimizer == "merge" else ())
        self.exclude_tags = tuple(excluding)
        self.require_tags = tuple(requiring)

    @property
    def rewrite_optimizer(self) -> str | None:
        """The optimizer setting `rewriting.rewrite_graph` takes ('merge' selects by tag)."""
        return None if self.optimizer == "merge" else self.optimizer

    def _derive(self, **changes: tuple[str, ...]) -> Mode:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name, tags in changes.items():
            setattr(new, name, getattr(self, name) + tags)
        return new

    def including(self, *tags: str) -> Mode:
        """A copy of this mode that also runs the rewrites named or tagged `tags`."""
        return self._derive(include_tags=tags)

    def excluding(self, *tags: str) -> Mode:
        """A copy of this mode that never runs the rewrites named or tagged `tags`."""
        return self._derive(exclude_tags=tags)

    def requiring(self, *tags: str) -> Mode:
        """A copy of this mode that runs only rewrites carrying every one of `tags`."""
        return self._derive(require_tags=tags)

    def excluded_names(self, registrations: Any) -> tuple[str, ...]:
        """`exclude_tags` plus the names of the registrations `require_tags` rules out."""
        if not self.require_tags:
            return self.exclude_tags
        need = set(self.require_tags)
        return self.exclude_tags + tuple(r.name for r in registrations
                                         if not need <= {r.name, *r.tags})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((type(self), self.backend, self.optimizer, self.include_tags))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(optimizer={self.optimizer!r}, backend={self.backend!r}, "
                f"including={self.include_tags}, excluding={self.exclude_tags}, "
                f"requiring={self.require_tags})")


class ProfileMode(Mode):
    """Theano's ProfileMode (removed in Theano 1.0, kept for ported code): every function
    compiled with it is profiled into one shared `ProfileStats` (`profile_stats`), which
    `print_summary()` prints."""

    def __init__(self, linker: str | None = None, optimizer: str | None = "default",
                 **kwargs: Any):
        from theanine.compile.profiling import ProfileStats

        super().__init__(linker, optimizer, **kwargs)
        self.profile_stats = ProfileStats(message="ProfileMode")

    def print_summary(self, **kwargs: Any) -> None:
        """The shared profile's `summary(**kwargs)`."""
        self.profile_stats.summary(**kwargs)


FAST_RUN = Mode(optimizer="fast_run")
FAST_COMPILE = Mode(optimizer="fast_compile")


def _debug_mode() -> Mode:
    from theanine.compile.debugmode import DebugMode

    return DebugMode()


def _nan_guard_mode() -> Mode:
    from theanine.compile.nanguardmode import NanGuardMode

    return NanGuardMode()


#: mode names accepted as `function(mode='...')` and `config.mode`, with how to build each
predefined_modes: dict[str, Any] = {
    "FAST_RUN": lambda: FAST_RUN, "FAST_COMPILE": lambda: FAST_COMPILE, "Mode": Mode,
    "DebugMode": _debug_mode, "DEBUG_MODE": _debug_mode, "NanGuardMode": _nan_guard_mode,
    "ProfileMode": ProfileMode, "PROFILE_MODE": ProfileMode,
}


def register_mode(name: str, mode: Mode) -> None:
    """Make `name` usable as `function(mode=name)` (Theano's register_mode)."""
    if name in predefined_modes:
        raise ValueError(f"mode name {name!r} is already registered")
    if not isinstance(mode, Mode):
        raise TypeError(f"register_mode({name!r}, ...) takes a Mode, got {type(mode).__name__}")
    predefined_modes[name] = lambda: mode


def _named(name: str) -> Mode:
    make = predefined_modes.get(name) or predefined_modes.get(name.upper())
    if make is None:
        raise ValueError(f"unknown mode {name!r}; use one of {', '.join(predefined_modes)} "
                         "or a Mode")
    return make()


def get_default_mode() -> Mode:
    """The mode `function` uses when given none: `config.mode`, plus the config's
    optimizer_including / optimizer_excluding."""
    base = _named(config.mode)
    return base._derive(include_tags=tuple(config.optimizer_including),
                        exclude_tags=tuple(config.optimizer_excluding))


def get_mode(mode: Any = None, backend: str | None = None) -> Mode:
    """Resolve `function(mode=..., backend=...)` against the config flags."""
    if isinstance(mode, Mode):
        base = mode
    elif mode is None:
        base = get_default_mode()
    elif isinstance(mode, str):
        base = _named(mode)._derive(include_tags=tuple(config.optimizer_including),
                                    exclude_tags=tuple(config.optimizer_excluding))
    else:
        raise TypeError(f"mode must be a Mode or a mode name such as 'FAST_RUN', got "
                        f"{type(mode).__name__} {mode!r}")
    if backend is not None:
        base = base._derive()
        base.backend = backend
    elif base.backend is None and config.linker == "py":
        base = base._derive()
        base.backend = "python"
    return base
