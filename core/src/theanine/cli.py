"""The `theanine` command: inspect the installed plugins and backends, run the demo.

`theanine plugins` is the first thing to run when a backend is missing: it says which
distribution registered what and why a backend is unavailable.
"""

from __future__ import annotations

import argparse
import json
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

    plugins = commands.add_parser("plugins", help="list plugins and backends",
                                  description="List the plugins, their hooks, and the backends "
                                  "they registered with whether each is available.")
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
    return parser


def plugin_report() -> dict[str, list[dict[str, Any]]]:
    """The plugins and backends of the current registry, as plain data."""
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
        except Exception as exc:  # a broken probe is exactly what this listing must show
            ok, reason = False, f"is_available() raised {type(exc).__name__}: {exc}"
        backends.append({"name": name, "plugin": plugin, "source": sources.get(plugin),
                         "available": bool(ok), "reason": None if ok else reason})
    return {"plugins": plugins, "backends": backends}


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
        return 0
    print("\n".join(_table(
        [["NAME", "PLUGIN", "AVAILABLE"]]
        + [[b["name"], b["plugin"], "yes" if b["available"] else f"no: {b['reason']}"]
           for b in report["backends"]])))
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `theanine` command with `argv` (default: the process arguments)."""
    from theanine.config import ConfigError
    from theanine.plugins import PluginError

    args = _build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (PluginError, ConfigError) as exc:
        print(f"theanine {args.command}: {exc}", file=sys.stderr)
        return 1
