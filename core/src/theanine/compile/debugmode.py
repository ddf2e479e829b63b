"""`DebugMode` (also `mode='DebugMode'` / `'DEBUG_MODE'`): Theano's self-checking mode, how a
custom-Op author checks a native implementation against `perform`.

Every node runs on the selected backend, then its results are checked, and the first problem
raises an error naming the node: an output that does not fit its type (dtype, rank, a
broadcastable dimension that is not 1), an input changed in place that `destroy_map` does not
list, an output sharing memory with an input that neither `view_map` nor `destroy_map` lists,
NaN or Inf (`check_isfinite`), and results that differ from `perform` run on copies of the
inputs (within the output type's `values_eq_approx` tolerance: looser for float32).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from theanine.compile.mode import Mode
from theanine.compile.nanguardmode import bad_value, is_float
from theanine.config import config
from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op


class DebugModeError(Exception):
    """A check of DebugMode failed; `node` is the node that failed it."""

    def __init__(self, message: str, node: Apply):
        super().__init__(message)
        self.node = node


class BadThunkOutput(DebugModeError):
    """The backend's result differs from `perform`'s."""


class InvalidValueError(DebugModeError):
    """An output does not fit its type, or holds NaN/Inf under `check_isfinite`."""


class BadViewMap(DebugModeError):
    """An output shares memory with an input its `view_map`/`destroy_map` does not list."""


class BadDestroyMap(DebugModeError):
    """An input was changed in place though `destroy_map` does not list it."""


class DebugMode(Mode):
    """Theano's constructor.  `check_isfinite`: NaN/Inf outputs are errors; `check_py_code`:
    compare every node with `perform`; `check_c_code=False`: run on the Python backend rather
    than `config.backend` (None: the config flags `DebugMode.check_finite`, `check_py`,
    `check_c`, True unless set).  `stability_patience`,
    `check_preallocated_output` and `require_matching_strides` are accepted and unused."""

    def __init__(self, optimizer: str | None = "default", stability_patience: int | None = None,
                 check_c_code: bool | None = None, check_py_code: bool | None = None,
                 check_isfinite: bool | None = None, check_preallocated_output: Any = None,
                 require_matching_strides: int | None = None, linker: str | None = None,
                 **kwargs: Any):
        section = config.DebugMode  # None: Theano's config flag (True unless set)
        self.check_isfinite = bool(section.check_finite if check_isfinite is None
                                   else check_isfinite)
        self.check_py_code = bool(section.check_py if check_py_code is None else check_py_code)
        check_c_code = bool(section.check_c if check_c_code is None else check_c_code)
        if not check_c_code and linker is None and kwargs.get("backend") is None:
            linker = "py"
        super().__init__(linker, optimizer, **kwargs)

    def node_hook(self, i: int, node: Apply, thunk: Any) -> Any:
        """`thunk`, with its results checked at every call."""
        op = node.op
        has_perform = type(op).perform is not Op.perform
        reference = Op.python_thunk(op, node) if self.check_py_code and has_perform else None
        check_isfinite = self.check_isfinite

        def checked(*values: Any) -> Any:
            before = [_snapshot(v) for v in values]
            results = list(thunk(*values))
            _check_outputs(node, values, results, check_isfinite)
            _check_destroyed(node, values, before)
            _check_aliases(node, values, results)
            if reference is not None:
                expected = reference(*[_snapshot(v) for v in before])
                _compare(node, values, results, expected)
            return results

        return checked


def _snapshot(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def _fail(kind: type[DebugModeError], node: Apply, values: Any, what: str) -> None:
    from theanine.link.python import describe_node, node_context

    lines = [f"DebugMode: {what}, in {describe_node(node)}",
             *node_context(node, list(values))[1:]]
    raise kind("\n".join(lines), node)


def _check_outputs(node: Apply, values: Any, results: list[Any], check_isfinite: bool) -> None:
    for j, (var, value) in enumerate(zip(node.outputs, results)):
        problem = _type_problem(var, value)
        if problem is not None:
            _fail(InvalidValueError, node, values, f"output {j} should be {var.type}, but "
                  f"{problem}")
        if check_isfinite and is_float(var):
            found = bad_value(value)
            if found is not None:
                _fail(InvalidValueError, node, values, f"output {j} holds {found}")


def _type_problem(var: Variable, value: Any) -> str | None:
    """Why `value` does not fit `var.type`, or None."""
    t = var.type
    broadcastable = getattr(t, "broadcastable", None)
    if broadcastable is None:
        return None if t.is_valid_value(value) else f"got {type(value).__name__} {value!r:.80}"
    if not isinstance(value, np.ndarray | np.generic):
        return f"got a {type(value).__name__}, not an array"
    if str(value.dtype) != t.dtype:
        return f"got dtype {value.dtype}"
    if value.ndim != len(broadcastable):
        return f"got {value.ndim} dimensions (shape {value.shape})"
    stretched = [d for d, b in enumerate(broadcastable) if b and value.shape[d] != 1]
    if stretched:
        return (f"broadcastable dimension {stretched[0]} has extent "
                f"{value.shape[stretched[0]]} (shape {value.shape})")
    return None


def _same(a: Any, b: Any) -> bool:
    """Whether an array is unchanged (NaN equal to NaN); other values are not checked."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        return True
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _check_destroyed(node: Apply, values: Any, before: list[Any]) -> None:
    destroyed = {k for ks in node.op.destroy_map.values() for k in ks}
    for k, (now, then) in enumerate(zip(values, before)):
        if k not in destroyed and not _same(now, then):
            _fail(BadDestroyMap, node, before, f"input {k} ({node.inputs[k]}) was changed in "
                  f"place, but the Op's destroy_map {node.op.destroy_map} does not list it")


def _check_aliases(node: Apply, values: Any, results: list[Any]) -> None:
    op = node.op
    for j, out in enumerate(results):
        if not isinstance(out, np.ndarray):
            continue
        allowed = set(op.view_map.get(j, ())) | set(op.destroy_map.get(j, ()))
        for k, value in enumerate(values):
            if k in allowed or not isinstance(value, np.ndarray):
                continue
            if np.may_share_memory(out, value) and np.shares_memory(out, value):
                _fail(BadViewMap, node, values, f"output {j} shares memory with input {k} "
                      f"({node.inputs[k]}), but neither the Op's view_map {op.view_map} nor "
                      f"its destroy_map {op.destroy_map} lists it")


def _compare(node: Apply, values: Any, results: list[Any], expected: Any) -> None:
    for j, (var, got, want) in enumerate(zip(node.outputs, results, expected)):
        if not isinstance(want, np.ndarray | np.generic):
            continue
        got_a, want_a = np.asarray(got), np.asarray(want)
        if got_a.shape != want_a.shape:
            _fail(BadThunkOutput, node, values, f"output {j} has shape {got_a.shape} on the "
                  f"backend but {want_a.shape} in perform")
        close = var.type.values_eq_approx if is_float(var) else var.type.values_eq
        if not close(got_a, want_a):
            diff = np.argwhere(~np.isclose(got_a, want_a, equal_nan=True)) if is_float(var) \
                else np.argwhere(got_a != want_a)
            at = tuple(int(d) for d in diff[0]) if diff.size else ()
            _fail(BadThunkOutput, node, values, f"output {j} differs between the backend and "
                  f"perform (the reference): at index {at} the backend gave "
                  f"{got_a[at]!r} and perform {want_a[at]!r}")
