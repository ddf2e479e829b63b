"""Run the benchmark workloads on every engine and print times and ratios against NumPy.

    python benchmarks/run.py [--only NAME] [--engines numpy,theanine,...] [--json]
    python benchmarks/run.py --goals [--json]

Times are per call: the median over `--repeat` repeats (the JSON also has the minimum).
`--goals` runs the workloads the C backend's goals need (`goals.py`) and prints the goals
table first.  `--isolate` (implied by `--goals`) runs each workload's engines one per fresh
process: in one process NumPy's, SciPy's and PyTensor's OpenBLAS pools and theanine[c]'s
OpenMP pool all spin for the same cores, which slows every engine that runs after them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import goals  # noqa: E402
from harness import ENGINE_FAMILIES, Context, Measurement, format_seconds  # noqa: E402
from workloads import WORKLOADS  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    names = [w.NAME for w in WORKLOADS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"run only this workload (repeatable): {', '.join(names)}")
    parser.add_argument("--engines", default=",".join(ENGINE_FAMILIES),
                        help="comma-separated engine families, or theanine[BACKEND] for one "
                             "theanine backend (default: all)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats (default: 7)")
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds one repeat lasts at least (default: 0.2)")
    parser.add_argument("--goals", action="store_true",
                        help="run what the C backend's goals need; print the goals table first")
    parser.add_argument("--isolate", action="store_true",
                        help="run each workload's engines one per fresh process")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.goals and args.only:
        parser.error("--goals chooses its own workloads; drop --only")
    names = [f.strip() for f in args.engines.split(",") if f.strip()]
    parsed = [re.fullmatch(r"(\w+)(?:\[(\w+)\])?", n) for n in names]
    unknown = [n for n, m in zip(names, parsed) if not m or m[1] not in ENGINE_FAMILIES
               or (m[2] and m[1] != "theanine")]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(ENGINE_FAMILIES)} or theanine[BACKEND]")
    families = tuple(dict.fromkeys(m[1] for m in parsed))
    backends = tuple(m[2] for m in parsed if m[2])
    args.theanine_only = backends if backends and "theanine" not in names else None
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


def _machine() -> dict[str, str]:
    """What figures from a shared machine need beside them: cores, load, thread settings."""
    info = {"cpus": str(len(os.sched_getaffinity(0))),
            "load (1 min)": f"{os.getloadavg()[0]:.1f}"}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        info[var] = os.environ.get(var, "unset")
    return info


def _table(rows: list[Measurement], ratios: list[float | None], repeat: int) -> str:
    header = ["workload", "case", "engine", "per call", "vs NumPy", "note"]
    cells = [header] + [[r.workload, r.case, r.engine, format_seconds(r.seconds),
                         f"{q:.2f}x" if q is not None else "-", r.note]
                        for r, q in zip(rows, ratios)]
    widths = [max(len(c[k]) for c in cells) for k in range(len(header))]
    align = [str.ljust, str.ljust, str.ljust, str.rjust, str.rjust, str.ljust]
    lines = ["  ".join(a(c, w) for a, c, w in zip(align, row, widths)).rstrip()
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return (f"time per call = median of {repeat} repeats; vs NumPy = time / NumPy's time "
            "(lower is faster)\n" + "\n".join(lines))


def _engine_names(ctx: Context) -> list[str]:
    """The engines one at a time: families, with theanine split into its backends."""
    names = []
    for family in ctx.families:
        if family == "theanine":
            names += [f"theanine[{b}]" for b, _ in ctx.theanine_backends()]
        else:
            names.append(family)
    return names


def _isolated(args: argparse.Namespace, ctx: Context, workload: str) -> list[Measurement]:
    """`workload`'s rows, each engine measured by a child `run.py` of its own."""
    rows: list[Measurement] = []
    for engine in _engine_names(ctx):
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--only", workload, "--engines", engine,
             "--repeat", str(args.repeat), "--min-time", str(args.min_time), "--json"],
            capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append(Measurement(workload, "-", engine, note=f"FAILED: {last}"))
            continue
        fields = Measurement.__dataclass_fields__
        rows += [Measurement(**{k: v for k, v in r.items() if k in fields})
                 for r in json.loads(done.stdout)["results"]]
    # grouped by case as an in-process run gives them; a row that every child emits
    # (import_time's interpreter start-up) is kept once
    cases = list(dict.fromkeys((r.workload, r.case) for r in rows))
    unique = {(r.workload, r.case, r.engine): r for r in rows}.values()
    return sorted(unique, key=lambda r: cases.index((r.workload, r.case)))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    start = time.perf_counter()
    ctx = Context(repeat=args.repeat, min_time=args.min_time, families=args.families,
                  theanine_only=args.theanine_only)
    wanted = goals.WORKLOADS if args.goals else args.only
    rows: list[Measurement] = []
    for workload in WORKLOADS:
        if wanted and workload.NAME not in wanted:
            continue
        if not args.json:
            print(f"running {workload.NAME}: {workload.DESCRIPTION}", file=sys.stderr)
        rows.extend(_isolated(args, ctx, workload.NAME) if args.isolate or args.goals
                    else workload.run(ctx))
    ratios = _ratios(rows)
    versions, machine = _versions(), _machine()
    records = goals.evaluate(rows) if args.goals else None
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({
            "statistic": "median", "repeat": args.repeat, "versions": versions,
            "machine": machine, "elapsed_seconds": elapsed,
            **({"goals": records} if records else {}),
            "results": [{**vars(r), "ratio_vs_numpy": q} for r, q in zip(rows, ratios)],
        }, indent=2))
    else:
        print(", ".join(f"{k} {v}" for k, v in versions.items()))
        print(", ".join(f"{k} {v}" for k, v in machine.items()))
        if records:
            print(f"\n{goals.table(records)}\n")
        print(_table(rows, ratios, args.repeat))
        print(f"\n(this run took {format_seconds(elapsed)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
