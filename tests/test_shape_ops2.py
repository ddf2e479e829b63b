"""The second half of the shape ops against NumPy: swapaxes, squeeze, expand_dims,
shape_pad{left,right,axis}, split, tile, repeat, eye, identity_like, sort, argsort, `.ndim`."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine.tensor as T
from theanine.gradient import grad


def _var(shape, dtype="float64", bcast=None):
    return T.tensor(dtype, bcast if bcast is not None else (False,) * len(shape), name="x")


def test_ndim_attribute():
    assert T.dscalar().ndim == 0
    assert T.dtensor3().ndim == 3
    assert T.dmatrix().T.ndim == 2
    assert T.constant(np.zeros((2, 3, 4, 5))).ndim == 4


# Axis moves -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, a1, a2", [((2, 3, 4), 0, 2), ((2, 3, 4), -1, 0),
                                           ((2, 0, 4), 1, -1), ((3, 4), 1, 1), ((5,), 0, -1)])
def test_swapaxes(shape, a1, a2, rng):
    x = _var(shape)
    xv = rand(rng, shape)
    out = T.swapaxes(x, a1, a2)
    expected = np.swapaxes(xv, a1, a2)
    for arg in (xv, noncontig(xv), fortran(xv)):
        np.testing.assert_array_equal(compile_py([x], out)(arg), expected)
    check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: T.swapaxes(v, a1, a2), [xv])


def test_swapaxes_bad_axis():
    with pytest.raises(ValueError, match=r"swapaxes: axis 3 .* 3 dimension"):
        T.swapaxes(T.dtensor3("x"), 0, 3)


@pytest.mark.parametrize("bcast, shape, axis", [
    ((True, False, True), (1, 3, 1), None),
    ((True, False, True), (1, 3, 1), -1),
    ((False, False, False), (1, 3, 1), (0, 2)),
    ((False, False), (4, 1), 1),
    ((False, False, False), (1, 0, 1), (-3,)),
    ((True,), (1,), None),
])
def test_squeeze(bcast, shape, axis, rng):
    x = _var(shape, bcast=bcast)
    xv = rand(rng, shape)
    out = T.squeeze(x, axis)
    np_axis = tuple(d for d, b in enumerate(bcast) if b) if axis is None else axis
    expected = np.squeeze(xv, np_axis)
    got = compile_py([x], out)(noncontig(xv))
    assert got.shape == expected.shape and out.ndim == expected.ndim
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: T.squeeze(T.Rebroadcast(bcast)(v) if any(bcast) else v, axis),
                   [xv])


def test_squeeze_of_a_dimension_longer_than_one_fails_at_run_time(rng):
    x = T.dmatrix("x")
    f = compile_py([x], T.squeeze(x, 1))
    with pytest.raises(ValueError, match=r"dimension 1 of x.*size 1"):
        f(rand(rng, (3, 2)))


def test_squeeze_without_axis_keeps_non_broadcastable_dims(rng):
    """Theano's rule: only dimensions typed broadcastable go (the rank is fixed at build time)."""
    x = T.dmatrix("x")
    assert T.squeeze(x).ndim == 2
    xv = rand(rng, (1, 3))
    np.testing.assert_array_equal(compile_py([x], T.squeeze(x))(xv), xv)


@pytest.mark.parametrize("shape, axis", [((3, 4), 0), ((3, 4), -1), ((3, 4), 1), ((3, 4), (0, 3)),
                                         ((3, 4), (-1, 0)), ((), 0), ((0, 2), (1, 2))])
def test_expand_dims(shape, axis, rng):
    x = _var(shape)
    xv = rand(rng, shape)
    out = T.expand_dims(x, axis)
    expected = np.expand_dims(xv, axis)
    got = compile_py([x], out)(noncontig(xv))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert all(out.broadcastable[d % out.ndim] for d in np.atleast_1d(axis))
    check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: T.expand_dims(v, axis), [xv])


def test_expand_dims_errors():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="out of range"):
        T.expand_dims(x, 3)
    with pytest.raises(ValueError, match="repeated"):
        T.expand_dims(x, (0, -4))


