"""Indexing against NumPy: basic slicing (constant and symbolic bounds, negative steps),
integer, advanced integer-array and boolean indexing, newaxis/Ellipsis, and
set_subtensor/inc_subtensor (repeated indices accumulate like np.add.at)."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine
import theanine.tensor as T
from theanine.gradient import grad
from theanine.tensor.elemwise import Elemwise

S = np.s_
BASIC = [
    S[1], S[-1], S[1:3], S[::-1], S[::2], S[-2:], S[:-1], S[3:1:-1], S[::-2], S[10:],
    S[1, 2], S[:, 1], S[1:, ::-1], S[-1, :, 2], S[..., 1], S[1, ...], S[None], S[:, None],
    S[None, 1, None], S[..., None], S[1:2, None, ..., ::3], S[2:2], S[-10:10], S[:, :, :],
    S[1, 2, 3], S[1:-1, -3:, 1::2],
]


@pytest.mark.parametrize("index", BASIC, ids=str)
def test_basic_indexing(index, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (4, 5, 6))
    out = x[index]
    f = compile_py([x], out)
    expected = xv[index]
    for arg in (xv, noncontig(xv), fortran(xv)):
        got = f(arg)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    assert out.ndim == expected.ndim
    if out.owner is not None:
        check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("index", BASIC[:12], ids=str)
def test_basic_indexing_grad(index, rng):
    check_grad(lambda v: v[index], [rand(rng, (4, 5, 6))])


@pytest.mark.parametrize("start, stop, step", [
    (1, 4, 1), (4, 1, -1), (-1, None, -1), (None, -2, 2), (0, 0, 1), (-7, 7, 3), (5, None, -2),
])
def test_symbolic_slice_bounds(start, stop, step, rng):
    a, b, c = T.lscalar("a"), T.lscalar("b"), T.lscalar("c")
    x = T.dmatrix("x")
    parts = [v if p is not None else None for v, p in zip((a, b, c), (start, stop, step))]
    out = x[parts[0]:parts[1]:parts[2], 1]
    xv = rand(rng, (6, 3))
    args = [p for p in (start, stop, step) if p is not None]
    inputs = [x] + [v for v, p in zip((a, b, c), (start, stop, step)) if p is not None]
    got = compile_py(inputs, out)(xv, *args)
    np.testing.assert_array_equal(got, xv[start:stop:step, 1])
    check_infer_shape(inputs, out, [xv, *args])


def test_symbolic_integer_index(rng):
    i = T.iscalar("i")
    x = T.dmatrix("x")
    xv = rand(rng, (4, 3))
    f = compile_py([x, i], [x[i], x[:, i], x[-i]])
    for iv in (0, 2, -1):
        for got, expected in zip(f(xv, iv), (xv[iv], xv[:, iv], xv[-iv])):
            np.testing.assert_array_equal(got, expected)
    check_infer_shape([x, i], x[i], [xv, 2])


def test_symbolic_slice_grad(rng):
    a = T.lscalar("a")
    x = T.dvector("x")
    g = grad(x[a:].sum() + (x[::-1][:a] ** 2).sum(), x)
    xv = rand(rng, (6,))
    expected = np.zeros(6)
    expected[2:] += 1
    expected[::-1][:2] += 2 * xv[::-1][:2]
    np.testing.assert_allclose(compile_py([x, a], g)(xv, 2), expected, rtol=1e-12)


def test_index_out_of_bounds_is_a_clear_error(rng):
    x, i = T.dvector("x"), T.lscalar("i")
    f = compile_py([x, i], x[i])
    with pytest.raises(IndexError, match="x"):
        f(rand(rng, (3,)), 5)
    with pytest.raises(IndexError, match="too many indices"):
        x[1, 2]


def test_non_integer_index_is_refused():
    x = T.dvector("x")
    with pytest.raises((TypeError, IndexError), match="integer"):
        x[T.dscalar("f")]
    with pytest.raises((TypeError, IndexError), match="integer"):
        x[T.dscalar("f"):]


def test_outputs_do_not_alias_the_inputs(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    before = xv.copy()
    for out in compile_py([x], [x[1:], x[:, ::-1], x[0], x[[0, 0]], x[..., None]])(xv):
        out[...] = 0
    np.testing.assert_array_equal(xv, before)


def test_full_slice_compiles_to_the_variable_and_can_be_set():
    x, y = T.dmatrices("x", "y")
    f = theanine.function([x], [x[:], x[...], x[:, :]])
    assert not f.maker.fgraph.apply_nodes  # the useless Subtensors are rewritten away
    xv = np.arange(6.0).reshape(2, 3)
    for out in f(xv):
        np.testing.assert_array_equal(out, xv)
        assert not np.shares_memory(out, xv)
    g = theanine.function([x, y], [T.set_subtensor(x[:], y), T.inc_subtensor(x[:, :], y)])
    yv = np.ones((2, 3))
    np.testing.assert_array_equal(g(xv, yv)[0], yv)
    np.testing.assert_array_equal(g(xv, yv)[1], xv + yv)


# Advanced indexing ---------------------------------------------------------------------------
def _advanced_cases(rng):
    i1 = np.array([2, 0, 2, 3])
    i2 = np.array([[1, 0], [3, 3]])
    return [
        (i1,), (i2,), (slice(None), i1), (i1, slice(1, 3)), (i1, np.array([0, 1, 4, 2])),
        (np.array([-1, -4]),), (i1[:, None], np.array([1, 2, 3])), (Ellipsis, i1),
        (1, i1), (i1, None), (slice(None), i1, 2), (np.array([], dtype="int64"),),
    ]


@pytest.mark.parametrize("case", range(12))
@pytest.mark.parametrize("symbolic", [False, True])
def test_advanced_integer_indexing(case, symbolic, rng):
    index = _advanced_cases(rng)[case]
    x = T.dtensor3("x")
    xv = rand(rng, (4, 5, 6))
    arrays = [v for v in index if isinstance(v, np.ndarray)]
    if symbolic:
        syms = [T.tensor("int64", (False,) * a.ndim, name=f"i{k}") for k, a in enumerate(arrays)]
        it = iter(syms)
        sym_index = tuple(next(it) if isinstance(v, np.ndarray) else v for v in index)
        inputs, args = [x, *syms], [xv, *arrays]
    else:
        sym_index, inputs, args = index, [x], [xv]
    out = x[sym_index]
    expected = xv[index]
    got = compile_py(inputs, out)(*args)
    assert got.shape == expected.shape and out.ndim == expected.ndim
    np.testing.assert_array_equal(got, expected)
    got = compile_py(inputs, out)(noncontig(xv), *args[1:])
    np.testing.assert_array_equal(got, expected)
    check_infer_shape(inputs, out, args)


@pytest.mark.parametrize("case", range(11))
def test_advanced_indexing_grad_accumulates_repeats(case, rng):
    index = _advanced_cases(rng)[case]
    check_grad(lambda v: v[index], [rand(rng, (4, 5, 6))])


@pytest.mark.parametrize("case", range(12))
def test_advanced_index_is_a_new_array(case, rng):
    """An array index makes an AdvancedSubtensor, which declares no view: its result never
    shares memory with x (DebugMode checks the declaration against what runs, also for a
    boolean mask), and elementwise work on it may overwrite it in place."""
    from theanine.compile.debugmode import DebugMode

    index = _advanced_cases(rng)[case]
    x = T.dtensor3("x")
    xv = rand(rng, (4, 5, 6))
    out = x[index]
    assert type(out.owner.op) is T.AdvancedSubtensor and out.owner.op.view_map == {}
    for y in (out, x[T.constant(xv[:, 0, 0] > 0.5)]):
        got = theanine.function([x], y, mode=DebugMode())(xv)
        assert not np.shares_memory(got, xv)
    f = theanine.function([x], T.exp(out) * 2)
    np.testing.assert_allclose(f(xv), np.exp(xv[index]) * 2)
    assert any(n.op.destroy_map for n in f.maker.fgraph.toposort()
               if isinstance(n.op, Elemwise)) or xv[index].size == 0


def test_scalar_index_stays_a_view():
    x = T.dmatrix("x")
    i = T.lscalar("i")
    for out in (x[1], x[i], x[1:, i]):
        assert type(out.owner.op) is T.Subtensor and out.owner.op.view_map == {0: [0]}
    assert str(x[T.lvector("v")].owner.op) == "AdvancedSubtensor{?}"


def test_log_probabilities_of_labels(rng):
    """The tutorials' negative log-likelihood: T.log(p)[T.arange(y.shape[0]), y]."""
    p, y = T.dmatrix("p"), T.ivector("y")
    pv = rand(rng, (5, 3), low=0.1, high=1)
    yv = np.array([0, 2, 1, 2, 2], dtype="int32")
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    expected = -np.mean(np.log(pv)[np.arange(5), yv])
    np.testing.assert_allclose(compile_py([p, y], nll)(pv, yv), expected, rtol=1e-12)
    g = compile_py([p, y], grad(nll, p))(pv, yv)
    expected_g = np.zeros_like(pv)
    expected_g[np.arange(5), yv] = -1 / (5 * pv[np.arange(5), yv])
    np.testing.assert_allclose(g, expected_g, rtol=1e-12)
    yc = T.constant(yv)
    check_grad(lambda v: T.log(v)[T.arange(yc.shape[0]), yc], [pv])
    out = T.log(p)[T.arange(y.shape[0]), y]
    check_infer_shape([p, y], out, [pv, yv])


