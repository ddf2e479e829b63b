"""`jacobian` and `hessian`: one gradient row per element of an expression, computed by a loop
over a compiled inner graph (`RowMap`), so they sit in the compile layer, above `gradient`
(which only builds graphs).  `theanine.gradient.jacobian` and `hessian` resolve here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.compile.function import function
from theanine.gradient import grad
from theanine.graph.basic import Apply, Constant, Variable, graph_inputs
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, flatten, shape
from theanine.tensor.constructors import lscalar
from theanine.tensor.sharedvar import SharedVariable
from theanine.tensor.type import TensorType


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
        out = self.inner_output
        otype = TensorType(out.dtype, (False,) + out.broadcastable)
        return Apply(self, [as_tensor_variable(n), as_tensor_variable(out_shape),
                            *inputs], [otype()])

    def perform(self, node, inputs, output_storage):
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
