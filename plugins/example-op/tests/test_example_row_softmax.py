"""RowSoftmax against an independent NumPy softmax, on every installed backend (the
`theanine_backend` fixture of theanine.testing's pytest plugin), plus its gradient and shape."""

from __future__ import annotations

import numpy as np
import pytest
from theanine_example_op import RowSoftmax, row_softmax
from theanine_example_op import plugin as example_plugin

import theanine
import theanine.tensor as T
from theanine.plugins import PluginRegistry, use_registry
from theanine.testing import check_backends, check_infer_shape, verify_grad


def _numpy_softmax(x: np.ndarray) -> np.ndarray:
    """A direct formula (no shift): fine for the moderate values used here."""
    e = np.exp(x.astype(np.float64))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 5), (1, 3), (7, 1), (0, 3), (3, 0), (64, 130)])
def test_matches_numpy(theanine_backend, dtype, shape):
    x_val = np.random.default_rng(2).normal(size=shape).astype(dtype)
    x = T.matrix("x", dtype=dtype)
    got = theanine.function([x], row_softmax(x))(x_val)
    assert got.dtype == dtype and got.shape == shape
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, _numpy_softmax(x_val), rtol=rtol, atol=1e-30)


def test_large_values_do_not_overflow(theanine_backend):
    x_val = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    got = theanine.function([(x := T.dmatrix("x"))], row_softmax(x))(x_val)
    np.testing.assert_allclose(got, _numpy_softmax(x_val - x_val.max(axis=1, keepdims=True)),
                               rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_backend_agrees_with_perform(theanine_backend, dtype):
    """The backend's own code (C: `c_code`; Python: the plugin's thunk) against `perform`."""
    x_val = np.random.default_rng(3).normal(size=(5, 9)).astype(dtype)
    assert check_backends(row_softmax, [x_val], backends=[theanine_backend]) == [theanine_backend]


def test_gradient_and_shape(theanine_backend):
    x_val = np.random.default_rng(4).normal(size=(3, 4))
    verify_grad(row_softmax, [x_val], backend=theanine_backend)
    check_infer_shape(row_softmax, [x_val])
    check_infer_shape(row_softmax, [np.zeros((0, 3))])


def test_trains_seed_000_softmax_regression(theanine_backend):
    """Seed 000's model with the plugin's Op in place of T.nnet.softmax: the same costs."""
    rng = np.random.default_rng(1)
    n, n_in, n_out = 150, 5, 3
    labels = rng.integers(0, n_out, size=n).astype("int32")
    data = rng.normal(scale=3.0, size=(n_out, n_in))[labels] + rng.normal(size=(n, n_in))
    x, y = T.dmatrix("x"), T.ivector("y")

    def trainer(softmax):
        theta = theanine.shared(np.zeros((n_in, n_out)), name="theta")
        hx = softmax(T.dot(x, theta))
        cost = -T.mean(T.log(hx)[T.arange(y.shape[0]), y]) + 0.005 * T.sum(theta ** 2)
        return theanine.function([x, y], cost,
                                 updates=[(theta, theta - 0.5 * T.grad(cost, theta))])

    ours, reference = trainer(row_softmax), trainer(T.nnet.softmax)
    costs = [(float(ours(data, labels)), float(reference(data, labels))) for _ in range(8)]
    np.testing.assert_allclose(*zip(*costs), rtol=1e-10)
    assert costs[-1][0] < costs[0][0] / 2


def test_refuses_what_is_not_a_float_matrix():
    with pytest.raises(TypeError, match=r"float32 or float64 matrix, got v .*vector"):
        row_softmax(T.dvector("v"))
    with pytest.raises(TypeError, match="float32 or float64 matrix"):
        row_softmax(T.imatrix("m"))


def test_equal_ops_merge():
    assert RowSoftmax() == row_softmax and hash(RowSoftmax()) == hash(row_softmax)
    x = T.dmatrix("x")
    f = theanine.function([x], row_softmax(x) + RowSoftmax()(x))
    assert sum(isinstance(n.op, RowSoftmax) for n in f.maker.fgraph.apply_nodes) == 1


def test_plugin_registers_its_python_thunk():
    """The hook's impl, on a fresh registry, is what the Python backend runs (and matches
    perform); without the plugin the backend runs perform."""
    x_val = np.random.default_rng(5).normal(size=(4, 6))
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        assert registry.find_impl(RowSoftmax, "python") is None
        registry.register(example_plugin, name="example_op_under_test")
        assert registry.find_impl(RowSoftmax, "python") is example_plugin._python_row_softmax
        assert check_backends(row_softmax, [x_val], backends=["python"]) == ["python"]


def test_native_code_runs_on_the_backends_that_have_it(theanine_backend):
    """C (`c_code`) and OpenCL (the registered impl) run the Op natively; the report says so."""
    x = T.matrix("x")
    f = theanine.function([x], row_softmax(x), backend=theanine_backend)
    if theanine_backend in ("c", "opencl"):
        assert "0 fallback" in f.report(), f.report()
    x_val = np.random.default_rng(3).normal(size=(5, 7)).astype(x.dtype)
    e = np.exp(x_val - x_val.max(axis=1, keepdims=True))
    np.testing.assert_allclose(f(x_val), e / e.sum(axis=1, keepdims=True), rtol=1e-5)
