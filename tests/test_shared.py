"""Shared variables: construction, get_value/set_value (copies and borrowing), one shared
value seen by several functions, and pickles that name the old module."""

import pickle

import numpy as np
import pytest

import theanine.tensor as T
from theanine import function, shared
from theanine.compile import sharedvalue
from theanine.tensor import sharedvar


@pytest.mark.parametrize("value, dtype, ndim", [(0, "int64", 0), (0.0, "float64", 0),
                                                ([1.0, 2.0], "float64", 1),
                                                (np.zeros((2, 3), dtype="float32"), "float32", 2),
                                                (np.int32(3), "int32", 0), (True, "bool", 0)])
def test_type_follows_the_value(value, dtype, ndim):
    s = shared(value)
    assert s.dtype == dtype and s.ndim == ndim
    assert s.broadcastable == (False,) * ndim
    np.testing.assert_array_equal(s.get_value(), value)


def test_name():
    assert shared(1.0, name="lr").name == "lr"
    assert shared(1.0).name is None


def test_broadcastable():
    s = shared(np.zeros((1, 4)), broadcastable=(True, False))
    assert s.broadcastable == (True, False)
    x = T.dmatrix("x")
    np.testing.assert_array_equal(function([x], x + s)(np.ones((3, 4))), np.ones((3, 4)))
    with pytest.raises(TypeError, match=r"dimension 0 .* must have size 1"):
        s.set_value(np.zeros((2, 4)))


@pytest.fixture
def host_storage():
    """Borrowing aliases host memory: on a device backend, shared values live on the device
    (tests/test_device_residency.py checks that), so these run with values on the host."""
    from theanine.config import config

    with config.change_flags(backend="python"):
        yield


def test_constructor_copies_unless_borrow(host_storage):
    a = np.zeros(3)
    copied = shared(a)
    borrowed = shared(a, borrow=True)
    a[0] = 5.0
    assert copied.get_value()[0] == 0.0
    assert borrowed.get_value()[0] == 5.0


def test_get_value_copies_unless_borrow(host_storage):
    s = shared(np.zeros(3))
    s.get_value()[0] = 1.0
    assert s.get_value()[0] == 0.0
    s.get_value(borrow=True)[0] = 1.0
    assert s.get_value()[0] == 1.0


def test_set_value_copies_unless_borrow(host_storage):
    s = shared(np.zeros(2))
    v = np.array([1.0, 2.0])
    s.set_value(v)
    v[0] = 9.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])
    s.set_value(v, borrow=True)
    v[1] = 7.0
    np.testing.assert_array_equal(s.get_value(), [9.0, 7.0])


def test_set_value_with_a_list_keeps_the_dtype():
    s = shared(np.zeros(3, dtype="float32"))
    s.set_value([1, 2, 3])
    assert s.get_value().dtype == np.float32
    np.testing.assert_array_equal(s.get_value(), [1, 2, 3])
    w = shared(np.array([1.0, 1.0]))
    w.set_value([0.1, 0.1])
    assert w.get_value().dtype == np.float64
    np.testing.assert_array_equal(w.get_value(), [0.1, 0.1])


def test_set_value_may_change_the_shape():
    s = shared(np.zeros(2))
    s.set_value(np.arange(5.0))
    assert function([], s.sum())() == 10.0


def test_strict_refuses_any_conversion():
    s = shared(np.float32(1.0), strict=True)
    with pytest.raises(TypeError, match="float32"):
        s.set_value(2.0)
    s.set_value(np.array(2.0, dtype="float32"))
    assert s.get_value() == 2.0
    loose = shared(np.float32(1.0))
    loose.set_value(2.0)
    assert loose.get_value().dtype == np.float32


def test_allow_downcast():
    s = shared(np.zeros(2, dtype="int32"), allow_downcast=True)
    s.set_value(np.array([1.7, 2.2]))
    assert s.get_value().dtype == np.int32
    np.testing.assert_array_equal(s.get_value(), [1, 2])


def test_one_shared_value_in_several_functions():
    s = shared(np.float64(1.0), name="s")
    x = T.dscalar("x")
    add = function([x], [], updates=[(s, s + x)])
    mul = function([x], [], updates=[(s, s * x)])
    read = function([], s * 1)
    add(2.0)
    mul(10.0)
    assert read() == 30.0
    s.set_value(-1.0)
    assert read() == -1.0
    add(1.0)
    assert s.get_value() == 0.0


def test_shared_is_not_a_function_input():
    s = shared(1.0, name="s")
    with pytest.raises(TypeError, match="s is a shared variable"):
        function([s], s * 2)


@pytest.mark.parametrize("value", [np.arange(3.0), np.random.RandomState(5)])
def test_pickles_naming_the_old_module_still_load(value):
    """Shared variables moved from `compile.sharedvalue` to `tensor.sharedvar`; a pickle written
    before names the old path (protocol 2 spells module names as text, so one is rewritten)."""
    data = pickle.dumps(shared(value, name="w"), protocol=2)
    assert b"theanine.tensor.sharedvar\n" in data
    old = data.replace(b"theanine.tensor.sharedvar\n", b"theanine.compile.sharedvalue\n")
    assert b"theanine.tensor.sharedvar" not in old
    s = pickle.loads(old)
    assert sharedvalue.SharedVariable is sharedvar.SharedVariable
    assert isinstance(s, sharedvar.SharedVariable)
    assert s.name == "w" and type(s.container) is sharedvar.Container
    got = s.get_value()
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(got, value)
    else:
        assert s.type == sharedvar.GenericType(np.random.RandomState)
        assert got.randint(1000) == np.random.RandomState(5).randint(1000)