@pytest.mark.parametrize("mask_shape, index_of", [
    ((4,), lambda m: (m,)),
    ((4, 5), lambda m: (m,)),
    ((5,), lambda m: (slice(None), m)),
    ((4, 5, 6), lambda m: (m,)),
    ((6,), lambda m: (Ellipsis, m)),
])
def test_boolean_mask(mask_shape, index_of, rng):
    x = T.dtensor3("x")
    m = T.tensor("bool", (False,) * len(mask_shape), name="m")
    xv = rand(rng, (4, 5, 6))
    mv = rng.random(mask_shape) < 0.5
    out = x[index_of(m)]
    expected = xv[index_of(mv)]
    got = compile_py([x, m], out)(xv, mv)
    assert got.shape == expected.shape and out.ndim == expected.ndim
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([x, m], out, [xv, mv])
    mc = T.constant(mv)
    check_grad(lambda v: v[index_of(mc)], [xv])


def test_boolean_mask_from_a_comparison(rng):
    x = T.dvector("x")
    xv = rand(rng, (8,))
    np.testing.assert_array_equal(compile_py([x], x[x > 0])(xv), xv[xv > 0])
    np.testing.assert_array_equal(compile_py([x], x[x < 0])(xv), xv[xv < 0])


def test_index_with_python_list(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (4, 3))
    np.testing.assert_array_equal(compile_py([x], x[[3, 0, 0]])(xv), xv[[3, 0, 0]])
    np.testing.assert_array_equal(compile_py([x], x[:, [True, False, True]])(xv),
                                  xv[:, [True, False, True]])


