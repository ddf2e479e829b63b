"""`python -m theanine.testing.fuzz`: run the differential fuzzer from the command line.

    python -m theanine.testing.fuzz --minutes 5 --backend c
    python -m theanine.testing.fuzz --graphs 2000 --seed 7 --optimizer fast_run --verbose

Prints the counts (graphs, configurations, mismatches, and with --verbose the per-op
coverage) and, for each mismatch, its seed/index and the minimized reproducer.  Exit status 1
on any mismatch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from theanine.testing.fuzz.check import OPTIMIZERS
from theanine.testing.fuzz.known import FOUND_DEFECTS, KNOWN_DEFECTS
from theanine.testing.fuzz.run import run_fuzz

_OPTIMIZER_NAMES = {"fast_run": "fast_run", "fast_compile": "fast_compile", "none": None}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m theanine.testing.fuzz",
                                description="Differential fuzzing of theanine's backends and "
                                            "rewrites against the Ops' perform.")
    p.add_argument("--minutes", type=float, default=None,
                   help="run for this long (default: 1 minute unless --graphs is given)")
    p.add_argument("--graphs", type=int, default=None, help="check this many graphs")
    p.add_argument("--seed", type=int, default=0, help="graph k of seed s is always the same")
    p.add_argument("--start", type=int, default=0, help="first graph index (to resume)")
    p.add_argument("--backend", action="append", default=None, metavar="NAME",
                   help="backend to check (repeatable; default: every available one)")
    p.add_argument("--optimizer", action="append", default=None,
                   choices=sorted(_OPTIMIZER_NAMES), help="optimizer setting (repeatable; "
                   "default: fast_run, fast_compile and none)")
    p.add_argument("--exclude-known", action="store_true",
                   help="skip what triggers the known defects (theanine.testing.fuzz.known)")
    p.add_argument("--max-steps", type=int, default=5, help="ops per graph, at most")
    p.add_argument("--verbose", "-v", action="store_true", help="print per-op coverage")
    p.add_argument("--trace", action="store_true",
                   help="print each graph's index to stderr before checking it (to find the "
                        "graph of a crash)")
    return p


def _trace(k: int) -> None:
    print(f"graph {k}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    minutes = args.minutes if args.minutes is not None or args.graphs is not None else 1.0
    optimizers = (tuple(_OPTIMIZER_NAMES[o] for o in args.optimizer)
                  if args.optimizer else OPTIMIZERS)
    report = run_fuzz(args.seed, args.graphs, backends=args.backend,
                      time_budget=minutes * 60 if minutes is not None else None,
                      optimizers=optimizers, start=args.start, max_steps=args.max_steps,
                      excluded=(frozenset(KNOWN_DEFECTS) | frozenset(FOUND_DEFECTS)
                                if args.exclude_known else frozenset()),
                      on_graph=_trace if args.trace else None)
    print(report.summary(verbose=args.verbose))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
