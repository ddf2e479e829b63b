"""`theanine.function`: outputs, updates, givens, inputs with defaults, modes and copies."""

from collections import OrderedDict

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine import In, Out, function, shared
from theanine.compile.mode import Mode


# Outputs ----------------------------------------------------------------------------------
def test_single_output_is_an_ndarray():
    x = T.dvector("x")
    result = function([x], x * 2)([1.0, 2.0])
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, [2.0, 4.0])


@pytest.mark.parametrize("container", [list, tuple])
def test_list_of_outputs_is_a_list(container):
    x = T.dvector("x")
    result = function([x], container([x * 2, x + 1]))([1.0, 2.0])
    assert type(result) is list and len(result) == 2
    np.testing.assert_array_equal(result[0], [2.0, 4.0])
    np.testing.assert_array_equal(result[1], [2.0, 3.0])


def test_one_element_list_gives_a_one_element_list():
    x = T.dvector("x")
    result = function([x], [x * 2])([1.0])
    assert type(result) is list and len(result) == 1


def test_no_outputs_gives_an_empty_list():
    s = shared(np.float64(0.0), name="s")
    x = T.dscalar("x")
    assert function([x], None, updates=[(s, s + x)])(2.0) == []
    assert function([x], [], updates=[(s, s + x)])(3.0) == []
    assert s.get_value() == 5.0
    assert function([], None)() == []


def test_scalar_results_are_0d_arrays():
    x = T.dscalar("x")
    i = T.iscalar("i")
    a, b = function([x, i], [x * 2, i + 1])(1.5, 3)
    assert isinstance(a, np.ndarray) and a.shape == () and a.dtype == np.float64
    assert isinstance(b, np.ndarray) and b.shape == () and b.dtype == np.int32
    assert (a, b) == (3.0, 4)


def test_outputs_are_fresh_arrays():
    """Results never share memory with the inputs, each other, or shared values."""
    x = T.dvector("x")
    s = shared(np.zeros(2), name="s")
    xv = np.array([1.0, 2.0])
    same = function([x], x)(xv)
    assert not np.shares_memory(same, xv)
    a, b = function([x], [x * 2, x * 2])(xv)
    assert not np.shares_memory(a, b)
    f = function([], s + 1, updates=[(s, s + 1)])
    r = f()
    r[:] = 100.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 1.0])
    g = function([], s)
    g()[:] = -5.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 1.0])


def test_borrowed_output_may_alias_an_input():
    x = T.dvector("x")
    xv = np.array([1.0, 2.0])
    assert function([x], Out(x, borrow=True))(xv) is xv


def test_sliced_shared_value_is_not_aliased():
    s = shared(np.zeros(3), name="s")
    r = function([], s[0:2])()
    r[:] = 7.0
    np.testing.assert_array_equal(s.get_value(), [0.0, 0.0, 0.0])


def test_a_returned_transposed_view_is_copied_in_its_own_order():
    """As Theano's DeepCopyOp (NPY_ANYORDER): a Fortran-contiguous view such as x.T comes back
    Fortran-ordered (one pass, no transposition); other views and updates C-ordered."""
    x = T.dmatrix("x")
    s = shared(np.arange(9.0).reshape(3, 3), name="s")
    xv = np.arange(6.0).reshape(2, 3)
    t, strided = function([x], [x.T, x.T[::2]])(xv)
    np.testing.assert_array_equal(t, xv.T)
    np.testing.assert_array_equal(strided, xv.T[::2])
    assert t.flags.f_contiguous and not np.shares_memory(t, xv)
    assert strided.flags.c_contiguous and not np.shares_memory(strided, xv)
    function([], [], updates=[(s, s.T)])()
    assert s.get_value(borrow=True).flags.c_contiguous
    np.testing.assert_array_equal(s.get_value(), np.arange(9.0).reshape(3, 3).T)


# Updates ----------------------------------------------------------------------------------
def test_updates_are_applied_after_the_outputs():
    s = shared(np.float64(1.0), name="s")
    t = shared(np.float64(10.0), name="t")
    x = T.dscalar("x")
    # Both outputs and both updates read the values from before the call.
    f = function([x], [s, s * t], updates=[(s, s + x), (t, s)])
    old_s, product = f(5.0)
    assert (old_s, product) == (1.0, 10.0)
    assert (s.get_value(), t.get_value()) == (6.0, 1.0)


