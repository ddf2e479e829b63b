"""`OpFromGraph`: an Op defined by a graph (Theano's `compile.builders.OpFromGraph`).

The Op keeps a private copy of the graph (its inner inputs and outputs).  Shared variables the
graph reads become implicit inputs appended to every node, as in Theano, so their current
values are read at call time and gradients reach them.  Not inlined, a node runs the inner
graph compiled once per node; `inline=True` makes the rewrite `inline_ofg_expansion` paste the
inner graph into the outer one at compile time, where the outer rewrites see through it.
The gradient is itself an OpFromGraph (built once, inlined when this one is): by default the
gradient of the inner graph, or what `grad_overrides` / `lop_overrides` say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from theanine.graph.basic import (
    Apply,
    Constant,
    Variable,
    clone_replace,
    graph_inputs,
    io_toposort,
)
from theanine.graph.op import Op, cached_thunk
from theanine.hookspecs import hookimpl
from theanine.rewriting.basic import node_rewriter
from theanine.tensor.sharedvar import SharedVariable

__all__ = ["OpFromGraph", "inline_ofg_expansion"]

_OVERRIDE_KINDS = "'default', an OpFromGraph, a callable, None, or a list of those"


def _label(v: Any) -> str:
    return v.name if isinstance(v, Variable) and v.name else str(v)


class OpFromGraph(Op):
    """An Op computing `outputs` from `inputs` (lists of variables), usable like any Op:
    `op(a, b)` applies it to new variables.

    `grad_overrides`: 'default', an OpFromGraph or callable `(inputs, output_grads) -> list`
    with one gradient per input (None: no gradient), or a list of one such entry per input
    (callables then return one variable).  `lop_overrides`: the same with
    `(inputs, outputs, output_grads)`; the two are mutually exclusive.  `rop_overrides`:
    'default', or an OpFromGraph / callable `(inputs, eval_points) -> list` (one per output).
    `**kwargs` go to `theanine.function` for the inner graph (e.g. `mode`).
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 inline: bool = False, lop_overrides: Any = "default",
                 grad_overrides: Any = "default", rop_overrides: Any = "default",
                 name: str | None = None, **kwargs: Any):
        if not isinstance(inputs, list | tuple):
            raise TypeError(f"OpFromGraph: inputs must be a list of variables, got "
                            f"{type(inputs).__name__} {inputs!r}")
        if not isinstance(outputs, list | tuple):
            raise TypeError(f"OpFromGraph: outputs must be a list of variables, got "
                            f"{type(outputs).__name__} {outputs!r}; wrap a single output "
                            "in a list")
        for kind, v in [("input", i) for i in inputs] + [("output", o) for o in outputs]:
            if not isinstance(v, Variable):
                raise TypeError(f"OpFromGraph: every {kind} must be a symbolic variable, got "
                                f"{type(v).__name__} {v!r}")
        if "updates" in kwargs or "givens" in kwargs:
            raise TypeError("OpFromGraph: updates and givens are not allowed")
        if lop_overrides != "default" and grad_overrides != "default":
            raise ValueError("OpFromGraph: lop_overrides and grad_overrides are mutually "
                             "exclusive; give one of them")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"OpFromGraph: name must be a string or None, got {name!r}")
        inputs, outputs = list(inputs), list(outputs)
        self.shared_inputs = [v for v in graph_inputs(outputs)
                              if isinstance(v, SharedVariable) and v not in inputs]
        outer = inputs + self.shared_inputs
        self.inner_inputs = [v.type() for v in outer]
        for new, old in zip(self.inner_inputs, outer):
            new.name = old.name
        self.inner_outputs = clone_replace(outputs, dict(zip(outer, self.inner_inputs)))
        known = set(self.inner_inputs)
        free = [v for v in graph_inputs(self.inner_outputs)
                if v not in known and not isinstance(v, Constant)]
        if free:
            raise ValueError(f"OpFromGraph: the outputs depend on {_label(free[0])} "
                             f"({free[0].type}), which is not among the inputs; add it to "
                             "inputs")
        self.is_inline = bool(inline)
        self.name = name
        self.kwargs = kwargs
        self.input_types = [v.type for v in inputs]
        self.output_types = [v.type for v in self.inner_outputs]
        if lop_overrides != "default":
            self._lop_override, self._lop_form = lop_overrides, "lop"
        else:
            self._lop_override, self._lop_form = grad_overrides, "grad"
        self._rop_override = rop_overrides
        self._lop_op: tuple[OpFromGraph | None, list[bool]] | None = None
        self._rop_op: OpFromGraph | None = None

    # Identity: each OpFromGraph is its own computation (Theano's rule) ------------------
    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return f"{self.name or type(self).__name__}{{inline={self.is_inline}}}"

    # Building -----------------------------------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != len(self.input_types):
            raise ValueError(f"{self} expects {len(self.input_types)} input(s), got "
                             f"{len(inputs)}")
        checked = []
        for k, (v, t) in enumerate(zip(inputs, self.input_types)):
            if not isinstance(v, Variable):
                v = _constant(v, t, k, self)
            if v.type != t and not t.is_compatible(v.type):
                raise TypeError(f"{self}: input {k} must have type {t}, got {_label(v)} of "
                                f"type {v.type}")
            checked.append(v)
        return Apply(self, checked + self.shared_inputs, [t() for t in self.output_types])

    # Meaning ------------------------------------------------------------------------------
    def _compile(self, node: Apply) -> Callable[..., Any]:
        from theanine.compile.function import function

        kwargs = {"on_unused_input": "ignore", **self.kwargs}
        return function(self.inner_inputs, self.inner_outputs, **kwargs)

    def perform(self, node, inputs, output_storage):
        results = cached_thunk(node, self._compile)(*inputs)
        for cell, value in zip(output_storage, results):
            cell[0] = value

    def python_thunk(self, node: Apply) -> Callable[..., Sequence[Any]]:
        return cached_thunk(node, self._compile)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        """The inner nodes' `infer_shape`, composed along the inner graph and moved onto the
        node's inputs (an inner Op without one contributes the shape of its recomputed
        output)."""
        shapes: dict[Variable, Any] = dict(zip(self.inner_inputs, input_shapes))
        for inner in io_toposort(self.inner_inputs, self.inner_outputs):
            ins = [shapes.get(i, _own_shape(i)) for i in inner.inputs]
            try:
                outs = inner.op.infer_shape(None, inner, ins)
            except NotImplementedError:
                outs = [_own_shape(o) for o in inner.outputs]
            shapes.update(zip(inner.outputs, outs))
        result = [shapes.get(o, _own_shape(o)) for o in self.inner_outputs]
        flat = [e for shp in result if shp is not None for e in shp]
        symbolic = [k for k, e in enumerate(flat) if isinstance(e, Variable)]
        moved = clone_replace([flat[k] for k in symbolic],
                              dict(zip(self.inner_inputs, node.inputs)), strict=False)
        for k, e in zip(symbolic, moved):
            flat[k] = e
        out, pos = [], 0
        for shp in result:
            if shp is None:
                out.append(None)
                continue
            out.append(tuple(flat[pos:pos + len(shp)]))
            pos += len(shp)
        return out

    # Gradients ----------------------------------------------------------------------------
    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable | None]:
        from theanine.tensor.basic import zeros_like

        op, connected = self._lop()
        grads = [g if g is not None and _differentiable(o) else zeros_like(o)
                 for o, g in zip(outputs, output_grads)]
        results = [] if op is None else op(*inputs, *outputs, *grads)
        results = [results] if isinstance(results, Variable) else list(results)
        it = iter(results)
        return [next(it) if c else None for c in connected]

    def _lop(self) -> tuple[OpFromGraph | None, list[bool]]:
        """The gradient Op (inputs: this Op's inputs, outputs and output gradients) and which
        inputs it gives a gradient for; built once."""
        if self._lop_op is None:
            ins, outs = self.inner_inputs, self.inner_outputs
            gs = [o.type() for o in outs]
            grads = self._override_grads(ins, outs, gs)
            connected = [g is not None for g in grads]
            op = None
            if any(connected):
                op = OpFromGraph(ins + outs + gs, [g for g in grads if g is not None],
                                 inline=self.is_inline,
                                 name=None if self.name is None else f"{self.name}_grad",
                                 **{**self.kwargs, "on_unused_input": "ignore"})
            self._lop_op = (op, connected)
        return self._lop_op

    def _call_override(self, fn: Any, ins: list, outs: list, gs: list) -> Any:
        if isinstance(fn, OpFromGraph):
            args = ins + gs if self._lop_form == "grad" else ins + outs + gs
            result = fn(*args)
            return [result] if isinstance(result, Variable) else list(result)
        if not callable(fn):
            raise TypeError(f"{self}: a gradient override must be {_OVERRIDE_KINDS}, got "
                            f"{type(fn).__name__} {fn!r}")
        return fn(ins, gs) if self._lop_form == "grad" else fn(ins, outs, gs)

    def _override_grads(self, ins: list, outs: list, gs: list) -> list[Variable | None]:
        ov = self._lop_override
        n = len(ins)
        if isinstance(ov, str) and ov == "default":
            return _default_grads(ins, outs, gs)
        if isinstance(ov, list | tuple):
            if len(ov) != n:
                raise ValueError(f"{self}: the override list has {len(ov)} entries, but there "
                                 f"are {n} inputs (shared variables read inside count too)")
            defaults = _default_grads(ins, outs, gs)
            grads = []
            for k, entry in enumerate(ov):
                if isinstance(entry, str) and entry == "default":
                    grads.append(defaults[k])
                elif entry is None:
                    grads.append(None)
                else:
                    g = self._call_override(entry, ins, outs, gs)
                    grads.append(g[0] if isinstance(g, list) and len(g) == 1 else g)
            return grads
        grads = self._call_override(ov, ins, outs, gs)
        if not isinstance(grads, list | tuple) or len(grads) != n:
            raise TypeError(f"{self}: the gradient override must return a list of {n} "
                            f"gradients (one per input), got {grads!r}")
        return list(grads)

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]
             ) -> list[Variable]:
        """The Jacobian of the outputs times `eval_points` (None: a zero direction)."""
        from theanine.tensor.basic import zeros_like

        if self._rop_op is None:
            ins = self.inner_inputs
            vs = [i.type() for i in ins]
            ov = self._rop_override
            if isinstance(ov, str) and ov == "default":
                rops = _default_rops(ins, self.inner_outputs, vs)
            elif isinstance(ov, OpFromGraph):
                rops = ov(*ins, *vs)
                rops = [rops] if isinstance(rops, Variable) else list(rops)
            elif callable(ov):
                rops = list(ov(ins, vs))
            else:
                raise TypeError(f"{self}: rop_overrides must be 'default', an OpFromGraph "
                                f"or a callable, got {type(ov).__name__} {ov!r}")
            if len(rops) != len(self.inner_outputs):
                raise ValueError(f"{self}: the R_op override gave {len(rops)} results for "
                                 f"{len(self.inner_outputs)} outputs")
            self._rop_op = OpFromGraph(
                ins + vs, rops, inline=self.is_inline,
                name=None if self.name is None else f"{self.name}_rop",
                **{**self.kwargs, "on_unused_input": "ignore"})
        points = [zeros_like(i) if p is None else p for i, p in zip(inputs, eval_points)]
        result = self._rop_op(*inputs, *points)
        return [result] if isinstance(result, Variable) else list(result)


