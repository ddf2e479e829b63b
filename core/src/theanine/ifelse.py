"""`ifelse(condition, then_branch, else_branch)`: Theano's lazy conditional.

Unlike `switch`, which computes both operands and picks elementwise, `ifelse` picks whole
values by a scalar condition and runs only the taken branch.  The `IfElse` node declares its
condition and branches through `Op.lazy_branches`; the linker (`link.python`, which the C
backend's program reuses) turns it into an `if`/`else` block and writes the nodes that only a
branch needs inside that branch.  Rewrites never see anything special: a branch's nodes are
ordinary nodes whose only path to the outputs goes through the IfElse's branch inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Branches, Op

__all__ = ["IfElse", "ifelse"]


class IfElse(Op):
    """Inputs: the condition, then `n_outs` then-values, then `n_outs` else-values.  Output k
    is then-value k when the condition is true (non-zero), else-value k otherwise; it is the
    chosen input itself (a view), so nothing is copied."""

    __props__ = ("n_outs",)

    def __init__(self, n_outs: int, name: str | None = None):
        self.n_outs = n_outs
        self.name = name
        self.view_map = {k: [1 + k, 1 + n_outs + k] for k in range(n_outs)}

    def __str__(self) -> str:
        return f"if{{{self.name or ''}}}"

    def make_node(self, condition: Any, *branches: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable

        if len(branches) != 2 * self.n_outs:
            raise ValueError(f"{self} expects a condition and {2 * self.n_outs} branch values, "
                             f"got {len(branches)} branch values")
        cond = _condition(condition, self.name)
        then, other = branches[:self.n_outs], branches[self.n_outs:]
        then = [t if isinstance(t, Variable) else as_tensor_variable(t) for t in then]
        other = [e if isinstance(e, Variable) else as_tensor_variable(e) for e in other]
        for k, (t, e) in enumerate(zip(then, other)):
            if t.type != e.type:
                raise TypeError(
                    f"ifelse{_named(self.name)}: the two branches must have identical types, "
                    f"but value {k} is {t} ({t.type}) on the `then` branch and {e} ({e.type}) "
                    "on the `else` branch; cast one of them (a one-element list on one side "
                    "and a tensor on the other also gives this)")
        return Apply(self, [cond, *then, *other], [t.type() for t in then])

    def lazy_branches(self, node: Apply) -> Branches:
        n = self.n_outs
        return Branches(0, tuple(range(1, 1 + n)), tuple(range(1 + n, 1 + 2 * n)))

    def perform(self, node, inputs, output_storage):
        """The eager form (constant folding, tools that call `perform` directly): both
        branches were computed by the caller; pick one."""
        start = 1 if inputs[0] else 1 + self.n_outs
        for k, cell in enumerate(output_storage):
            cell[0] = inputs[start + k]

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable | None]:
        """Theano's rule: the output gradient flows into the taken branch and zeros into the
        other; the condition gets none (it only selects)."""
        from theanine.tensor.basic import zeros_like

        cond, n = inputs[0], self.n_outs
        then, other = inputs[1:1 + n], inputs[1 + n:]
        then_grads: list[Variable | None] = [None] * n
        else_grads: list[Variable | None] = [None] * n
        for k in range(n):
            g = output_grads[k]
            if g is None or getattr(then[k].type, "dtype", "i")[0] not in "fc":
                continue  # no gradient through a non-differentiable value (an int, an rng)
            name = None if self.name is None else f"{self.name}_grad"
            then_grads[k] = ifelse(cond, g, zeros_like(then[k], dtype=g.dtype), name=name)
            else_grads[k] = ifelse(cond, zeros_like(other[k], dtype=g.dtype), g, name=name)
        return [None, *then_grads, *else_grads]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        """Each extent is the taken branch's: the same extent when both branches agree, else
        a (lazy) scalar ifelse of the two."""
        n = self.n_outs
        cond = node.inputs[0]
        shapes = []
        for k in range(n):
            then_shape, else_shape = input_shapes[1 + k], input_shapes[1 + n + k]
            if then_shape is None:
                raise NotImplementedError(f"{node.outputs[k]} is not a tensor")
            shapes.append(tuple(_pick_extent(cond, a, b)
                                for a, b in zip(then_shape, else_shape)))
        return shapes


def _pick_extent(cond: Variable, a: Any, b: Any) -> Any:
    from theanine.tensor.basic import as_tensor_variable
    from theanine.tensor.math import cast

    if a is b or (isinstance(a, int) and isinstance(b, int) and a == b):
        return a
    a, b = (cast(as_tensor_variable(x), "int64") for x in (a, b))
    return IfElse(1)(cond, a, b)


def _named(name: str | None) -> str:
    return f" {name!r}" if name else ""


def _condition(condition: Any, name: str | None) -> Variable:
    from theanine.tensor.basic import as_tensor_variable

    try:
        cond = as_tensor_variable(condition)
    except TypeError as exc:
        raise TypeError(f"ifelse{_named(name)}: the condition must be a scalar (0 for False, "
                        f"anything else for True), got {type(condition).__name__} "
                        f"{condition!r}: {exc}") from None
    if cond.ndim != 0:
        raise TypeError(f"ifelse{_named(name)}: the condition must be a scalar (0 for False, "
                        f"anything else for True), but {cond} has type {cond.type}; reduce it "
                        "first (e.g. T.any(c) or c.sum() > 0)")
    return cond


def _values(branch: Any) -> tuple[list[Any], bool]:
    """The branch as a list, and whether it was one (so the result is a list too)."""
    if isinstance(branch, list | tuple):
        return list(branch), True
    return [branch], False


def _match(value: Any, like: Any) -> Any:
    """A plain Python or NumPy value on one side takes the type of the variable on the other
    (`ifelse(c, x, 0.)` with a float32 x), so it need not be cast by hand."""
    from theanine.tensor.basic import constant

    if isinstance(value, Variable) or not isinstance(like, Variable) \
            or not hasattr(like.type, "filter"):
        return value
    try:
        return constant(like.type.filter(value))
    except (TypeError, ValueError):
        return value  # make_node then reports the mismatch with both types


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None
           ) -> Variable | list[Variable]:
    """`then_branch` if the scalar `condition` is true (non-zero) else `else_branch`,
    computing only the branch taken.  Branches are variables or lists/tuples of variables of
    identical types (plain numbers are converted to the other side's type); a list or tuple
    `then_branch` gives a list, a variable gives a variable (Theano 1.0's signature and
    behaviour)."""
    then, then_is_list = _values(then_branch)
    other, _ = _values(else_branch)
    if len(then) != len(other):
        raise ValueError(f"ifelse{_named(name)}: the `then` branch has {len(then)} value(s) but "
                         f"the `else` branch has {len(other)}; they must have as many")
    if not then:
        raise ValueError(f"ifelse{_named(name)}: the branches are empty")
    then_m = [_match(t, e) for t, e in zip(then, other)]
    other_m = [_match(e, t) for t, e in zip(then, other)]
    outs = IfElse(len(then), name).make_node(condition, *then_m, *other_m).outputs
    return list(outs) if then_is_list else outs[0]
