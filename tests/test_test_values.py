"""Theano's test values (config.compute_test_value): a bad node fails where it is built."""

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T


@pytest.fixture
def test_values():
    with theano.config.change_flags(compute_test_value="raise"):
        yield


def test_values_flow_through_the_graph_as_numpy_computes_them(test_values):
    a, b = T.dmatrix("a"), T.dvector("b")
    a.tag.test_value = np.arange(6.0).reshape(2, 3)
    b.tag.test_value = np.array([1.0, -1.0, 2.0])
    w = theano.shared(np.full(3, 0.5), name="w")
    out = T.tanh(T.dot(a, b) + T.sum(w)) * 2
    want = np.tanh(a.tag.test_value @ b.tag.test_value + 1.5) * 2
    np.testing.assert_allclose(out.tag.test_value, want)


def test_a_shape_error_is_raised_by_the_line_that_builds_the_node(test_values):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    a.tag.test_value = np.zeros((3, 4))
    b.tag.test_value = np.zeros((5, 6))
    with pytest.raises(ValueError):
        T.dot(a, b)


def test_a_missing_test_value_raises_warns_or_is_ignored():
    a = T.dvector("a")
    with theano.config.change_flags(compute_test_value="raise"):
        with pytest.raises(ValueError, match="a .*has no test value"):
            T.exp(a)
    with theano.config.change_flags(compute_test_value="warn"):
        with pytest.warns(UserWarning, match="has no test value"):
            out = T.exp(a)
    assert "test_value" not in out.tag
    with theano.config.change_flags(compute_test_value="ignore"):
        assert "test_value" not in T.exp(a).tag


def test_off_computes_nothing():
    a = T.dvector("a")
    a.tag.test_value = np.ones(2)
    assert "test_value" not in T.exp(a).tag
