"""Configuration flags: defaults, `~/.theaninerc`, `THEANINE_FLAGS`, and `change_flags`.

Precedence, lowest first: the flag's default, the `[global]` section of `~/.theaninerc` (or the
file named by `THEANINERC`), `THEANINE_FLAGS="name=value,..."`, then `config.change_flags(...)`.
Plugins add flags through the `theanine_register_config(add)` hook; a name given in the
environment that no core flag knows is held until plugins are loaded, then rejected if still
unknown.
"""

from __future__ import annotations

import configparser
import contextlib
import difflib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """An unknown flag or an invalid value for a flag."""


@dataclass
class Flag:
    name: str
    default: Any
    doc: str
    convert: Callable[[str], Any] = str
    choices: tuple | None = None

    def parse(self, raw: Any, source: str = "") -> Any:
        """`raw` converted and checked; `source` (e.g. ' (from THEANINE_FLAGS)') goes into
        the error message."""
        if isinstance(raw, str):
            convert = _to_bool if self.convert is bool else self.convert
            try:
                value = convert(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"invalid value {raw!r} for flag {self.name!r}{source}: "
                                  f"{exc}") from None
        else:
            value = raw
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"invalid value {raw!r} for flag {self.name!r}{source}; "
                              f"expected one of {', '.join(map(repr, self.choices))}")
        return value


_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}


def _to_bool(raw: str) -> bool:
    """`bool` as a flag converter: "False" must mean False, not a non-empty string."""
    try:
        return _BOOLS[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"expected one of {', '.join(_BOOLS)}") from None


def _optional_str(raw: str) -> str | None:
    return None if raw in ("", "None") else raw


def _name_list(raw: str) -> tuple[str, ...]:
    return tuple(p for p in raw.replace(":", " ").split() if p)


class Config:
    """Holds flag values; read them as attributes (`config.floatX`)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_flags", {})
        object.__setattr__(self, "_values", {})
        # names from the environment no flag declares yet: name -> (raw value, source)
        object.__setattr__(self, "_pending", {})

    def add(self, name: str, doc: str, default: Any, convert: Callable[[str], Any] = str,
            choices: tuple | None = None) -> None:
        """Declare a flag (the callback handed to `theanine_register_config`)."""
        if name in self._flags:
            raise ConfigError(f"flag {name!r} is already declared")
        flag = Flag(name, default, doc, convert, choices)
        value = flag.parse(*self._pending.pop(name)) if name in self._pending else default
        self._flags[name] = flag
        self._values[name] = value

    def load_environment(self, environ: Mapping[str, str] | None = None) -> None:
        """Read the rc file, then `THEANINE_FLAGS` (which wins), from `environ`."""
        environ = os.environ if environ is None else environ
        rc = environ.get("THEANINERC", os.path.expanduser("~/.theaninerc"))
        if os.path.isfile(rc):
            parser = configparser.ConfigParser(interpolation=None)
            parser.optionxform = str  # type: ignore[method-assign]  # keep the case of floatX
            try:
                parser.read(rc)
            except configparser.Error as exc:
                raise ConfigError(f"cannot parse config file {rc}: {exc}") from None
            if parser.has_section("global"):
                for name, raw in parser.items("global"):
                    self._set_from_environment(name, raw, f" (from {rc})")
        for item in environ.get("THEANINE_FLAGS", "").split(","):
            if item.strip():
                name, sep, raw = item.partition("=")
                if not sep:
                    raise ConfigError(f"THEANINE_FLAGS item {item!r} is not of the form name=value")
                self._set_from_environment(name.strip(), raw.strip(), " (from THEANINE_FLAGS)")

    def _set_from_environment(self, name: str, raw: str, source: str) -> None:
        if name in self._flags:
            self._values[name] = self._flags[name].parse(raw, source)
        else:
            self._pending[name] = (raw, source)

    def check_pending(self) -> None:
        """Reject environment flags that neither the core nor any plugin declared."""
        if self._pending:
            names = ", ".join(f"{n!r}{source}{self._suggest(n)}"
                              for n, (_, source) in sorted(self._pending.items()))
            raise ConfigError(f"unknown config flag(s) {names}; valid flags: "
                              f"{', '.join(sorted(self._flags))}")

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(self._unknown(name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._flags:
            raise ConfigError(self._unknown(name))
        self._values[name] = self._flags[name].parse(value)

    def _unknown(self, name: str) -> str:
        return (f"unknown config flag {name!r}{self._suggest(name)}; valid flags: "
                f"{', '.join(sorted(self._flags))}")

    def _suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._flags), n=1, cutoff=0.6)
        lower = [f for f in self._flags if f.lower() == name.lower()]
        match = lower or close
        return f" (did you mean {match[0]!r}?)" if match else ""

    @contextlib.contextmanager
    def change_flags(self, **changes: Any) -> Iterator[None]:
        """Set flags for the duration of a `with` block (or a decorated function)."""
        for name in changes:
            if name not in self._flags:
                raise ConfigError(self._unknown(name))
        saved = {name: self._values[name] for name in changes}
        try:
            for name, value in changes.items():
                setattr(self, name, value)
            yield
        finally:
            self._values.update(saved)

    def flags(self) -> dict[str, Flag]:
        return dict(self._flags)

    def __str__(self) -> str:
        return "\n".join(f"{n} = {self._values[n]!r}  # {f.doc}"
                         for n, f in sorted(self._flags.items()))


def _default_cache_dir() -> str:
    env = os.environ.get("THEANINE_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "theanine")


config = Config()
config.add("floatX", "dtype of the unprefixed constructors (T.matrix, T.scalar) and of Python "
           "floats given to them", "float32", choices=("float16", "float32", "float64"))
config.add("backend", "backend used by theanine.function; 'auto' picks the fastest available",
           "auto")
config.add("optimizer", "which rewrites run at compile time", "fast_run",
           convert=_optional_str, choices=("fast_run", "fast_compile", None))
config.add("optimizer_including", "rewrite names or tags to add", (), convert=_name_list)
config.add("optimizer_excluding", "rewrite names or tags to remove", (), convert=_name_list)
config.add("cache_dir", "where compiled artifacts are cached", _default_cache_dir())
config.add("impl_fallback", "when a backend has no implementation of an Op: run perform on the "
           "host ('allow', also spelled 'fallback'), do so with a warning ('warn'), or fail "
           "('raise')", "allow", choices=("allow", "fallback", "warn", "raise"))
config.add("tiered", "native backends: run a function's first calls on the Python backend while "
           "its native code compiles in the background; False: native code from the first call",
           True, convert=bool)
config.load_environment()