@pytest.mark.parametrize("fn, ref", [
    (lambda t: T.shape_padleft(t), lambda a: a[None]),
    (lambda t: T.shape_padleft(t, 2), lambda a: a[None, None]),
    (lambda t: T.shape_padright(t), lambda a: a[..., None]),
    (lambda t: T.shape_padright(t, 3), lambda a: a[..., None, None, None]),
    (lambda t: T.shape_padaxis(t, 1), lambda a: a[:, None]),
    (lambda t: T.shape_padaxis(t, -1), lambda a: a[..., None]),
])
def test_shape_pad(fn, ref, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    out = fn(x)
    expected = ref(xv)
    np.testing.assert_array_equal(compile_py([x], out)(fortran(xv)), expected)
    assert out.broadcastable == tuple(s == 1 for s in expected.shape)
    check_infer_shape([x], out, [xv])
    check_grad(fn, [xv])


def test_padded_dims_broadcast_in_arithmetic(rng):
    v, m = T.dvector("v"), T.dmatrix("m")
    vv, mv = rand(rng, (3,)), rand(rng, (3, 4))
    got = compile_py([v, m], T.shape_padright(v) * m)(vv, mv)
    np.testing.assert_array_equal(got, vv[:, None] * mv)


# split ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, sizes, axis", [
    ((6, 3), [1, 2, 3], 0), ((2, 7), [3, 0, 4], 1), ((2, 7), [7], -1), ((2, 3, 4), [2, 2], -1),
    ((0, 3), [0, 0], 0),
])
def test_split(shape, sizes, axis, rng):
    x = _var(shape)
    xv = rand(rng, shape)
    outs = T.split(x, sizes, len(sizes), axis=axis)
    expected = np.split(xv, np.cumsum(sizes)[:-1], axis=axis)
    got = compile_py([x], outs)(noncontig(xv))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_array_equal(g, e)
    check_infer_shape([x], outs[0], [xv])
    if xv.size:
        # All pieces, weighted differently so a mix-up of pieces shows.
        check_grad(lambda v: T.concatenate(
            [p * (k + 1) for k, p in enumerate(T.split(v, sizes, len(sizes), axis))], axis=axis),
            [xv])


def test_split_with_symbolic_sizes(rng):
    x, s = T.dvector("x"), T.lvector("s")
    outs = T.split(x, s, 3)
    xv = rand(rng, (6,))
    got = compile_py([x, s], outs)(xv, [4, 1, 1])
    for g, e in zip(got, np.split(xv, [4, 5])):
        np.testing.assert_array_equal(g, e)
    check_infer_shape([x, s], outs[2], [xv, np.array([4, 1, 1])])
    with pytest.raises(ValueError, match=r"add up to 6.*x"):
        compile_py([x, s], outs)(xv, [4, 1, 2])
    with pytest.raises(ValueError, match="expected 3 sizes"):
        compile_py([x, s], outs)(xv, [5, 1])


def test_split_grad_of_one_piece(rng):
    x = T.dvector("x")
    a, b = T.split(x, [2, 3], 2)
    g = compile_py([x], grad((b ** 2).sum(), x))(np.arange(5.0))
    np.testing.assert_array_equal(g, [0, 0, 4, 6, 8])


def test_split_rejects_a_wrong_count():
    with pytest.raises(ValueError, match="n_splits is 2 but 3"):
        T.split(T.dvector("x"), [1, 2, 3], 2)


# tile -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, reps", [
    ((2, 3), (2, 1)), ((2, 3), (1, 3)), ((2, 3), (2, 2)), ((3,), (2, 2)), ((2, 3), (2,)),
    ((2, 3), (3, 1, 2)), ((), (3,)), ((0, 2), (2, 2)), ((2, 3), (0, 2)), ((2, 3), (1, 1)),
])
def test_tile(shape, reps, rng):
    x = _var(shape)
    xv = rand(rng, shape)
    out = T.tile(x, reps)
    expected = np.tile(xv, reps)
    got = compile_py([x], out)(noncontig(xv))
    assert got.shape == expected.shape and out.ndim == expected.ndim
    np.testing.assert_array_equal(got, expected)
    if out.owner is not None:
        check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: T.tile(v, reps), [xv])


def test_tile_with_symbolic_reps(rng):
    x, r = T.dmatrix("x"), T.iscalar("r")
    xv = rand(rng, (2, 3))
    out = T.tile(x, (r, 2))
    np.testing.assert_array_equal(compile_py([x, r], out)(xv, 3), np.tile(xv, (3, 2)))
    check_infer_shape([x, r], out, [xv, 3])
    v = T.lvector("v")
    out = T.tile(x, v.shape)  # a vector of known length
    np.testing.assert_array_equal(compile_py([x, v], out)(xv, [0, 0]), np.tile(xv, (2,)))


