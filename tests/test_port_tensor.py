"""Issue 11, tensor names ported Theano code uses: dtype families, `scalar.upcast`, broadcast
patterns, `specify_shape`, `roll`, `choose`, `iround`, `ptp`, `cov`, `eye`/`tri`, `tile` with
symbolic repetitions, Theano's `stack` forms, `extra_ops`, and indexes that are lists of
slices: values against NumPy, gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, rand

import theanine
import theanine.tensor as T
from theanine import scalar
from theanine.config import change_flags, config
from theanine.tensor import extra_ops


# dtype families and upcast -----------------------------------------------------------------
def test_dtype_families_partition_numpys_kinds():
    sized = ["bool"] + [f"{k}{b}" for k in ("int", "uint") for b in (8, 16, 32, 64)] + [
        "float16", "float32", "float64", "complex64", "complex128"]
    for name, kinds in [("int_dtypes", "i"), ("uint_dtypes", "u"), ("float_dtypes", "f"),
                        ("complex_dtypes", "c"), ("integer_dtypes", "iu"),
                        ("discrete_dtypes", "biu"), ("continuous_dtypes", "fc"),
                        ("all_dtypes", "biufc")]:
        assert getattr(T, name) == [d for d in sized if np.dtype(d).kind in kinds], name
    assert T.fvector().dtype in T.float_dtypes and T.lvector().dtype in T.discrete_dtypes


@pytest.mark.parametrize("dtypes", [("int8", "int16"), ("int32", "float32"), ("uint8", "int8"),
                                    ("float16", "float32", "int64"), ("bool", "int8"),
                                    ("complex64", "float64"), ("float32",)])
def test_upcast_is_numpys_array_promotion(dtypes):
    expected = (sum(np.zeros((), d) for d in dtypes[1:]) + np.zeros((), dtypes[0])).dtype
    assert scalar.upcast(*dtypes) == str(expected)


@pytest.mark.filterwarnings("ignore:config flag 'cast_policy'")
def test_upcast_under_numpy_floatx_keeps_floatx():
    if not hasattr(config, "cast_policy"):
        pytest.skip("the cast_policy flag is added by the config part of issue 11")
    with change_flags(cast_policy="numpy+floatX", floatX="float32"):
        assert scalar.upcast("int32", "float32") == "float32"
        assert scalar.upcast("int64", "int8") == "int64"
        assert scalar.upcast("float64", "int32") == "float64"


def test_shared_alias():
    v = T._shared(np.arange(3.0), name="v")
    assert isinstance(v, theanine.compile.SharedVariable)
    np.testing.assert_array_equal(v.get_value(), np.arange(3.0))


# broadcast patterns ------------------------------------------------------------------------
def test_addbroadcast_unbroadcast_patternbroadcast():
    x = T.dmatrix("x")
    r = T.addbroadcast(x, 0)
    assert r.broadcastable == (True, False)
    assert T.unbroadcast(r, 0).broadcastable == (False, False)
    assert T.patternbroadcast(x, (False, True)).broadcastable == (False, True)
    assert T.patternbroadcast(x, (False, False)) is x
    f = compile_py([x], r + x)
    np.testing.assert_array_equal(f(np.ones((1, 3))), 2 * np.ones((1, 3)))
    with pytest.raises(ValueError, match="dimension 0 of x should have size 1"):
        f(np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        T.addbroadcast(x, 2)
    with pytest.raises(ValueError, match="x has 2 dimension"):
        T.patternbroadcast(x, (True,))


def test_addbroadcast_gradient(rng):
    check_grad(lambda v: T.addbroadcast(v, 1) * 3.0, [rand(rng, (4, 1))])


# specify_shape -----------------------------------------------------------------------------
def test_specify_shape_checks_at_run_time_and_informs_shape(rng):
    x = T.dmatrix("x")
    n = T.lscalar("n")
    y = T.specify_shape(x, (n, 3))
    f = compile_py([x, n], [y * 2, y.shape])
    xv = rand(rng, (2, 3))
    out, shp = f(xv, 2)
    np.testing.assert_array_equal(out, 2 * xv)
    assert tuple(shp) == (2, 3)
    with pytest.raises(AssertionError, match=r"x has shape \(2, 3\).*specified as \(4, 3\)"):
        f(xv, 4)
    check_infer_shape([x, n], y, [xv, 2])
    check_grad(lambda v: T.specify_shape(v, (2, 3)) ** 2, [xv])
    with pytest.raises(ValueError, match="x has 2 dimension.*has 3"):
        T.specify_shape(x, (1, 2, 3))


# roll --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shift", [0, 1, -2, 7, 13])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_roll_matches_numpy(shift, axis, rng):
    x = T.dmatrix("x")
    s = T.lscalar("s")
    xv = rand(rng, (3, 5))
    f = compile_py([x, s], [T.roll(x, s, axis), T.roll(x, shift, axis)])
    for got in f(xv, shift):
        np.testing.assert_array_equal(got, np.roll(xv, shift, axis))
    check_grad(lambda v: T.roll(v, shift, axis), [xv])


def test_roll_rejects_float_shift():
    with pytest.raises(TypeError, match="shift must be an integer scalar"):
        T.roll(T.dvector("x"), T.dscalar("s"))


# choose ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
def test_choose_with_a_list_and_a_tensor(mode, rng):
    a = T.lmatrix("a")
    c0, c1 = T.dmatrix("c0"), T.drow("c1")
    av = rng.integers(0, 2, (3, 4)) if mode == "raise" else rng.integers(-3, 5, (3, 4))
    c0v, c1v = rand(rng, (3, 4)), rand(rng, (1, 4))
    f = compile_py([a, c0, c1], T.choose(a, [c0, c1], mode=mode))
    np.testing.assert_array_equal(f(av, c0v, c1v), np.choose(av, [c0v, c1v], mode=mode))
    stacked = T.dtensor3("s")
    sv = rand(rng, (2, 3, 4))
    g = compile_py([a, stacked], T.choose(a, stacked, mode=mode))
    np.testing.assert_array_equal(g(av, sv), np.choose(av, sv, mode=mode))


def test_choose_errors(rng):
    a = T.lvector("a")
    f = compile_py([a], T.choose(a, [np.zeros(3), np.ones(3)]))
    with pytest.raises(ValueError, match="choose with index a"):
        f(np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="index x must be integers"):
        T.choose(T.dvector("x"), [np.zeros(3)])


# iround / ptp / cov ------------------------------------------------------------------------
def test_iround():
    x = T.dvector("x")
    xv = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.6])
    f = compile_py([x], [T.iround(x, "half_to_even"), T.iround(x, "half_away_from_zero")])
    even, away = f(xv)
    assert even.dtype == np.int64
    np.testing.assert_array_equal(even, np.round(xv).astype("int64"))
    np.testing.assert_array_equal(away, (np.sign(xv) * np.floor(np.abs(xv) + 0.5)).astype(int))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_ptp(axis, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (4, 5))
    np.testing.assert_allclose(compile_py([x], T.ptp(x, axis))(xv), np.ptp(xv, axis=axis))
    check_grad(lambda v: T.ptp(v, axis), [xv])


@pytest.mark.parametrize("rowvar", [True, False])
@pytest.mark.parametrize("bias, ddof", [(False, None), (True, None), (False, 0), (True, 2)])
def test_cov_matches_numpy(rowvar, bias, ddof, rng):
    m, y = T.dmatrix("m"), T.dmatrix("y")
    mv, yv = rand(rng, (3, 6)), rand(rng, (2, 6))
    if not rowvar:
        mv, yv = mv.T, yv.T
    f = compile_py([m, y], [T.cov(m, rowvar=rowvar, bias=bias, ddof=ddof),
                            T.cov(m, y, rowvar=rowvar, bias=bias, ddof=ddof)])
    one, two = f(mv, yv)
    np.testing.assert_allclose(one, np.cov(mv, rowvar=rowvar, bias=bias, ddof=ddof))
    np.testing.assert_allclose(two, np.cov(mv, yv, rowvar=rowvar, bias=bias, ddof=ddof))
    check_grad(lambda v: T.cov(v, rowvar=rowvar, bias=bias, ddof=ddof), [mv])


def test_cov_of_a_vector_is_a_scalar(rng):
    v = T.dvector("v")
    vv = rand(rng, (7,))
    out = compile_py([v], T.cov(v))(vv)
    assert np.ndim(out) == 0
    np.testing.assert_allclose(out, np.cov(vv))


# eye / tri / tril / triu -------------------------------------------------------------------
def test_eye_with_symbolic_n_and_m_none():
    n = T.lscalar("n")
    x = T.dmatrix("x")
    f = compile_py([n, x], [T.eye(n), T.eye(n, None, 1), T.eye(x.shape[0], x.shape[1], -1)])
    a, b, c = f(3, np.zeros((2, 4)))
    np.testing.assert_array_equal(a, np.eye(3))
    np.testing.assert_array_equal(b, np.eye(3, k=1))
    np.testing.assert_array_equal(c, np.eye(2, 4, -1))
    assert a.dtype == np.dtype(config.floatX)


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_tri_tril_triu(k, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 5))
    f = compile_py([x], [T.tri(3, 5, k, dtype="float64"), T.tril(x, k), T.triu(x, k)])
    t, lo, up = f(xv)
    np.testing.assert_array_equal(t, np.tri(3, 5, k))
    np.testing.assert_array_equal(lo, np.tril(xv, k))
    np.testing.assert_array_equal(up, np.triu(xv, k))
    check_grad(lambda v: T.tril(v, k) + 2 * T.triu(v, k), [xv])


# tile --------------------------------------------------------------------------------------
def test_tile_with_symbolic_repetitions(rng):
    x = T.dmatrix("x")
    r0, r1 = T.lscalar("r0"), T.lscalar("r1")
    reps = T.lvector("reps")
    xv = rand(rng, (2, 3))
    f = compile_py([x, r0, r1, reps], [T.tile(x, (r0, r1)), T.tile(x, reps, ndim=3),
                                       T.tile(x, T.stack([r0, r1]), ndim=2)])
    a, b, c = f(xv, 2, 3, np.array([2, 1, 2]))
    np.testing.assert_array_equal(a, np.tile(xv, (2, 3)))
    np.testing.assert_array_equal(b, np.tile(xv, (2, 1, 2)))
    np.testing.assert_array_equal(c, np.tile(xv, (2, 3)))
    # a shorter vector is padded on the left with ones
    np.testing.assert_array_equal(f(xv, 1, 1, np.array([3, 2]))[1], np.tile(xv, (1, 3, 2)))
    with pytest.raises(ValueError, match="length of the repetitions vector reps is unknown"):
        T.tile(x, reps)
    check_grad(lambda v: T.tile(v, (2, 2)), [xv])


# stack forms -------------------------------------------------------------------------------
def test_stack_accepts_theanos_old_and_new_forms(rng):
    a, b = T.dvector("a"), T.dvector("b")
    av, bv = rand(rng, (3,)), rand(rng, (3,))
    f = compile_py([a, b], [T.stack(a, b), T.stack([a, b], 1), T.stack(tensors=[a, b]),
                            T.horizontal_stack(a.dimshuffle(0, "x"), b.dimshuffle(0, "x")),
                            T.vertical_stack(a.dimshuffle("x", 0), b.dimshuffle("x", 0))])
    old, new, kw, h, v = f(av, bv)
    np.testing.assert_array_equal(old, np.stack([av, bv]))
    np.testing.assert_array_equal(new, np.stack([av, bv], 1))
    np.testing.assert_array_equal(kw, np.stack([av, bv]))
    np.testing.assert_array_equal(h, np.hstack([av[:, None], bv[:, None]]))
    np.testing.assert_array_equal(v, np.vstack([av, bv]))


# indexes that are lists of slices ----------------------------------------------------------
def test_list_of_slices_index_is_a_tuple(rng):
    x = T.dmatrix("x")
    i = T.lscalar("i")
    xv = rand(rng, (4, 3))
    f = compile_py([x, i], [x[[slice(0, 2), 1]], x[(slice(None), 1)], x[[slice(1, None), i]],
                            T.set_subtensor(x[[slice(0, 2), 1]], -1.0),
                            T.inc_subtensor(x[[slice(None), i]], 10.0)])
    a, b, c, s, inc = f(xv, 2)
    np.testing.assert_array_equal(a, xv[0:2, 1])
    np.testing.assert_array_equal(b, xv[:, 1])
    np.testing.assert_array_equal(c, xv[1:, 2])
    expected = xv.copy()
    expected[0:2, 1] = -1.0
    np.testing.assert_array_equal(s, expected)
    expected = xv.copy()
    expected[:, 2] += 10.0
    np.testing.assert_array_equal(inc, expected)
    # a list of ints is still an advanced index
    np.testing.assert_array_equal(compile_py([x], x[[0, 2]])(xv), xv[[0, 2]])
    check_grad(lambda v: v[[slice(0, 2), 1]], [xv])


# extra_ops ---------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_extra_ops_repeat_and_squeeze(axis, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (2, 3))
    f = compile_py([x], extra_ops.repeat(x, 2, axis=axis))
    np.testing.assert_array_equal(f(xv), np.repeat(xv, 2, axis=axis))
    r = T.drow("r")
    np.testing.assert_array_equal(compile_py([r], extra_ops.squeeze(r))(xv[:1]), xv[0])


@pytest.mark.parametrize("minlength", [None, 12])
def test_bincount(minlength, rng):
    x = T.lvector("x")
    w = T.dvector("w")
    xv = rng.integers(0, 8, 20)
    wv = rand(rng, (20,))
    f = compile_py([x, w], [extra_ops.bincount(x, minlength=minlength),
                            extra_ops.bincount(x, w, minlength=minlength)])
    counts, sums = f(xv, wv)
    np.testing.assert_array_equal(counts, np.bincount(xv, minlength=minlength or 0))
    np.testing.assert_allclose(sums, np.bincount(xv, wv, minlength=minlength or 0))
    empty = f(np.zeros(0, "int64"), np.zeros(0))[0]
    np.testing.assert_array_equal(empty, np.bincount([], minlength=minlength or 0))
    check_grad(lambda wt: extra_ops.bincount(T.constant(xv), wt), [wv])
    checked = compile_py([x], extra_ops.bincount(x, assert_nonneg=True))
    with pytest.raises(ValueError, match="bincount: x has negative values"):
        checked(np.array([1, -1]))


@pytest.mark.parametrize("n, axis", [(1, -1), (2, 0), (3, 1), (0, 0)])
def test_diff(n, axis, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (5, 6))
    np.testing.assert_allclose(compile_py([x], extra_ops.diff(x, n, axis))(xv),
                               np.diff(xv, n, axis))
    check_grad(lambda v: extra_ops.diff(v, n, axis), [xv])


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 5), (3, 3, 3)], ids=str)
def test_fill_diagonal(shape, rng):
    a = T.tensor("float64", (False,) * len(shape), name="a")
    v = T.dscalar("v")
    av = rand(rng, shape)
    expected = av.copy()
    np.fill_diagonal(expected, 7.0)
    np.testing.assert_array_equal(compile_py([a, v], extra_ops.fill_diagonal(a, v))(av, 7.0),
                                  expected)
    check_grad(lambda x, y: extra_ops.fill_diagonal(x, y) ** 2, [av, 0.3])


@pytest.mark.parametrize("offset", [-2, 0, 1, 4])
def test_fill_diagonal_offset(offset, rng):
    a = T.dmatrix("a")
    k = T.lscalar("k")
    av = rand(rng, (3, 4))
    expected = av.copy()
    rows = np.arange(3)[:, None]
    cols = np.arange(4)[None, :]
    expected[cols - rows == offset] = 5.0
    f = compile_py([a, k], extra_ops.fill_diagonal_offset(a, 5.0, k))
    np.testing.assert_array_equal(f(av, offset), expected)
    check_grad(lambda x, y: extra_ops.fill_diagonal_offset(x, y, offset) ** 2, [av, 0.3])


def test_to_one_hot(rng):
    y = T.lvector("y")
    yv = rng.integers(0, 5, 8)
    out = compile_py([y], extra_ops.to_one_hot(y, 5))(yv)
    np.testing.assert_array_equal(out, np.eye(5)[yv])
    assert out.dtype == np.dtype(config.floatX)
    assert compile_py([y], extra_ops.to_one_hot(y, 5, "int32"))(yv).dtype == np.int32


@pytest.mark.parametrize("order", ["C", "F"])
def test_unravel_and_ravel_multi_index(order, rng):
    i = T.lvector("i")
    dims = (3, 4, 5)
    iv = rng.integers(0, 60, 10)
    coords = extra_ops.unravel_index(i, dims, order=order)
    assert len(coords) == 3
    flat = extra_ops.ravel_multi_index(coords, dims, order=order)
    f = compile_py([i], [*coords, flat])
    *got, back = f(iv)
    for g, e in zip(got, np.unravel_index(iv, dims, order=order)):
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(back, iv)
    d = T.lvector("d")
    with pytest.raises(ValueError, match="length of dims d is unknown"):
        extra_ops.unravel_index(i, d)
    assert len(extra_ops.unravel_index(i, d, ndim=2)) == 2


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
def test_ravel_multi_index_modes(mode):
    a, b = T.lvector("a"), T.lvector("b")
    av, bv = np.array([0, 1, 5]), np.array([-1, 2, 3])
    f = compile_py([a, b], extra_ops.ravel_multi_index([a, b], (3, 4), mode=mode))
    if mode == "raise":
        with pytest.raises(ValueError, match="ravel_multi_index"):
            f(av, bv)
    else:
        np.testing.assert_array_equal(f(av, bv), np.ravel_multi_index((av, bv), (3, 4),
                                                                      mode=mode))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_compress(axis, rng):
    x = T.dmatrix("x")
    c = T.bvector("c")
    xv = rand(rng, (4, 4))
    cv = np.array([1, 0, 1], dtype="int8")  # shorter than the axis, as NumPy allows
    f = compile_py([c, x], extra_ops.compress(c, x, axis=axis))
    np.testing.assert_array_equal(f(cv, xv), np.compress(cv, xv, axis=axis))
    check_grad(lambda v: extra_ops.compress(cv, v, axis=axis), [xv])


def test_extra_ops_cumulative_names():
    x = T.dvector("x")
    xv = np.array([1.0, 2.0, 3.0])
    f = compile_py([x], [extra_ops.cumsum(x), extra_ops.cumprod(x)])
    s, p = f(xv)
    np.testing.assert_array_equal(s, np.cumsum(xv))
    np.testing.assert_array_equal(p, np.cumprod(xv))
