"""Reverse-mode differentiation (`grad`, `Lop`), forward-mode products (`Rop`), and the Ops
that change a gradient without changing the value (`zero_grad`, `disconnected_grad`,
`grad_clip`, `grad_scale`, `consider_constant`).

`verify_grad` compiles functions, so it lives in `theanine.testing.checks`, and `jacobian` and
`hessian` loop over a compiled inner graph, so they live in `theanine.compile.jacobian` (compile
is a higher layer); `theanine.gradient.verify_grad`, `.jacobian` and `.hessian` still resolve,
on first use, for ported Theano code.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

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
from theanine.tensor.scalar_grads import grad_as
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


def _fit(g: Variable, like: Variable, source: str) -> Variable:
    """Check a gradient term against the variable it belongs to, and match dtype/pattern."""
    from theanine.tensor.basic import Rebroadcast, as_tensor_variable

    fit = getattr(like.type, "fit_gradient", None)
    if fit is not None:  # a plugin's Type (sparse matrices) fits its own gradient terms
        return fit(g, like, source)
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
         disconnected_inputs: str = "raise", add_names: bool = True,
         known_grads: dict[Variable, Any] | None = None,
         return_disconnected: str = "zero") -> Any:
    """Symbolic gradient of the scalar `cost` with respect to `wrt` (a variable, a list or a
    tuple: the result has the same form).

    `consider_constant`: variables through which no gradient flows.  `disconnected_inputs`:
    'raise' (default), 'warn' or 'ignore' when a `wrt` variable does not influence the cost;
    `return_disconnected` says what such a variable gets: 'zero' (zeros like it) or 'None'
    ('Disconnected' is taken as 'None': there is no DisconnectedType here).
    `known_grads`: {variable: gradient} to start from instead of (or besides) the cost.
    `add_names`: name each gradient '(dcost/dwrt)' when both have names, as Theano did.
    An integer input that the cost depends on has a zero gradient (Theano's rule).
    """
    from theanine.tensor.basic import as_tensor_variable, ones_like

    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None", "Disconnected"):
        raise ValueError("return_disconnected must be 'zero', 'None' or 'Disconnected', got "
                         f"{return_disconnected!r}")
    if isinstance(wrt, set):
        raise TypeError("grad: wrt must be a variable, a list or a tuple, not a set (a set has "
                        "no order to return the gradients in)")
    if cost is None and not known_grads:
        raise ValueError("grad: the cost is None and no known_grads were given: nothing to "
                         "differentiate")
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
        if _is_discrete(w) and _reaches(w, list(roots), blocked):
            results.append(_discrete_zero_grad(w))
            continue
        if w_work in grads:
            g = work.restore(_sum_terms(grads[w_work]))
            if add_names and cost is not None and cost.name and w.name and g.owner is not None:
                g.name = f"(d{cost.name}/d{w.name})"
            results.append(g)
            continue
        message = (f"grad: the cost does not depend on {w} ({w.type}) through differentiable "
                   "operations; pass disconnected_inputs='ignore' to get zeros instead")
        if disconnected_inputs == "raise":
            raise DisconnectedInputError(message)
        if disconnected_inputs == "warn":
            warnings.warn(message, stacklevel=2)
        results.append(_zeros_like(w) if return_disconnected == "zero" else None)
    if single:
        return results[0]
    return tuple(results) if isinstance(wrt, tuple) else results


def _is_discrete(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and v.dtype[0] in "iub"


def _discrete_zero_grad(w: Variable) -> Variable:
    """The gradient of an integer the cost depends on: zeros, still computed from `w` (as
    Theano's zeros were), so a function taking `w` as an input does not find it unused."""
    from theanine.config import config
    from theanine.tensor.math import cast

    return cast(w, config.floatX) * 0


def _reaches(w: Variable, roots: list[Variable], blocked: set[Variable]) -> bool:
    """Whether some root is computed from `w` along a path that no blocked variable and no
    `disconnected_grad` cuts."""
    if w in blocked:
        return False
    depends = {w}
    for node in io_toposort([w], roots):
        if isinstance(node.op, DisconnectedGrad):
            continue
        if any(i in depends and i not in blocked for i in node.inputs):
            depends.update(node.outputs)
    return any(r in depends for r in roots)


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


# Jacobian products --------------------------------------------------------------------------
def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]


def _like_input(form: Any, values: list[Any]) -> Any:
    """`values` in the form of `form`: a list, a tuple, or one value."""
    if isinstance(form, tuple):
        return tuple(values)
    return values if isinstance(form, list) else values[0]


def Lop(f: Variable | Sequence[Variable], wrt: Variable | Sequence[Variable],
        eval_points: Any, consider_constant: Sequence[Variable] | None = None,
        disconnected_inputs: str = "raise") -> Any:
    """The vector-Jacobian product: sum_i eval_points[i] * d f[i] / d wrt[j], for each j.

    It is `grad` started from `known_grads={f[i]: eval_points[i]}`; the result has the form of
    `wrt` (a variable, a list or a tuple).
    """
    from theanine.tensor.basic import as_tensor_variable

    fs, points = _as_list(f), _as_list(eval_points)
    if len(fs) != len(points):
        raise ValueError(f"Lop: {len(fs)} expression(s) in f but {len(points)} eval_points; "
                         "give one eval point per expression, of its shape")
    known = {as_tensor_variable(o): as_tensor_variable(p) for o, p in zip(fs, points)}
    result = grad(None, _as_list(wrt), consider_constant=consider_constant,
                  disconnected_inputs=disconnected_inputs, known_grads=known)
    return _like_input(wrt, result)


def _shaped_like(point: Variable, wrt: Variable) -> Variable:
    from theanine.tensor.shape_ops import specify_shape

    return specify_shape(point, wrt.shape) if wrt.ndim else point


def Rop(f: Variable | Sequence[Variable], wrt: Variable | Sequence[Variable],
        eval_points: Any, disconnected_outputs: str = "raise",
        return_disconnected: str = "zero") -> Any:
    """The Jacobian-vector product: sum_j d f[i] / d wrt[j] * eval_points[j], for each f[i].

    Built with two reverse passes: g(u) = Lop(f, wrt, u) is linear in the placeholder u, so
    Lop(g, u, eval_points) = J v, whatever u's value (u is set to zeros where the result still
    reads it, for its shape).  The result has the form of `f`.  An output that depends on no
    `wrt` is handled by `disconnected_outputs` ('raise', 'warn', 'ignore') and
    `return_disconnected` ('zero' or 'None').
    """
    from theanine.tensor.basic import as_tensor_variable, zeros_like

    if disconnected_outputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_outputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_outputs!r}")
    if return_disconnected.lower() not in ("zero", "none"):
        raise ValueError(f"return_disconnected must be 'zero' or 'None', got "
                         f"{return_disconnected!r}")
    fs = [as_tensor_variable(o) for o in _as_list(f)]
    wrts, points = _as_list(wrt), [as_tensor_variable(p) for p in _as_list(eval_points)]
    if len(wrts) != len(points):
        raise ValueError(f"Rop: {len(wrts)} variable(s) in wrt but {len(points)} eval_points; "
                         "give one eval point per wrt variable, of its shape")
    for k, (w, p) in enumerate(zip(wrts, points)):
        if not isinstance(w, Variable):
            raise TypeError(f"Rop: wrt[{k}] must be a symbolic variable, got "
                            f"{type(w).__name__} {w!r}")
        if w.ndim != p.ndim:
            raise ValueError(f"Rop: eval_points[{k}] ({p}, {p.type}) must have the rank of "
                             f"wrt[{k}] ({w}, {w.type}): {p.ndim} given, {w.ndim} expected")
    # checked when the function runs: an eval point has its variable's shape (so the result
    # also reads wrt, as in Theano, even where J v does not depend on its value)
    points = [_shaped_like(p, w) for p, w in zip(points, wrts)]
    results: list[Variable | None] = []
    for out in fs:
        if out in wrts:
            results.append(grad_as(points[wrts.index(out)], out.dtype))
            continue
        connected = [k for k, w in enumerate(wrts) if not _is_discrete(w)
                     and _reaches(w, [out], set())]
        if not connected or _is_discrete(out):
            message = (f"Rop: {out} ({out.type}) does not depend on any wrt variable through "
                       "differentiable operations")
            if disconnected_outputs == "raise":
                raise DisconnectedInputError(message)
            if disconnected_outputs == "warn":
                warnings.warn(message, stacklevel=2)
            results.append(zeros_like(out) if return_disconnected.lower() == "zero" else None)
            continue
        u = out.type("rop_placeholder")
        back = grad(None, [wrts[k] for k in connected], known_grads={out: u},
                    disconnected_inputs="ignore")
        known: dict[Variable, Variable] = {}
        for g, k in zip(back, connected):  # one term may serve several wrt (x + y): add
            point = grad_as(points[k], g.dtype)
            known[g] = known[g] + point if g in known else point
        jv = grad(None, u, known_grads=known, disconnected_inputs="ignore")
        if u in graph_inputs([jv]):
            jv = clone_replace([jv], {u: zeros_like(out)})[0]
        results.append(jv)
    return _like_input(f, results)


