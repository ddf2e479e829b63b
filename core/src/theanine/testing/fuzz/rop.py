"""The forward-mode spot check: `gradient.Rop` of a graph's differentiated output against
central finite differences of that output along random directions (a Jacobian-vector
product), for the same graphs the gradient's finite-difference check takes (float64 inputs,
smooth ops).

Both sides run on the reference (`perform`), so this checks the Rop construction (two
reverse passes through every Op's gradient), not a backend.  A graph whose Rop cannot be
built (an Op's gradient Op has no gradient itself, which the double reverse pass needs) is
skipped: that is a missing feature, which building raises clearly (NotImplementedError), not
a wrong value.  Any other error building it is reported.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from theanine.gradient import Rop
from theanine.testing.fuzz.case import Case, build, name_of
from theanine.testing.fuzz.domains import OpSpec
from theanine.testing.fuzz.reference import evaluate

JVP_EPS, JVP_TOL = 1e-6, 1e-4
JVP_STREAM = 7919  # the random stream of the directions, apart from the gradient check's


def _chosen(case: Case, leaves: set[int]) -> list[int]:
    """The `wrt` leaves of the case's gradient the JVP moves: float64, finite, non-empty."""
    assert case.grad is not None
    return [w for w in case.grad[1] if w in leaves and case.nodes[w].dtype == "float64"
            and case.nodes[w].value.size and np.all(np.isfinite(case.nodes[w].value))]


def directions(case: Case, chosen: list[int]) -> list[np.ndarray]:
    """The random directions (a pure function of the case, so the reproducer draws them)."""
    rng = np.random.default_rng([case.seed, case.index, JVP_STREAM])
    return [rng.standard_normal(case.nodes[w].value.shape) for w in chosen]


def jvp_problems(case: Case, specs: Mapping[str, OpSpec],
                 excluded: frozenset[str] = frozenset()) -> list[str]:
    """Where Rop of the output the case's cost reads disagrees with finite differences
    (`excluded`: known defects to stay clear of)."""
    assert case.grad is not None
    cost, wrt = case.grad
    (out,) = case.nodes[cost].args
    sub = Case(case.seed, case.index, case.nodes, [out])
    built = build(sub, specs)
    if "rop_broadcastable" in excluded and any(built.outputs[0].broadcastable):
        return []
    pos = {leaf_i: k for k, leaf_i in enumerate(sub.leaves())}
    chosen = _chosen(case, set(pos))
    if not chosen:
        return []
    variables = [built.inputs[pos[w]] for w in chosen]
    dirs = directions(case, chosen)
    try:
        jv = Rop(built.outputs[0], variables, dirs, disconnected_outputs="ignore")
    except NotImplementedError:  # an Op without a second-order gradient: skip
        return []
    except Exception as exc:
        return [f"Rop of {name_of(case, out)} raises {type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}"]
    base = {v: leaf.value for v, leaf in zip(built.inputs, built.leaves)}
    (symbolic,) = evaluate([jv], base)
    moved = [{**base, **{v: base[v] + s * JVP_EPS * d for v, d in zip(variables, dirs)}}
             for s in (1, -1)]
    (up,), (down,) = (evaluate(built.outputs, m) for m in moved)
    numeric = (np.asarray(up, dtype="float64") - np.asarray(down, dtype="float64")) / (
        2 * JVP_EPS)
    symbolic = np.asarray(symbolic, dtype="float64")
    if symbolic.shape != numeric.shape:
        return [f"Rop of v{out} has shape {symbolic.shape}, the output {numeric.shape}"]
    # entries where either side is not finite are skipped, as the gradient check skips a
    # gradient that is not finite: the graph is singular there (0 / 0, an Inf input)
    finite = np.isfinite(numeric) & np.isfinite(symbolic)
    scale = max([1.0, *np.abs(numeric[finite]).tolist(), *np.abs(symbolic[finite]).tolist()])
    with np.errstate(invalid="ignore"):
        bad = finite & (np.abs(numeric - symbolic) > JVP_TOL * scale)
    if not bad.any():
        return []
    where = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    names = ", ".join(f"x{w}" for w in chosen)
    return [f"Rop of v{out} w.r.t. [{names}] along random directions: {int(bad.sum())} of "
            f"{bad.size} entries differ; first at {where}: {symbolic[where]!r}, finite "
            f"differences {numeric[where]!r}"]


def jvp_lines(case: Case) -> list[str]:
    """The reproducer's comparison for a "jvp" mismatch (after `to_code`'s lines)."""
    assert case.grad is not None
    (out,) = case.nodes[case.grad[0]].args
    chosen = _chosen(case, set(case.ancestors([out])))
    o = name_of(case, out)
    names = ", ".join(f"x{w}" for w in chosen)
    return [f"wrt = [{names}]",
            f"rng = np.random.default_rng([{case.seed}, {case.index}, {JVP_STREAM}])",
            "dirs = [rng.standard_normal(values[inputs.index(w)].shape) for w in wrt]",
            f"jv = theano.gradient.Rop({o}, wrt, dirs, disconnected_outputs='ignore')",
            "base = dict(zip(inputs, values))",
            "symbolic = reference([jv], base)[0]",
            f"up, down = (reference([{o}], {{**base, **{{w: base[w] + s * {JVP_EPS} * d "
            "for w, d in zip(wrt, dirs)}})[0] for s in (1, -1))",
            f"numeric = (up - down) / {2 * JVP_EPS}",
            "ok = np.isfinite(numeric) & np.isfinite(symbolic)",
            "scale = max(1.0, float(np.abs(numeric[ok]).max(initial=0)), "
            "float(np.abs(symbolic[ok]).max(initial=0)))",
            f"np.testing.assert_allclose(symbolic[ok], numeric[ok], rtol=0, "
            f"atol={JVP_TOL} * scale)"]
