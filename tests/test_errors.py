"""Bad input gets a clear error naming the variable, what was expected and what was given."""

import warnings

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine import function, shared
from theanine.compile.function import UnusedInputError
from theanine.gradient import DisconnectedInputError


@pytest.fixture
def add_xy():
    x = T.dvector("x")
    y = T.dvector("y")
    return function([x, y], x + y, name="add")


# Calling ----------------------------------------------------------------------------------
def test_wrong_rank(add_xy):
    with pytest.raises(TypeError,
                       match=r"input 'x' expected 1 dimension.* got 2 \(shape \(1, 2\)\)"):
        add_xy([[1.0, 2.0]], [1.0, 2.0])


def test_too_many_arguments(add_xy):
    with pytest.raises(TypeError, match=r"'add' takes 2 input\(s\) \(x, y\), got 3"):
        add_xy([1.0], [1.0], [1.0])


def test_missing_argument(add_xy):
    with pytest.raises(TypeError, match=r"'add' is missing input 1 \(y\)"):
        add_xy([1.0])


def test_unknown_keyword(add_xy):
    with pytest.raises(TypeError, match=r"unknown keyword argument 'z'; inputs: x, y"):
        add_xy([1.0], z=[1.0])


def test_same_argument_twice(add_xy):
    with pytest.raises(TypeError, match="'x' both by position and by keyword"):
        add_xy([1.0], [2.0], x=[1.0])


@pytest.mark.parametrize("value", ["abc", None, {"a": 1}, [1.0, "a"]])
def test_non_numeric_input(add_xy, value):
    with pytest.raises(TypeError, match=r"input 'x' expected a numeric value of type "
                                        r"TensorType\(float64, vector\) but got"):
        add_xy(value, [1.0])


def test_unnamed_input_is_named_by_position():
    a, b = T.dvector(), T.dvector()
    f = function([a, b], a + b)
    with pytest.raises(TypeError, match=r"input '#1' expected 1 dimension"):
        f([1.0], 2.0)


def test_lossy_float_downcast():
    x = T.fvector("x")
    f = function([x], x * 2)
    with pytest.raises(TypeError, match=r"input 'x' expected dtype float32 but got float64.*"
                                        r"allow_input_downcast=True"):
        f(np.array([1.5, 0.1]))
    g = function([x], x * 2, allow_input_downcast=True)
    np.testing.assert_allclose(g(np.array([1.5, 0.1])), np.float32([3.0, 0.2]), rtol=1e-6)


def test_lossy_int_downcast():
    i = T.iscalar("i")
    f = function([i], i * 2)
    with pytest.raises(TypeError, match=r"input 'i' expected dtype int32 but got float 2\.5.*"
                                        r"allow_input_downcast=True"):
        f(2.5)
    assert f(2.0) == 4  # lossless conversions are fine
    g = function([i], i * 2, allow_input_downcast=True)
    assert g(2.5) == 4


def test_int64_array_into_int32_input():
    i = T.ivector("i")
    with pytest.raises(TypeError, match=r"input 'i' expected dtype int32 but got int64"):
        function([i], i + 1)(np.array([1, 2], dtype="int64"))


def test_runtime_shape_mismatch_names_both_inputs(add_xy):
    with pytest.raises(ValueError) as info:
        add_xy([1.0, 2.0], [1.0, 2.0, 3.0])
    message = str(info.value)
    assert "input x" in message and "shape (2,)" in message
    assert "input y" in message and "shape (3,)" in message


def test_out_of_bounds_index():
    x = T.dvector("x")
    f = function([x], x[5])
    with pytest.raises(IndexError, match=r"index 5 is out of bounds(.|\n)*x of shape \(3,\)"):
        f([1.0, 2.0, 3.0])


def test_dot_of_misaligned_matrices():
    a = T.dmatrix("a")
    b = T.dmatrix("b")
    f = function([a, b], T.dot(a, b))
    with pytest.raises(ValueError, match=r"\(2, 3\) \(a\) and \(2, 3\) \(b\) are not aligned"):
        f(np.ones((2, 3)), np.ones((2, 3)))