# Ops that change the gradient, not the value ------------------------------------------------
class GradientOp(Op):
    """The identity on a tensor, whose subclasses change what `grad` sends back through it."""

    view_map = {0: [0]}
    gradient_only = True

    def make_node(self, x: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def python_thunk(self, node):
        return lambda x: (x,)

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


class ZeroGrad(GradientOp):
    """Sends zeros back: the expression is treated as a constant (Theano's zero_grad)."""

    __props__ = ()

    def grad(self, inputs, output_grads):
        from theanine.tensor.basic import zeros_like

        return [zeros_like(output_grads[0])]


class ConsiderConstant(ZeroGrad):
    """What Theano's deprecated `consider_constant(x)` applies."""


class DisconnectedGrad(GradientOp):
    """Sends nothing back: a variable reached only through it is disconnected from the cost."""

    __props__ = ()

    def grad(self, inputs, output_grads):
        return [None]


class GradClip(GradientOp):
    """Clips the gradient passing through to [lower_bound, upper_bound]."""

    __props__ = ("lower_bound", "upper_bound")

    def __init__(self, lower_bound: float, upper_bound: float):
        if isinstance(lower_bound + upper_bound, int | float) and lower_bound > upper_bound:
            raise ValueError(f"grad_clip: lower_bound {lower_bound!r} must not exceed "
                             f"upper_bound {upper_bound!r}")
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def grad(self, inputs, output_grads):
        from theanine.tensor.math import clip

        return [clip(output_grads[0], self.lower_bound, self.upper_bound)]


class GradScale(GradientOp):
    """Multiplies the gradient passing through by `multiplier`."""

    __props__ = ("multiplier",)

    def __init__(self, multiplier: float):
        self.multiplier = multiplier

    def grad(self, inputs, output_grads):
        return [output_grads[0] * self.multiplier]


def zero_grad(x: Any) -> Variable:
    """`x`, with a zero gradient: what depends on x through it gets zeros, not an error."""
    return ZeroGrad()(x)


def disconnected_grad(x: Any) -> Variable:
    """`x`, with no gradient flowing through it (cheaper than zero_grad: nothing is built)."""
    return DisconnectedGrad()(x)


def consider_constant(x: Any) -> Variable:
    """Deprecated in Theano in favour of zero_grad / disconnected_grad; kept for ported code."""
    warnings.warn("consider_constant() is deprecated, use zero_grad() or disconnected_grad() "
                  "instead", DeprecationWarning, stacklevel=2)
    return ConsiderConstant()(x)


def grad_clip(x: Any, lower_bound: float, upper_bound: float) -> Variable:
    """`x`, whose gradient is clipped to [lower_bound, upper_bound] on the way back."""
    return GradClip(lower_bound, upper_bound)(x)


def grad_scale(x: Any, multiplier: float) -> Variable:
    """`x`, whose gradient is multiplied by `multiplier` on the way back."""
    return GradScale(multiplier)(x)


def __getattr__(name: str) -> Any:
    # Theano's paths of functions that compile, so they live above this layer: verify_grad in
    # the testing kit, jacobian and hessian (which loop over a compiled inner graph) in compile.
    if name == "verify_grad":
        from theanine.testing.checks import verify_grad

        return verify_grad
    if name in ("jacobian", "hessian"):
        from theanine.compile import jacobian

        return getattr(jacobian, name)
    raise AttributeError(f"module 'theanine.gradient' has no attribute {name!r}")
