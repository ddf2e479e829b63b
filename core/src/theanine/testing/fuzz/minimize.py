"""Shrinking a failing case to a small reproducer, and printing it as runnable Python.

Greedy delta debugging on the recipe: drop outputs, the gradient and `wrt` inputs; replace a
step by an input holding the value the reference computes for it (which cuts off everything
above it); cut input values down along each dimension; use plain C-ordered inputs.  A change
is kept when the same configuration still shows the same kind of mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

import numpy as np

from theanine.testing.fuzz.case import Case, Leaf, Step, build, name_of, to_code
from theanine.testing.fuzz.check import (
    FD_EPS,
    FD_TOL,
    REFERENCE,
    TOLERANCES,
    Mismatch,
    check_case,
)
from theanine.testing.fuzz.domains import OpSpec
from theanine.testing.fuzz.reference import evaluate
from theanine.testing.fuzz.rop import jvp_lines
from theanine.testing.fuzz.updates import updated_output

MAX_TRIES = 300


def _fails(case: Case, specs: Mapping[str, OpSpec], target: Mismatch) -> Mismatch | None:
    configs = [] if target.backend == REFERENCE else [(target.backend, target.optimizer)]
    for m in check_case(case, specs, configs, fd=target.kind in ("finite-difference", "jvp")):
        if m.kind == target.kind and m.backend == target.backend:
            return m
    return None


def minimize(mismatch: Mismatch, specs: Mapping[str, OpSpec]) -> Mismatch:
    """A mismatch of the same kind and configuration on a case as small as this finds."""
    best, tries, progress = mismatch, 0, True
    while progress and tries < MAX_TRIES:
        progress = False
        for candidate in _candidates(best.case, specs):
            tries += 1
            found = _fails(candidate, specs, best)
            if found is not None:
                best, progress = found, True
                break
            if tries >= MAX_TRIES:
                break
    best.reproducer = reproducer(best, specs)
    return best


def _candidates(case: Case, specs: Mapping[str, OpSpec]) -> Iterator[Case]:
    if len(case.outputs) > 1:
        for k in range(len(case.outputs)):
            yield replace(case, outputs=case.outputs[:k] + case.outputs[k + 1:])
    if case.grad is not None:
        yield replace(case, grad=None)
        cost, wrt = case.grad
        if len(wrt) > 1:
            for k in range(len(wrt)):
                yield replace(case, grad=(cost, wrt[:k] + wrt[k + 1:]))
    roots = list(case.outputs) + ([case.grad[0]] if case.grad else [])
    needed = sorted(case.ancestors(roots))
    for i in reversed(needed):
        node = case.nodes[i]
        if isinstance(node, Step) and (case.grad is None or i != case.grad[0]):
            yield from _as_input(case, i, specs)
    for i in needed:
        node = case.nodes[i]
        if isinstance(node, Leaf):
            yield from _smaller_leaves(case, i, node)


def _as_input(case: Case, i: int, specs: Mapping[str, OpSpec]) -> Iterator[Case]:
    """`case` with step `i` replaced by an input holding its reference value."""
    try:
        built = build(Case(case.seed, case.index, case.nodes, [i]), specs)
        (value,) = evaluate(built.outputs, dict(zip(built.inputs, built.values())))
    except Exception:
        return
    var = built.outputs[0]
    value = np.asarray(value)
    if str(value.dtype) != var.dtype:
        return
    nodes = list(case.nodes)
    nodes[i] = Leaf(var.dtype, var.broadcastable, value.copy())
    new = replace(case, nodes=nodes)
    if case.grad is not None and var.dtype.startswith("float") and i in case.ancestors(
            [case.grad[0]]):
        new.grad = (case.grad[0], tuple(sorted(set(case.grad[1]) | {i})))
        yield new
        new = replace(new, grad=case.grad)
    yield new


def _smaller_leaves(case: Case, i: int, leaf: Leaf) -> Iterator[Case]:
    def with_leaf(new_leaf: Leaf) -> Case:
        nodes = list(case.nodes)
        nodes[i] = new_leaf
        return replace(case, nodes=nodes)

    if leaf.layout != "c":
        yield with_leaf(replace(leaf, layout="c"))
    # zip: a leaf drawn from a wrong-rank result (the bug being minimized) has fewer types
    for d, (size, broadcastable) in enumerate(zip(leaf.value.shape, leaf.broadcastable)):
        if broadcastable:
            continue
        for keep in sorted({0, 1, size // 2}):
            if keep < size:
                yield with_leaf(replace(leaf, value=np.take(leaf.value, range(keep), axis=d)))
    if leaf.value.dtype.kind == "f" and leaf.value.size:
        rounded = np.round(leaf.value)
        if not np.array_equal(rounded, leaf.value, equal_nan=True):
            yield with_leaf(replace(leaf, value=rounded.astype(leaf.value.dtype)))


def _comparison(m: Mismatch, specs: Mapping[str, OpSpec]) -> list[str]:
    k = m.output
    call = ["got = f(*values)"]
    if m.kind == "missing-error":
        return ["try:", "    reference(outputs, dict(zip(inputs, values)))",
                "except Exception as exc:",
                "    print('the reference raises', type(exc).__name__, exc)",
                "else:", "    raise SystemExit('the reference no longer raises')",
                *call, "raise AssertionError('the reference raises, the compiled function "
                "returned')"]
    lines = ["want = reference(outputs, dict(zip(inputs, values)))"]
    if m.kind == "build-error":
        return ["# building the graph above raises"]
    if m.backend == REFERENCE:
        if m.kind == "type":
            return lines + [f"assert want[{k}].dtype == outputs[{k}].dtype, "
                            f"(want[{k}].dtype, outputs[{k}].type)"]
        if m.kind == "jvp":
            return jvp_lines(m.case)
        if m.kind == "numpy":
            return _numpy_lines(m, specs)
        return lines + _fd_lines(m)
    if m.kind in ("compile-error", "unexpected-error"):
        return lines + call + ["# the line above raises; the reference computes `want`"]
    if m.kind == "input-modified":
        return lines + ["saved = [v.copy() for v in values]", *call,
                        "for v, s in zip(values, saved):",
                        "    np.testing.assert_array_equal(v, s)"]
    lines += call
    if m.kind == "dtype":
        return lines + [f"assert got[{k}].dtype == want[{k}].dtype, "
                        f"(got[{k}].dtype, want[{k}].dtype)"]
    if m.kind == "shape":
        return lines + [f"assert got[{k}].shape == want[{k}].shape, "
                        f"(got[{k}].shape, want[{k}].shape)"]
    rtol, atol = TOLERANCES.get(m.dtype, (0.0, 0.0))
    if rtol == 0.0:
        return lines + [f"np.testing.assert_array_equal(got[{k}], want[{k}])"]
    return lines + [f"scale = max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(want[{k}]), "
                    f"want[{k}], 0)), initial=0)))",
                    f"np.testing.assert_allclose(got[{k}], want[{k}], rtol={rtol}, "
                    f"atol={atol} * scale, equal_nan=True)"]


def _update_lines(m: Mismatch, specs: Mapping[str, OpSpec]) -> list[str]:
    """The case as a training step (`updates.check_update`): outputs and the new value."""
    k = updated_output(build(m.case, specs))
    dtype = m.dtype or "float64"
    return ["from theanine.testing.fuzz.check import _diff",
            "want = reference(outputs, dict(zip(inputs, values)))",
            "state = theano.shared(values[0].copy(), name='state', "
            "broadcastable=inputs[0].broadcastable)",
            f"f = theano.function(inputs[1:], outputs, mode=theano.Mode(backend={m.backend!r}, "
            f"optimizer={m.optimizer!r}), givens=[(inputs[0], state)], "
            f"updates=[(state, outputs[{k}])], on_unused_input='ignore')",
            "got = f(*values[1:])",
            f"for w, g in zip([*want, want[{k}]], [*got, state.get_value()]):",
            f"    assert _diff(w, g, {dtype!r}) is None, _diff(w, g, {dtype!r})"]


def _numpy_lines(m: Mismatch, specs: Mapping[str, OpSpec]) -> list[str]:
    """Step `m.step`'s perform against the NumPy expression its spec declares."""
    assert m.step is not None
    step = m.case.nodes[m.step]
    assert isinstance(step, Step)
    args = ", ".join(name_of(m.case, a) for a in step.args)
    names = [f"a{k}" for k in range(len(step.args))]
    expr = specs[step.op].render(names, step.params, numpy=True)
    return ["from theanine.testing.fuzz.check import _diff",
            "from theanine.testing.fuzz.domains import flt",
            "base = dict(zip(inputs, values))",
            f"{', '.join(names)}, = reference([{args}], base)",
            f"expected = {expr}",
            f"got = reference([{name_of(m.case, m.step)}], base)[0]",
            "problem = _diff(expected, got, str(np.asarray(expected).dtype))",
            "assert problem is None, (problem, flt)"]


