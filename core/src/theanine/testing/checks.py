"""The checks a custom Op's tests run: gradient, shape inference, and backends against perform.

`verify_grad` is also `theanine.gradient.verify_grad` (Theano's path), resolved on first use there
because it compiles functions.

Each takes the Op (or a function of symbolic inputs that applies it) and the NumPy values to
test at; the symbolic inputs are made from the values' dtypes and ranks.  A failed check raises
an AssertionError subclass whose message names the Op, the output and what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theanine.compile.function import function
from theanine.compile.mode import Mode
from theanine.config import config
from theanine.gradient import GradientError, grad
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, constant
from theanine.tensor.type import TensorType

OpOrFunction = Op | Callable[..., Any]


class InferShapeError(AssertionError):
    """`infer_shape` disagrees with the shape of what the Op computes."""


class BackendMismatchError(AssertionError):
    """A backend's result differs from `perform`'s (or `perform`'s from its output type)."""


def _name(op: OpOrFunction) -> str:
    return str(op) if isinstance(op, Op) else getattr(op, "__name__", repr(op))


def make_variables(values: Sequence[Any]) -> list[Variable]:
    """One symbolic input per value: its dtype and rank, no dimension broadcastable."""
    variables = []
    for k, v in enumerate(values):
        arr = np.asarray(v)
        variables.append(TensorType(arr.dtype, (False,) * arr.ndim)(f"input{k}"))
    return variables


def _outputs(op: OpOrFunction, variables: Sequence[Variable]) -> list[Variable]:
    """The Op applied to `variables` (all its outputs), or what the function returns."""
    if isinstance(op, Op):
        return list(op.make_node(*variables).outputs)
    out = op(*variables)
    return [as_tensor_variable(o) for o in (out if isinstance(out, list | tuple) else [out])]


def _node_of(op: OpOrFunction, outputs: Sequence[Variable]) -> Apply:
    node = outputs[0].owner
    if node is None:
        raise TypeError(f"{_name(op)} returned {outputs[0]}, which no Op computes")
    return node


def verify_grad(fun: OpOrFunction, pt: Sequence[Any], n_tests: int = 2,
                rng: np.random.RandomState | np.random.Generator | None = None,
                eps: float | None = None, out_type: str | None = None,
                abs_tol: float | None = None, rel_tol: float | None = None,
                mode: Any = None, cast_to_output_type: bool = False,
                no_debug_ref: bool = True, *, backend: str | None = None) -> None:
    """Compare the symbolic gradient of `fun` (an Op, or a function of symbolic inputs) at
    the float point `pt` with central finite differences.

    Each test projects the output (every output of a multi-output Op, concatenated) on a
    random direction to get a scalar cost.  `mode`/`backend` choose how the functions are
    compiled.  Theano's positional order is kept; `out_type`, `cast_to_output_type` and
    `no_debug_ref` have no effect here (the projection is always in the output's dtype).
    Integer inputs (sizes, labels) are not differentiable: close over them, as in
    `verify_grad(lambda x: MyOp()(x, labels), [x_value])`.  Raises `GradientError`.
    """
    del out_type, cast_to_output_type, no_debug_ref
    if not isinstance(pt, list | tuple):
        raise TypeError(f"verify_grad: pt must be a list of NumPy arrays (one per input of "
                        f"{_name(fun)}), got {type(pt).__name__}")
    rng = rng if rng is not None else np.random.default_rng(42)
    values = [np.array(p) for p in pt]
    for i, v in enumerate(values):
        if v.dtype.kind not in "fc":
            raise TypeError(f"verify_grad: pt[{i}] has dtype {v.dtype}; the point must be "
                            "floats (close over integer arguments in a function)")
    inputs = make_variables(values)
    outs = _outputs(fun, inputs)
    out = outs[0] if len(outs) == 1 else _concatenate_flat(outs)
    low_precision = any(v.dtype in (np.float16, np.float32, np.complex64) for v in values)
    eps = eps if eps is not None else (1e-2 if low_precision else 1e-6)
    abs_tol = abs_tol if abs_tol is not None else (1e-2 if low_precision else 1e-5)
    rel_tol = rel_tol if rel_tol is not None else (1e-2 if low_precision else 1e-5)

    def compile_(outputs: Any) -> Any:
        return function(inputs, outputs, mode=mode, backend=backend, on_unused_input="ignore")

    out_shape = np.shape(compile_(out)(*values))
    for _ in range(n_tests):
        proj = rng.uniform(0.5, 1.5, size=out_shape) * rng.choice([-1.0, 1.0], size=out_shape)
        proj_var = constant(np.asarray(proj, dtype=out.dtype if out.dtype[0] in "fc"
                                       else "float64"))
        cost = (out * proj_var).sum() if out.ndim else out * proj_var
        f_cost = compile_(cost)
        analytic = compile_(grad(cost, inputs, disconnected_inputs="ignore"))(*values)
        for k, v in enumerate(values):
            numeric = _numeric_grad(f_cost, values, k, eps)
            a = np.asarray(analytic[k], dtype="float64")
            err = np.abs(a - numeric)
            tol = abs_tol + rel_tol * np.abs(numeric)
            if not np.all(err <= tol):
                worst = int(np.argmax(err - tol))
                raise GradientError(
                    f"{_name(fun)}: verify_grad: gradient w.r.t. input {k} (shape {v.shape}) "
                    f"differs from the numerical one: max abs error {err.max():.3g} at flat "
                    f"index {worst} (analytic {a.reshape(-1)[worst]:.6g}, numeric "
                    f"{numeric.reshape(-1)[worst]:.6g})")


verify_grad.E_grad = GradientError  # type: ignore[attr-defined]  # Theano's spelling


def _numeric_grad(f_cost: Any, values: list[np.ndarray], k: int, eps: float) -> np.ndarray:
    """d f_cost / d values[k] by central differences."""
    v = values[k]
    numeric = np.zeros(v.shape, dtype="float64")
    flat = numeric.reshape(-1)
    for j in range(v.size):
        plus, minus = v.copy(), v.copy()
        plus.reshape(-1)[j] += eps
        minus.reshape(-1)[j] -= eps
        args_p = values[:k] + [plus] + values[k + 1:]
        args_m = values[:k] + [minus] + values[k + 1:]
        flat[j] = (float(f_cost(*args_p)) - float(f_cost(*args_m))) / (2 * eps)
    return numeric


def _concatenate_flat(outs: Sequence[Variable]) -> Variable:
    from theanine.tensor.join import concatenate
    from theanine.tensor.math import cast

    floats = [o for o in outs if o.dtype[0] in "fc"]
    return concatenate([cast(o, "float64").flatten() for o in floats])


def check_infer_shape(op: OpOrFunction, inputs: Sequence[Any], *,
                      variables: Sequence[Variable] | None = None,
                      backend: str | None = None) -> None:
    """Check `infer_shape` of the Op (of the node computing the function's first output)
    against the shapes its outputs really have on `inputs`.

    The inferred shapes are expressions of the input shapes; they are compiled with the outputs
    and evaluated on the same values.  `variables` overrides the symbolic inputs (to make some
    dimensions broadcastable, say).  Raises `InferShapeError`.
    """
    from theanine.tensor.basic import shape as tshape

    variables = list(variables) if variables is not None else make_variables(inputs)
    node = _node_of(op, _outputs(op, variables))
    name = str(node.op)
    in_shapes = [tuple(tshape(i)[d] for d in range(i.ndim)) for i in node.inputs]
    try:
        shapes = node.op.infer_shape(None, node, in_shapes)
    except NotImplementedError as exc:
        raise InferShapeError(f"{name} has no infer_shape: {exc}") from None
    if len(shapes) != len(node.outputs):
        raise InferShapeError(f"{name}.infer_shape gave {len(shapes)} shape(s) for "
                              f"{len(node.outputs)} output(s)")
    flat: list[Variable] = []
    for k, (out, shp) in enumerate(zip(node.outputs, shapes)):
        if len(shp) != out.ndim:
            raise InferShapeError(f"{name}.infer_shape gave {len(shp)} entries for output {k}, "
                                  f"which has {out.ndim} dimension(s) ({out.type})")
        for s in shp:
            s = as_tensor_variable(s)
            if s.ndim != 0 or s.dtype[0] not in "iu":
                raise InferShapeError(f"{name}.infer_shape gave {s} ({s.type}) for output {k}; "
                                      "shape entries must be integer scalars")
            flat.append(s)
    mode = Mode(backend=backend, optimizer=None)
    results = function(variables, list(node.outputs) + flat, mode=mode,
                       on_unused_input="ignore")(*inputs)
    computed, inferred = results[:len(node.outputs)], results[len(node.outputs):]
    start = 0
    for k, (value, shp) in enumerate(zip(computed, shapes)):
        got = tuple(int(v) for v in inferred[start:start + len(shp)])
        start += len(shp)
        if got != np.shape(value):
            raise InferShapeError(f"{name}.infer_shape says output {k} has shape {got}, but "
                                  f"the computed output has shape {np.shape(value)} (input "
                                  f"shapes {[np.shape(v) for v in inputs]})")


def _tolerances(dtype: np.dtype) -> tuple[float, float]:
    if dtype.kind not in "fc":
        return 0.0, 0.0
    if dtype.itemsize <= 2:
        return 1e-3, 1e-3
    if dtype in (np.float32, np.complex64):
        return 1e-4, 1e-6
    return 1e-6, 1e-9


def _check_value(var: Variable, value: Any, where: str) -> None:
    """The value `where` produced for `var` must have its type's dtype, rank and size-1
    broadcastable dimensions."""
    arr = np.asarray(value)
    if not isinstance(var.type, TensorType):
        return
    problem = None
    if str(arr.dtype) != var.type.dtype:
        problem = f"dtype {arr.dtype}"
    elif arr.ndim != var.type.ndim:
        problem = f"{arr.ndim} dimension(s)"
    elif any(b and s != 1 for b, s in zip(var.type.broadcastable, arr.shape)):
        problem = f"shape {arr.shape}"
    if problem is not None:
        raise BackendMismatchError(f"{where} returned a value of {problem} for an output of "
                                   f"type {var.type}")


def _reference(node: Apply, variables: Sequence[Variable], inputs: Sequence[Any]) -> list[Any]:
    """`node.op.perform` on the values of the node's inputs, checking it leaves its inputs
    alone unless its destroy_map says otherwise."""
    known = dict(zip(variables, inputs))
    missing = [i for i in node.inputs if i not in known and not isinstance(i, Constant)]
    if missing:  # the function built intermediate values: compute them on the reference path
        values = function(variables, missing, mode=Mode(backend="python", optimizer=None),
                          on_unused_input="ignore")(*inputs)
        known.update(zip(missing, values))
    args = [np.array(i.data if isinstance(i, Constant) else known[i]) for i in node.inputs]
    saved = [a.copy() for a in args]
    storage: list[list[Any]] = [[None] for _ in node.outputs]
    node.op.perform(node, args, storage)
    destroyed = {i for ins in getattr(node.op, "destroy_map", {}).values() for i in ins}
    for k, (a, s) in enumerate(zip(args, saved)):
        if k not in destroyed and not np.array_equal(a, s, equal_nan=a.dtype.kind in "fc"):
            raise BackendMismatchError(f"{node.op}.perform modified its input {k} "
                                       f"({node.inputs[k]}), which its destroy_map does "
                                       "not declare")
    for k, (out, cell) in enumerate(zip(node.outputs, storage)):
        if cell[0] is None:
            raise BackendMismatchError(f"{node.op}.perform did not set output {k}")
        _check_value(out, cell[0], f"{node.op}.perform")
    return [cell[0] for cell in storage]


def check_backends(op: OpOrFunction, inputs: Sequence[Any], *,
                   variables: Sequence[Variable] | None = None,
                   backends: Sequence[str] | None = None,
                   rtol: float | None = None, atol: float | None = None) -> list[str]:
    """Run the Op through `perform` and through each backend, and compare the results.

    `backends`: the names to check (default: every registered backend that is available; a
    named backend that is not available is an error).  Graphs are compiled without rewrites
    (`optimizer=None`) so each backend runs the Op's node itself.  Returns the names of the
    backends checked; raises `BackendMismatchError` on the first difference.
    """
    from theanine.plugins import get_registry

    variables = list(variables) if variables is not None else make_variables(inputs)
    node = _node_of(op, _outputs(op, variables))
    expected = _reference(node, variables, inputs)
    registry = get_registry()
    names = sorted(registry.backends) if backends is None else list(backends)
    checked = []
    for name in names:
        ok, reason = registry.get_backend(name).is_available()
        if not ok:
            if backends is None:
                continue
            raise RuntimeError(f"check_backends: backend {name!r} is not available: {reason}")
        with config.change_flags(tiered=False):  # the backend's own code from the first call
            f = function(variables, list(node.outputs), mode=Mode(backend=name, optimizer=None),
                         on_unused_input="ignore")
        got = f(*[np.array(v) for v in inputs])
        for k, (out, want, have) in enumerate(zip(node.outputs, expected, got)):
            _compare(node.op, name, k, out, np.asarray(want), np.asarray(have), rtol, atol)
        checked.append(name)
    return checked


def _compare(op: Op, backend: str, k: int, out: Variable, want: np.ndarray, have: np.ndarray,
             rtol: float | None, atol: float | None) -> None:
    where = f"backend {backend!r} on {op} (output {k}, {out.type})"
    _check_value(out, have, where)
    if have.shape != want.shape:
        raise BackendMismatchError(f"{where}: shape {have.shape}, perform gives {want.shape}")
    d_rtol, d_atol = _tolerances(want.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    if want.dtype.kind in "fc":
        close = np.isclose(have, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = have == want
    if not np.all(close):
        bad = np.argwhere(~np.asarray(close))
        first = tuple(int(i) for i in bad[0]) if bad.size else ()
        raise BackendMismatchError(
            f"{where} differs from perform at {len(bad)} of {want.size} entries; first at "
            f"index {first}: backend {have[first]!r}, perform {want[first]!r} "
            f"(rtol={rtol}, atol={atol})")
