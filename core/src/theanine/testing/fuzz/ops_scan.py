"""The fuzz table's loops: `theano.scan` over a sequence with states the loop updates, each
with an independent NumPy expression (cumulative sums and products, einsum).

They reach the loop's own machinery on every backend: the per-step calls of the inner
program, keeping only the last value when only `[-1]` is read, the states the step may
overwrite in place (`scan_module.ownership`, an accumulator and a state that views the
sequence), and through gradients the backward Scan.  Sequences are short (a few steps of a
few elements) so the reference's per-step `perform` stays fast.
"""

from __future__ import annotations

from typing import Any

from theanine.testing.fuzz.domains import OpSpec
from theanine.testing.fuzz.generate import Context

F = ("float32", "float64")
#: the rows of the result: every step's, or the last one only (the loop then keeps one)
ROWS = (slice(None), -1)


def _sequence_and_state(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    """A sequence of at least one step and an initial state of one step's shape and dtype."""
    x = ctx.pick(F, (1, 3), min_size=1)
    s0 = ctx.fresh(ctx.dtype(x), ctx.shape(x)[1:])
    return [x, s0], {"rows": ctx.choice(ROWS)}


def _products_and_state(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    """x (n, a, b) and y (n, a, c) multiplied step by step into a (b, c) state."""
    x = ctx.pick(F, (3, 3), min_size=1)
    n, a, _ = ctx.shape(x)
    y = ctx.fresh(ctx.dtype(x), (n, a, int(ctx.rng.integers(1, 4))))
    s0 = ctx.fresh(ctx.dtype(x), (ctx.shape(x)[2], ctx.shape(y)[2]))
    return [x, y, s0], {"rows": ctx.choice(ROWS)}


def _scan(step: str, sequences: str, outputs_info: str, pick: str) -> str:
    return (f"theano.scan(lambda {step}, sequences=[{sequences}], "
            f"outputs_info=[{outputs_info}])[0]{pick}")


def scan_specs() -> list[OpSpec]:
    return [
        OpSpec("scan_sum", _scan("x_t, s: s + x_t", "{0}", "{1}", "[{rows}]"), 2, F,
               sample=_sequence_and_state, weight=0.5,
               numpy="({1} + np.cumsum({0}, axis=0))[{rows}]"),
        OpSpec("scan_product", _scan("x_t, s: s * x_t", "{0}", "{1}", "[{rows}]"), 2, F,
               sample=_sequence_and_state, weight=0.3,
               numpy="({1} * np.cumprod({0}, axis=0))[{rows}]"),
        # the state's new value views the sequence; the step also doubles the state, which
        # the rewrites may do in place (the loop must then copy the state every step)
        OpSpec("scan_view_state", _scan("x_t, s: [x_t, s * 2]", "{0}", "{1}, None", "[1]"),
               2, F, sample=_sequence_and_state, weight=0.3,
               numpy="2 * np.concatenate([{1}[None], {0}[:-1]])"),
        # an accumulator the step may overwrite in place (one gemm a step)
        OpSpec("scan_dot_accumulate",
               _scan("x_t, y_t, s: s + T.dot(x_t.T, y_t)", "{0}, {1}", "{2}", "[{rows}]"),
               3, F, sample=_products_and_state, weight=0.4,
               numpy="({2} + np.cumsum(np.einsum('nab,nac->nbc', {0}, {1}), axis=0))[{rows}]"),
    ]
