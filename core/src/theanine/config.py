"""Configuration flags: defaults, `~/.theaninerc`, `THEANINE_FLAGS`, and `change_flags`.

Precedence, lowest first: the flag's default, the `[global]` section of `~/.theaninerc` (or the
file named by `THEANINERC`), `THEANO_FLAGS`, `THEANINE_FLAGS="name=value,..."`, then
`config.change_flags(...)` or attribute assignment. Plugins add flags through the
`theanine_register_config(add)` hook; a name given in the environment that no core flag knows
is held until plugins are loaded, then rejected if still unknown (only warned about when it
came from `THEANO_FLAGS`, as Theano did). Dotted flags (`warn.round`) read and write as
attributes of sections: `config.warn.round = False`; PyTensor's spelling `warn__round` names the
same flag, as do aliases (`add_alias`: a plugin flag's name from before plugins' flags were
namespaced `plugin.name`).  Theano's flags that mean nothing here are accepted with a one-time
warning (see `misc.theano_flags`).
"""

from __future__ import annotations

import configparser
import contextlib
import difflib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from theanine.misc.theano_flags import add_theano_flags


class ConfigError(ValueError):
    """An unknown flag or an invalid value for a flag."""


@dataclass
class Flag:
    name: str
    default: Any
    doc: str
    convert: Callable[[str], Any] = str
    choices: tuple | None = None
    #: why setting this flag has no effect here (a Theano flag kept so ported code runs), or None
    noop: str | None = None
    #: with `noop`: which values have no effect (None: every value)
    noop_if: Callable[[Any], bool] | None = None

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


_NOTED: set[str] = set()


def _note_noop(flag: Flag, value: Any) -> None:
    """Warn once per process that setting `flag` (to other than its default) does nothing
    here."""
    if flag.noop is None or flag.name in _NOTED or value == flag.default:
        return
    if flag.noop_if is not None and not flag.noop_if(value):
        return
    _NOTED.add(flag.name)
    warnings.warn(f"config flag {flag.name!r} (set to {value!r}) is accepted for Theano "
                  f"compatibility but has no effect in theanine: {flag.noop}", stacklevel=4)


class ConfigSection:
    """The flags under a dotted prefix: `config.warn.round` reads flag 'warn.round'."""

    def __init__(self, config: Config, prefix: str):
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, f"{self._prefix}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._config, f"{self._prefix}.{name}", value)

    def __dir__(self) -> list[str]:
        start = len(self._prefix) + 1
        return sorted({n[start:].split(".")[0] for n in self._config.flags()
                       if n.startswith(self._prefix + ".")})


