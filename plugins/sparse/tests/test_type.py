"""The sparse Type, variables, constants, shared variables and `import theanine.sparse`."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_sparse

import theanine
import theanine.sparse as S
import theanine.tensor as T
from theanine.plugins import get_registry


def test_constructors_make_typed_variables():
    x = S.csr_matrix("x", dtype="float64")
    y = S.csc_matrix("y", dtype="int32")
    assert (x.type.format, x.dtype, x.ndim, x.name) == ("csr", "float64", 2, "x")
    assert (y.type.format, y.dtype) == ("csc", "int32")
    assert S.csr_matrix().dtype == theanine.config.floatX
    assert S.csr_matrix().type == S.SparseType("csr", theanine.config.floatX)
    assert S.SparseType("csr", "float64") != S.SparseType("csc", "float64")


def test_type_refuses_unknown_format_and_dtype():
    with pytest.raises(ValueError, match="format must be one of"):
        S.SparseType("coo", "float64")
    with pytest.raises(TypeError, match="unsupported sparse dtype float16"):
        S.SparseType("csr", "float16")


def test_filter_converts_format_and_safe_dtypes(rng):
    t = S.SparseType("csr", "float64")
    value = random_sparse(rng, (4, 3), "csc", dtype="float32")
    got = t.filter(value)
    assert got.format == "csr" and got.dtype == np.float64
    np.testing.assert_array_equal(got.toarray(), value.toarray())
    # scipy's sparse arrays become matrices, so * means the same in every value
    assert isinstance(t.filter(sp.csr_array(value)), sp.csr_matrix)


def test_function_input_errors_name_the_input(rng):
    x = S.csr_matrix("x", dtype="float32")
    f = theanine.function([x], S.dense_from_sparse(x))
    with pytest.raises(TypeError, match="input 'x' expected a scipy.sparse csr matrix.*ndarray"):
        f(np.ones((2, 2), dtype="float32"))
    with pytest.raises(TypeError, match="input 'x'.*dtype float64.*does not convert without"):
        f(random_sparse(rng, (2, 2)))
    g = theanine.function([x], S.dense_from_sparse(x), allow_input_downcast=True)
    np.testing.assert_allclose(g(sp.csr_matrix(np.eye(2))), np.eye(2))
    with pytest.raises(TypeError, match="strict"):
        S.SparseType("csr", "float64").filter(random_sparse(rng, (2, 2), "csc"), strict=True)


def test_as_sparse_variable():
    value = sp.csr_matrix(np.eye(3))
    c = S.as_sparse_variable(value)
    assert isinstance(c, S.SparseConstant) and c.type == S.SparseType("csr", "float64")
    x = S.csc_matrix("x")
    assert S.as_sparse_variable(x) is x
    with pytest.raises(TypeError, match="is not sparse; convert a dense matrix"):
        S.as_sparse_variable(T.matrix("m"))
    with pytest.raises(TypeError, match="csr or csc matrix, got coo_matrix"):
        S.as_sparse_variable(sp.coo_matrix(np.eye(2)))
    assert S.as_sparse_or_tensor_variable(np.ones(2)).type == T.TensorType("float64", (False,))


def test_equal_constants_merge():
    a = S.as_sparse_variable(sp.csr_matrix(np.eye(3)))
    b = S.as_sparse_variable(sp.csr_matrix(np.eye(3)))
    c = S.as_sparse_variable(sp.csr_matrix(2 * np.eye(3)))
    assert a.signature() == b.signature() != c.signature()


def test_shared_sparse_value_roundtrip(rng):
    value = random_sparse(rng, (5, 4), "csc")
    w = theanine.shared(value, name="w")
    assert isinstance(w, S.SparseSharedVariable) and w.type == S.SparseType("csc", "float64")
    got = w.get_value()
    assert got is not value and got.format == "csc"
    np.testing.assert_array_equal(got.toarray(), value.toarray())
    w.set_value(2 * value)
    np.testing.assert_array_equal(w.get_value().toarray(), 2 * value.toarray())
    with pytest.raises(TypeError, match="set_value of shared variable 'w'.*ndarray"):
        w.set_value(np.ones((5, 4)))


def test_shared_refuses_other_formats_and_broadcastable():
    with pytest.raises(TypeError, match="shared\\(\\) takes a scipy.sparse csr or csc matrix, "
                                        "got coo_matrix"):
        theanine.shared(sp.coo_matrix(np.eye(2)))
    with pytest.raises(TypeError, match="no broadcastable dimension"):
        theanine.shared(sp.csr_matrix(np.eye(2)), broadcastable=(True, False))


def test_shared_sparse_weights_train_and_keep_their_structure(theanine_backend, rng):
    """Seed-style training of a sparse weight matrix with structured_dot: the update keeps
    the structure and lowers the loss."""
    w0 = random_sparse(rng, (6, 3), "csr")
    w = theanine.shared(w0, name="w")
    x = T.dmatrix("x")
    target = rng.normal(size=(8, 3))
    xv = rng.normal(size=(8, 6))
    out = S.structured_dot(w.T, x.T).T  # (x @ w), with w's gradient on its entries
    loss = T.sqr(out - target).mean()
    g = theanine.grad(loss, w)
    step = theanine.function([x], loss, updates=[(w, w - 0.1 * g)])
    losses = [float(step(xv)) for _ in range(20)]
    assert losses[-1] < losses[0]
    final = w.get_value()
    np.testing.assert_array_equal(final.indices, w0.indices)
    np.testing.assert_array_equal(final.indptr, w0.indptr)


def test_plugin_is_listed():
    infos = {i.name: i for i in get_registry().plugin_infos()}
    assert infos["sparse"].distribution == "theanine-sparse"
    assert "theanine_register_shared_constructors" in infos["sparse"].hooks


def test_import_without_the_plugin_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "theanine_sparse", None)
    monkeypatch.delitem(sys.modules, "theanine.sparse")
    with pytest.raises(ImportError, match=r"pip install \./plugins/sparse.*theanine-sparse"):
        importlib.import_module("theanine.sparse")
