"""Reverse-mode differentiation (`grad`) and the numerical gradient check (`verify_grad`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import (
    Apply,
    Constant,
    Variable,
    clone_replace,
    graph_inputs,
    io_toposort,
)
from theanine.graph.fg import FunctionGraph
from theanine.graph.op import Op
from theanine.rewriting.basic import EquilibriumRewriter, NodeRewriter
from theanine.tensor.type import TensorType


class DisconnectedInputError(ValueError):
    """`grad` was asked for a variable the cost does not depend on (differentiably)."""


class GradientError(AssertionError):
    """`verify_grad` found the symbolic gradient differs from the numerical one."""


def _op_grads(node, output_grads):
    try:
        return node.op.L_op(node.inputs, node.outputs, output_grads)
    except NotImplementedError as exc:
        raise NotImplementedError(f"{node.op} has no gradient, so grad cannot go through "
                                  f"{node}: {exc}") from None


def _zeros_like(v: Variable) -> Variable:
    from theanine.config import config
    from theanine.tensor.basic import zeros_like

    return zeros_like(v, dtype=v.dtype if v.dtype[0] in "fc" else config.floatX)


def grad_as(g: Variable, dtype: str) -> Variable:
    """A gradient term in the dtype of the variable it belongs to.  A real variable's gradient
    is the real part of a complex term (Theano's convention: dC/dRe + i dC/dIm)."""
    from theanine.tensor.math import cast, real

    if g.dtype == dtype:
        return g
    if g.dtype[0] == "c" and dtype[0] != "c":
        g = real(g)
    return cast(g, dtype)


def _fit(g: Variable, like: Variable, source: str) -> Variable:
    """Check a gradient term against the variable it belongs to, and match dtype/pattern."""
    from theanine.tensor.basic import Rebroadcast, as_tensor_variable

    g = as_tensor_variable(g)
    if g.ndim != like.ndim:
        raise TypeError(f"{source} gave a gradient of rank {g.ndim} for {like}, which has "
                        f"rank {like.ndim}")
    if like.dtype[0] in "fc":
        g = grad_as(g, like.dtype)
    if g.broadcastable != like.broadcastable:
        g = Rebroadcast(like.broadcastable)(g)
    return g


def grad(cost: Variable | None, wrt: Variable | Sequence[Variable],
         consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise",
         known_grads: dict[Variable, Any] | None = None) -> Any:
    """Symbolic gradient of the scalar `cost` with respect to `wrt` (a variable or a list).

    `consider_constant`: variables through which no gradient flows.  `disconnected_inputs`:
    'raise' (default), 'warn' or 'ignore' when a `wrt` variable does not influence the cost.
    `known_grads`: {variable: gradient} to start from instead of (or besides) the cost.
    """
    from theanine.tensor.basic import as_tensor_variable, ones_like

    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_inputs!r}")
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(w).__name__} {w!r}")
    known = dict(known_grads or {})
    roots: dict[Variable, Variable] = {}
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar, but {cost} has type {cost.type}; "
                            "reduce it first (e.g. cost.sum() or cost.mean())")
        one = ones_like(cost, dtype=cost.dtype if cost.dtype[0] in "fc" else "float64")
        roots[cost] = one
    for var, g in known.items():
        roots[var] = _fit(as_tensor_variable(g), var, "known_grads")
    blocked = set(consider_constant or ())
    work = _StableCopy(roots, wrt_list, blocked)
    grads = _backward(work.roots, work.wrt, work.blocked)

    results = []
    for w, w_work in zip(wrt_list, work.wrt):
        if w_work in grads:
            results.append(work.restore(_sum_terms(grads[w_work])))
            continue
        message = (f"grad: the cost does not depend on {w} ({w.type}) through differentiable "
                   "operations; pass disconnected_inputs='ignore' to get zeros instead")
        if disconnected_inputs == "raise":
            raise DisconnectedInputError(message)
        if disconnected_inputs == "warn":
            warnings.warn(message, stacklevel=2)
        results.append(_zeros_like(w))
    return results[0] if single else results


