"""Two pieces of Theano's API that ported code calls: `x.copy(name)` / `T.tensor_copy(x)` (a new
variable holding x's value, computed into a new array on every backend, with the gradient
passing through) and `T.get_scalar_constant_value` / `T.NotScalarConstantError` (the constant
a graph proves a variable to be, without running it), also under Theano's
`theano.tensor.basic` path."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad

import theanine
import theanine.tensor as T
from theanine.config import config
from theanine.gradient import zero_grad
from theanine.link.backend import select_backend
from theanine.tensor.basic import (
    EmptyConstantError,
    ExtentOf,
    MakeVector,
    NotScalarConstantError,
    get_scalar_constant_value,
    tensor_copy,
)

BACKEND = select_backend(config.backend).name
DTYPES = ["float64", "float32", "int64", "int32", "int8", "uint16", "bool", "complex128"]


# x.copy() / tensor_copy ---------------------------------------------------------------------
@pytest.mark.parametrize("backend", [None, "python"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_copy_returns_the_value_in_a_new_array(backend, dtype):
    x = T.TensorType(dtype, (False, False))("x")
    y = x.copy("y")
    assert y is not x and y.owner is not None and y.type == x.type and y.name == "y"
    f = theanine.function([x], [y, tensor_copy(x), x.copy() + x], backend=backend)
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    got, got2, doubled = f(a)
    for r in (got, got2):
        assert r.dtype == a.dtype and r.shape == a.shape
        np.testing.assert_array_equal(r, a)
        assert not np.shares_memory(r, a)
    np.testing.assert_array_equal(doubled, a + a)
    assert not np.shares_memory(got, got2)
    if BACKEND != "python" and backend is None and dtype != "complex128":
        assert " 0 fallback" in f.report(), f.report()  # native on c and opencl


@pytest.mark.parametrize("backend", [None, "python"])
def test_copy_of_a_strided_input_and_of_a_shared_value(backend):
    x = T.dmatrix("x")
    a = np.arange(24.0).reshape(4, 6)[::2, ::3]  # not contiguous
    got = theanine.function([x], x.copy(), backend=backend)(a)
    np.testing.assert_array_equal(got, a)
    assert not np.shares_memory(got, a)
    w = theanine.shared(np.linspace(-1.0, 1.0, 5), name="w")
    got = theanine.function([], w.copy("w_copy"), backend=backend)()
    np.testing.assert_array_equal(got, w.get_value())
    got[0] = 42.0  # the result is the caller's: the shared value is untouched
    assert w.get_value()[0] == -1.0


def test_copy_of_a_scalar_a_constant_and_symbolic_use():
    s = T.fscalar("s")
    f = theanine.function([s], [s.copy() * 2, T.constant([1, 2]).copy()])
    doubled, const = f(np.float32(1.5))
    assert doubled.dtype == np.float32 and doubled == 3.0
    np.testing.assert_array_equal(const, [1, 2])
    assert T.tensor_copy is tensor_copy
    assert T.tensor_copy(s).owner.op == s.copy().owner.op  # one Op: merges with each other


def test_the_gradient_passes_through_copy():
    check_grad(lambda a: (a.copy() ** 2).sum(), [np.array([[1.0, -2.0], [0.5, 3.0]])])
    check_grad(lambda a: T.tanh(tensor_copy(a) * a).sum(), [np.array([0.3, -0.7, 1.1])])
    x = T.dvector("x")
    g = theanine.grad((x.copy("c") ** 3).sum(), x)
    np.testing.assert_allclose(theanine.function([x], g)(np.array([1.0, 2.0])), [3.0, 12.0])
    i = T.lvector("i")  # an integer copy is differentiated like any integer expression
    gi = theanine.grad((T.cast(i.copy(), "float64") * x).sum(), x)
    np.testing.assert_array_equal(
        theanine.function([i, x], gi)(np.array([3, -4]), np.array([1.0, 2.0])), [3.0, -4.0])


# get_scalar_constant_value --------------------------------------------------------------------
def _value(v, **kwargs):
    got = get_scalar_constant_value(v, **kwargs)
    assert isinstance(got, np.ndarray) and got.ndim == 0, repr(got)
    return got


def test_constants_and_plain_numbers():
    for v, want, dtype in [
        (T.constant(3), 3, "int64"), (T.constant(np.float32(2.5)), 2.5, "float32"),
        (T.constant(np.full((3, 2), -1.5)), -1.5, "float64"),  # all elements equal
        (T.constant(np.array([True])), True, "bool"), (T.constant(1 + 2j), 1 + 2j, "complex128"),
        (4, 4, "int64"), (2.5, 2.5, "float64"), (np.int16(7), 7, "int16"),
        (np.full((2, 2), 9, dtype="uint8"), 9, "uint8"),
    ]:
        got = _value(v)
        assert got == want and got.dtype == dtype, (v, got)
    c = T.constant(np.array(5.0))
    got = _value(c)
    got[...] = 0.0  # a copy: the constant keeps its value
    assert c.data == 5.0


def test_looks_through_views_fills_and_identities():
    x = T.dmatrix("x")
    two = T.constant(2.0)
    for v, want in [
        (two.dimshuffle("x", "x"), 2.0), (T.alloc(np.float32(3), 4, 5), 3.0),
        (T.fill(x, 2.0), 2.0), (T.zeros_like(x), 0.0), (T.ones((3, 4)), 1.0),
        (T.addbroadcast(T.constant(np.ones((1, 3))), 0), 1.0), (zero_grad(two), 2.0),
        (T.specify_shape(two.dimshuffle("x"), (1,)), 2.0), (two.copy(), 2.0),
    ]:
        assert _value(v) == want, v


def test_computes_arithmetic_comparisons_switch_and_casts_of_constants():
    c = T.constant
    for v, want, dtype in [
        ((c(2) + 3) * 4 - 1, 19, "int64"), (c(7) / 2, 3.5, "float64"), (c(7) // 2, 3, "int64"),
        (c(-7) % 3, 2, "int64"), (T.maximum(c(1), 9), 9, "int64"), (T.minimum(c(1.5), 9), 1.5,
                                                                     "float64"),
        (T.lt(c(1), 2), True, "bool"), (T.neq(c(1), 1), False, "bool"),
        (T.switch(c(0), 5, 6), 6, "int64"), (T.cast(c(2.7), "int32"), 2, "int32"),
        (c(np.int8(100)) + c(np.int8(100)), np.int8(-56), "int8"),  # NumPy's wrap-around
        (T.constant([[1.0]]) + 2.0, 3.0, "float64"),
        (T.cast(c(np.float32(0.1)), "float64") * 10, np.float64(np.float32(0.1)) * 10,
         "float64"),
    ]:
        got = _value(v)
        assert got == want and got.dtype == dtype, (v, got)
    with pytest.raises(NotScalarConstantError, match="not computed on constants"):
        get_scalar_constant_value(c(2) + 3, elemwise=False)
    with pytest.raises(NotScalarConstantError, match="exp"):  # not in Theano's list either
        get_scalar_constant_value(T.exp(c(1.0)))


def test_shapes_fixed_by_the_graph():
    x, r = T.dmatrix("x"), T.row("r")
    for v, want in [
        (r.shape[0], 1), (r.shape[-2], 1), (T.shape_padleft(x).shape[0], 1),
        (T.constant(np.zeros((3, 4))).shape[1], 4), (T.alloc(0.0, 3, 6).shape[1], 6),
        (T.specify_shape(x, (3, 4)).shape[1], 4), (T.addbroadcast(x, 1).shape[1], 1),
        (T.shape(r)[T.constant(0)], 1), (r.T.shape[1], 1),
        (T.constant(np.zeros((2, 5))).T.shape[0], 5),
        (T.concatenate([T.alloc(0.0, 3), T.constant([1.0, 2.0])]).shape[0], 5),
    ]:
        got = _value(v)
        assert got == want and got.dtype == "int64", v
    with pytest.raises(NotScalarConstantError, match="dimension 0 is not fixed"):
        get_scalar_constant_value(x.shape[0])
    # ExtentOf, what shape reads become in a compiled graph (Theano's Shape_i)
    assert _value(ExtentOf((0,))(r)) == 1
    assert _value(ExtentOf((1, 0), "join")(x, r)) == 1  # it checks they are equal
    with pytest.raises(NotScalarConstantError):
        get_scalar_constant_value(ExtentOf((1,))(r))


def test_entries_of_vectors_picked_by_a_constant_index():
    s, i = T.dscalar("s"), T.lscalar("i")
    mv = MakeVector("int64")(1, 2, 3)
    stacked = T.stack([T.constant(1.0), s, T.constant(3.0)])
    arange = T.constant(np.arange(10))
    for v, want in [
        (mv[1], 2), (mv[-1], 3), (mv[T.constant(0)], 1), (stacked[2], 3.0), (stacked[-3], 1.0),
        (T.concatenate([T.constant([4.0, 5.0]), stacked])[4], 3.0), (arange[3], 3),
        (T.constant(np.arange(12).reshape(3, 4))[1, 2], 6), (arange[2:3], 2),
        (T.alloc(np.float32(7), 3, 3)[1, 2], 7.0),
    ]:
        assert _value(v) == want, v
    for v in (stacked[1], stacked[i], mv[i], arange[i], arange[2:4], mv[5]):
        with pytest.raises(NotScalarConstantError):
            get_scalar_constant_value(v)


def test_what_is_not_a_constant_raises():
    x, s = T.dmatrix("x"), T.dscalar("s")
    w = theanine.shared(1.0, name="w")
    for v in (s, x, x + 1, s * 0, w, None, "abc", T.constant(np.arange(3)),
              T.constant(np.array([np.nan, np.nan])), x.shape[0] * 0 + 3):
        with pytest.raises(NotScalarConstantError):
            get_scalar_constant_value(v)
    with pytest.raises(NotScalarConstantError, match=r"elements are not all equal"):
        T.get_scalar_constant_value(T.constant([1.0, 2.0]))
    with pytest.raises(NotScalarConstantError, match=r"x \+ 1|Elemwise\{add.*: x is not"):
        T.get_scalar_constant_value(x + 1)
    with pytest.raises(EmptyConstantError):
        get_scalar_constant_value(T.constant(np.zeros((0, 3))))
    assert issubclass(EmptyConstantError, NotScalarConstantError)
    assert T.NotScalarConstantError is NotScalarConstantError
    assert T.get_scalar_constant_value is get_scalar_constant_value


def test_only_process_constants_and_max_recur():
    two = T.constant(2.0)
    assert _value(two, only_process_constants=True) == 2.0
    with pytest.raises(NotScalarConstantError):
        get_scalar_constant_value(two.dimshuffle("x"), only_process_constants=True)
    deep = two
    for _ in range(12):
        deep = deep + 1
    with pytest.raises(NotScalarConstantError, match="max_recur"):
        get_scalar_constant_value(deep)
    assert _value(deep, max_recur=12) == 14.0
    with pytest.raises(NotScalarConstantError, match="max_recur"):
        get_scalar_constant_value(two.dimshuffle("x").dimshuffle(), max_recur=1)


def test_theano_import_paths():
    import theanine.tensor.basic as tb
    from theanine.tensor.basic import NotScalarConstantError as from_basic

    assert from_basic is T.NotScalarConstantError
    assert tb.get_scalar_constant_value is T.get_scalar_constant_value
    assert tb.tensor_copy is T.tensor_copy
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        tb.not_there  # noqa: B018
