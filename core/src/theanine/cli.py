"""The `theanine` command: inspect the installed plugins and backends and the compiled-artifact
cache, run the demo.

`theanine plugins` is the first thing to run when a backend is missing: it says which
distribution registered what and why a backend is unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def _version() -> str:
    import theanine

    return theanine.__version__


def _build_parser() -> argparse.ArgumentParser:
    from theanine.demo import DEFAULT_STEPS

    parser = argparse.ArgumentParser(
        prog="theanine", description="A symbolic tensor compiler in the lineage of Theano.")
    parser.add_argument("--version", action="version", version=f"theanine {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugins = commands.add_parser("plugins", help="list plugins, backends and plugin flags",
                                  description="List the plugins, their hooks, the backends "
                                  "they registered with whether each is available, and the "
                                  "config flags they declared with their values.")
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.set_defaults(handler=_cmd_plugins)

    demo = commands.add_parser("demo", help="train the tutorial's logistic regression",
                               description="Train the Theano tutorial's logistic regression "
                               "(400 samples, 784 features) and report the backend, compile "
                               "time, steps/s and training accuracy.")
    demo.add_argument("--backend", metavar="NAME", default=None,
                      help="backend to run on (default: the 'backend' config flag)")
    demo.add_argument("--steps", metavar="N", type=int, default=DEFAULT_STEPS,
                      help=f"training steps (default: {DEFAULT_STEPS})")
    demo.set_defaults(handler=_cmd_demo)
    show = commands.add_parser(
        "show", help="write the interactive HTML view of a compiled function",
        description="Write the HTML view of a compiled function (or a symbolic variable) that "
        "a module or script defines: the compiled graph beside the graph as written, with "
        "types, shapes and rewrite provenance on hover. TARGET is package.module:NAME or "
        "path/to/script.py:NAME (the script runs with __name__ != '__main__').")
    show.add_argument("target", metavar="TARGET", help="MODULE:NAME or SCRIPT.py:NAME")
    show.add_argument("-o", "--output", metavar="FILE", default=None,
                      help="the HTML file to write (default: NAME.html)")
    show.add_argument("--layout", choices=("auto", "dot", "layered"), default="auto",
                      help="graphviz's dot (auto: when installed) or the built-in layout")
    show.set_defaults(handler=_cmd_show)
    _add_cache_parser(commands)
    return parser


def _add_cache_parser(commands: Any) -> None:
    cache = commands.add_parser(
        "cache", help="inspect or prune the compiled-artifact cache",
        description="Inspect or prune the cache of compiled artifacts that native backends "
        "share. Its directory is $THEANINE_CACHE_DIR if set, else the cache_dir flag.")
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="where the cache is, its size and limits")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=_cmd_cache_info)
    listing = actions.add_parser("list", help="the entries, most recently used first")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_cmd_cache_list)
    prune = actions.add_parser(
        "prune", help="remove old or least recently used entries",
        description="Remove entries unused for --max-age-days, then the least recently used "
        "ones until the rest fit in --max-bytes; also leftovers of killed builds. Without "
        "options, applies the automatic limits (THEANINE_CACHE_MAX_BYTES, "
        "THEANINE_CACHE_MAX_AGE_DAYS).")
    prune.add_argument("--max-bytes", metavar="SIZE", type=_size_arg, default=None,
                       help="keep at most this much (bytes, or with a unit: 500M, 2G)")
    prune.add_argument("--max-age-days", metavar="DAYS", type=_days_arg, default=None,
                       help="remove entries not used for this many days")
    prune.set_defaults(handler=_cmd_cache_prune)
    clear = actions.add_parser("clear", help="remove every entry and recorded failure")
    clear.set_defaults(handler=_cmd_cache_clear)


def plugin_report() -> dict[str, list[dict[str, Any]]]:
    """The plugins, backends and plugin-declared flags of the current registry, as plain
    data."""
    from theanine.config import config
    from theanine.plugins import get_registry

    registry = get_registry()
    infos = registry.plugin_infos()
    sources = {info.name: info.source for info in infos}
    plugins = [{"name": i.name, "source": i.source, "distribution": i.distribution,
                "version": i.version, "hooks": list(i.hooks)} for i in infos]
    backends = []
    for name, (backend, plugin) in sorted(registry.backends.items()):
        try:
            ok, reason = backend.is_available()
            verify = getattr(backend, "verify", None)  # the full check, where that is slower
            if ok and callable(verify):
                ok, reason = verify()
        except Exception as exc:  # a broken probe is exactly what this listing must show
            ok, reason = False, f"is_available() raised {type(exc).__name__}: {exc}"
        describe = getattr(backend, "describe", None)  # a device backend: the device in use
        backends.append({"name": name, "plugin": plugin, "source": sources.get(plugin),
                         "available": bool(ok), "reason": None if ok else reason,
                         "device": describe() if ok and callable(describe) else None})
    flags = config.flags()
    aliases: dict[str, list[str]] = {}
    for alias, name in sorted(config.aliases().items()):
        aliases.setdefault(name, []).append(alias)
    declared = [{"name": name, "plugin": plugin, "value": _plain(getattr(config, name)),
                 "default": _plain(flags[name].default), "doc": flags[name].doc,
                 "aliases": aliases.get(name, [])}
                for name, plugin in sorted(registry.flags.items())]
    return {"plugins": plugins, "backends": backends, "flags": declared}


def _plain(value: Any) -> Any:
    """`value` as JSON can print it (a flag's value may be a tuple or another object)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return list(value) if isinstance(value, tuple | list) else repr(value)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows]


def _cmd_plugins(args: argparse.Namespace) -> int:
    report = plugin_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("Plugins:")
    print("\n".join(_table(
        [["NAME", "SOURCE", "DISTRIBUTION", "VERSION", "HOOKS"]]
        + [[p["name"], p["source"], p["distribution"] or "-", p["version"] or "-",
            ", ".join(p["hooks"]) or "-"] for p in report["plugins"]])))
    print("Backends:")
    if not report["backends"]:
        print("  (none registered)")
    else:
        print("\n".join(_table(
            [["NAME", "PLUGIN", "AVAILABLE"]]
            + [[b["name"], b["plugin"], ("yes" + (f": {b['device']}" if b["device"] else ""))
                if b["available"] else f"no: {b['reason']}"] for b in report["backends"]])))
    print("Plugin flags (set in THEANINE_FLAGS as NAME=VALUE):")
    if not report["flags"]:
        print("  (none declared)")
        return 0
    print("\n".join(_table(
        [["NAME", "PLUGIN", "VALUE", "DOC"]]
        + [[f["name"] + "".join(f" (or {a})" for a in f["aliases"]), f["plugin"],
            repr(f["value"]), f["doc"]] for f in report["flags"]])))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from theanine import demo
    from theanine.link.backend import select_backend

    try:
        backend = select_backend(args.backend)
    except (ValueError, RuntimeError) as exc:
        print(f"theanine demo: {exc}", file=sys.stderr)
        return 2
    if args.steps < 1:
        print(f"theanine demo: --steps must be at least 1, got {args.steps}", file=sys.stderr)
        return 2
    result = demo.run(backend=backend.name, steps=args.steps)
    print(result.report())
    if not (np.all(np.isfinite(result.w)) and np.isfinite(result.b)):
        print("theanine demo: training diverged (the weights are not finite); the graph relies "
              "on the stabilize rewrites (log(sigmoid) -> softplus)", file=sys.stderr)
        return 1
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from theanine.d3viz.show import ShowError, show

    try:
        path = show(args.target, args.output, args.layout)
    except ShowError as exc:
        print(f"theanine show: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def _size_arg(text: str) -> int:
    from theanine.cache import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days_arg(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, got {text!r}")
    return days


def _human_bytes(n: int) -> str:
    units, size, k = ("B", "KiB", "MiB", "GiB", "TiB"), float(n), 0
    while size >= 1024 and k < len(units) - 1:
        size, k = size / 1024, k + 1
    return f"{n} B" if k == 0 else f"{size:.1f} {units[k]}"


def _when(stamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def _cmd_cache_info(args: argparse.Namespace) -> int:
    from theanine.cache import get_cache

    info = get_cache().info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    limit_bytes = "none" if info["max_bytes"] is None else _human_bytes(info["max_bytes"])
    limit_age = "none" if info["max_age_days"] is None else f"{info['max_age_days']:g} days"
    print(f"cache directory: {info['root']}")
    print(f"entries:         {info['n_entries']} ({_human_bytes(info['total_bytes'])})")
    print(f"failed builds:   {info['n_failures']} (kept in {info['failures_dir']})")
    print(f"temporary dirs:  {info['n_temp']} (builds in progress or left by killed ones)")
    print(f"automatic prune: above {limit_bytes}, unused for {limit_age} "
          "(THEANINE_CACHE_MAX_BYTES, THEANINE_CACHE_MAX_AGE_DAYS)")
    return 0


def _cmd_cache_list(args: argparse.Namespace) -> int:
    from theanine.cache import get_cache

    cache = get_cache()
    entries = cache.entries()[::-1]
    if args.json:
        print(json.dumps([e.as_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print(f"(no entries in {cache.root})")
        return 0
    print("\n".join(_table(
        [["KEY", "LABEL", "SIZE", "LAST USED", "CREATED"]]
        + [[e.key[:16], e.label or "-", _human_bytes(e.size_bytes), _when(e.last_used),
            _when(e.created)] for e in entries])))
    return 0


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _cmd_cache_prune(args: argparse.Namespace) -> int:
    from theanine.cache import get_cache

    cache = get_cache()
    max_bytes, max_age = args.max_bytes, args.max_age_days
    if max_bytes is None and max_age is None:
        max_bytes, max_age = cache.max_bytes, cache.max_age_days
    before = cache.info()["total_bytes"]
    removed = cache.prune(max_bytes=max_bytes, max_age_days=max_age)
    after = cache.info()
    print(f"removed {_entries(removed)} ({_human_bytes(before - after['total_bytes'])}); "
          f"{after['n_entries']} left ({_human_bytes(after['total_bytes'])}) in {cache.root}")
    return 0


def _cmd_cache_clear(args: argparse.Namespace) -> int:
    from theanine.cache import get_cache

    cache = get_cache()
    removed = cache.clear()
    print(f"removed {_entries(removed)} from {cache.root}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `theanine` command with `argv` (default: the process arguments)."""
    from theanine.cache import CacheError
    from theanine.config import ConfigError
    from theanine.plugins import PluginError

    args = _build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (PluginError, ConfigError, CacheError) as exc:
        print(f"theanine {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `theanine cache list | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
