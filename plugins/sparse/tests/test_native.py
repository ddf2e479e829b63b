"""The native sparse-by-dense product on the C backend, the rewrite that selects it, and
what the compile report says on each backend."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_sparse

import theanine
import theanine.sparse as S
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.plugins import get_registry


def _c_available() -> bool:
    backends = get_registry().backends
    return "c" in backends and backends["c"][0].is_available()[0]


needs_c = pytest.mark.skipif(not _c_available(), reason="the C backend is not available")


def _nodes(f, op_type):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, op_type)]


def test_rewrite_selects_the_component_product_unless_excluded():
    x, y = S.csr_matrix("x", dtype="float64"), T.dmatrix("y")
    f = theanine.function([x, y], S.structured_dot(x, y), backend="python")
    assert _nodes(f, S.SparseDenseProduct) and not _nodes(f, S.SparseDot)
    g = theanine.function([x, y], S.structured_dot(x, y), backend="python",
                          mode=Mode(optimizer="fast_run").excluding("sparse"))
    assert _nodes(g, S.SparseDot) and not _nodes(g, S.SparseDenseProduct)
    assert "sparse:sparse_dense_product" in theanine.explain(f)


@needs_c
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [None, 1, 3])
def test_c_product_is_native_and_matches_scipy(rng, fmt, dtype, k):
    a = random_sparse(rng, (7, 5), fmt, dtype=dtype)
    b = rng.normal(size=(5,) if k is None else (5, k)).astype(dtype)
    x = S.matrix(fmt, "x", dtype)
    y = T.TensorType(dtype, (False,) * b.ndim)("y")
    f = theanine.function([x, y], S.structured_dot(x, y), backend="c")
    report = f.maker.program.report
    (node,) = _nodes(f, S.SparseDenseProduct)
    assert report.how(node) == "native"
    assert not report.fallbacks, f.report()
    got = f(a, b)
    assert got.dtype == dtype and got.shape == (7,) + b.shape[1:]
    np.testing.assert_allclose(got, a @ b, rtol=1e-5 if dtype == "float32" else 1e-12)


@needs_c
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_c_product_on_a_large_matrix(rng, fmt):
    """Enough work for the CSR kernel's threads; empty rows and columns included."""
    a = random_sparse(rng, (3000, 800), fmt, density=0.05)
    b = rng.normal(size=(800, 16))
    x, y = S.matrix(fmt, "x", "float64"), T.dmatrix("y")
    f = theanine.function([x, y], S.dot(x, y), backend="c")
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(f(a[:0], b), np.zeros((0, 16)))


@needs_c
def test_c_product_without_a_native_dtype_falls_back(rng):
    x, y = S.csr_matrix("x", dtype="int64"), T.lmatrix("y")
    f = theanine.function([x, y], S.structured_dot(x, y), backend="c")
    (node,) = _nodes(f, S.SparseDenseProduct)
    assert f.maker.program.report.how(node) == \
        "fallback (no native sparse-dense product for int64)"
    assert "1 fallback to perform" in f.report()
    a = random_sparse(rng, (4, 3), dtype="float64")
    a.data = np.round(a.data * 4)
    a = a.astype("int64")
    b = rng.integers(-3, 4, size=(3, 2))
    np.testing.assert_array_equal(f(a, b), a @ b)


@needs_c
@pytest.mark.parametrize("indices, indptr, shape, message", [
    ([0, 5], [0, 1, 2], [2, 3], "index 5 at position 1 is outside 0..2"),
    ([0, 1], [0, 2, 1], [2, 3], "indptr decreases at 1"),
    ([0, 1], [0, 1, 3], [2, 3], "does not describe 2 rows of at most 2 values"),
    ([0, 1], [0, 1, 2], [2, 4], r"shapes \(2, 4\) and \(3, \.\.\.\) do not align"),
])
def test_c_product_checks_its_components(indices, indptr, shape, message):
    """Malformed components are reported by the kernel before it reads through them."""
    data, ind, ptr, shp = T.dvector("data"), T.ivector("i"), T.ivector("p"), T.lvector("s")
    y = T.dmatrix("y")
    f = theanine.function([data, ind, ptr, shp, y],
                          S.SparseDenseProduct("csr")(data, ind, ptr, shp, y), backend="c")
    with pytest.raises(RuntimeError, match=message):
        f(np.ones(2), np.array(indices, "int32"), np.array(indptr, "int32"),
          np.array(shape, "int64"), np.ones((3, 2)))


def test_compile_report_on_each_backend(theanine_backend, rng):
    """The report says how the sparse graph runs: natively where a backend has an impl,
    by `perform` (fallback) where it has not; results agree everywhere."""
    x, y = S.csr_matrix("x", dtype="float64"), T.dmatrix("y")
    f = theanine.function([x, y], S.dense_from_sparse(S.sqr(x)) + S.structured_dot(x, y))
    report = f.report()
    assert report.startswith(f"backend {theanine_backend}")
    if theanine_backend == "c":
        (node,) = _nodes(f, S.SparseDenseProduct)
        assert f.maker.program.report.how(node) == "native"
        assert "1 fallback to perform" in report and "DenseFromSparse" in report
    elif theanine_backend != "python":
        assert "fallback to perform" in report
    a, b = random_sparse(rng, (4, 3)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(f(a, b), a.toarray() ** 2 + a @ b, rtol=1e-12)