def test_failed_call_changes_no_shared_value(add_xy):
    x = T.dvector("x")
    y = T.dvector("y")
    s = shared(np.float64(1.0), name="s")
    t = shared(np.zeros(2), name="t")
    f = function([x, y], x + y, updates=[(s, s + 1), (t, x)])
    with pytest.raises(ValueError):
        f([1.0, 2.0], [1.0, 2.0, 3.0])
    assert s.get_value() == 1.0
    np.testing.assert_array_equal(t.get_value(), [0.0, 0.0])
    with pytest.raises(TypeError):
        f([1.0, 2.0], "bad")
    assert s.get_value() == 1.0
    f([1.0, 2.0], [0.0, 0.0])
    assert s.get_value() == 2.0
    # the outputs succeed but an update fails: still nothing is written
    g = function([x], x * 2, updates=[(s, x[5]), (t, x)])
    with pytest.raises(IndexError):
        g([1.0, 2.0])
    assert s.get_value() == 2.0
    np.testing.assert_array_equal(t.get_value(), [1.0, 2.0])


# Shared variables -------------------------------------------------------------------------
def test_set_value_of_the_wrong_rank():
    v = shared(np.zeros(3), name="v")
    with pytest.raises(TypeError, match=r"set_value of shared variable 'v' \(TensorType\(float64, "
                                        r"vector\)\).*expected 1 dimension.* got 2"):
        v.set_value(np.zeros((2, 2)))
    np.testing.assert_array_equal(v.get_value(), np.zeros(3))


def test_set_value_of_the_wrong_dtype():
    n = shared(np.zeros(3, dtype="int32"), name="n")
    with pytest.raises(TypeError, match=r"set_value of shared variable 'n'.*expected dtype int32 "
                                        r"but got an ndarray of dtype float64"):
        n.set_value(np.array([0.5, 1.0, 2.0]))
    with pytest.raises(TypeError, match=r"set_value of shared variable 'n'.*numeric"):
        n.set_value("abc")


def test_shared_of_a_non_numeric_value():
    with pytest.raises(TypeError, match="shared.. takes a numeric value, got str 'abc'"):
        shared("abc")


def test_update_of_the_wrong_dtype():
    count = shared(np.int32(0), name="count")
    with pytest.raises(TypeError, match=r"update of shared variable count has the wrong type: "
                                        r"expected TensorType\(int32, scalar\), got "
                                        r"TensorType\(float64, scalar\)"):
        function([], [], updates=[(count, count * 1.5 + np.float64(0))])
    x = T.lscalar("x")
    with pytest.raises(TypeError, match=r"count.*expected TensorType\(int32, scalar\), got "
                                        r"TensorType\(int64, scalar\).*T.cast"):
        function([x], [], updates=[(count, count + x)])


def test_update_of_the_wrong_rank():
    s = shared(np.float64(0.0), name="s")
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"update of shared variable s has the wrong type: "
                                        r"expected TensorType\(float64, scalar\), got "
                                        r"TensorType\(float64, vector\)"):
        function([x], [], updates=[(s, x)])


def test_update_target_is_not_shared():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="update target x is not a shared variable"):
        function([x], [], updates=[(x, x * 2)])


def test_update_not_given_as_pairs():
    s = shared(np.float64(0.0), name="s")
    with pytest.raises(TypeError, match=r"list \(or dict\) of \(shared variable, new expression\) "
                                        "pairs"):
        function([], [], updates=(s, s + 1))


def test_update_twice():
    s = shared(np.float64(0.0), name="s")
    with pytest.raises(ValueError, match="s is updated more than once"):
        function([], [], updates=[(s, s + 1), (s, s + 2)])


def test_update_with_a_value_that_does_not_fit():
    s = shared(np.zeros(2), name="s")
    with pytest.raises(TypeError, match=r"update of shared variable s.*expected 1 dimension"):
        function([], [], updates=[(s, [[1.0]])])


# Givens -----------------------------------------------------------------------------------
def test_givens_of_the_wrong_dtype():
    x = T.dvector("x")
    y = T.fvector("y")
    with pytest.raises(TypeError, match=r"givens replacement for x has the wrong type: expected "
                                        r"TensorType\(float64, vector\), got "
                                        r"TensorType\(float32, vector\)"):
        function([y], x * 2, givens={x: y})


def test_givens_of_the_wrong_rank():
    x = T.dvector("x")
    m = T.dmatrix("m")
    with pytest.raises(TypeError, match=r"givens replacement for x .*expected "
                                        r"TensorType\(float64, vector\), got "
                                        r"TensorType\(float64, matrix\)"):
        function([m], x * 2, givens=[(x, m)])


