"""theanine-fastmath's substitutions: speed gained and error measured, on 2**22 float32 values.

For each function (exp, log, tanh, and sigmoid with its two substitutes) the rows are NumPy's
exact float32 ufunc (the baseline), theanine's exact graph, and the same graph compiled with
the substitution included (`theanine[<backend>]+fastmath`), per available theanine backend.
A fastmath row's note gives the largest error measured against NumPy in float64 over the
inputs, relative (abs for the sigmoids), next to the documented bound.  The approximations
pay on native backends; on the Python backend their NumPy emulation is slower than NumPy's
own functions, and the rows show that too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from harness import Context, Measurement, measure

NAME = "fastmath"
DESCRIPTION = "theanine-fastmath's approximations vs the exact functions, 2**22 float32 values"
SIZE = 2**22


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * v))


#: case -> (theanine expression, NumPy float32 reference, float64 truth, included rewrite,
#:          bound name, error kind, input range)
CASES: dict[str, tuple[Callable[[Any, Any], Any], Callable[[np.ndarray], np.ndarray],
                       Callable[[np.ndarray], np.ndarray], str, str, str, tuple[float, float]]] = {
    "exp": (lambda T, x: T.exp(x), np.exp, np.exp, "local_fast_exp", "fast_exp", "rel",
            (-80.0, 80.0)),
    "log": (lambda T, x: T.log(x), np.log, np.log, "local_fast_log", "fast_log", "rel",
            (1e-6, 1e6)),
    "tanh": (lambda T, x: T.tanh(x), np.tanh, np.tanh, "local_fast_tanh", "fast_tanh", "rel",
             (-10.0, 10.0)),
    "sigmoid->ultra_fast": (lambda T, x: T.nnet.sigmoid(x), lambda v: 1 / (1 + np.exp(-v)),
                            _sigmoid, "local_ultra_fast_sigmoid", "ultra_fast_sigmoid", "abs",
                            (-10.0, 10.0)),
    "sigmoid->hard": (lambda T, x: T.nnet.sigmoid(x), lambda v: 1 / (1 + np.exp(-v)),
                      _sigmoid, "local_hard_sigmoid", "hard_sigmoid", "abs", (-10.0, 10.0)),
}


def _error(got: np.ndarray, truth: np.ndarray, kind: str) -> float:
    err = np.abs(got.astype(np.float64) - truth)
    return float(np.max(err / np.abs(truth) if kind == "rel" else err))


def run(ctx: Context) -> list[Measurement]:
    try:
        from theanine_fastmath import ERROR_BOUNDS
    except ImportError:
        return [Measurement(NAME, "-", "theanine", note="theanine-fastmath is not installed")]
    import theanine
    import theanine.tensor as T

    rng = np.random.default_rng(0)
    rows = []
    for case, (expr, reference, truth_fn, rewrite, bound_name, kind, (lo, hi)) in CASES.items():
        data = (np.exp(rng.uniform(np.log(lo), np.log(hi), SIZE)) if case == "log"
                else rng.uniform(lo, hi, SIZE)).astype(np.float32)
        truth = truth_fn(data.astype(np.float64))
        label = f"{case} {SIZE} float32"
        expected = reference(data)
        if ctx.wants("numpy"):
            rows.append(measure(ctx, NAME, label, "numpy", lambda r=reference, d=data: r(d),
                                expected=expected, rtol=1e-6, atol=0))
        if not ctx.wants("theanine"):
            continue
        bound = ERROR_BOUNDS[bound_name]
        for backend, reason in ctx.theanine_backends():
            for engine, mode in ((f"theanine[{backend}]", theanine.Mode(backend=backend)),
                                 (f"theanine[{backend}]+fastmath",
                                  theanine.Mode(backend=backend, including=(rewrite,)))):
                if reason:
                    rows.append(Measurement(NAME, label, engine, note=f"unavailable: {reason}"))
                    continue
                x = T.fvector("x")
                f = theanine.function([x], expr(T, x), mode=mode)
                if engine.endswith("+fastmath"):
                    row = measure(ctx, NAME, label, engine, lambda f=f, d=data: f(d))
                    allowed = bound.relative if kind == "rel" else bound.absolute
                    row.note = (f"max {kind} error {_error(f(data), truth, kind):.2g} "
                                f"(bound {allowed:.2g})")
                else:
                    row = measure(ctx, NAME, label, engine, lambda f=f, d=data: f(d),
                                  expected=expected, rtol=1e-5, atol=1e-7)
                rows.append(row)
    return rows