def test_tile_keeps_broadcastable_dimensions(rng):
    r, m = T.row("r", dtype="float64"), T.dmatrix("m")
    out = T.tile(r, (1, 3))
    assert out.broadcastable == (True, False)
    rv, mv = rand(rng, (1, 2)), rand(rng, (4, 6))
    np.testing.assert_array_equal(compile_py([r, m], out + m)(rv, mv), np.tile(rv, (1, 3)) + mv)
    assert T.tile(T.dvector("v"), (2,), ndim=2).broadcastable == (True, False)
    check_grad(lambda v: T.tile(T.Rebroadcast((True, False))(v), (1, 3)) * 2, [rv])


def test_tile_ndim(rng):
    x = T.dvector("x")
    xv = rand(rng, (3,))
    out = T.tile(x, (2,), ndim=3)
    np.testing.assert_array_equal(compile_py([x], out)(xv), np.tile(xv, (1, 1, 2)))
    with pytest.raises(ValueError, match="ndim"):
        T.tile(T.dmatrix("m"), (2,), ndim=1)


# repeat -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, repeats, axis", [
    ((2, 3), 2, 0), ((2, 3), 3, -1), ((2, 3), [1, 0, 2], 1), ((2, 3), 2, None),
    ((2, 3), [2], 0), ((4,), [0, 1, 2, 3], 0), ((0, 3), 2, 0), ((2, 3), 0, 1),
    ((2, 3, 2), [1, 3], -1), ((), 3, None),
])
def test_repeat(shape, repeats, axis, rng):
    x = _var(shape)
    xv = rand(rng, shape)
    out = T.repeat(x, repeats, axis=axis)
    expected = np.repeat(xv, repeats, axis=axis)
    got = compile_py([x], out)(fortran(xv))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: T.repeat(v, repeats, axis=axis), [xv])


@pytest.mark.parametrize("r_dtype", ["int32", "int64", "uint8"])
def test_repeat_symbolic_counts(r_dtype, rng):
    x = T.dmatrix("x")
    r = T.tensor(r_dtype, (False,), name="r")
    xv, rv = rand(rng, (3, 2)), np.array([2, 0, 3], dtype=r_dtype)
    out = T.repeat(x, r, axis=0)
    np.testing.assert_array_equal(compile_py([x, r], out)(xv, rv), np.repeat(xv, rv, axis=0))
    check_infer_shape([x, r], out, [xv, rv])
    s = T.lscalar("s")
    out = T.repeat(x, s, axis=1)
    np.testing.assert_array_equal(compile_py([x, s], out)(xv, 2), np.repeat(xv, 2, axis=1))
    check_infer_shape([x, s], out, [xv, 2])


def test_repeat_of_ints_keeps_dtype(rng):
    x = T.ivector("x")
    xv = rand(rng, (4,), "int32", -5, 5)
    got = compile_py([x], T.repeat(x, 2))(xv)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.repeat(xv, 2))


def test_repeat_errors(rng):
    x, r = T.dvector("x"), T.lvector("r")
    f = compile_py([x, r], T.repeat(x, r, axis=0))
    with pytest.raises(ValueError, match=r"1 repetition count\(s\) in r .* length 3"):
        f(rand(rng, (3,)), [2])
    with pytest.raises(ValueError, match="repeat"):
        f(rand(rng, (2,)), [2, -1])
    with pytest.raises(TypeError, match="integer"):
        T.repeat(x, T.dvector("f"))
    with pytest.raises(TypeError, match="integers"):
        T.repeat(x, 1.5)


# eye / identity_like ----------------------------------------------------------------------
@pytest.mark.parametrize("n, m, k", [(3, None, 0), (3, 5, 1), (4, 2, -1), (3, 3, 5), (0, 3, 0),
                                     (2, 4, -3)])
def test_eye(n, m, k, rng):
    out = T.eye(n, m, k)
    expected = np.eye(n, m, k, dtype="float32")
    got = compile_py([], out)()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([], out, [])