# set_subtensor / inc_subtensor ---------------------------------------------------------------
SET_CASES = [
    (S[1:3], (2, 5)),
    (S[::-2], (2, 5)),
    (S[1], (5,)),
    (S[:, 2], (4,)),
    (S[1:3, ::2], (2, 3)),
    (S[-1, 1:4], ()),
    (np.array([0, 2, 0, 0]), (4, 5)),
    (np.array([3, 1, 3]), (5,)),
    ((np.array([0, 1, 0]), np.array([2, 2, 2])), (3,)),
    ((np.array([0, 1, 0]), np.array([2, 2, 2])), ()),
    ((slice(None), np.array([4, 4, 0])), (4, 3)),
    (np.array([True, False, True, True]), (3, 5)),
]


@pytest.mark.parametrize("case", range(len(SET_CASES)))
@pytest.mark.parametrize("kind", ["set", "inc"])
def test_set_and_inc_subtensor(case, kind, rng):
    index, y_shape = SET_CASES[case]
    x = T.dmatrix("x")
    y = T.tensor("float64", (False,) * len(y_shape), name="y")
    xv, yv = rand(rng, (4, 5)), rand(rng, y_shape)
    fn = T.set_subtensor if kind == "set" else T.inc_subtensor
    out = fn(x[index], y)
    expected = xv.copy()
    if kind == "set":
        expected[index] = yv
    else:
        np.add.at(expected, index, yv)
    f = compile_py([x, y], out)
    np.testing.assert_array_equal(f(xv, yv), expected)
    np.testing.assert_array_equal(f(fortran(xv), noncontig(yv)), expected)
    check_infer_shape([x, y], out, [xv, yv])


@pytest.mark.parametrize("kind", ["set", "inc"])
def test_set_subtensor_broadcasts_a_broadcastable_value(kind, rng):
    x, y = T.dmatrix("x"), T.row("y", dtype="float64")
    xv, yv = rand(rng, (4, 5)), rand(rng, (1, 3))
    fn = T.set_subtensor if kind == "set" else T.inc_subtensor
    expected = xv.copy()
    if kind == "set":
        expected[1:3, ::2] = yv
    else:
        expected[1:3, ::2] += yv
    out = fn(x[1:3, ::2], y)
    np.testing.assert_array_equal(compile_py([x, y], out)(xv, yv), expected)
    gy = compile_py([x, y], grad((out * T.constant(xv)).sum(), y))(xv, yv)
    np.testing.assert_allclose(gy, xv[1:3, ::2].sum(axis=0, keepdims=True), rtol=1e-12)


def test_set_subtensor_refuses_to_stretch_a_non_broadcastable_dimension(rng):
    x, y = T.dmatrices("x", "y")
    f = compile_py([x, y], T.set_subtensor(x[1:3], y))
    with pytest.raises(ValueError, match=r"y.*not broadcastable"):
        f(rand(rng, (4, 5)), rand(rng, (1, 5)))


def test_inc_subtensor_does_not_modify_its_input(rng):
    x = T.dvector("x")
    xv = rand(rng, (4,))
    before = xv.copy()
    compile_py([x], T.inc_subtensor(x[[1, 1]], 1.0))(xv)
    np.testing.assert_array_equal(xv, before)


