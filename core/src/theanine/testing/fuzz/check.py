"""The checker: one case, every configuration (backend x optimizer), against the reference.

Rules (docs/testing.md says why):
- values: NaN/Inf positions agree; finite entries agree within the tolerance of the dtype
  (scaled by the largest finite reference magnitude); integers and booleans exactly;
- dtype and shape agree with the reference, and the reference agrees with the output's type;
- when the reference raises, every configuration must raise (any Exception; the graph's
  result is undefined, so returning one is a "missing-error" mismatch: an in-place op that
  skips a check the reference makes is exactly this bug class);
- a compiled function must leave its input arrays unchanged;
- under `fast_run`, the graph again as a training step (`updates.check_update`): its first
  input a shared value updated with an output of its type, which in-place ops may overwrite;
- gradients are outputs like any other; for float64 graphs through smooth ops, the reference
  gradient is spot-checked against central finite differences, and so is `Rop` of the
  differentiated output (a Jacobian-vector product, `rop.jvp_problems`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theanine.compile.function import function
from theanine.compile.mode import Mode
from theanine.testing.fuzz.case import Built, Case, build
from theanine.testing.fuzz.domains import OpSpec, flt
from theanine.testing.fuzz.reference import evaluate
from theanine.testing.fuzz.rop import jvp_problems
from theanine.testing.fuzz.updates import check_update, updated_output

OPTIMIZERS: tuple[str | None, ...] = ("fast_run", "fast_compile", None)
REFERENCE = "reference"

#: (rtol, atol) by dtype; atol is scaled by max(1, largest finite |reference|)
TOLERANCES = {"float16": (1e-2, 1e-2), "float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9),
              "complex64": (1e-4, 1e-5), "complex128": (1e-7, 1e-9)}


@dataclass
class Mismatch:
    """One disagreement: configuration `backend`/`optimizer` on graph `index` of `seed`."""

    seed: int
    index: int
    backend: str
    optimizer: str | None
    kind: str  # value, dtype, shape, nan, missing-error, unexpected-error, compile-error, ...
    output: int | None
    detail: str
    case: Case = field(repr=False)
    reproducer: str = ""
    dtype: str = ""  # the dtype of the output that differs ("" for the call as a whole)
    step: int | None = None  # for "numpy": the step whose perform disagrees with NumPy

    def key(self) -> tuple[str, str, str | None, int | None]:
        return self.kind, self.backend, self.optimizer, self.output


def configurations(backends: Sequence[str] | None = None,
                   optimizers: Sequence[str | None] = OPTIMIZERS) -> list[tuple[str, str | None]]:
    """(backend, optimizer) pairs: every registered, available backend (or those named; a
    named backend that is not available is an error) under every optimizer setting."""
    from theanine.plugins import get_registry

    registry = get_registry()
    names = sorted(registry.backends) if backends is None else list(backends)
    chosen = []
    for name in names:
        ok, reason = registry.get_backend(name).is_available()
        if not ok:
            if backends is None:
                continue
            raise RuntimeError(f"fuzz: backend {name!r} is not available: {reason}")
        chosen.append(name)
    return [(b, o) for b in chosen for o in optimizers]


def tolerance_dtype(built: Built, dtype: str) -> str:
    """The dtype whose tolerances apply to an output of `dtype`: the least precise float
    computed anywhere in the graph, if it is less precise (a float32 intermediate limits a
    float64 result to float32 accuracy)."""
    order = ["float64", "complex128", "float32", "complex64", "float16"]
    dtypes = {v.dtype for v in [*built.inputs, *built.steps.values()]} | {dtype}
    ranked = [d for d in order if d in dtypes]
    return ranked[-1] if ranked else dtype


def _diff(want: Any, have: Any, var_dtype: str) -> tuple[str, str] | None:
    """(kind, detail) where `have` disagrees with `want`, else None."""
    want, have = np.asarray(want), np.asarray(have)
    if have.dtype != want.dtype:
        return "dtype", f"dtype {have.dtype}, reference {want.dtype}"
    if have.shape != want.shape:
        return "shape", f"shape {have.shape}, reference {want.shape}"
    if want.dtype.kind == "c":  # real and imaginary parts separately (NaN/Inf per part)
        return _diff(want.real, have.real, var_dtype) or _diff(want.imag, have.imag, var_dtype)
    if want.dtype.kind != "f":
        bad = have != want
        if bad.any():
            return "value", _first(bad, have, want)
        return None
    nan_w, nan_h = np.isnan(want), np.isnan(have)
    inf_w, inf_h = np.isinf(want), np.isinf(have)
    if (nan_w != nan_h).any() or (inf_w != inf_h).any():
        return "nan", _first((nan_w != nan_h) | (inf_w != inf_h), have, want)
    if (inf_w & (have != want)).any():
        return "nan", _first(inf_w & (have != want), have, want)
    finite = ~(nan_w | inf_w)
    rtol, atol = TOLERANCES.get(var_dtype, TOLERANCES["float64"])
    scale = max(1.0, float(np.abs(want[finite]).max())) if finite.any() else 1.0
    with np.errstate(all="ignore"):
        bad = finite & ~np.isclose(have, want, rtol=rtol, atol=atol * scale)
    if bad.any():
        return "value", _first(bad, have, want) + f" (rtol={rtol}, atol={atol * scale:.3g})"
    return None


def _first(bad: np.ndarray, have: np.ndarray, want: np.ndarray) -> str:
    where = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    return (f"{int(bad.sum())} of {bad.size} entries differ; first at {where}: "
            f"got {have[where]!r}, reference {want[where]!r}")


def run_reference(built: Built) -> tuple[list[Any] | None, BaseException | None]:
    try:
        return evaluate(built.outputs, dict(zip(built.inputs, built.values()))), None
    except Exception as exc:
        return None, exc


def check_case(case: Case, specs: Mapping[str, OpSpec],
               configs: Sequence[tuple[str, str | None]], fd: bool = True,
               built: Built | None = None, excluded: frozenset[str] = frozenset()
               ) -> list[Mismatch]:
    """Every disagreement of `case` between the reference and `configs` (at most one per
    configuration: the first output that differs).  `built`: the case's graph, if at hand;
    `excluded`: known defects the checks avoid (see `known.KNOWN_DEFECTS`)."""
    with warnings.catch_warnings():  # NumPy's warnings about empty means, NaNs and casts
        warnings.simplefilter("ignore")
        return _check_case(case, specs, configs, fd, built, excluded)


def _check_case(case: Case, specs: Mapping[str, OpSpec],
                configs: Sequence[tuple[str, str | None]], fd: bool,
                built: Built | None, excluded: frozenset[str]) -> list[Mismatch]:
    def mismatch(backend: str, opt: str | None, kind: str, k: int | None, detail: str):
        dtype = tolerance_dtype(built, built.outputs[k].dtype) if k is not None else ""
        return Mismatch(case.seed, case.index, backend, opt, kind, k, detail, case, "", dtype)

    try:
        built = built or build(case, specs)
    except Exception as exc:
        return [Mismatch(case.seed, case.index, REFERENCE, None, "build-error", None,
                         f"{type(exc).__name__}: {exc}", case)]
    want, ref_exc = run_reference(built)
    found: list[Mismatch] = []
    if want is not None:
        for k, (out, w) in enumerate(zip(built.outputs, want)):
            w = np.asarray(w)
            if str(w.dtype) != out.dtype or w.ndim != out.ndim:
                found.append(mismatch(REFERENCE, None, "type", k, f"perform gives {w.dtype} "
                                      f"of rank {w.ndim} for an output of type {out.type}"))
        for i, d in _numpy_oracle(case, built, specs):
            found.append(mismatch(REFERENCE, None, "numpy", None, d))
            found[-1].step = i
        if fd and case.grad is not None and _fd_applies(case, built, specs):
            found += [mismatch(REFERENCE, None, "finite-difference", k, d)
                      for k, d in _finite_differences(case, built, specs, want)]
            found += [mismatch(REFERENCE, None, "jvp", None, d)
                      for d in jvp_problems(case, specs, excluded)]
    for backend, opt in configs:
        problem = _check_config(built, backend, opt, want, ref_exc)
        if problem is not None:
            found.append(mismatch(backend, opt, *problem))
    return found


def _native_from_first_call() -> contextlib.AbstractContextManager:
    """Native backends must run their own code on the call being checked, not the Python
    program a tiered backend starts with while it compiles."""
    from theanine.config import config

    if "tiered" in config.flags():
        return config.change_flags(tiered=False)
    return contextlib.nullcontext()


def _check_config(built: Built, backend: str, opt: str | None, want: list[Any] | None,
                  ref_exc: BaseException | None) -> tuple[str, int | None, str] | None:
    try:
        with _native_from_first_call():
            f = function(built.inputs, built.outputs, mode=Mode(backend=backend, optimizer=opt),
                         on_unused_input="ignore")
    except Exception as exc:
        if ref_exc is not None:
            return None
        return "compile-error", None, f"{type(exc).__name__}: {exc}"
    values = built.values()
    saved = [v.copy() for v in values]
    try:
        with np.errstate(all="ignore"):
            got = f(*values)
    except Exception as exc:
        if ref_exc is not None:
            return None
        return "unexpected-error", None, f"{type(exc).__name__}: {exc}"
    if ref_exc is not None:
        return ("missing-error", None, f"the reference raises {type(ref_exc).__name__}: "
                f"{str(ref_exc).splitlines()[0]}; the compiled function returned")
    for k, (v, s) in enumerate(zip(values, saved)):
        if not np.array_equal(v, s, equal_nan=v.dtype.kind in "fc"):
            return "input-modified", None, f"input {k} ({built.inputs[k]}) was overwritten"
    assert want is not None
    for k, (out, w, h) in enumerate(zip(built.outputs, want, got)):
        problem = _diff(w, h, tolerance_dtype(built, out.dtype))
        if problem is not None:
            return problem[0], k, problem[1]
    k = updated_output(built) if opt == "fast_run" else None
    if k is None:
        return None
    with _native_from_first_call():
        return check_update(built, backend, opt, want, k,
                            lambda w, h, dtype: _diff(w, h, tolerance_dtype(built, dtype)))


def _numpy_oracle(case: Case, built: Built, specs: Mapping[str, OpSpec]
                  ) -> list[tuple[int, str]]:
    """Steps whose `perform` disagrees with the NumPy expression their spec declares."""
    todo = [(i, specs[case.nodes[i].op]) for i in built.steps
            if specs[case.nodes[i].op].numpy is not None]
    if not todo:
        return []
    values = dict(zip(built.inputs, built.values()))
    problems = []
    for i, spec in todo:
        step = case.nodes[i]
        args = [f"a{k}" for k in range(len(step.args))]
        try:
            arg_values = evaluate([built.steps[a] if a in built.steps else
                                   built.inputs[case.leaves().index(a)] for a in step.args],
                                  values)
            with np.errstate(all="ignore"):
                expected = eval(spec.render(args, step.params, numpy=True),  # noqa: S307
                                {"np": np, "flt": flt, **dict(zip(args, arg_values))})
        except Exception:
            continue  # NumPy refuses too (or an argument raises): nothing to compare
        try:
            (got,) = evaluate([built.steps[i]], values)
        except Exception as exc:
            problems.append((i, f"step v{i} ({spec.name}): perform raises {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0]}; NumPy computes a value of shape "
                            f"{np.shape(expected)}"))
            continue
        problem = _diff(expected, got, str(np.asarray(expected).dtype))
        if problem is not None:
            problems.append((i, f"step v{i} ({spec.name}) against NumPy: {problem[1]}"))
    return problems


FD_EPS, FD_TOL = 1e-6, 1e-4


def fd_direction(case: Case, j: int, shape: tuple[int, ...]) -> np.ndarray:
    """The random direction of the finite-difference check of gradient `j` (a pure function
    of the case's seed and index, so the reproducer draws the same one)."""
    return np.random.default_rng([case.seed, case.index, j]).standard_normal(shape)


def _fd_applies(case: Case, built: Built, specs: Mapping[str, OpSpec]) -> bool:
    """Finite differences are meaningful: smooth ops only, and everything computed in
    float64 (a float32 operand or intermediate, `sum(x, dtype='float32')`, loses the
    precision central differences need)."""
    return all(specs[op].smooth for op in case.ops()) and \
        tolerance_dtype(built, "float64") == "float64"


def _finite_differences(case: Case, built: Built, specs: Mapping[str, OpSpec],
                        want: list[Any]) -> list[tuple[int, str]]:
    """Directional central differences of the cost against the reference gradient, for
    float64 inputs of graphs made of smooth ops only."""
    assert case.grad is not None
    cost_case = Case(case.seed, case.index, case.nodes, [case.grad[0]])
    cost_built = build(cost_case, specs)
    base = {v: leaf.value for v, leaf in zip(cost_built.inputs, cost_built.leaves)}
    pos = {leaf_i: k for k, leaf_i in enumerate(cost_case.leaves())}
    problems = []
    for j, w in enumerate(case.grad[1]):
        leaf = case.nodes[w]
        g = np.asarray(want[built.n_user + j])
        if w not in pos or leaf.dtype != "float64" or not np.all(np.isfinite(g)) \
                or not leaf.value.size or not np.all(np.isfinite(leaf.value)):
            continue
        var = cost_built.inputs[pos[w]]
        d = fd_direction(case, j, leaf.value.shape)
        eps = FD_EPS
        (up,) = evaluate(cost_built.outputs, {**base, var: leaf.value + eps * d})
        (down,) = evaluate(cost_built.outputs, {**base, var: leaf.value - eps * d})
        numeric, symbolic = (float(up) - float(down)) / (2 * eps), float(np.sum(g * d))
        if not np.isfinite(numeric):
            continue
        if abs(numeric - symbolic) > FD_TOL * max(1.0, abs(numeric), abs(symbolic)):
            problems.append((built.n_user + j, f"gradient w.r.t. x{w} along a random "
                             f"direction: {symbolic!r}, finite differences {numeric!r}"))
    return problems
