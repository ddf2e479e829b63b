"""`run_fuzz`: generate, check and minimize; the report it returns."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from theanine.testing.fuzz.check import OPTIMIZERS, Mismatch, check_case, configurations
from theanine.testing.fuzz.generate import MAX_STEPS, generate_built
from theanine.testing.fuzz.minimize import minimize
from theanine.testing.fuzz.table import all_specs

#: distinct mismatches shown per (kind, backend, optimizer): minimizing costs compiles
MAX_SHOWN_PER_KIND = 5


@dataclass
class FuzzReport:
    """What a run did: counts, per-op coverage and every mismatch (minimized)."""

    seed: int
    graphs: int = 0
    configurations: list[tuple[str, str | None]] = field(default_factory=list)
    checks: int = 0  # compiled-and-compared (graph, configuration) pairs
    gradients: int = 0
    raising: int = 0  # graphs whose reference raises (every configuration must raise too)
    coverage: Counter = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)  # distinct ones, minimized
    found: int = 0  # every mismatch, duplicates included
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.found

    def summary(self, verbose: bool = False) -> str:
        configs = ", ".join(f"{b}/{o}" for b, o in self.configurations)
        lines = [f"seed {self.seed}: {self.graphs} graphs ({self.gradients} with gradients, "
                 f"{self.raising} raising) x {len(self.configurations)} configurations "
                 f"[{configs}] = {self.checks} checks in {self.seconds:.1f} s; "
                 f"{self.found} mismatch(es), {len(self.mismatches)} distinct shown"]
        if verbose:
            lines.append("coverage (op: graphs): " + ", ".join(
                f"{op}: {n}" for op, n in sorted(self.coverage.items())))
        for m in self.mismatches:
            lines += ["", f"--- mismatch: seed {m.seed}, graph {m.index}, backend "
                      f"{m.backend!r}, optimizer {m.optimizer!r}: {m.kind}", m.detail,
                      "--- reproducer:", m.reproducer]
        return "\n".join(lines)


def run_fuzz(seed: int, n_graphs: int | None = None, backends: Sequence[str] | None = None,
             time_budget: float | None = None, optimizers: Sequence[str | None] = OPTIMIZERS,
             excluded: frozenset[str] = frozenset(), start: int = 0, minimize_found: bool = True,
             max_steps: int = MAX_STEPS, fd: bool = True,
             on_graph: Callable[[int], None] | None = None) -> FuzzReport:
    """Check graphs `start`, `start + 1`, ... of `seed` until `n_graphs` are done or
    `time_budget` seconds have passed (at least one of them must be given).

    `backends`: names to check (default: every available one); `excluded`: known defects the
    generator avoids (see `known.KNOWN_DEFECTS`).  Every mismatch is counted; each is
    minimized and shown unless the same kind on the same configuration was already shown on
    the same ops (or `MAX_SHOWN_PER_KIND` times).  `on_graph(k)` is called before graph k
    is checked (a native backend that crashes the process is then traced to its graph).
    """
    if n_graphs is None and time_budget is None:
        raise ValueError("run_fuzz needs n_graphs or time_budget")
    specs = all_specs()
    unknown = set(excluded) - _excludable(specs)
    if unknown:
        raise ValueError(f"run_fuzz: excluded names no known defect: {sorted(unknown)}")
    report = FuzzReport(seed, configurations=configurations(backends, optimizers))
    t0 = time.perf_counter()
    seen: set = set()
    shown: Counter = Counter()
    k = start
    while (n_graphs is None or report.graphs < n_graphs) and (
            time_budget is None or time.perf_counter() - t0 < time_budget):
        if on_graph is not None:
            on_graph(k)
        case, built = generate_built(seed, k, specs, frozenset(excluded), max_steps)
        k += 1
        report.graphs += 1
        report.gradients += case.grad is not None
        report.coverage.update(set(case.ops()))
        found = check_case(case, specs, report.configurations, fd=fd, built=built,
                           excluded=frozenset(excluded))
        report.checks += len(report.configurations)
        report.raising += case.raises
        report.found += len(found)
        for m in found:
            kind = m.key()[:3]
            if shown[kind] >= MAX_SHOWN_PER_KIND:
                continue
            m = minimize(m, specs) if minimize_found else m
            key = (kind, tuple(sorted(set(m.case.ops()))))
            if key not in seen:
                seen.add(key)
                shown[kind] += 1
                report.mismatches.append(m)
    report.seconds = time.perf_counter() - t0
    return report


def _excludable(specs) -> set[str]:
    from theanine.testing.fuzz.known import FOUND_DEFECTS, KNOWN_DEFECTS

    return set(KNOWN_DEFECTS) | set(FOUND_DEFECTS) | {d for s in specs.values() for d in s.defects}
