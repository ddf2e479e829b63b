"""Seed 001 ("Theano 更多示例"): the logistic function, several outputs, `In` defaults and
names, shared variables with updates, givens, and `Function.copy`.

The seed's random-stream snippets (RandomStreams, seeding, copying random state) are not
tested here: they belong to the random-stream tests.
"""

from collections import OrderedDict

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine import In, function, shared


def test_logistic_function():
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    logistic = theano.function([x], s)
    result = logistic([[1, 2], [3, 4]])
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, [[0.73105858, 0.88079708], [0.95257413, 0.98201379]],
                               rtol=0, atol=5e-9)
    np.testing.assert_allclose(result, 1 / (1 + np.exp(-np.array([[1.0, 2], [3, 4]]))),
                               rtol=1e-15)


def test_several_outputs_with_dmatrices():
    a, b = T.dmatrices("a", "b")
    assert (a.name, b.name) == ("a", "b")
    diff = a - b
    abs_diff = abs(a - b)
    squared_diff = diff**2
    f = theano.function([a, b], [diff, abs_diff, squared_diff])
    result = f([[1, 1], [1, 2]], [[1, 1], [1, 1]])
    assert isinstance(result, list) and len(result) == 3
    for r in result:
        assert isinstance(r, np.ndarray) and r.dtype == np.float64
        np.testing.assert_array_equal(r, [[0.0, 0.0], [0.0, 1.0]])
    # A case where the three differ, checked against NumPy.
    p, q = np.array([[3.0, -1.0]]), np.array([[1.0, 2.0]])
    d, ad, sd = f(p, q)
    np.testing.assert_array_equal(d, p - q)
    np.testing.assert_array_equal(ad, np.abs(p - q))
    np.testing.assert_array_equal(sd, (p - q) ** 2)


def test_in_default_value():
    x, y = T.dscalars("x", "y")
    z = x + y
    f = function([x, In(y, value=2)], z)
    result = f(2)
    assert isinstance(result, np.ndarray) and result.shape == () and result.dtype == np.float64
    assert str(result) == "4.0"
    assert f(2, 5) == 7.0


def test_in_defaults_by_position_and_by_name():
    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z)
    assert f(1) == 4.0
    assert f(1, 2) == 6.0
    assert f(1, 1, 1) == 2.0
    assert f(1, w_by_name=1, y=0) == 1.0
    assert f(1, w_by_name=1) == 2.0
    # The name given to In replaces the variable's own name as the keyword.
    with pytest.raises(TypeError, match="unknown keyword argument 'w'"):
        f(1, w=1)


def _accumulator(updates_as):
    state = shared(0)
    inc = T.iscalar("inc")
    pairs = [(state, state + inc)]
    updates = pairs if updates_as == "list" else dict(pairs)
    return state, inc, function([inc], state, updates=updates)


@pytest.mark.parametrize("updates_as", ["list", "dict"])
def test_accumulator(updates_as):
    state, inc, accumulator = _accumulator(updates_as)
    assert state.get_value() == 0
    accumulator(1)
    assert state.get_value() == 1
    accumulator(200)
    assert state.get_value() == 201
    state.set_value(-1)
    accumulator(2)
    assert state.get_value() == 1
    # The function returns the state as it was before the update.
    assert accumulator(10) == 1
    assert state.get_value() == 11


def test_decrementor_shares_the_state():
    state, inc, accumulator = _accumulator("list")
    state.set_value(-1)
    accumulator(2)
    assert state.get_value() == 1
    decrementor = function([inc], state, updates=[(state, state - inc)])
    decrementor(2)
    assert state.get_value() == -1
    accumulator(5)
    decrementor(1)
    assert state.get_value() == 3


def test_givens_skip_shared():
    state = shared(0)
    inc = T.iscalar("inc")
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7  # 3 stands in for the state
    assert state.get_value() == 0  # the old state is untouched
    state.set_value(10)
    assert skip_shared(1, 3) == 7  # the shared value is not read at all


def test_shared_broadcastable_pattern():
    default = shared(np.zeros((1, 3)))
    assert default.broadcastable == (False, False)
    row = theano.shared(np.zeros((1, 3)), broadcastable=(True, False))
    assert row.broadcastable == (True, False)
    v = T.dmatrix("v")
    f = function([v], v + row)
    row.set_value(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(f(np.zeros((2, 3))), [[1, 2, 3], [1, 2, 3]])


def test_copy_with_swap():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = theano.function([inc], state, updates=[(state, state + inc)])
    accumulator(3)
    state.set_value(0)
    new_state = shared(0)
    new_accumulator = accumulator.copy(swap={state: new_state})
    new_accumulator(100)
    assert new_state.get_value() == 100
    assert state.get_value() == 0  # the first function's state is unchanged
    accumulator(1)
    assert (state.get_value(), new_state.get_value()) == (1, 100)


def test_copy_without_updates():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = theano.function([inc], state, updates=OrderedDict([(state, state + inc)]))
    null_accumulator = accumulator.copy(delete_updates=True)
    assert null_accumulator(100) == 0
    assert state.get_value() == 0  # no longer updated
    accumulator(5)
    assert null_accumulator(100) == 5
    assert state.get_value() == 5