@pytest.mark.parametrize("kind", ["list", "tuple", "dict", "OrderedDict"])
def test_update_containers(kind):
    a = shared(np.float64(0.0), name="a")
    b = shared(np.float64(0.0), name="b")
    x = T.dscalar("x")
    pairs = [(a, a + x), (b, b - 2 * x)]
    updates = {"list": pairs, "tuple": tuple(pairs), "dict": dict(pairs),
               "OrderedDict": OrderedDict(pairs)}[kind]
    f = function([x], [], updates=updates)
    f(1.5)
    f(1.0)
    assert (a.get_value(), b.get_value()) == (2.5, -5.0)


def test_swap_two_shared_variables_through_updates():
    a = shared(np.array([1.0, 1.0]), name="a")
    b = shared(np.array([2.0, 2.0]), name="b")
    swap = function([], [], updates=[(a, b), (b, a)])
    swap()
    np.testing.assert_array_equal(a.get_value(), [2.0, 2.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 1.0])
    a.get_value(borrow=True)[0] = 9.0
    np.testing.assert_array_equal(b.get_value(), [1.0, 1.0])  # no shared buffer


def test_update_with_a_plain_value():
    s = shared(np.float64(3.0), name="s")
    reset = function([], [], updates=[(s, 0)])
    reset()
    assert s.get_value() == 0.0 and s.get_value().dtype == np.float64


def test_update_may_refine_the_broadcast_pattern():
    s = shared(np.zeros((1, 3)), name="s", broadcastable=(True, False))
    v = T.dmatrix("v")
    f = function([v], [], updates=[(s, v)])
    f(np.ones((1, 3)))
    np.testing.assert_array_equal(s.get_value(), np.ones((1, 3)))


# Givens -----------------------------------------------------------------------------------
@pytest.mark.parametrize("as_dict", [False, True])
def test_givens_replace_an_input(as_dict):
    x = T.dvector("x")
    y = T.dvector("y")
    pairs = [(x, y + 1)]
    f = function([y], x * 2, givens=dict(pairs) if as_dict else pairs)
    np.testing.assert_array_equal(f([1.0, 2.0]), [4.0, 6.0])


def test_givens_replace_an_intermediate_expression():
    x = T.dvector("x")
    y = T.dvector("y")
    e = x * 2
    f = function([y], e + 1, givens={e: y * 3})
    np.testing.assert_array_equal(f([1.0, 2.0]), [4.0, 7.0])


def test_givens_replace_a_shared_variable_by_an_expression_of_another():
    data = shared(np.arange(6.0), name="data")
    s = shared(np.zeros(2), name="s")
    i = T.lscalar("i")
    f = function([i], s.sum(), givens={s: data[i * 2:(i + 1) * 2]})
    assert [float(f(k)) for k in range(3)] == [1.0, 5.0, 9.0]


def test_givens_do_not_touch_the_original_graph():
    x = T.dvector("x")
    y = T.dvector("y")
    z = x * 2
    function([y], z, givens={x: y})
    np.testing.assert_array_equal(function([x], z)([3.0]), [6.0])


# Inputs -----------------------------------------------------------------------------------
def test_keyword_call_by_variable_name_and_in_name():
    x = T.dscalar("x")
    y = T.dscalar("y")
    f = function([x, In(y, name="why", value=10.0)], x - y)
    assert f(x=1.0) == -9.0
    assert f(why=1.0, x=5.0) == 4.0
    assert f(5.0, why=2.0) == 3.0


def test_default_value_is_reused_between_calls():
    x = T.dvector("x")
    y = T.dvector("y")
    f = function([x, In(y, value=np.array([1.0, 2.0]))], x + y)
    for _ in range(2):
        np.testing.assert_array_equal(f([0.0, 0.0]), [1.0, 2.0])


def test_allow_input_downcast():
    x = T.fvector("x")
    i = T.iscalar("i")
    f = function([x, i], [x * 2, i + 1], allow_input_downcast=True)
    a, b = f(np.array([1.5, 0.1]), 2.9)
    assert a.dtype == np.float32 and b.dtype == np.int32
    np.testing.assert_allclose(a, np.array([1.5, 0.1], dtype=np.float32) * 2, rtol=1e-6)
    assert b == 3  # 2.9 is cast to int32 (2), then 1 is added
    # In(allow_downcast=...) decides for one input.
    g = function([In(x, allow_downcast=True)], x)
    assert g(np.array([0.5])).dtype == np.float32