def test_eye_symbolic(rng):
    n, m, k = T.iscalars("n", "m", "k")
    out = T.eye(n, m, k, dtype="int8")
    f = compile_py([n, m, k], out)
    for args in [(3, 4, 0), (4, 3, -2), (2, 2, 1)]:
        expected = np.eye(*args, dtype="int8")
        got = f(*args)
        assert got.dtype == np.int8
        np.testing.assert_array_equal(got, expected)
    check_infer_shape([n, m, k], out, [3, 4, 1])
    with pytest.raises(ValueError, match="negative"):
        f(-1, 2, 0)
    with pytest.raises(TypeError, match="n must be an integer"):
        T.eye(T.dscalar("f"))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 0)])
@pytest.mark.parametrize("dtype", [None, "int32"])
def test_identity_like(shape, dtype, rng):
    x = T.fmatrix("x")
    xv = rand(rng, shape, "float32")
    out = T.identity_like(x, dtype=dtype)
    expected = np.eye(*shape, dtype=dtype or "float32")
    got = compile_py([x], out)(xv)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])
    with pytest.raises(TypeError, match="matrix"):
        T.identity_like(T.fvector("v"))


def test_eye_is_not_differentiable_but_its_use_is(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 3))
    g = compile_py([x], grad((x * T.identity_like(x)).sum(), x))(xv)
    np.testing.assert_array_equal(g, np.eye(3))


# sort / argsort ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis", [((7,), -1), ((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1),
                                         ((2, 3, 4), None), ((0, 3), 0), ((3, 0), -1)])
@pytest.mark.parametrize("kind", ["quicksort", "stable"])
def test_sort_and_argsort(shape, axis, kind, rng):
    x = _var(shape)
    xv = rng.permutation(int(np.prod(shape))).reshape(shape).astype("float64")  # no ties
    outs = [T.sort(x, axis=axis, kind=kind), T.argsort(x, axis=axis, kind=kind)]
    got = compile_py([x], outs)(noncontig(xv))
    np.testing.assert_array_equal(got[0], np.sort(xv, axis=axis, kind=kind))
    np.testing.assert_array_equal(got[1], np.argsort(xv, axis=axis, kind=kind))
    assert got[1].dtype == np.int64
    for out in outs:
        check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: T.sort(v, axis=axis, kind=kind), [xv / 3])


@pytest.mark.parametrize("dtype", ["int32", "uint8", "float32", "bool"])
def test_sort_dtypes(dtype, rng):
    x = T.tensor(dtype, (False, False), name="x")
    xv = rand(rng, (4, 6), dtype, 0, 9)
    got_s, got_a = compile_py([x], [T.sort(x), T.argsort(x, kind="stable")])(xv)
    assert got_s.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got_s, np.sort(xv))
    np.testing.assert_array_equal(got_a, np.argsort(xv, kind="stable"))  # ties: stable order


def test_sort_grad_with_ties_sums_to_the_output_grad(rng):
    """At ties the gradient is one of the subgradients: a permutation of the output grad."""
    x = T.dvector("x")
    w = T.constant(np.arange(1.0, 7.0))
    g = compile_py([x], grad((T.sort(x) * w).sum(), x))(np.array([2.0, 1.0, 2.0, 0.0, 1.0, 5.0]))
    np.testing.assert_array_equal(np.sort(g), np.arange(1.0, 7.0))
    assert g[3] == 1.0 and g[5] == 6.0


def test_sort_errors():
    with pytest.raises(ValueError, match="kind"):
        T.sort(T.dvector("x"), kind="bogo")
    with pytest.raises(ValueError, match="axis 2"):
        T.sort(T.dmatrix("x"), axis=2)
    with pytest.raises(NotImplementedError, match="order"):
        T.argsort(T.dvector("x"), order="f")


def test_numpy_style_methods_on_variables():
    x = T.dmatrix("x")
    i = T.lvector("i")
    f = compile_py([x, i], [x.swapaxes(0, 1), x.dimshuffle(0, "x", 1).squeeze(),
                            x.repeat(2, axis=0), x.take(i, axis=1), x.sort(axis=1),
                            x.argsort(axis=0)])
    xv = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    iv = np.array([2, 0])
    expected = [xv.swapaxes(0, 1), xv, xv.repeat(2, axis=0), xv.take(iv, axis=1),
                np.sort(xv, axis=1), np.argsort(xv, axis=0)]
    for got, want in zip(f(xv, iv), expected):
        np.testing.assert_array_equal(got, want)
