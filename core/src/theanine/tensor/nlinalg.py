"""Linear algebra on matrices (Theano's `nlinalg`), computed by NumPy: diagonals, trace,
determinant, inverse, linear solves, eigen, QR and singular value decompositions, least
squares, the pseudo-inverse, matrix powers and norms.

`inv` here is the matrix inverse (`matrix_inverse`); `theanine.tensor.math.inv` is the
elementwise reciprocal, as in Theano.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor import math as tm
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


def solve_node(op: Op, a: Any, b: Any) -> Apply:
    """The node of a solver of a @ x = b (a square matrix, b a vector or a matrix)."""
    a = _matrix(a, "solve")
    b = as_tensor_variable(b)
    if b.ndim not in (1, 2):
        raise TypeError(f"solve: b must be a vector or a matrix, got {b} ({b.type})")
    dtype = str(np.result_type(np.dtype(_linalg_dtype(a, "solve")),
                               np.dtype(_linalg_dtype(b, "solve"))))
    return Apply(op, [a, b], [TensorType(dtype, b.broadcastable)()])


def check_solve_operands(node: Apply, a: Any, b: Any) -> None:
    """a square, and b with as many rows as a, at run time."""
    _square(a, node, "solve")
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"solve: {node.inputs[0]} has shape {a.shape} but "
                         f"{node.inputs[1]} has shape {b.shape}: the first dimensions "
                         "must match")


class Solve(Op):
    """x with a @ x = b, for a square matrix a and a vector or matrix b
    (`numpy.linalg.solve`)."""

    def make_node(self, a: Any, b: Any) -> Apply:
        return solve_node(self, a, b)

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        check_solve_operands(node, a, b)
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


# eig / eigh -------------------------------------------------------------------------------
class Eig(Op):
    """Eigenvalues and right eigenvectors of a square matrix (`numpy.linalg.eig`).

    As in Theano, a real matrix gives real results: a matrix with complex eigenvalues is an
    error here (Theano dropped their imaginary parts); cast it to complex first.
    """

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "eig")
        dtype = _linalg_dtype(x, "eig")
        return Apply(self, [x], [TensorType(dtype, (False,))(), TensorType(dtype, (False,
                                                                                  False))()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        _square(x, node, "eig")
        w, v = np.linalg.eig(x)
        dtype = node.outputs[0].dtype
        if np.iscomplexobj(w) and np.dtype(dtype).kind != "c":
            if np.any(w.imag != 0):
                raise ValueError(f"eig: {node.inputs[0]} has complex eigenvalues; cast it to a "
                                 "complex dtype to get them")
            w, v = w.real, v.real
        output_storage[0][0] = np.asarray(w, dtype=dtype)
        output_storage[1][0] = np.asarray(v, dtype=dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        n = input_shapes[0][0]
        return [(n,), (n, n)]


class Eigh(Op):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric (hermitian) matrix,
    reading only its lower (`UPLO='L'`) or upper triangle (`numpy.linalg.eigh`)."""

    __props__ = ("UPLO",)

    def __init__(self, UPLO: str = "L"):
        if UPLO not in ("L", "U"):
            raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
        self.UPLO = UPLO

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "eigh")
        dtype = _linalg_dtype(x, "eigh")
        return Apply(self, [x], [TensorType(str(np.finfo(dtype).dtype), (False,))(),
                                 TensorType(dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        _square(x, node, "eigh")
        w, v = np.linalg.eigh(x, self.UPLO)
        output_storage[0][0] = np.asarray(w, dtype=node.outputs[0].dtype)
        output_storage[1][0] = np.asarray(v, dtype=node.outputs[1].dtype)

    def L_op(self, inputs, outputs, output_grads):
        from theanine.tensor.basic import zeros_like

        (x,) = inputs
        w, v = outputs
        gw, gv = (zeros_like(o) if g is None else g for o, g in zip(outputs, output_grads))
        return [_grad_for(EighGrad(self.UPLO)(x, w, v, gw, gv), x)]

    def infer_shape(self, fgraph, node, input_shapes):
        n = input_shapes[0][0]
        return [(n,), (n, n)]


class EighGrad(Op):
    """The gradient of `Eigh` (first-order perturbation theory: dw_n = v_n^T dA v_n,
    dv_n = sum_{m != n} v_m (v_m^T dA v_n) / (w_n - w_m)), folded onto the triangle read."""

    __props__ = ("UPLO",)

    def __init__(self, UPLO: str = "L"):
        self.UPLO = UPLO

    def make_node(self, *inputs: Any) -> Apply:
        inputs = tuple(as_tensor_variable(v) for v in inputs)
        dtype = str(np.result_type(*[v.dtype for v in inputs]))
        return Apply(self, list(inputs), [TensorType(dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        _, w, v, gw, gv = inputs
        vh = np.conj(v).T
        diff = w[np.newaxis, :] - w[:, np.newaxis]  # [m, n] = w_n - w_m
        with np.errstate(divide="ignore"):
            inv = np.where(np.eye(len(w), dtype=bool), 0.0, 1.0 / diff)
        g = v @ (np.diag(gw) + (vh @ gv * inv).T) @ vh
        if self.UPLO == "L":
            g = np.tril(g) + np.triu(g, 1).T
        else:
            g = np.triu(g) + np.tril(g, -1).T
        output_storage[0][0] = np.asarray(g, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


eig = Eig()


def eigh(a: Any, UPLO: str = "L") -> list[TensorVariable]:
    """(w, v) of the symmetric matrix `a` (Theano's `eigh`)."""
    return Eigh(UPLO)(a)


# qr / svd / lstsq -------------------------------------------------------------------------
class QR(Op):
    """`numpy.linalg.qr`: (q, r) for modes 'reduced' and 'complete', r for 'r', (h, tau) for
    'raw'."""

    __props__ = ("mode",)

    def __init__(self, mode: str = "reduced"):
        if mode not in ("reduced", "complete", "r", "raw"):
            raise ValueError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw', got "
                             f"{mode!r}")
        self.mode = mode

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "qr")
        dtype = _linalg_dtype(x, "qr")
        ranks = {"reduced": (2, 2), "complete": (2, 2), "r": (2,), "raw": (2, 1)}[self.mode]
        return Apply(self, [x], [TensorType(dtype, (False,) * r)() for r in ranks])

    def perform(self, node, inputs, output_storage):
        res = np.linalg.qr(inputs[0], self.mode)
        res = (res,) if self.mode == "r" else tuple(res)
        for cell, r, out in zip(output_storage, res, node.outputs):
            cell[0] = np.asarray(r, dtype=out.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        m, n = input_shapes[0]
        k = minimum(m, n)
        return {"reduced": [(m, k), (k, n)], "complete": [(m, m), (m, n)], "r": [(k, n)],
                "raw": [(n, m), (k,)]}[self.mode]


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR decomposition of a matrix (`numpy.linalg.qr`)."""
    return QR(mode)(a)


class SVD(Op):
    """`numpy.linalg.svd`: (u, s, vh), or s alone without `compute_uv`."""

    __props__ = ("full_matrices", "compute_uv")

    def __init__(self, full_matrices: bool = True, compute_uv: bool = True):
        self.full_matrices = bool(full_matrices)
        self.compute_uv = bool(compute_uv)

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "svd")
        dtype = _linalg_dtype(x, "svd")
        s = TensorType(str(np.finfo(dtype).dtype), (False,))()
        if not self.compute_uv:
            return Apply(self, [x], [s])
        return Apply(self, [x], [TensorType(dtype, (False, False))(), s,
                                 TensorType(dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        res = np.linalg.svd(inputs[0], self.full_matrices, self.compute_uv)
        res = tuple(res) if self.compute_uv else (res,)
        for cell, r, out in zip(output_storage, res, node.outputs):
            cell[0] = np.asarray(r, dtype=out.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        m, n = input_shapes[0]
        k = minimum(m, n)
        if not self.compute_uv:
            return [(k,)]
        if self.full_matrices:
            return [(m, m), (k,), (n, n)]
        return [(m, k), (k,), (k, n)]


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """The singular value decomposition of a matrix (`numpy.linalg.svd`)."""
    return SVD(full_matrices, compute_uv)(a)


class Lstsq(Op):
    """`numpy.linalg.lstsq(a, b, rcond)`: (x, residuals, rank, singular values)."""

    def make_node(self, a: Any, b: Any, rcond: Any) -> Apply:
        a = _matrix(a, "lstsq")
        b = as_tensor_variable(b)
        if b.ndim not in (1, 2):
            raise TypeError(f"lstsq: b must be a vector or a matrix, got {b} ({b.type})")
        rcond = as_tensor_variable(rcond)
        dtype = str(np.result_type(_linalg_dtype(a, "lstsq"), _linalg_dtype(b, "lstsq")))
        real = str(np.finfo(dtype).dtype)
        return Apply(self, [a, b, rcond], [TensorType(dtype, (False,) * b.ndim)(),
                                           TensorType(real, (False,))(),
                                           TensorType("int64", ())(),
                                           TensorType(real, (False,))()])

    def perform(self, node, inputs, output_storage):
        a, b, rcond = inputs
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"lstsq: {node.inputs[0]} has shape {a.shape} but "
                             f"{node.inputs[1]} has shape {b.shape}: the first dimensions "
                             "must match")
        res = np.linalg.lstsq(a, b, rcond=float(rcond))
        for cell, r, out in zip(output_storage, res, node.outputs):
            cell[0] = np.asarray(r, dtype=out.dtype)


def lstsq(a: Any, b: Any, rcond: Any = None) -> list[TensorVariable]:
    """[x, residuals, rank, s] minimizing |b - a x| (`numpy.linalg.lstsq`); `rcond` None is
    NumPy's default, machine precision times max(a.shape)."""
    a = _matrix(a, "lstsq")
    if rcond is None:
        eps = np.finfo(_linalg_dtype(a, "lstsq")).eps
        rcond = tm.cast(maximum(a.shape[0], a.shape[1]), "float64") * eps
    return Lstsq()(a, b, rcond)


# pinv, powers, products, norms ------------------------------------------------------------
class MatrixPinv(Op):
    """The Moore-Penrose pseudo-inverse (`numpy.linalg.pinv`)."""

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "pinv")
        return Apply(self, [x], [TensorType(_linalg_dtype(x, "pinv"), (False, False))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(np.linalg.pinv(inputs[0]),
                                          dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        # From dZ = -Z dA Z + Z Z^T dA^T (I - A Z) + (I - Z A) dA^T Z^T Z (Z = pinv(A), A of
        # constant rank), transposed into the reverse mode.
        from theanine.tensor.shape_ops import identity_like

        (a,) = inputs
        z = _cj(outputs[0])
        a = _cj(a)
        g = output_grads[0]
        az, za = dot(a, z), dot(z, a)
        ga = (-matrix_dot(z.T, g, z.T)
              + matrix_dot(identity_like(az) - az, g.T, z, z.T)
              + matrix_dot(z.T, z, g.T, identity_like(za) - za))
        return [_grad_for(ga, inputs[0])]

    def infer_shape(self, fgraph, node, input_shapes):
        m, n = input_shapes[0]
        return [(n, m)]


pinv = MatrixPinv()


def matrix_dot(*args: Any) -> TensorVariable:
    """The product of the matrices `args`, left to right."""
    result = as_tensor_variable(args[0])
    for a in args[1:]:
        result = dot(result, a)
    return result


def matrix_power(M: Any, n: int) -> TensorVariable:
    """`M` to the integer power `n` (`numpy.linalg.matrix_power`; negative n inverts)."""
    from theanine.tensor.shape_ops import identity_like

    M = _matrix(M, "matrix_power")
    if not isinstance(n, int | np.integer):
        raise TypeError(f"matrix_power: n must be a Python int, got {n!r}")
    if n < 0:
        M, n = matrix_inverse(M), -n
    result = identity_like(M) if n == 0 else M
    for _ in range(int(n) - 1):
        result = dot(result, M)
    return result


def _is(ord_: Any, value: float) -> bool:
    if isinstance(ord_, str):
        return ord_ == {np.inf: "inf", -np.inf: "-inf"}.get(value)
    return ord_ is not None and not isinstance(ord_, bool) and ord_ == value


def norm(x: Any, ord: Any = None) -> TensorVariable:
    """`numpy.linalg.norm` of a vector or matrix (Theano's signature; inf may be given as
    np.inf or 'inf').  The 2, -2 and 'nuc' matrix norms come from singular values, which
    have no gradient."""
    x = as_tensor_variable(x)
    a = tm.abs(x)
    if x.ndim == 1:
        if ord is None or _is(ord, 2):
            return tm.sqrt(tsum(a * a))
        if _is(ord, np.inf):
            return tm.max(a)
        if _is(ord, -np.inf):
            return tm.min(a)
        if _is(ord, 0):
            return tm.cast(tsum(tm.neq(x, 0)), a.dtype if a.dtype[0] == "f" else "float64")
        if isinstance(ord, str) or not np.isscalar(ord):
            raise ValueError(f"norm: invalid order {ord!r} for the vector {x}")
        return tsum(a ** ord) ** (1.0 / ord)
    if x.ndim == 2:
        if ord is None or ord == "fro":
            return tm.sqrt(tsum(a * a))
        for value, axis, reduce in ((np.inf, 1, tm.max), (-np.inf, 1, tm.min),
                                    (1, 0, tm.max), (-1, 0, tm.min)):
            if _is(ord, value):
                return reduce(tsum(a, axis=axis))
        if ord == "nuc" or _is(ord, 2) or _is(ord, -2):
            s = svd(x, compute_uv=False)
            return tsum(s) if ord == "nuc" else (tm.max(s) if _is(ord, 2) else tm.min(s))
        raise ValueError(f"norm: invalid order {ord!r} for the matrix {x}")
    raise TypeError(f"norm takes a vector or a matrix, got {x} ({x.type})")
