"""The differential fuzzer: random well-typed graphs over the op library, compiled under every
optimizer setting on every available backend, compared with a reference that runs the
unoptimized graph node by node with each Op's `perform`.

    from theanine.testing.fuzz import run_fuzz
    report = run_fuzz(seed=0, n_graphs=500)
    assert report.ok, report.summary()

or `python -m theanine.testing.fuzz --minutes 5 --backend c`.  See docs/testing.md.
"""

from theanine.testing.fuzz.case import Case, Leaf, Step, build
from theanine.testing.fuzz.check import Mismatch, check_case, configurations
from theanine.testing.fuzz.domains import DOMAINS, Code, OpSpec
from theanine.testing.fuzz.generate import Context, Skip, generate
from theanine.testing.fuzz.known import CI_EXCLUDED, FOUND_DEFECTS, KNOWN_DEFECTS
from theanine.testing.fuzz.minimize import minimize, reproducer
from theanine.testing.fuzz.reference import evaluate as reference
from theanine.testing.fuzz.run import FuzzReport, run_fuzz
from theanine.testing.fuzz.table import all_specs, builtin_specs

__all__ = ["CI_EXCLUDED", "DOMAINS", "FOUND_DEFECTS", "KNOWN_DEFECTS", "Case", "Code",
           "Context", "FuzzReport", "Leaf", "Mismatch", "OpSpec", "Skip", "Step", "all_specs",
           "build", "builtin_specs", "check_case", "configurations", "generate", "minimize",
           "reference", "reproducer", "run_fuzz"]
