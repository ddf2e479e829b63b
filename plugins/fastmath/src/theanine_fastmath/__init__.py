"""theanine-fastmath: opt-in rewrites that trade accuracy for speed, with documented bounds.

Turn them on with `THEANINE_FLAGS=optimizer_including=fastmath` or
`Mode(including=("fastmath",))`; `local_hard_sigmoid` only by name.  The approximations are
also usable directly: `fast_exp(x)`, `fast_log(x)`, `fast_tanh(x)` for float32 tensors.
`ERROR_BOUNDS` is what each one guarantees.
"""

from theanine_fastmath.approx import ERROR_BOUNDS, ErrorBound, fast_exp, fast_log, fast_tanh
from theanine_fastmath.rewrites import REWRITES

#: every rewrite name the plugin registers
REWRITE_NAMES = tuple(rw.name for rw, _, _ in REWRITES)

__all__ = ["ERROR_BOUNDS", "REWRITE_NAMES", "ErrorBound", "fast_exp", "fast_log", "fast_tanh"]
