"""Linear algebra computed by SciPy (Theano's `slinalg`): Cholesky factors, structured linear
solves, symmetric eigenvalues, the matrix exponential and the Kronecker product, each with
the gradient Theano gave it.

SciPy is imported when an Op first runs, so `import theanine` does not pay for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable, reshape
from theanine.tensor.math import _cj, _grad_for, dot, outer
from theanine.tensor.nlinalg import (
    _linalg_dtype,
    _matrix,
    _square,
    check_solve_operands,
    extract_diag,
    solve_node,
)
from theanine.tensor.nlinalg import diag as _diag
from theanine.tensor.shape_ops import tril, triu
from theanine.tensor.type import TensorType
from theanine.tensor.variable import TensorVariable

#: Theano's names for what `solve` may assume about `a`, with SciPy's `assume_a` for each
STRUCTURES = {"general": "gen", "symmetric": "sym", "hermitian": "her",
              "positive_definite": "pos", "lower_triangular": None, "upper_triangular": None}
_FROM_ASSUME_A = {"gen": "general", "sym": "symmetric", "her": "hermitian",
                  "pos": "positive_definite"}


def _scipy_linalg():
    import scipy.linalg

    return scipy.linalg


def _fold(g: TensorVariable, lower: bool) -> TensorVariable:
    """The gradient of a function that reads only one triangle of its (symmetric) argument:
    the entries of the other triangle are folded onto the one that is read."""
    if lower:
        return tril(g) + triu(g, 1).T
    return triu(g) + tril(g, -1).T


# Cholesky ---------------------------------------------------------------------------------
class Cholesky(Op):
    """The triangular factor L of a positive definite matrix x = L L^T (`lower`) or
    U^T U (upper).  Only the triangle of x on that side is read.  `on_error='nan'` gives a
    matrix of NaNs instead of an error when x is not positive definite."""

    __props__ = ("lower", "on_error")

    def __init__(self, lower: bool = True, on_error: str = "raise"):
        if on_error not in ("raise", "nan"):
            raise ValueError(f"cholesky: on_error must be 'raise' or 'nan', got {on_error!r}")
        self.lower = bool(lower)
        self.on_error = on_error

    def make_node(self, x: Any) -> Apply:
        x = _matrix(x, "cholesky")
        return Apply(self, [x], [TensorType(_linalg_dtype(x, "cholesky"), x.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        _square(x, node, "cholesky")
        sl = _scipy_linalg()
        try:
            r = sl.cholesky(x, lower=self.lower, check_finite=False)
        except sl.LinAlgError as exc:
            if self.on_error == "raise":
                raise sl.LinAlgError(f"cholesky of {node.inputs[0]}: {exc}") from None
            r = np.full(x.shape, np.nan)
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        # I. Murray, "Differentiation of the Cholesky decomposition" (arXiv:1602.07527),
        # written for the lower factor; the upper one is its transpose.
        (x,) = inputs
        chol, g = outputs[0], output_grads[0]
        if not self.lower:
            chol, g = chol.T, g.T
        p = tril(dot(chol.T, g))
        p = p - _diag(extract_diag(p) / 2)
        # s = L^-T p L^-1
        s = solve_upper_triangular(chol.T, solve_upper_triangular(chol.T, p.T).T)
        sym = s + s.T
        gx = (tril(sym) if self.lower else triu(sym)) - _diag(extract_diag(s))
        return [_grad_for(gx, x)]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


cholesky = Cholesky()


# solve ------------------------------------------------------------------------------------
class Solve(Op):
    """x with a @ x = b, for a square `a` of the given structure (Theano's `A_structure`) and
    a vector or matrix `b`.  Triangular structures read only their triangle (and not the
    diagonal with `unit_diagonal`); symmetric, hermitian and positive definite ones read the
    triangle `lower` says."""

    __props__ = ("A_structure", "lower", "unit_diagonal")

    def __init__(self, A_structure: str = "general", lower: bool = False,
                 unit_diagonal: bool = False):
        if A_structure not in STRUCTURES:
            raise ValueError(f"solve: A_structure must be one of {', '.join(STRUCTURES)}, got "
                             f"{A_structure!r}")
        self.A_structure = A_structure
        if A_structure.endswith("_triangular"):
            lower = A_structure == "lower_triangular"
        self.lower = bool(lower)
        self.unit_diagonal = bool(unit_diagonal)

    def make_node(self, a: Any, b: Any) -> Apply:
        return solve_node(self, a, b)

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        check_solve_operands(node, a, b)
        sl = _scipy_linalg()
        try:
            if STRUCTURES[self.A_structure] is None:
                r = sl.solve_triangular(a, b, lower=self.lower,
                                        unit_diagonal=self.unit_diagonal)
            else:
                r = sl.solve(a, b, assume_a=STRUCTURES[self.A_structure], lower=self.lower)
        except sl.LinAlgError as exc:
            raise sl.LinAlgError(f"solve with {node.inputs[0]}: {exc}") from None
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        # x = a^-1 b (M. B. Giles, "An extended collection of matrix derivative results"):
        # gb = a^-T g, ga = -gb x^T, restricted to what the structure reads.
        a, b = inputs
        (x,) = outputs
        swapped = {"lower_triangular": "upper_triangular",
                   "upper_triangular": "lower_triangular"}
        structure = swapped.get(self.A_structure, self.A_structure)
        # a^T read from the other triangle is the same matrix as a read from this one
        gb = Solve(structure, not self.lower, self.unit_diagonal)(_cj(a).T, output_grads[0])
        ga = -outer(gb, _cj(x)) if b.ndim == 1 else -dot(gb, _cj(x).T)
        if self.A_structure == "lower_triangular":
            ga = tril(ga, -1 if self.unit_diagonal else 0)
        elif self.A_structure == "upper_triangular":
            ga = triu(ga, 1 if self.unit_diagonal else 0)
        elif self.A_structure != "general":
            ga = _fold(ga, self.lower)
        return [_grad_for(ga, a), _grad_for(gb, b)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]


def solve(a: Any, b: Any, assume_a: str = "gen", lower: bool = False,
          A_structure: str | None = None) -> TensorVariable:
    """x with a @ x = b (`scipy.linalg.solve`).  What `a` is may be said with SciPy's
    `assume_a` ('gen', 'sym', 'her', 'pos') or Theano's `A_structure` (which also takes
    'lower_triangular' and 'upper_triangular')."""
    if A_structure is None:
        if assume_a not in _FROM_ASSUME_A:
            raise ValueError(f"solve: assume_a must be one of {', '.join(_FROM_ASSUME_A)}, "
                             f"got {assume_a!r}")
        A_structure = _FROM_ASSUME_A[assume_a]
    return Solve(A_structure, lower)(a, b)


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False) -> TensorVariable:
    """`scipy.linalg.solve_triangular`: x with op(a) @ x = b for a triangular `a`, where op is
    the identity (trans 0 / 'N'), the transpose (1 / 'T') or the conjugate transpose
    (2 / 'C')."""
    kinds = {0: 0, "N": 0, 1: 1, "T": 1, 2: 2, "C": 2}
    if trans not in kinds:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                         f"{trans!r}")
    a = _matrix(a, "solve_triangular")
    if kinds[trans]:
        a = (_cj(a) if kinds[trans] == 2 else a).T
        lower = not lower
    structure = "lower_triangular" if lower else "upper_triangular"
    return Solve(structure, lower, unit_diagonal)(a, b)


solve_lower_triangular = Solve("lower_triangular")
solve_upper_triangular = Solve("upper_triangular")
solve_symmetric = Solve("symmetric")


# eigvalsh ---------------------------------------------------------------------------------
class Eigvalsh(Op):
    """Eigenvalues, ascending, of the symmetric (hermitian) matrix a, or of the generalized
    problem a v = w b v for a positive definite b; only the `lower` (else upper) triangles
    are read."""

    __props__ = ("lower",)

    def __init__(self, lower: bool = True):
        self.lower = bool(lower)

    def make_node(self, a: Any, b: Any = None) -> Apply:
        inputs = [_matrix(a, "eigvalsh")] + ([] if b is None else [_matrix(b, "eigvalsh")])
        dtype = str(np.result_type(*[_linalg_dtype(v, "eigvalsh") for v in inputs]))
        real = str(np.finfo(dtype).dtype)
        return Apply(self, inputs, [TensorType(real, (False,))()])

    def perform(self, node, inputs, output_storage):
        for v in inputs:
            _square(v, node, "eigvalsh")
        sl = _scipy_linalg()
        try:
            w = sl.eigh(*inputs, lower=self.lower, eigvals_only=True)
        except sl.LinAlgError as exc:
            raise sl.LinAlgError(f"eigvalsh of {node.inputs[0]}: {exc}") from None
        output_storage[0][0] = np.asarray(w, dtype=node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        grads = EigvalshGrad(self.lower)(*inputs, output_grads[0])
        grads = grads if isinstance(grads, list) else [grads]
        return [_grad_for(g, v) for g, v in zip(grads, inputs)]

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0],)]


class EigvalshGrad(Op):
    """The gradients of `Eigvalsh` for a and b: dw_n/da = v_n v_n^T and dw_n/db =
    -w_n v_n v_n^T (v_n the b-normalized eigenvectors), folded onto the triangle read."""

    __props__ = ("lower",)

    def __init__(self, lower: bool = True):
        self.lower = bool(lower)

    def make_node(self, *inputs: Any) -> Apply:
        *mats, gw = (as_tensor_variable(v) for v in inputs)
        dtype = str(np.result_type(*[v.dtype for v in inputs]))
        return Apply(self, [*mats, gw], [TensorType(dtype, (False, False))() for _ in mats])

    def perform(self, node, inputs, output_storage):
        *mats, gw = inputs
        w, v = _scipy_linalg().eigh(*mats, lower=self.lower)
        grads = [(v * gw) @ _np_cj(v).T]
        if len(mats) == 2:
            grads.append(-(v * (gw * w)) @ _np_cj(v).T)
        tri, other = (np.tril, np.triu) if self.lower else (np.triu, np.tril)
        for cell, g in zip(output_storage, grads):
            folded = tri(g) + other(g, 1 if self.lower else -1).T
            cell[0] = np.asarray(folded, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes[:-1]


def _np_cj(v: np.ndarray) -> np.ndarray:
    return np.conj(v) if np.iscomplexobj(v) else v


def eigvalsh(a: Any, b: Any = None, lower: bool = True) -> TensorVariable:
    """Eigenvalues of the symmetric matrix `a` (generalized with `b`), ascending."""
    return Eigvalsh(lower)(a) if b is None else Eigvalsh(lower)(a, b)


# expm -------------------------------------------------------------------------------------
class Expm(Op):
    """The matrix exponential of a square matrix (`scipy.linalg.expm`)."""

    def make_node(self, a: Any) -> Apply:
        a = _matrix(a, "expm")
        return Apply(self, [a], [TensorType(_linalg_dtype(a, "expm"), a.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        (a,) = inputs
        _square(a, node, "expm")
        r = _scipy_linalg().expm(a)
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        (a,) = inputs
        return [_grad_for(ExpmGrad()(a, output_grads[0]), a)]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


class ExpmGrad(Op):
    """The gradient of `Expm` at a for the output gradient g: the Fréchet derivative of expm
    at a^H in the direction g (the adjoint of the derivative at a)."""

    def make_node(self, a: Any, g: Any) -> Apply:
        a, g = as_tensor_variable(a), as_tensor_variable(g)
        dtype = str(np.result_type(a.dtype, g.dtype))
        return Apply(self, [a, g], [TensorType(dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        a, g = inputs
        r = _scipy_linalg().expm_frechet(_np_cj(a).T, g, compute_expm=False)
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


expm = Expm()


# kron -------------------------------------------------------------------------------------
def kron(a: Any, b: Any) -> TensorVariable:
    """The Kronecker product (`numpy.kron`; `scipy.linalg.kron` for matrices): the block
    tensor whose block i is a[i] * b.  The lower-rank operand gets leading length-1
    dimensions."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    n = max(a.ndim, b.ndim)
    if n == 0:
        return a * b
    a = a.dimshuffle(["x"] * (n - a.ndim) + list(range(a.ndim)))
    b = b.dimshuffle(["x"] * (n - b.ndim) + list(range(b.ndim)))
    # out[i0, j0, i1, j1, ...] = a[i0, i1, ...] * b[j0, j1, ...], then pairs merged
    prod = (a.dimshuffle([p for d in range(n) for p in (d, "x")])
            * b.dimshuffle([p for d in range(n) for p in ("x", d)]))
    return reshape(prod, [a.shape[d] * b.shape[d] for d in range(n)], ndim=n)