def _fd_lines(m: Mismatch) -> list[str]:
    case = m.case
    assert case.grad is not None and m.output is not None
    cost, wrt = case.grad
    j = m.output - len(case.outputs)
    leaf = wrt[j]
    pos = case.leaves().index(leaf)
    return [f"d = np.random.default_rng([{case.seed}, {case.index}, {j}]).standard_normal("
            f"values[{pos}].shape)",
            "def cost_at(v):",
            f"    return float(reference([v{cost}], {{**dict(zip(inputs, values)), x{leaf}: v}})"
            "[0])",
            f"numeric = (cost_at(values[{pos}] + {FD_EPS} * d) - cost_at(values[{pos}] - "
            f"{FD_EPS} * d)) / {2 * FD_EPS}",
            f"symbolic = float(np.sum(want[{m.output}] * d))",
            f"assert abs(numeric - symbolic) <= {FD_TOL} * max(1.0, abs(numeric), "
            "abs(symbolic)), (symbolic, numeric)"]


def reproducer(m: Mismatch, specs: Mapping[str, OpSpec]) -> str:
    """Runnable Python that rebuilds the case and runs the comparison that fails."""
    opt = repr(m.optimizer)
    head = [f"# theanine fuzz: seed {m.seed}, graph {m.index}: {m.kind} on "
            f"{'output ' + str(m.output) if m.output is not None else 'the call'} "
            f"(backend {m.backend!r}, optimizer {opt})",
            *[f"# {line}" for line in m.detail.splitlines()[:3]],
            "import numpy as np", "", "import theanine as theano",
            "import theanine.tensor as T",
            "from theanine.testing.fuzz import reference", ""]
    body = to_code(m.case, specs)
    if m.kind in ("update", "update-error"):
        return "\n".join(head + body + _update_lines(m, specs)) + "\n"
    if m.backend != REFERENCE:
        body.append(f"f = theano.function(inputs, outputs, mode=theano.Mode("
                    f"backend={m.backend!r}, optimizer={opt}), on_unused_input='ignore')")
    return "\n".join(head + body + _comparison(m, specs)) + "\n"
