"""Theano's tensor-variable methods that ported code calls (`x.var()`, `x.any()`,
`x.nonzero()`, `x.diagonal()`, `x.searchsorted(v)`, ...) and the module functions behind the
new ones (`T.nonzero`, `T.flatnonzero`, `T.nonzero_values`, `T.diagonal`,
`extra_ops.searchsorted`): values against NumPy on the configured backend and on the Python
backend, gradients against finite differences, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py

import theanine
import theanine.tensor as T
from theanine.tensor import extra_ops

X = np.array([[0.0, 2.5, 0.0, -1.0], [3.0, 0.0, 4.0, 0.5], [0.0, 0.0, 0.0, 7.0]])
A = np.arange(60.0).reshape(3, 4, 5) - 20.0
V = np.array([-1.0, 0.0, 2.5, 2.5, 4.0, np.nan])  # sorted, NumPy puts NaN last


def _methods(x, t, v):
    """(expression, NumPy reference) pairs over X (x), A (t) and V (v)."""
    return [
        (x.var(), X.var()), (x.var(axis=0, ddof=1), X.var(axis=0, ddof=1)),
        (x.std(axis=1, keepdims=True), X.std(axis=1, keepdims=True)),
        (x.any(axis=0), X.any(axis=0)), (x.all(), X.all()), (x.ravel(), X.ravel()),
        (x.norm(2), np.sqrt((X ** 2).sum())), (x.norm(1, axis=1), np.abs(X).sum(axis=1)),
        (x.round(), np.sign(X) * np.floor(np.abs(X) + 0.5)),  # Theano: half away from 0
        (x.round("half_to_even"), np.round(X)), (x.conj(), X.conj()),
        (x.conjugate(), X.conjugate()),
        (x.real, X.real), (x.imag, X.imag), (x.cumsum(axis=1), X.cumsum(axis=1)),
        (x.cumprod(), X.cumprod()), (x.ptp(axis=0), np.ptp(X, axis=0)),
        (x.trace(), np.trace(X)), (x.trace(1), np.trace(X, 1)),
        (x.diagonal(), X.diagonal()), (x.diagonal(2), X.diagonal(2)),
        (x.diagonal(-1, 1, 0), X.diagonal(-1, 1, 0)), (x.diagonal(9), X.diagonal(9)),
        (t.diagonal(), A.diagonal()), (t.diagonal(1, 1, 2), A.diagonal(1, 1, 2)),
        (t.diagonal(-2, 2, 0), A.diagonal(-2, 2, 0)),
        (t.diagonal(0, -1, -2), A.diagonal(0, -1, -2)),
        (x.nonzero()[0], X.nonzero()[0]), (x.nonzero()[1], X.nonzero()[1]),
        (t.nonzero()[2], A.nonzero()[2]),
        (x.nonzero(return_matrix=True), np.array(X.nonzero())),
        (x.nonzero_values(), X[X.nonzero()]), (T.nonzero_values(t), A[A.nonzero()]),
        (T.flatnonzero(x), np.flatnonzero(X)), (T.nonzero(t)[0], A.nonzero()[0]),
        (T.diagonal(t, 1), A.diagonal(1)),
        (v.searchsorted(x), np.searchsorted(V, X)),
        (extra_ops.searchsorted(v, x, side="right"), np.searchsorted(V, X, side="right")),
        (v.searchsorted(2.5), np.searchsorted(V, 2.5)),
        (x.zeros_like(), np.zeros_like(X)), (x.ones_like("int8"), np.ones_like(X, "int8")),
        (x.fill(3.0), np.full_like(X, 3.0)),
        (T.cast(x.any(axis=1), "int8").choose([x[:, 0], x[:, 1]]),
         np.choose(X.any(axis=1).astype("int8"), [X[:, 0], X[:, 1]])),
        (x.compress(np.array([1, 0, 1])), np.compress([1, 0, 1], X)),
    ]


@pytest.mark.parametrize("backend", [None, "python"])
def test_methods_match_numpy(backend):
    x, t, v = T.dmatrix("x"), T.tensor3("t", dtype="float64"), T.dvector("v")
    pairs = _methods(x, t, v)
    f = theanine.function([x, t, v], [e for e, _ in pairs], backend=backend,
                          on_unused_input="ignore")
    for k, (got, (expr, want)) in enumerate(zip(f(X, A, V), pairs)):
        want = np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype, (k, expr, got, want)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"#{k}: {expr}")


def test_searchsorted_with_a_sorter_and_its_shape():
    x, v, s = T.dvector("x"), T.dvector("v"), T.lvector("s")
    unsorted = np.array([3.0, -1.0, 7.0, 0.5])
    order = np.argsort(unsorted)
    queries = np.array([[0.0, 5.0], [8.0, -3.0]])
    f = compile_py([x, v, s], extra_ops.searchsorted(x, v, sorter=s))
    got = f(unsorted, queries.ravel(), order)
    np.testing.assert_array_equal(got, np.searchsorted(unsorted, queries.ravel(),
                                                       sorter=order))
    check_infer_shape([x, v, s], extra_ops.searchsorted(x, v, sorter=s),
                      [unsorted, queries.ravel(), order])
    with pytest.raises(ValueError, match=r"sorter s has shape \(3,\), x has shape \(4,\)"):
        f(unsorted, queries.ravel(), order[:3])


def test_gradients_through_nonzero_values_and_diagonal():
    mask = (X != 0).astype("float64")
    check_grad(lambda a: T.nonzero_values(a * T.constant(mask)).sum() * 1.0, [X + 0.1])
    check_grad(lambda t: (t.diagonal(1, 2, 0) ** 2).sum(), [A / 10])
    check_grad(lambda a: a.norm(3, axis=0).sum(), [X + 5.0])
    check_grad(lambda a: a.std(axis=1).sum(), [X])


def test_errors_say_what_is_wrong():
    x, s = T.dmatrix("x"), T.dscalar("s")
    with pytest.raises(ValueError, match="nonzero: s is a scalar"):
        s.nonzero()
    with pytest.raises(ValueError, match="axis1 and axis2 cannot be the same"):
        x.diagonal(0, 1, 1)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        T.dvector("v").diagonal()
    with pytest.raises(NotImplementedError, match="L=0"):
        x.norm(0)
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        extra_ops.searchsorted(T.dvector(), x, side="middle")
    with pytest.raises(TypeError, match="must be a vector"):
        extra_ops.searchsorted(x, x)