def test_givens_key_is_not_a_variable():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="givens key 'x' is not a symbolic variable"):
        function([x], x * 2, givens={"x": x})


# Graph construction ------------------------------------------------------------------------
def test_missing_input():
    x = T.dvector("x")
    y = T.dvector("y")
    with pytest.raises(ValueError, match=r"variable y \(TensorType\(float64, vector\)\) is needed "
                                         "to compute the outputs but is not in the function's "
                                         "inputs"):
        function([x], x + y)


def test_input_listed_twice():
    x = T.dvector("x")
    with pytest.raises(ValueError, match=r"input x appears more than once in the inputs "
                                         r"\(at positions 0 and 1\)"):
        function([x, x], x * 2)


def test_inputs_not_a_list():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="inputs must be a list of variables, got TensorVariable"):
        function(x, x * 2)


def test_default_before_required_input():
    x = T.dscalar("x")
    y = T.dscalar("y")
    with pytest.raises(TypeError, match="input y has no default but follows an input that has one"):
        function([theano.In(x, value=1.0), y], x + y)


def test_unknown_mode_and_backend():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="unknown mode 'WEIRD'"):
        function([x], x, mode="WEIRD")
    with pytest.raises(ValueError, match="unknown backend 'nosuch'"):
        function([x], x, backend="nosuch")


# Gradients --------------------------------------------------------------------------------
def test_grad_of_a_non_scalar():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"the cost must be a scalar, but .* has type "
                                        r"TensorType\(float64, vector\)"):
        T.grad(x * 2, x)


def test_grad_wrt_a_variable_not_in_the_graph():
    x = T.dvector("x")
    y = T.dvector("y")
    with pytest.raises(DisconnectedInputError, match=r"does not depend on y \(TensorType\(float64, "
                                                     r"vector\)\)"):
        T.grad((x * 2).sum(), y)
    gx, gy = T.grad((x * 2).sum(), [x, y], disconnected_inputs="ignore")
    gxv, gyv = function([x, y], [gx, gy])([1.0], [1.0, 2.0])
    np.testing.assert_array_equal(gxv, [2.0])
    np.testing.assert_array_equal(gyv, [0.0, 0.0])


# Unused inputs ----------------------------------------------------------------------------
def test_unused_input():
    x = T.dvector("x")
    y = T.dvector("y")
    with pytest.raises(UnusedInputError, match=r"input 1 \(y\) is not used.*on_unused_input"):
        function([x, y], x * 2)
    with pytest.warns(UserWarning, match=r"input 1 \(y\) is not used"):
        f = function([x, y], x * 2, on_unused_input="warn")
    np.testing.assert_array_equal(f([1.0], [5.0]), [2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = function([x, y], x * 2, on_unused_input="ignore")
    np.testing.assert_array_equal(g([1.0], [5.0]), [2.0])
    with pytest.raises(ValueError, match="on_unused_input must be 'raise', 'warn' or 'ignore', "
                                         "got 'sometimes'"):
        function([x], x * 2, on_unused_input="sometimes")


def test_string_array_and_complex_list_are_refused_clearly():
    x = T.dvector("x")
    f = theano.function([x], x * 2, allow_input_downcast=True)
    with pytest.raises(TypeError, match=r"'x' expected a numeric value"):
        f(np.array(["a"]))
    g = theano.function([x], x * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning before the error
        with pytest.raises(TypeError, match=r"'x' expected dtype float64"):
            g([1 + 2j])


def test_allow_input_downcast_false_refuses_lossy_python_floats():
    x = T.fscalar("x")
    strict = theano.function([x], x * 2, allow_input_downcast=False)
    assert strict(0.5) == 1.0  # exact in float32
    with pytest.raises(TypeError, match=r"'x' expected dtype float32"):
        strict(0.1)  # not representable in float32
    assert theano.function([x], x * 2)(0.1) == np.float32(0.1) * 2  # default: Theano's rule


def test_float64_data_for_a_float32_input_says_how_theano_code_runs():
    """Ported code feeds float64 arrays to T.vector(): the error says which flag gives
    Theano's default floatX."""
    x = T.fvector("x")
    f = theano.function([x], x * 2)
    with pytest.raises(TypeError, match=r"expected dtype float32 but got float64.*"
                                        r"THEANINE_FLAGS=floatX=float64"):
        f(np.ones(2))