def _backward(roots: dict[Variable, Variable], wrt: list[Variable], blocked: set[Variable]
              ) -> dict[Variable, list[Variable]]:
    """Gradient terms for every variable between `wrt` and the roots, in reverse order."""
    depends = set(wrt)
    relevant = []
    for node in io_toposort(wrt, list(roots)):
        if any(i in depends and i not in blocked for i in node.inputs):
            depends.update(node.outputs)
            relevant.append(node)

    grads: dict[Variable, list[Variable]] = {v: [g] for v, g in roots.items()}
    for node in reversed(relevant):
        if not any(o in grads for o in node.outputs):
            continue
        out_grads = [_sum_terms(grads[o]) if o in grads
                     else _zeros_like(o) if isinstance(o.type, TensorType) else None
                     for o in node.outputs]  # None: no gradient for a non-tensor (an rng)
        in_grads = _op_grads(node, out_grads)
        if len(in_grads) != len(node.inputs):
            raise ValueError(f"{node.op}.grad returned {len(in_grads)} gradients for "
                             f"{len(node.inputs)} inputs")
        for inp, g in zip(node.inputs, in_grads):
            if g is None or inp in blocked or inp not in depends:
                continue
            grads.setdefault(inp, []).append(_fit(g, inp, f"{node.op}.grad"))
    return grads


class _StableCopy:
    """The graph `grad` differentiates: the stabilized form of the caller's graph.

    The rewrites tagged 'stabilize' (log(1 - sigmoid(x)) → -softplus(x), ...) run on a copy of
    the graph between `wrt` and the roots before the backward pass, so that the gradient is
    built from the stable expressions: rewriting a gradient written from the unstable form
    cannot recover precision already lost to overflow.  When no rewrite applies, the caller's
    graph is used as it is.  `restore` maps a gradient back onto the caller's variables.
    """

    def __init__(self, roots: dict[Variable, Variable], wrt: list[Variable],
                 blocked: set[Variable]):
        self.roots, self.wrt, self.blocked = roots, wrt, blocked
        self._back: dict[Variable, Variable] = {}
        rewriters = _stabilizers()
        if not rewriters:
            return
        boundary = list(dict.fromkeys([*wrt, *blocked]))
        inputs = list(dict.fromkeys(boundary + [v for v in graph_inputs(list(roots), boundary)
                                                if not isinstance(v, Constant)]))
        keys = list(roots)
        fgraph = FunctionGraph(inputs, keys, clone=True)
        if not EquilibriumRewriter(rewriters).apply(fgraph):
            return
        eq = fgraph.equiv
        self.roots = {fgraph.outputs[k]: roots[key] for k, key in enumerate(keys)}
        self.wrt = [eq[w] for w in wrt]
        self.blocked = {eq[v] for v in blocked}
        self._back = {eq[v]: v for v in inputs}

    def restore(self, g: Variable) -> Variable:
        return clone_replace([g], self._back)[0] if self._back else g


def _stabilizers() -> list:
    """The node rewriters tagged 'stabilize' that the plugins registered, with their labels."""
    from theanine.plugins import get_registry
    from theanine.rewriting import selected_rewrites

    return [(r.rewriter, f"{r.plugin}:{r.name}")
            for r in selected_rewrites(get_registry().rewrites, None, ("stabilize",))
            if isinstance(r.rewriter, NodeRewriter)]


def _sum_terms(terms: list[Variable]) -> Variable:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def verify_grad(fun: Callable[..., Any], pt: Sequence[Any], n_tests: int = 2,
                rng: np.random.RandomState | np.random.Generator | None = None,
                eps: float | None = None, abs_tol: float | None = None,
                rel_tol: float | None = None, backend: str | None = None) -> None:
    """Check `grad` of `fun` (a Python function or an Op) at the point `pt` numerically.

    The output is projected on a random direction to get a scalar cost; its symbolic gradient
    is compared with central finite differences.  Raises GradientError on a mismatch.
    """
    from theanine.compile.function import function
    from theanine.tensor.basic import as_tensor_variable, constant
    from theanine.tensor.type import TensorType

    rng = rng if rng is not None else np.random.default_rng(42)
    values = [np.array(p) for p in pt]
    for i, v in enumerate(values):
        if v.dtype.kind not in "fc":
            raise TypeError(f"verify_grad: point {i} has dtype {v.dtype}; use floats")
    inputs = [TensorType(v.dtype, (False,) * v.ndim)(f"input{i}") for i, v in enumerate(values)]
    out = as_tensor_variable(fun(*inputs))
    low_precision = any(v.dtype in (np.float16, np.float32, np.complex64) for v in values)
    eps = eps if eps is not None else (1e-2 if low_precision else 1e-6)
    abs_tol = abs_tol if abs_tol is not None else (1e-2 if low_precision else 1e-5)
    rel_tol = rel_tol if rel_tol is not None else (1e-2 if low_precision else 1e-5)

    f_out = function(inputs, out, backend=backend, on_unused_input="ignore")
    out_shape = np.shape(f_out(*values))
    for _ in range(n_tests):
        proj = rng.uniform(0.5, 1.5, size=out_shape) * rng.choice([-1.0, 1.0], size=out_shape)
        proj_var = constant(np.asarray(proj, dtype=out.dtype if out.dtype[0] in "fc"
                                       else "float64"))
        cost = (out * proj_var).sum() if out.ndim else out * proj_var
        g_syms = grad(cost, inputs, disconnected_inputs="ignore")
        f_cost = function(inputs, cost, backend=backend, on_unused_input="ignore")
        f_grad = function(inputs, g_syms, backend=backend, on_unused_input="ignore")
        analytic = f_grad(*values)
        for k, v in enumerate(values):
            numeric = np.zeros(v.shape, dtype="float64")
            flat = numeric.reshape(-1)
            for j in range(v.size):
                plus, minus = v.copy(), v.copy()
                plus.reshape(-1)[j] += eps
                minus.reshape(-1)[j] -= eps
                args_p = values[:k] + [plus] + values[k + 1:]
                args_m = values[:k] + [minus] + values[k + 1:]
                flat[j] = (float(f_cost(*args_p)) - float(f_cost(*args_m))) / (2 * eps)
            a = np.asarray(analytic[k], dtype="float64")
            err = np.abs(a - numeric)
            tol = abs_tol + rel_tol * np.abs(numeric)
            if not np.all(err <= tol):
                worst = int(np.argmax(err - tol))
                raise GradientError(
                    f"verify_grad: gradient w.r.t. input {k} (shape {v.shape}) differs from the "
                    f"numerical one: max abs error {err.max():.3g} at flat index {worst} "
                    f"(analytic {a.reshape(-1)[worst]:.6g}, numeric {flat[worst]:.6g})")