class Config:
    """Holds flag values; read them as attributes (`config.floatX`)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_flags", {})
        object.__setattr__(self, "_values", {})
        # names from the environment no flag declares yet: name -> (raw value, source)
        object.__setattr__(self, "_pending", {})
        # other spellings of flags (a plugin flag's name before namespacing): alias -> name
        object.__setattr__(self, "_aliases", {})

    def add(self, name: str, doc: str, default: Any, convert: Callable[[str], Any] = str,
            choices: tuple | None = None, noop: str | None = None,
            noop_if: Callable[[Any], bool] | None = None) -> None:
        """Declare a flag (the callback handed to `theanine_register_config`). `noop`: why
        setting it has no effect here (a warning says so, once per process)."""
        if name in self._flags:
            raise ConfigError(f"flag {name!r} is already declared")
        flag = Flag(name, default, doc, convert, choices, noop, noop_if)
        value = default
        if name in self._pending:
            value = flag.parse(*self._pending.pop(name))
            _note_noop(flag, value)
        self._flags[name] = flag
        self._values[name] = value

    def add_alias(self, alias: str, name: str) -> None:
        """Let `alias` read and set flag `name` everywhere a flag name goes (an older
        spelling kept working after a plugin's flags were namespaced)."""
        if name not in self._flags:
            raise ConfigError(f"cannot alias {alias!r} to {name!r}: no such flag")
        if alias in self._flags or self._aliases.get(alias, name) != name:
            raise ConfigError(f"cannot alias {alias!r} to {name!r}: it already names flag "
                              f"{self._canonical(alias)!r}")
        self._aliases[alias] = name
        if alias in self._pending:
            self._set_from_environment(name, *self._pending.pop(alias))

    def aliases(self) -> dict[str, str]:
        """alias -> the flag it spells."""
        return dict(self._aliases)

    def _canonical(self, name: str) -> str:
        """The flag `name` spells: itself, the flag it aliases, or, for PyTensor's
        `section__name`, the flag `section.name`; `name` unchanged when none fits."""
        if name in self._flags:
            return name
        if name in self._aliases:
            return self._aliases[name]
        dotted = name.replace("__", ".")
        return dotted if not name.startswith("_") and dotted in self._flags else name

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
        for variable in ("THEANO_FLAGS", "THEANINE_FLAGS"):  # the second wins
            for item in environ.get(variable, "").split(","):
                if item.strip():
                    name, sep, raw = item.partition("=")
                    if not sep:
                        raise ConfigError(f"{variable} item {item!r} is not of the form "
                                          "name=value")
                    self._set_from_environment(name.strip(), raw.strip(), f" (from {variable})")

    def _set_from_environment(self, name: str, raw: str, source: str) -> None:
        name = self._canonical(name)
        if name in self._flags:
            flag = self._flags[name]
            self._values[name] = flag.parse(raw, source)
            _note_noop(flag, self._values[name])
        elif name.startswith("_"):
            self._pending[name] = (raw, source)
        else:  # `section__name`, held under the dotted name a plugin will declare
            self._pending[name.replace("__", ".")] = (raw, source)

    def check_pending(self) -> None:
        """Reject environment flags that neither the core nor any plugin declared; those
        from THEANO_FLAGS only get a warning, as Theano gave."""
        theano_only = {n: s for n, s in self._pending.items() if "THEANO_FLAGS" in s[1]}
        for name in sorted(theano_only):
            del self._pending[name]
            warnings.warn(f"theanine does not know the flag {name!r} (from THEANO_FLAGS)"
                          f"{self._suggest(name)}; it is ignored", stacklevel=2)
        if self._pending:
            names = ", ".join(f"{n!r}{source}{self._suggest(n)}"
                              for n, (_, source) in sorted(self._pending.items()))
            raise ConfigError(f"unknown config flag(s) {names}; valid flags: "
                              f"{', '.join(sorted(self._flags))}")

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            if self._canonical(name) != name:
                return self._values[self._canonical(name)]
            if any(n.startswith(name + ".") for n in self._flags):
                return ConfigSection(self, name)
            raise AttributeError(self._unknown(name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        name = self._canonical(name)
        if name not in self._flags:
            raise ConfigError(self._unknown(name))
        flag = self._flags[name]
        self._values[name] = flag.parse(value)
        _note_noop(flag, self._values[name])

    def _unknown(self, name: str) -> str:
        return (f"unknown config flag {name!r}{self._suggest(name)}; valid flags: "
                f"{', '.join(sorted(self._flags))}")

    def _suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._flags), n=1, cutoff=0.6)
        lower = [f for f in self._flags if f.lower() == name.lower()]
        match = lower or close
        return f" (did you mean {match[0]!r}?)" if match else ""

    @contextlib.contextmanager
    def change_flags(self, args: Mapping[str, Any] = (), /, **kwargs: Any) -> Iterator[None]:
        """Set flags for the duration of a `with` block (or a decorated function). Dotted
        names go in a dict: `change_flags({'warn.round': False})`."""
        changes = {self._canonical(n): v for n, v in {**dict(args), **kwargs}.items()}
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

    def value(self, name: str) -> Any:
        """A flag's value by its full (dotted) name, without attribute lookup: for code that
        reads a flag on every node built (`traceback.limit`)."""
        return self._values[name]

    def __str__(self) -> str:
        return "\n".join(f"{n} = {self._values[n]!r}  # {f.doc}"
                         for n, f in sorted(self._flags.items()))


def _default_cache_dir() -> str:
    env = os.environ.get("THEANINE_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "theanine")


def change_flags(args: Mapping[str, Any] = (), /, **kwargs: Any) -> Any:
    """`theano.change_flags`: `config.change_flags` as a context manager or decorator."""
    return config.change_flags(args, **kwargs)


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
config.add("device_outputs", "device backends (opencl, cuda): functions return their outputs as "
           "device arrays instead of NumPy arrays (Out(var, borrow=True) does it for one output)",
           False, bool)
config.add("tiered", "native backends: run a function's first calls on the Python backend while "
           "its native code compiles in the background; False: native code from the first call",
           True, convert=bool)
config.add("on_unused_input", "what function() does with an input no output uses: 'raise', "
           "'warn' or 'ignore' (its default for on_unused_input=None)", "raise",
           choices=("raise", "warn", "ignore"))
config.add("mode", "the mode function() uses when given none", "Mode",
           choices=("Mode", "FAST_RUN", "FAST_COMPILE", "DebugMode", "DEBUG_MODE",
                    "NanGuardMode", "ProfileMode", "PROFILE_MODE"))
config.add("linker", "Theano's linker: 'py' runs on the Python backend; the others leave the "
           "choice to `backend`", "cvm",
           choices=("cvm", "vm", "c", "py", "c|py", "c|py_nogc", "vm_nogc", "cvm_nogc"))
config.add("warn_float64", "what function() does when the compiled graph computes in float64: "
           "'ignore', 'warn', 'raise' (or 'pdb', which raises)", "ignore",
           choices=("ignore", "warn", "raise", "pdb"))
config.add("print_test_value", "Theano's: the repr of a variable with a test value shows it "
           "(`x.__repr__()` in a debugger)", False, bool)
config.add("compute_test_value", "Theano's test values: 'off', or compute each new node's "
           "value from its inputs' `tag.test_value` as the graph is built (an error then points "
           "at the line that built the node) and, for an input without one, 'ignore', 'warn' "
           "or 'raise' ('pdb' raises)", "off",
           choices=("off", "ignore", "warn", "raise", "pdb"))
config.add("profile", "profile every compiled function (as function(profile=True)) and print "
           "the profiles at exit to `profiling.destination`", False, bool)
config.add("profiling.n_apply", "how many nodes a profile's summary lists", 20, int)
config.add("profiling.n_ops", "how many Ops (and Op classes) a profile's summary lists", 20, int)
config.add("profiling.destination", "where profiles are printed at exit: 'stderr', 'stdout' or "
           "a file name", "stderr")
config.add("exception_verbosity", "run-time errors name the node, the user's line that built it "
           "and its inputs' shapes and dtypes ('low'); 'high' adds every frame of that trace, "
           "the rewrites that made the node and its inputs' values", "low",
           choices=("low", "high"))
config.add("traceback.limit", "how many of the user's frames each node records where it is "
           "built (errors name the innermost); 0: none (graph building is slightly faster), "
           "-1: all", 8, int)
add_theano_flags(config)
config.load_environment()
