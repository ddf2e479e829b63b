"""Run the benchmark workloads on every engine and print times and ratios against NumPy.

    python benchmarks/run.py [--only NAME] [--engines numpy,theanine,...] [--json]

Times are per call: the median over `--repeat` repeats (the JSON also has the minimum).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ENGINE_FAMILIES, Context, Measurement  # noqa: E402
from workloads import WORKLOADS  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    names = [w.NAME for w in WORKLOADS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"run only this workload (repeatable): {', '.join(names)}")
    parser.add_argument("--engines", default=",".join(ENGINE_FAMILIES),
                        help="comma-separated engine families (default: all)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats (default: 7)")
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds one repeat lasts at least (default: 0.2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    families = tuple(f.strip() for f in args.engines.split(",") if f.strip())
    unknown = sorted(set(families) - set(ENGINE_FAMILIES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(ENGINE_FAMILIES)}")
    if args.repeat < 1 or args.min_time <= 0:
        parser.error("--repeat must be >= 1 and --min-time > 0")
    args.families = families
    return args


def _ratios(rows: list[Measurement]) -> list[float | None]:
    baseline = {(r.workload, r.case): r.seconds for r in rows if r.engine == "numpy"}
    out = []
    for r in rows:
        base = baseline.get((r.workload, r.case))
        out.append(r.seconds / base if r.seconds is not None and base else None)
    return out


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("numpy", "theanine", "pytensor", "jax"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _format_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _table(rows: list[Measurement], ratios: list[float | None], repeat: int) -> str:
    header = ["workload", "case", "engine", "per call", "vs NumPy", "note"]
    cells = [header] + [[r.workload, r.case, r.engine, _format_seconds(r.seconds),
                         f"{q:.2f}x" if q is not None else "-", r.note]
                        for r, q in zip(rows, ratios)]
    widths = [max(len(c[k]) for c in cells) for k in range(len(header))]
    align = [str.ljust, str.ljust, str.ljust, str.rjust, str.rjust, str.ljust]
    lines = ["  ".join(a(c, w) for a, c, w in zip(align, row, widths)).rstrip()
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return (f"time per call = median of {repeat} repeats; vs NumPy = time / NumPy's time "
            "(lower is faster)\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    ctx = Context(repeat=args.repeat, min_time=args.min_time, families=args.families)
    rows: list[Measurement] = []
    for workload in WORKLOADS:
        if args.only and workload.NAME not in args.only:
            continue
        if not args.json:
            print(f"running {workload.NAME}: {workload.DESCRIPTION}", file=sys.stderr)
        rows.extend(workload.run(ctx))
    ratios = _ratios(rows)
    versions = _versions()
    if args.json:
        print(json.dumps({
            "statistic": "median", "repeat": args.repeat, "versions": versions,
            "results": [{**vars(r), "ratio_vs_numpy": q} for r, q in zip(rows, ratios)],
        }, indent=2))
    else:
        print(", ".join(f"{k} {v}" for k, v in versions.items()))
        print(_table(rows, ratios, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