def _constant(value: Any, ttype: Any, k: int, op: OpFromGraph) -> Variable:
    from theanine.tensor.basic import constant

    try:
        return constant(ttype.filter(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{op}: input {k} must have type {ttype}, got "
                        f"{type(value).__name__} {value!r}: {exc}") from None


def _own_shape(v: Variable) -> tuple | None:
    if not hasattr(v.type, "ndim"):
        return None
    if isinstance(v, Constant):
        return tuple(int(s) for s in v.data.shape)
    return tuple(v.shape[d] for d in range(v.type.ndim))


def _differentiable(v: Variable) -> bool:
    return getattr(v.type, "dtype", "i")[0] in "fc"


def _default_grads(ins: list, outs: list, gs: list) -> list[Variable | None]:
    """The gradient of the inner graph: input gradients given the output gradients."""
    from theanine.gradient import grad

    known = {o: g for o, g in zip(outs, gs) if _differentiable(o)}
    wrt = [i for i in ins if _differentiable(i)]
    if not known or not wrt:
        return [None] * len(ins)
    found = dict(zip(wrt, grad(None, wrt, known_grads=known, disconnected_inputs="ignore")))
    return [found.get(i) for i in ins]


def _default_rops(ins: list, outs: list, vs: list) -> list[Variable]:
    """J v for each output, as the gradient of <J^T u, v> with respect to u (both products
    are linear, so one reverse pass over the inner graph gives the forward product)."""
    from theanine.gradient import grad
    from theanine.tensor.basic import zeros_like

    diff_outs = [o for o in outs if _differentiable(o)]
    us = [o.type() for o in diff_outs]
    pairs = [(i, v) for i, v in zip(ins, vs) if _differentiable(i)]
    if not us or not pairs:
        return [zeros_like(o) for o in outs]
    jt_u = grad(None, [i for i, _ in pairs], known_grads=dict(zip(diff_outs, us)),
                disconnected_inputs="ignore")
    total = sum(((g * v).sum() for g, (_, v) in zip(jt_u, pairs)), start=0.0)
    jv = grad(total, us, disconnected_inputs="ignore")
    # <J^T u, v> is linear in u: J v never reads u's values, only (perhaps) its shape
    jv = clone_replace(jv, {u: zeros_like(o) for u, o in zip(us, diff_outs)})
    found = dict(zip(diff_outs, jv))
    return [found.get(o, zeros_like(o)) for o in outs]


@node_rewriter([OpFromGraph])
def inline_ofg_expansion(fgraph: Any, node: Apply) -> list[Variable] | None:
    """Paste an inline OpFromGraph's inner graph in place of its node."""
    op = node.op
    if not op.is_inline:
        return None
    return clone_replace(op.inner_outputs, dict(zip(op.inner_inputs, node.inputs)),
                         strict=False)


@hookimpl
def theanine_register_rewrites(register) -> None:
    # before the first merge, so that merging and every later stage see the inner graph
    register(inline_ofg_expansion, stage="merge", tags=("fast_run", "fast_compile"),
             position=-1)
