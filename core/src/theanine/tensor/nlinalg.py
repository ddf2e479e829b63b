"""Linear algebra on matrices (Theano's `nlinalg`): diagonals, trace, determinant, inverse and
linear solves, computed by NumPy.

`inv` here is the matrix inverse (`matrix_inverse`); `theanine.tensor.math.inv` is the
elementwise reciprocal, as in Theano.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.math import _cj, _grad_for, dot, maximum, minimum, outer
from theanine.tensor.math import sum as tsum
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable


def _matrix(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"{what} takes a matrix, got {x} ({x.type})")
    return x


def _linalg_dtype(x: TensorVariable, what: str) -> str:
    """NumPy's linalg result dtype: float64 for integers and booleans, float16 refused."""
    if x.dtype == "float16":
        raise TypeError(f"{what}: {x} is float16, which NumPy's linalg does not support; cast "
                        "it to float32 or float64")
    return x.dtype if x.dtype[0] in "fc" else "float64"


def _square(x: np.ndarray, node: Apply, what: str) -> None:
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"{what}: {node.inputs[0]} must be a square matrix, got shape "
                         f"{x.shape}")


class ExtractDiag(Op):
    """The `offset`-th diagonal of a matrix (`numpy.diagonal`), as a new vector."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0):
        self.offset = int(offset)

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "extract_diag")
        return Apply(self, [x], [TensorType(x.dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.diagonal(inputs[0], self.offset).copy()

    def grad(self, inputs, output_grads):
        (x,) = inputs
        g = AllocDiag(self.offset)(output_grads[0], x.shape[0], x.shape[1])
        return [_grad_for(g, x)]

    def infer_shape(self, fgraph, node, input_shapes):
        n, m = input_shapes[0]
        k = self.offset
        return [(maximum(minimum(n - max(-k, 0), m - max(k, 0)), 0),)]


class AllocDiag(Op):
    """An (n, m) matrix of zeros with vector `v` on its `offset`-th diagonal (the inverse of
    ExtractDiag for that shape)."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0):
        self.offset = int(offset)

    def make_node(self, v: Any, n: Any, m: Any) -> Apply:
        v = as_tensor_variable(v)
        if v.ndim != 1:
            raise TypeError(f"alloc_diag takes a vector, got {v} ({v.type})")
        dims = [as_tensor_variable(d) for d in (n, m)]
        for d in dims:
            if d.ndim != 0 or d.dtype[0] not in "iu":
                raise TypeError(f"alloc_diag: the shape must be integer scalars, got {d.type}")
        return Apply(self, [v, *dims], [TensorType(v.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        v, n, m = inputs
        n, m, k = int(n), int(m), self.offset
        out = np.zeros((n, m), dtype=v.dtype)
        length = max(min(n - max(-k, 0), m - max(k, 0)), 0)
        if v.shape[0] != length:
            raise ValueError(f"alloc_diag: diagonal {k} of a {n}x{m} matrix has {length} "
                             f"entries, {node.inputs[0]} has {v.shape[0]}")
        idx = np.arange(length)
        out[idx + max(-k, 0), idx + max(k, 0)] = v
        output_storage[0][0] = out

    def grad(self, inputs, output_grads):
        v = inputs[0]
        return [_grad_for(ExtractDiag(self.offset)(output_grads[0]), v), None, None]

    def infer_shape(self, fgraph, node, input_shapes):
        return [(node.inputs[1], node.inputs[2])]


def extract_diag(x: Any, offset: int = 0) -> TensorVariable:
    return ExtractDiag(offset)(x)


def alloc_diag(v: Any, offset: int = 0) -> TensorVariable:
    """The square matrix with `v` on its `offset`-th diagonal (`numpy.diag` of a vector)."""
    v = as_tensor_variable(v)
    n = v.shape[0] + abs(int(offset))
    return AllocDiag(offset)(v, n, n)


def diag(x: Any, k: int = 0) -> TensorVariable:
    """`numpy.diag`: the k-th diagonal of a matrix, or the matrix with vector x on it."""
    x = as_tensor_variable(x)
    if x.ndim == 1:
        return alloc_diag(x, k)
    if x.ndim == 2:
        return extract_diag(x, k)
    raise TypeError(f"diag takes a vector or a matrix, got {x} ({x.type})")


def trace(x: Any, offset: int = 0) -> TensorVariable:
    """Sum of the `offset`-th diagonal of a matrix (`numpy.trace`)."""
    return tsum(extract_diag(_matrix(x, "trace"), offset))


class Det(Op):
    """Determinant of a square matrix."""

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "det")
        return Apply(self, [x], [TensorType(_linalg_dtype(x, "det"), ())()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        _square(x, node, "det")
        output_storage[0][0] = np.asarray(np.linalg.det(x), dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        # d det / dX = det * inv(X).T  (Jacobi's formula)
        g = output_grads[0] * _cj(outputs[0]) * _cj(matrix_inverse(x)).T
        return [_grad_for(g, x)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


class MatrixInverse(Op):
    """Inverse of a square matrix (`numpy.linalg.inv`); singular matrices are an error."""

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "matrix_inverse")
        return Apply(self, [x], [TensorType(_linalg_dtype(x, "matrix_inverse"),
                                            x.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        _square(x, node, "matrix_inverse")
        try:
            r = np.linalg.inv(x)
        except np.linalg.LinAlgError as exc:
            raise np.linalg.LinAlgError(f"matrix_inverse of {node.inputs[0]}: {exc}") from None
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        inv_t = _cj(outputs[0]).T
        return [_grad_for(-dot(dot(inv_t, output_grads[0]), inv_t), x)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


class Solve(Op):
    """x with a @ x = b, for a square matrix a and a vector or matrix b
    (`numpy.linalg.solve`)."""

    def make_node(self, a: Any, b: Any) -> Apply:
        a = _matrix(a, "solve")
        b = as_tensor_variable(b)
        if b.ndim not in (1, 2):
            raise TypeError(f"solve: b must be a vector or a matrix, got {b} ({b.type})")
        dtype = str(np.result_type(np.dtype(_linalg_dtype(a, "solve")),
                                   np.dtype(_linalg_dtype(b, "solve"))))
        return Apply(self, [a, b], [TensorType(dtype, b.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        _square(a, node, "solve")
        if b.shape[0] != a.shape[0]:
            raise ValueError(f"solve: {node.inputs[0]} has shape {a.shape} but "
                             f"{node.inputs[1]} has shape {b.shape}: the first dimensions "
                             "must match")
        try:
            r = np.linalg.solve(a, b)
        except np.linalg.LinAlgError as exc:
            raise np.linalg.LinAlgError(f"solve with {node.inputs[0]}: {exc}") from None
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        a, b = inputs
        (x,) = outputs
        # x = a^-1 b: gb = a^-T g, ga = -gb x^T
        gb = solve(_cj(a).T, output_grads[0])
        ga = -outer(gb, _cj(x)) if b.ndim == 1 else -dot(gb, _cj(x).T)
        return [_grad_for(ga, a), _grad_for(gb, b)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]


_det = Det()
_matrix_inverse = MatrixInverse()
_solve = Solve()


def det(x: Any) -> TensorVariable:
    return _det(x)


def matrix_inverse(x: Any) -> TensorVariable:
    return _matrix_inverse(x)


inv = matrix_inverse


def solve(a: Any, b: Any) -> TensorVariable:
    return _solve(a, b)
