"""`Gemm`: beta * z + alpha * dot(x, y) in one BLAS call (matrix or matrix-vector).

Nobody writes Gemm by hand: the specialize rewrite `dot_to_gemm` finds `z + a * dot(x, y)` and
friends.  One call does the product, the scaling and the sum without temporaries; native
backends map it to their BLAS.  The Python backend computes it with NumPy's dot and in-place
scaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.type import TensorType


class Gemm(Op):
    """beta * z + alpha * dot(x, y), for matrix x and a matrix or vector y, or vector x and
    matrix y.  alpha and beta are scalars; the output has z's type.  `inplace` (set by the
    `inplace_gemm` rewrite where the destroy handler allows): the result may be written into
    z, as a weight update `W - lr * dot(x.T, d)` does into its shared value."""

    __props__ = ("inplace",)

    def __init__(self, inplace: bool = False):
        self.inplace = inplace
        self.destroy_map = {0: [0]} if inplace else {}

    def __str__(self) -> str:
        return "Gemm{inplace}" if self.inplace else "Gemm"

    def make_node(self, z: Any, alpha: Any, x: Any, y: Any, beta: Any) -> Apply:
        z, alpha, x, y, beta = (as_tensor_variable(v) for v in (z, alpha, x, y, beta))
        if (x.ndim, y.ndim) not in ((2, 2), (2, 1), (1, 2)) or z.ndim != x.ndim + y.ndim - 2:
            raise TypeError(f"gemm: unsupported ranks z{z.ndim} x{x.ndim} y{y.ndim}")
        if alpha.ndim or beta.ndim:
            raise TypeError("gemm: alpha and beta must be scalars")
        if len({z.dtype, x.dtype, y.dtype}) != 1 or z.dtype not in ("float32", "float64"):
            raise TypeError(f"gemm: z, x, y must share a float dtype, got {z.dtype}, "
                            f"{x.dtype}, {y.dtype}")
        return Apply(self, [z, alpha, x, y, beta], [z.type()])

    @staticmethod
    def _compute(z: np.ndarray, alpha: Any, x: np.ndarray, y: np.ndarray, beta: Any,
                 node: Apply) -> np.ndarray:
        """The result, written into z when the node may destroy it and z can hold it."""
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"gemm: shapes {x.shape} ({node.inputs[2]}) and {y.shape} "
                             f"({node.inputs[3]}) are not aligned")
        expected = x.shape[:-1] + y.shape[1:]
        if z.shape != expected:
            raise ValueError(f"gemm: {node.inputs[0]} has shape {z.shape}, the product "
                             f"{expected}")
        a, b = float(alpha), float(beta)
        # NumPy's dot, not SciPy's BLAS wrappers: those load a second OpenBLAS whose thread
        # pool fights NumPy's for the cores (12-24 ms per small product on 2 busy cores)
        r = np.dot(x, y)
        if a != 1:
            r *= a
        if (node.op.inplace and b and type(z) is np.ndarray and z.dtype == r.dtype
                and z.flags.writeable):
            if b != 1:
                z *= b
            z += r
            return z
        if b:
            r += z if b == 1 else b * z
        return r.astype(z.dtype, copy=False)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]
                ) -> None:
        output_storage[0][0] = self._compute(*inputs, node)

    def python_thunk(self, node: Apply):
        compute = self._compute
        return lambda z, a, x, y, b: (compute(z, a, x, y, b, node),)

    def grad(self, inputs: Sequence[Variable], output_grads: Sequence[Variable]) -> list:
        from theanine.tensor.math import dot, outer
        from theanine.tensor.math import sum as tsum

        z, alpha, x, y, beta = inputs
        (g,) = output_grads
        prod = dot(x, y)
        if x.ndim == 2 and y.ndim == 2:
            gx, gy = dot(g, y.T), dot(x.T, g)
        elif x.ndim == 2:
            gx, gy = outer(g, y), dot(x.T, g)
        else:
            gx, gy = dot(y, g), outer(x, g)
        return [g * beta, tsum(g * prod), gx * alpha, gy * alpha, tsum(g * z)]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return [input_shapes[0]]


gemm = Gemm()


def is_blas_type(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and v.dtype in ("float32", "float64")