class RowMap(Op):
    """Evaluate an inner graph for `index = 0 .. n-1` and stack the results.

    This is how `jacobian` computes one gradient row per output element without scan: the
    inner graph is `grad(expression[index], wrt)`, compiled once on first use.  Identity is the
    instance (each map has its own inner graph).
    """

    def __init__(self, index: Variable, inner_inputs: list[Variable], inner_output: Variable):
        self.index = index
        self.inner_inputs = inner_inputs
        self.inner_output = inner_output
        self._fn: Any = None

    foldable = False  # its inner function is compiled at run time
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __str__(self) -> str:
        return "RowMap"

    def make_node(self, n: Any, out_shape: Any, *inputs: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable
        from theanine.tensor.type import TensorType

        out = self.inner_output
        otype = TensorType(out.dtype, (False,) + out.broadcastable)
        return Apply(self, [as_tensor_variable(n), as_tensor_variable(out_shape),
                            *inputs], [otype()])

    def perform(self, node, inputs, output_storage):
        from theanine.compile.function import function

        n, out_shape, *values = inputs
        if self._fn is None:
            self._fn = function([self.index, *self.inner_inputs], self.inner_output,
                                on_unused_input="ignore")
        dtype = node.outputs[0].type.numpy_dtype
        result = np.empty((int(n), *out_shape), dtype=dtype)
        for i in range(int(n)):
            result[i] = self._fn(np.asarray(i, dtype=self.index.dtype), *values)
        output_storage[0][0] = result


def jacobian(expression: Variable, wrt: Variable | Sequence[Variable],
             consider_constant: Sequence[Variable] | None = None,
             disconnected_inputs: str = "raise") -> Any:
    """d expression[i] / d wrt, stacked along a new first axis (expression is flattened)."""
    from theanine.compile.sharedvalue import SharedVariable
    from theanine.tensor.basic import as_tensor_variable, flatten, shape
    from theanine.tensor.constructors import lscalar

    expression = as_tensor_variable(expression)
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        g = grad(expression, wrt_list, consider_constant, disconnected_inputs)
        return g[0] if single else g
    flat = flatten(expression) if expression.ndim > 1 else expression
    index = lscalar("jacobian_index")
    rows = grad(flat[index], wrt_list, consider_constant, disconnected_inputs)
    results = []
    for w, row in zip(wrt_list, rows):
        leaves = [v for v in graph_inputs([row]) if v is not index
                  and not isinstance(v, Constant | SharedVariable)]
        row_map = RowMap(index, leaves, row)
        results.append(row_map(flat.shape[0], shape(w), *leaves))
    return results[0] if single else results


def hessian(cost: Variable, wrt: Variable | Sequence[Variable],
            consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """The matrix of second derivatives of the scalar `cost` w.r.t. each vector in `wrt`."""
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    out = []
    for w in wrt_list:
        if w.ndim != 1:
            raise TypeError(f"hessian: {w} must be a vector, got {w.type}")
        g = grad(cost, w, consider_constant, disconnected_inputs)
        out.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return out[0] if single else out
