"""`PdbBreakpoint`: Theano's conditional breakpoint inside a compiled function.

`bp = PdbBreakpoint("name"); a2, b2 = bp(condition, a, b)` returns variables equal to `a` and
`b`; use them in place of `a` and `b` downstream.  Whenever a call computes them with the
0-d `condition` true, the breakpoint prints its name and stops in `pdb` inside its `perform`,
where the list `monitored` holds copies of the monitored values as NumPy arrays (in order;
`names` says which variable each is).  Changing them (`monitored[0][:] = 0`, or replacing an
entry) changes what flows on when execution resumes.

It is an ordinary node that rewrites keep: it is not foldable (so a constant condition still
stops at call time), it is not `gradient_only` (canonicalization removes only those
identities), fusion takes only elementwise nodes, and merging only joins two equal breakpoints
on the same values.  Its gradient passes the monitored variables' gradients through and gives
the condition none.  No backend has a native implementation: C and OpenCL run it on the host
(`f.report()` lists it as a fallback), since stopping in pdb is a host affair anyway.
A breakpoint whose outputs no output of the function needs is not in the compiled graph.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op

__all__ = ["PdbBreakpoint"]

_BANNER = """
-------------------------------------------------
Conditional breakpoint {name!r} activated

The monitored variables are stored, in order,
in the list variable 'monitored' as NumPy arrays
({names}).

Their contents can be altered and, when execution
resumes, the updated values will be used.
-------------------------------------------------"""


class PdbBreakpoint(Op):
    """Inputs: the condition, then the monitored values; output k is monitored value k (a
    view of it unless the breakpoint fired)."""

    __props__ = ("name",)
    foldable = False  # the condition is checked at call time, even when it is a constant

    def __init__(self, name: str):
        if not isinstance(name, str):
            raise TypeError(f"PdbBreakpoint(name): name must be a str, got "
                            f"{type(name).__name__} {name!r}")
        self.name = name

    def __str__(self) -> str:
        return f"PdbBreakpoint{{{self.name}}}"

    def make_node(self, condition: Any, *monitored: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable  # tensor is the higher layer

        cond = _as_tensor(as_tensor_variable, condition, f"{self}: the condition")
        if cond.ndim != 0:
            raise TypeError(f"{self}: the condition {cond} must be a 0-d (scalar) tensor, got "
                            f"{cond.type}; reduce it first (e.g. T.any(c) or c.sum() > 0)")
        if not monitored:
            raise TypeError(f"{self} needs at least one value to monitor, as in bp(condition, "
                            "x): a breakpoint runs only as part of computing the values it "
                            "passes on")
        values = [_as_tensor(as_tensor_variable, v, f"{self}: monitored value {k}")
                  for k, v in enumerate(monitored)]
        # output k views input k + 1: the number of outputs is the node's, hence an Op copy
        # per node (equal to `self`: `view_map` and `labels` are not props)
        op = copy.copy(self)
        op.view_map = {k: [k + 1] for k in range(len(values))}
        op.labels = tuple(_label(v) for v in values)  # as the user wrote them
        return Apply(op, [cond, *values], [v.type() for v in values])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]
                ) -> None:
        condition, *values = inputs
        if not condition:
            for cell, value in zip(output_storage, values):
                cell[0] = value
            return
        # copies: editing them must not write into the caller's arrays or shared values
        monitored = [np.array(v, copy=True) for v in values]
        names = list(self.labels)
        print(_BANNER.format(name=self.name, names=", ".join(names)))
        import pdb  # here, not at the top: it cost every `import theanine` 20-30 ms

        pdb.set_trace()  # `monitored` (and `names`) are this frame's locals
        for k, (cell, out) in enumerate(zip(output_storage, node.outputs)):
            try:
                cell[0] = out.type.filter(monitored[k], allow_downcast=True)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{self}: monitored[{k}] ({names[k]}) was changed to a value "
                                f"that is not a {out.type}: {exc}") from None

    def grad(self, inputs: Sequence[Variable], output_grads: Sequence[Variable]
             ) -> list[Variable | None]:
        return [None, *output_grads]  # the condition gets no gradient

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return list(input_shapes[1:])


def _label(var: Variable) -> str:
    """The monitored expression as the banner names it: its name, else its formula when it is
    small (a formula repeats shared subexpressions, so its text can grow exponentially)."""
    if var.name is not None:
        return var.name
    if not _at_most_nodes(var, 12):
        return str(var)
    from theanine.printing import pp  # printing reads every layer

    text = pp(var)
    return text if len(text) <= 60 else text[:57] + "..."


def _at_most_nodes(var: Variable, limit: int) -> bool:
    seen: set[Apply] = set()
    todo = [var]
    while todo:
        node = todo.pop().owner
        if node is not None and node not in seen:
            seen.add(node)
            if len(seen) > limit:
                return False
            todo.extend(node.inputs)
    return True


def _as_tensor(convert: Any, value: Any, what: str) -> Variable:
    try:
        return convert(value)
    except TypeError as exc:
        raise TypeError(f"{what} must be a tensor (or a value convertible to one), got "
                        f"{type(value).__name__}: {exc}") from None