@pytest.mark.parametrize("case", range(len(SET_CASES)))
@pytest.mark.parametrize("kind", ["set", "inc"])
def test_set_and_inc_subtensor_grad(case, kind, rng):
    index, y_shape = SET_CASES[case]
    if kind == "set" and case in (6, 7, 8, 9, 10):
        # With repeated indices only the last write survives: test x alone.
        yv = T.constant(rand(rng, y_shape))
        check_grad(lambda a: T.set_subtensor(a[index], yv), [rand(rng, (4, 5))])
        return
    fn = T.set_subtensor if kind == "set" else T.inc_subtensor
    check_grad(lambda a, b: fn(a[index], b), [rand(rng, (4, 5)), rand(rng, y_shape)])


def test_inc_subtensor_with_symbolic_indices(rng):
    x, i = T.dvector("x"), T.lvector("i")
    y = T.dvector("y")
    xv, iv, yv = rand(rng, (5,)), np.array([4, 0, 4, 4]), rand(rng, (4,))
    expected = xv.copy()
    np.add.at(expected, iv, yv)
    got = compile_py([x, i, y], T.inc_subtensor(x[i], y))(xv, iv, yv)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_set_subtensor_with_literal_and_dtype_cast(rng):
    x = T.fmatrix("x")
    xv = rand(rng, (3, 4), "float32")
    got = compile_py([x], T.set_subtensor(x[1:, 0], 7))(xv)
    expected = xv.copy()
    expected[1:, 0] = 7
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_set_subtensor_needs_an_indexing_expression():
    with pytest.raises(TypeError, match="indexing expression"):
        T.set_subtensor(T.dvector("x"), 1.0)


def test_set_subtensor_refuses_an_unsafe_value_dtype():
    with pytest.raises(TypeError, match="write"):
        T.set_subtensor(T.ivector("x")[0], T.dscalar("y"))


@pytest.mark.parametrize("index", [S[1:, None, 2], S[[0, 2, 2]], S[..., [1, 0]]], ids=str)
def test_indexed_shape_infer_shape(index, rng):
    """Subtensor.infer_shape builds an IndexedShape node; its own infer_shape gives its length."""
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    sub = x[index]
    shapes = sub.owner.op.infer_shape(None, sub.owner, [(x.shape[0], x.shape[1])])
    indexed = shapes[0][0].owner.inputs[0]  # shape[0] is a Subtensor of the IndexedShape
    assert type(indexed.owner.op).__name__ == "IndexedShape"
    check_infer_shape([x], indexed, [xv])
    np.testing.assert_array_equal(compile_py([x], indexed)(xv), xv[index].shape)


# take ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("indices, axis", [
    (np.array([3, 0, 0, 2]), 0), (np.array([[1, -1], [0, 4]]), 1), (np.array([5, 0]), -1),
    (np.array([7, 0, 59]), None), (np.array(2), 1), (np.array([], dtype="int64"), -2),
    (np.array([[0], [3]]), None),
])
@pytest.mark.parametrize("symbolic", [False, True])
def test_take(indices, axis, symbolic, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (4, 5, 6))
    expected = np.take(xv, indices, axis=axis)
    if symbolic:
        i = T.tensor("int32", (False,) * indices.ndim, name="i")
        out, inputs, args = T.take(x, i, axis=axis), [x, i], [xv, indices.astype("int32")]
    else:
        out, inputs, args = T.take(x, indices, axis=axis), [x], [xv]
    got = compile_py(inputs, out)(*args)
    assert got.shape == expected.shape and out.ndim == expected.ndim
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(compile_py(inputs, out)(noncontig(xv), *args[1:]), expected)
    check_infer_shape(inputs, out, args)
    ic = T.constant(indices)
    check_grad(lambda v: T.take(v, ic, axis=axis), [xv])


@pytest.mark.parametrize("mode", ["wrap", "clip"])
def test_take_modes(mode, rng):
    x, i = T.dmatrix("x"), T.lvector("i")
    xv, iv = rand(rng, (3, 4)), np.array([-7, -1, 0, 3, 4, 11])
    out = T.take(x, i, axis=1, mode=mode)
    np.testing.assert_array_equal(compile_py([x, i], out)(xv, iv),
                                  np.take(xv, iv, axis=1, mode=mode))
    check_infer_shape([x, i], out, [xv, iv])


def test_take_errors(rng):
    x, i = T.dvector("x"), T.lvector("i")
    f = compile_py([x, i], T.take(x, i))
    with pytest.raises(IndexError, match="x"):
        f(rand(rng, (3,)), [0, 3])
    with pytest.raises(TypeError, match="indices must be integers"):
        T.take(x, T.dvector("f"))
    with pytest.raises(ValueError, match="mode"):
        T.take(x, i, mode="nearest")
    with pytest.raises(ValueError, match="axis 1"):
        T.take(x, i, axis=1)
