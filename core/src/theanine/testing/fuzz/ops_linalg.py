"""The fuzz table's linear algebra (`tensor.nlinalg`, `tensor.slinalg`).

Inputs are drawn where the results are well defined and well conditioned: square matrices
are `small` entries plus (n + 1) I (Gershgorin: eigenvalues at least 1), and symmetric ones
are symmetrized inside the expression, `(a + a.T) / 2`, so the gradient, which the Ops give
for a symmetric perturbation, matches finite differences of the whole graph.  Results that
are defined only up to a sign or a rotation are compared through invariants: q @ r,
|r|, singular values, u s vh, eigenvalues, the squared entries of eigenvectors (unique up to
sign for the distinct eigenvalues random matrices have), v diag(w) v^T.  `eig` of a general
matrix is left out: its complex eigenvalues come in an order LAPACK does not fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.testing.fuzz.domains import NUMBERS, OpSpec
from theanine.testing.fuzz.generate import Context

F = ("float32", "float64")
SYM = "(({0} + {0}.T) / 2)"


def _square(ctx: Context, n: int | None = None) -> int:
    """A fresh well-conditioned square matrix (eigenvalues of its symmetric part >= 1)."""
    n = int(ctx.rng.integers(1, 4)) if n is None else n
    x = ctx.fresh(ctx.choice(F), (n, n), domain="small")
    ctx.values[x] += (n + 1) * np.eye(n, dtype=ctx.dtype(x))
    return x


def _square_or_earlier(ctx: Context) -> int:
    """Now and then an earlier square float result (values chained through), else fresh."""
    earlier = [i for i in range(len(ctx.vars)) if ctx.dtype(i) in F and ctx.ndim(i) == 2
               and ctx.shape(i)[0] == ctx.shape(i)[1]]
    if earlier and ctx.chance(0.2):
        return ctx.choice(earlier)
    return _square(ctx)


def _one_square(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [_square_or_earlier(ctx)], {}


def _rhs(ctx: Context, a: int) -> int:
    n = ctx.shape(a)[0]
    return ctx.fresh(ctx.dtype(a) if ctx.chance(0.8) else ctx.choice(F),
                     (n,) if ctx.chance(0.5) else (n, int(ctx.rng.integers(1, 3))))


def _solve_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    a = _square_or_earlier(ctx)
    return [a, _rhs(ctx, a)], {}


def _ssolve_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    a = _square(ctx)
    return [a, _rhs(ctx, a)], {"assume_a": ctx.choice(["gen", "sym", "pos"]),
                               "lower": ctx.chance(0.5)}


def _triangular_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    a = _square(ctx)
    return [a, _rhs(ctx, a)], {"trans": ctx.choice([0, 1, 2, "N", "T"]),
                               "lower": ctx.chance(0.5), "unit": ctx.chance(0.3)}


def _lower_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [_square(ctx)], {"lower": ctx.chance(0.5)}


def _kron_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    a = ctx.pick(NUMBERS, (0, 2))
    b = ctx.pick(NUMBERS, (0, 2)) if ctx.chance(0.5) else ctx.fresh(
        ctx.choice(NUMBERS), ctx.random_shape(int(ctx.rng.integers(0, 3))))
    return [a, b], {}


def _rect(ctx: Context, tall: bool = False) -> int:
    """A fresh m x n float matrix of full rank with singular values well apart from 0."""
    m, n = (int(s) for s in ctx.rng.integers(1, 4, size=2))
    if tall and m < n:
        m, n = n, m
    x = ctx.fresh(ctx.choice(F), (m, n), domain="small")
    k = min(m, n)
    ctx.values[x][:k, :k] += (k + 1) * np.eye(k, dtype=ctx.dtype(x))
    return x


def _rect_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [_rect(ctx)], {}


def _lstsq_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    a = _rect(ctx, tall=True)
    m = ctx.shape(a)[0]
    b = ctx.fresh(ctx.dtype(a), (m,) if ctx.chance(0.5) else (m, 2))
    return [a, b], {"k": ctx.choice([0, 0, 3])}  # x, or the singular values


def _norm_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(F, (1, 2), min_size=1)
    if ctx.ndim(x) == 1:
        ord_: Any = ctx.choice([None, 2, 1, 3, np.inf, -np.inf, 0, "inf"])
    else:
        ord_ = ctx.choice([None, "fro", np.inf, -np.inf, 1, -1, "nuc", 2, -2])
        if ord_ in ("nuc", 2, -2):  # singular values: LAPACK complains aloud about NaNs
            x = _rect(ctx)
    return [x], {"ord": ord_}


def _power_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [_square_or_earlier(ctx)], {"n": int(ctx.rng.integers(-2, 4))}


def _diag_offset_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    x = ctx.pick(NUMBERS, (1, 2))
    return [x], {"k": int(ctx.rng.integers(-2, 3))}


def _matrix_offset_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [ctx.pick(NUMBERS, (2, 2))], {"k": int(ctx.rng.integers(-2, 3))}


def _qr_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [_rect(ctx)], {"mode": ctx.choice(["reduced", "complete"])}


def _eigh_sample(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    return [_square(ctx)], {"uplo": ctx.choice(["L", "U"])}


def linalg_specs() -> list[OpSpec]:
    nd = {"smooth": False}
    no_grad = {"differentiable": False}
    return [
        OpSpec("det", "T.nlinalg.det({0})", dtypes=F, sample=_one_square, weight=0.4,
               numpy="np.linalg.det({0})"),
        OpSpec("matrix_inverse", "T.nlinalg.matrix_inverse({0})", dtypes=F,
               sample=_one_square, weight=0.4, numpy="np.linalg.inv({0})"),
        OpSpec("solve", "T.nlinalg.solve({0}, {1})", 2, F, sample=_solve_sample, weight=0.4,
               numpy="np.linalg.solve({0}, {1}).astype(np.result_type({0}, {1}))"),
        OpSpec("pinv", "T.nlinalg.pinv({0})", dtypes=F, sample=_rect_sample, weight=0.3,
               numpy="np.linalg.pinv({0})"),
        OpSpec("matrix_power", "T.nlinalg.matrix_power({0}, {n})", dtypes=F,
               sample=_power_sample, weight=0.3),
        OpSpec("norm", "T.nlinalg.norm({0}, {ord})", dtypes=F, sample=_norm_sample, weight=0.4,
               **nd),
        OpSpec("extract_diag", "T.nlinalg.diag({0}, {k})", sample=_diag_offset_sample,
               weight=0.3, numpy="np.diag({0}, {k})"),
        OpSpec("trace_offset", "T.nlinalg.trace({0}, {k})", sample=_matrix_offset_sample,
               weight=0.2, numpy="np.trace({0}, {k})"),
        OpSpec("qr_product", "T.dot(*T.nlinalg.qr({0}, {mode}))", dtypes=F, sample=_qr_sample,
               weight=0.3, **no_grad),
        OpSpec("qr_r_abs", "abs(T.nlinalg.qr({0}, 'r'))", dtypes=F, sample=_rect_sample,
               weight=0.2, **no_grad),
        OpSpec("svd_values", "T.nlinalg.svd({0}, compute_uv=False)", dtypes=F,
               sample=_rect_sample, weight=0.3, **no_grad,
               numpy="np.linalg.svd({0}, compute_uv=False)"),
        OpSpec("svd_product", "(lambda u, s, vh: T.dot(u * s, vh))"
               "(*T.nlinalg.svd({0}, full_matrices=False))", dtypes=F, sample=_rect_sample,
               weight=0.2, **no_grad),
        OpSpec("lstsq", "T.nlinalg.lstsq({0}, {1})[{k}]", 2, F, sample=_lstsq_sample,
               weight=0.3, **no_grad),
        OpSpec("eigh_values", f"T.nlinalg.eigh({SYM}, {{uplo}})[0]", dtypes=F,
               sample=_eigh_sample, weight=0.3),
        OpSpec("eigh_vectors_sq", f"T.nlinalg.eigh({SYM}, {{uplo}})[1] ** 2", dtypes=F,
               sample=_eigh_sample, weight=0.2),
        OpSpec("eigh_product", f"(lambda w, v: T.dot(v * w, v.T))(*T.nlinalg.eigh({SYM}, "
               "{uplo}))", dtypes=F, sample=_eigh_sample, weight=0.2),
        OpSpec("cholesky", f"T.slinalg.Cholesky(lower={{lower}})({SYM})", dtypes=F,
               sample=_lower_sample, weight=0.4),
        OpSpec("slinalg_solve", "T.slinalg.solve(" + SYM + ", {1}, assume_a={assume_a}, "
               "lower={lower})", 2, F, sample=_ssolve_sample, weight=0.4),
        OpSpec("solve_triangular", "T.slinalg.solve_triangular({0}, {1}, trans={trans}, "
               "lower={lower}, unit_diagonal={unit})", 2, F, sample=_triangular_sample,
               weight=0.4),
        OpSpec("eigvalsh", f"T.slinalg.eigvalsh({SYM}, lower={{lower}})", dtypes=F,
               sample=_lower_sample, weight=0.3),
        OpSpec("expm", "T.slinalg.expm({0} / 4)", dtypes=F, sample=_one_square, weight=0.3),
        OpSpec("kron", "T.slinalg.kron({0}, {1})", 2, NUMBERS, sample=_kron_sample,
               weight=0.4, numpy="np.kron({0}, {1})"),
    ]