def test_python_float_goes_into_a_float32_input():
    x = T.fscalar("x")
    assert function([x], x * 2)(0.1).dtype == np.float32


def test_int_list_goes_into_a_float_input():
    x = T.fvector("x")
    np.testing.assert_array_equal(function([x], x + 1)([1, 2]), [2.0, 3.0])


# Default updates --------------------------------------------------------------------------
def test_no_default_updates():
    counter = shared(np.float64(0.0), name="counter")
    counter.default_update = counter + 1
    f = function([], counter)
    assert (f(), f()) == (0.0, 1.0)
    assert counter.get_value() == 2.0
    g = function([], counter, no_default_updates=True)
    assert (g(), g()) == (2.0, 2.0)
    h = function([], counter, no_default_updates=[counter])
    assert (h(), h()) == (2.0, 2.0)
    # an explicit update wins over the default one
    k = function([], counter, updates=[(counter, counter * 10)])
    k()
    assert counter.get_value() == 20.0


# Modes, backends, names, introspection -----------------------------------------------------
@pytest.mark.parametrize("kwargs", [{"backend": "python"}, {"mode": "FAST_COMPILE"},
                                    {"mode": "FAST_RUN"}, {"mode": Mode(optimizer=None)},
                                    {"mode": "FAST_COMPILE", "backend": "python"}])
def test_modes_and_backends_agree(kwargs):
    x = T.dmatrix("x")
    y = T.dvector("y")
    f = function([x, y], T.exp(x).sum(axis=1) * y + 1, **kwargs)
    xv = np.arange(6.0).reshape(2, 3) / 10
    yv = np.array([2.0, -1.0])
    np.testing.assert_allclose(f(xv, yv), np.exp(xv).sum(axis=1) * yv + 1, rtol=1e-12)


def test_python_backend_is_used_when_asked():
    x = T.dvector("x")
    f = function([x], x + 1, backend="python")
    assert f.maker.backend.name == "python"


def test_name_and_fgraph():
    x = T.dvector("x")
    s = shared(np.float64(2.0), name="s")
    f = function([x], x * s, name="scale")
    assert f.name == "scale"
    assert "scale" in repr(f)
    fg = f.maker.fgraph
    # explicit inputs first, then the shared variables the graph reads
    assert len(fg.inputs) == 2 and len(fg.outputs) == 1
    assert fg.inputs[0].type == x.type and fg.inputs[1].type == s.type
    assert fg.outputs[0].type == (x * s).type
    assert theano.pp(fg.outputs[0]) == "(x * s)"


# Copies -----------------------------------------------------------------------------------
def test_copy_swap_and_delete_updates():
    s = shared(np.float64(0.0), name="s")
    other = shared(np.float64(100.0), name="other")
    x = T.dscalar("x")
    f = function([x], s * 2, updates=[(s, s + x)], name="acc")
    swapped = f.copy(swap={s: other})
    assert swapped(1.0) == 200.0
    assert (s.get_value(), other.get_value()) == (0.0, 101.0)
    frozen = f.copy(delete_updates=True)
    assert frozen(5.0) == 0.0
    assert s.get_value() == 0.0
    assert f(5.0) == 0.0 and s.get_value() == 5.0
    assert frozen(1.0) == 10.0
    both = f.copy(swap={s: other}, delete_updates=True, name="frozen")
    assert both(7.0) == 202.0 and other.get_value() == 101.0
    assert both.name == "frozen" and swapped.name == "acc"
    assert swapped.maker is f.maker  # no recompilation


def test_copy_swap_requires_a_shared_variable_of_the_same_type():
    s = shared(np.float64(0.0), name="s")
    f = function([], s + 1)
    with pytest.raises(TypeError, match="same type"):
        f.copy(swap={s: shared(np.float32(0.0))})
    with pytest.raises(ValueError, match="not a shared variable of this function"):
        f.copy(swap={shared(np.float64(0.0), name="stranger"): s})
