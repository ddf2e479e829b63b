"""Shape ops against NumPy: shape, reshape, flatten, dimshuffle, transpose, alloc, fill,
zeros/ones(_like), arange, concatenate/join/stack."""

from __future__ import annotations

import numpy as np
import pytest
from op_checks import check_grad, check_infer_shape, compile_py, fortran, noncontig, rand

import theanine
import theanine.tensor as T
from theanine import Out
from theanine.gradient import grad


@pytest.mark.parametrize("shape", [(), (3,), (2, 0, 4), (2, 3, 4)])
def test_shape(shape, rng):
    x = T.tensor("float64", (False,) * len(shape), name="x")
    xv = rand(rng, shape)
    f = compile_py([x], [x.shape, T.shape(x)] + [x.shape[i] for i in range(len(shape))])
    got = f(noncontig(xv))
    for g in got[:2]:
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, shape)
    assert tuple(int(g) for g in got[2:]) == shape
    check_infer_shape([x], x.shape, [xv])


def test_view_outputs_do_not_alias_the_inputs(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (2, 3))
    before = xv.copy()
    outs = compile_py([x], [x.reshape((3, 2)), x.T, x.dimshuffle("x", 0, 1), x.flatten(),
                            T.Rebroadcast((False, False))(x)])(xv)
    for out in outs:
        out[...] = 0
    np.testing.assert_array_equal(xv, before)


def test_size(rng):
    x = T.dtensor3("x")
    assert compile_py([x], x.size)(rand(rng, (2, 3, 4))) == 24


# reshape / flatten -------------------------------------------------------------------------
@pytest.mark.parametrize("src, new", [
    ((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1)), ((2, 3, 4), (2, -1, 2)),
    ((6,), (1, 6)), ((6,), (6, 1)), ((), (1, 1)), ((1, 1), ()), ((0, 3), (-1, 3)),
    ((0, 3), (3, 0)), ((2, 3, 4), (24,)),
])
def test_reshape_constant_shape(src, new, rng):
    x = T.tensor("float64", (False,) * len(src), name="x")
    xv = rand(rng, src)
    out = x.reshape(new)
    expected = xv.reshape(new)
    f = compile_py([x], [out, T.reshape(x, new)])
    for arg in (xv, noncontig(xv), fortran(xv)):
        for got in f(arg):
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: v.reshape(new), [xv])


def test_reshape_constant_ones_are_broadcastable():
    x = T.dvector("x")
    assert x.reshape((1, -1)).broadcastable == (True, False)
    assert x.reshape((3, 1)).broadcastable == (False, True)


def test_reshape_symbolic_shape(rng):
    x, m = T.dmatrix("x"), T.dmatrix("m")
    xv, mv = rand(rng, (2, 6)), rand(rng, (3, 4))
    out = x.reshape(m.shape)
    np.testing.assert_array_equal(compile_py([x, m], out)(xv, mv), xv.reshape(3, 4))
    check_infer_shape([x, m], out, [xv, mv])
    n = T.lscalar("n")
    out = x.reshape((n, -1))
    np.testing.assert_array_equal(compile_py([x, n], out)(xv, 4), xv.reshape(4, -1))
    check_infer_shape([x, n], out, [xv, 4])
    s = T.lvector("s")
    out = x.reshape(s, ndim=3)
    np.testing.assert_array_equal(compile_py([x, s], out)(xv, [2, 2, 3]), xv.reshape(2, 2, 3))


def test_reshape_errors(rng):
    x = T.dmatrix("x")
    f = compile_py([x], x.reshape((5, -1)))
    with pytest.raises(ValueError, match=r"reshape.*x.*\(2, 6\)"):
        f(rand(rng, (2, 6)))
    with pytest.raises(ValueError, match="ndim"):
        x.reshape(T.lvector("s"))
    with pytest.raises(TypeError, match="integer"):
        x.reshape(T.dvector("s"), ndim=2)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("shape", [(2, 3, 4), (0, 3, 4), (2, 0, 4)])
def test_flatten(ndim, shape, rng):
    x = T.dtensor3("x")
    xv = rand(rng, shape)
    out = x.flatten(ndim)
    expected = xv.reshape(xv.shape[:ndim - 1] + (int(np.prod(xv.shape[ndim - 1:])),))
    np.testing.assert_array_equal(compile_py([x], out)(noncontig(xv)), expected)
    np.testing.assert_array_equal(compile_py([x], T.flatten(x, ndim))(xv), expected)
    check_infer_shape([x], out, [xv])
    if xv.size:
        check_grad(lambda v: v.flatten(ndim), [xv])


def test_flatten_default_and_bad_ndim(rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    np.testing.assert_array_equal(compile_py([x], x.flatten())(xv.T), xv.T.flatten())
    with pytest.raises(ValueError, match="ndim"):
        x.flatten(3)


# dimshuffle / transpose ----------------------------------------------------------------------
@pytest.mark.parametrize("pattern, src_bcast, src_shape", [
    ((1, 0), (False, False), (3, 4)),
    (("x", 0, 1), (False, False), (3, 4)),
    ((0, "x", 1, "x"), (False, False), (3, 4)),
    ((1,), (True, False), (1, 4)),
    ((0,), (False, True), (3, 1)),
    ((2, 0, 1), (False, False, False), (2, 3, 4)),
    ((), (True, True), (1, 1)),
    (("x",), (), ()),
    ((1, "x", 0), (False, False), (0, 4)),
])
def test_dimshuffle(pattern, src_bcast, src_shape, rng):
    x = T.tensor("float64", src_bcast, name="x")
    xv = rand(rng, src_shape)
    out = x.dimshuffle(*pattern)
    kept = [d for d in pattern if d != "x"]
    dropped = [d for d in range(len(src_shape)) if d not in kept]
    ref = xv.reshape([s for d, s in enumerate(src_shape) if d not in dropped])
    ranks = sorted(kept)
    ref = ref.transpose([ranks.index(d) for d in kept]) if kept else ref
    expected = ref.reshape([1 if d == "x" else src_shape[d] for d in pattern])
    got = compile_py([x], [out, x.dimshuffle(list(pattern)), T.dimshuffle(x, pattern)])(
        noncontig(xv))
    for g in got:
        np.testing.assert_array_equal(g, expected)
    assert out.broadcastable == tuple(True if d == "x" else src_bcast[d] for d in pattern)
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("pattern, src_bcast, src_shape", [
    ((1, 0), (False, False), (3, 4)),
    ((0, "x", 1, "x"), (False, False), (3, 4)),
    ((1,), (True, False), (1, 4)),
    ((2, 0, 1), (False, False, False), (2, 3, 4)),
    ((), (True, True), (1, 1)),
    (("x",), (), ()),
])
def test_dimshuffle_grad(pattern, src_bcast, src_shape, rng):
    check_grad(lambda v: _rebroadcast(v, src_bcast).dimshuffle(*pattern), [rand(rng, src_shape)])


def test_dimshuffle_grad_of_a_scalar_output(rng):
    m, s = T.tensor("float64", (True, True), name="m"), T.dscalar("s")
    g_m, g_s = grad(m.dimshuffle(()).sum() * 3 + s.dimshuffle("x").sum() * 2, [m, s])
    got_m, got_s = compile_py([m, s], [g_m, g_s])(np.ones((1, 1)), 1.0)
    np.testing.assert_array_equal(got_m, [[3.0]])
    assert got_s == 2.0


def _rebroadcast(v, pattern):
    from theanine.tensor.basic import Rebroadcast

    return Rebroadcast(pattern)(v) if any(pattern) else v


def test_dimshuffle_errors():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="not broadcastable"):
        x.dimshuffle(0)
    with pytest.raises(ValueError, match="repeats"):
        x.dimshuffle(0, 0)
    with pytest.raises(ValueError, match="no dimension 2"):
        x.dimshuffle(0, 2)


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (-1, 0, 1)])
def test_transpose(axes, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (2, 3, 4))
    out = T.transpose(x, axes)
    expected = np.transpose(xv, axes)
    method = x.transpose() if axes is None else x.transpose(*axes)
    for g in compile_py([x], [out, method])(fortran(xv)):
        np.testing.assert_array_equal(g, expected)
    check_infer_shape([x], out, [xv])
    check_grad(lambda v: T.transpose(v, axes), [xv])


def test_dot_T_attribute(rng):
    x, v = T.dmatrix("x"), T.dvector("v")
    xv, vv = rand(rng, (3, 4)), rand(rng, (5,))
    got = compile_py([x, v], [x.T, v.T])(xv, vv)
    np.testing.assert_array_equal(got[0], xv.T)
    np.testing.assert_array_equal(got[1], vv)


# alloc / fill / zeros / ones -------------------------------------------------------------------
@pytest.mark.parametrize("value_shape, bcast, out_shape", [
    ((), (), (2, 3)),
    ((3,), (False,), (2, 3)),
    ((1, 3), (True, False), (4, 3)),
    ((2, 1), (False, True), (2, 5)),
    ((), (), (0, 3)),
    ((3,), (False,), (3,)),
])
def test_alloc(value_shape, bcast, out_shape, rng):
    v = T.tensor("float64", bcast, name="v")
    n = T.lscalar("n")
    vv = rand(rng, value_shape)
    out = T.alloc(v, n, *out_shape[1:])
    expected = np.broadcast_to(vv, out_shape)
    got = compile_py([v, n], out)(vv, out_shape[0])
    np.testing.assert_array_equal(got, expected)
    got[...] = 0  # the result is a fresh writable array
    check_infer_shape([v, n], out, [vv, out_shape[0]])
    if np.prod(out_shape):
        check_grad(lambda a: T.alloc(_rebroadcast(a, bcast), *out_shape), [vv])


def test_alloc_broadcastable_pattern():
    assert T.alloc(T.dscalar("s"), 1, 3).broadcastable == (True, False)
    assert T.alloc(T.dscalar("s"), T.lscalar("n"), 3).broadcastable == (False, False)


def test_alloc_refuses_to_stretch_a_non_broadcastable_dimension(rng):
    v = T.dvector("v")
    f = compile_py([v], T.alloc(v, 3, 4))
    np.testing.assert_array_equal(f(np.arange(4.0)), np.broadcast_to(np.arange(4.0), (3, 4)))
    with pytest.raises(ValueError, match=r"alloc.*v.*not broadcastable"):
        f(np.ones(1))


def test_alloc_with_too_few_dims():
    with pytest.raises(TypeError, match="alloc"):
        T.alloc(T.dmatrix("m"), 3)


@pytest.mark.parametrize("value", [0, 1.5, True])
def test_fill(value, rng):
    x = T.fmatrix("x")
    xv = rand(rng, (3, 4), "float32")
    out = T.fill(x, value)
    expected = np.full_like(xv, value)
    got = compile_py([x], out)(xv)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])


def test_fill_with_symbolic_value(rng):
    x, s = T.dmatrix("x"), T.dscalar("s")
    out = T.fill(x, s)
    np.testing.assert_array_equal(compile_py([x, s], out)(rand(rng, (2, 3)), 4.0),
                                  np.full((2, 3), 4.0))
    g = grad(out.sum(), s)
    assert compile_py([x, s], g)(rand(rng, (2, 3)), 4.0) == 6.0


@pytest.mark.parametrize("fn, ref", [(T.zeros_like, np.zeros_like), (T.ones_like, np.ones_like)])
@pytest.mark.parametrize("dtype", [None, "int32", "float32"])
def test_zeros_ones_like(fn, ref, dtype, rng):
    x = T.dtensor3("x")
    xv = rand(rng, (2, 0, 3)) if dtype == "int32" else rand(rng, (2, 1, 3))
    out = fn(x, dtype=dtype)
    expected = ref(xv, dtype=dtype)
    got = compile_py([x], out)(xv)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([x], out, [xv])


@pytest.mark.parametrize("fn, ref", [(T.zeros, np.zeros), (T.ones, np.ones)])
def test_zeros_ones(fn, ref, rng):
    n = T.lscalar("n")
    x = T.dmatrix("x")
    xv = rand(rng, (2, 5))
    outs = [fn((2, 3)), fn((n, 3), dtype="int32"), fn(x.shape), fn((x.shape[1],), "float64"),
            fn(x.shape, dtype="int8")]
    got = compile_py([n, x], outs)(4, xv)
    expected = [ref((2, 3), "float32"), ref((4, 3), "int32"), ref((2, 5), "float32"),
                ref((5,), "float64"), ref((2, 5), "int8")]
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_zeros_with_an_unknown_length_shape_is_a_clear_error():
    with pytest.raises((TypeError, ValueError), match="length"):
        T.zeros(T.lvector("s"))


# arange --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(5,), (2, 7), (7, 2, -1), (1, 10, 3), (0,), (5, 2),
                                  (0.5, 3.0, 0.5), (3, 1, -0.5), (-4, 4, 3)])
def test_arange_constant(args, rng):
    out = T.arange(*args)
    expected = np.arange(*args)
    assert out.dtype == str(expected.dtype)
    got = compile_py([], out)()
    np.testing.assert_array_equal(got, expected)
    check_infer_shape([], out, [])


@pytest.mark.parametrize("start, stop, step", [(0, 5, 1), (5, 0, -2), (3, 3, 1), (-2, 9, 4)])
def test_arange_symbolic(start, stop, step):
    a, b, c = T.lscalar("a"), T.lscalar("b"), T.lscalar("c")
    out = T.arange(a, b, c)
    np.testing.assert_array_equal(compile_py([a, b, c], out)(start, stop, step),
                                  np.arange(start, stop, step))
    check_infer_shape([a, b, c], out, [start, stop, step])
    n = T.iscalar("n")
    out = T.arange(n)
    assert out.dtype == "int64"
    np.testing.assert_array_equal(compile_py([n], out)(stop), np.arange(stop))


def test_arange_dtype():
    out = T.arange(0, 3, dtype="float32")
    assert out.dtype == "float32"
    np.testing.assert_array_equal(compile_py([], out)(), np.arange(0, 3, dtype="float32"))


def test_arange_rejects_non_scalar_bounds():
    with pytest.raises(TypeError, match="scalar"):
        T.arange(T.lvector("v"))


# concatenate / join / stack -----------------------------------------------------------------
@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 0)], 1), ([(2, 3), (2, 5)], -1),
    ([(3,), (0,), (2,)], 0), ([(2, 3, 4), (2, 2, 4)], 1), ([(2, 3)], 0),
])
def test_concatenate(shapes, axis, rng):
    xs = [T.tensor("float64", (False,) * len(s), name=f"x{k}") for k, s in enumerate(shapes)]
    vals = [rand(rng, s) for s in shapes]
    out = T.concatenate(xs, axis=axis)
    expected = np.concatenate(vals, axis=axis)
    f = compile_py(xs, [out, T.join(axis, *xs)])
    for got in f(*vals) + f(*[noncontig(v) for v in vals]):
        np.testing.assert_array_equal(got, expected)
    check_infer_shape(xs, out, vals)
    check_grad(lambda *a: T.concatenate(a, axis=axis), vals)


def test_concatenate_promotes_dtypes(rng):
    a, b = T.ivector("a"), T.fvector("b")
    out = T.concatenate([a, b])
    av, bv = rand(rng, (2,), "int32", 0, 5), rand(rng, (3,), "float32")
    expected = np.concatenate([av, bv])
    assert out.dtype == str(expected.dtype)
    np.testing.assert_array_equal(compile_py([a, b], out)(av, bv), expected)


def test_concatenate_mismatch_names_inputs(rng):
    a, b = T.dmatrices("a", "b")
    f = compile_py([a, b], T.concatenate([a, b], axis=0))
    with pytest.raises(ValueError, match=r"a.*b"):
        f(rand(rng, (2, 3)), rand(rng, (2, 4)))
    with pytest.raises(TypeError, match="rank"):
        T.concatenate([a, T.dvector("v")])
    with pytest.raises(ValueError, match="axis"):
        T.concatenate([a, b], axis=2)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(axis, rng):
    xs = T.dmatrices("a", "b", "c")
    vals = [rand(rng, (2, 3)) for _ in xs]
    out = T.stack(xs, axis=axis)
    expected = np.stack(vals, axis=axis)
    np.testing.assert_array_equal(compile_py(xs, out)(*[fortran(v) for v in vals]), expected)
    check_infer_shape(xs, out, vals)
    check_grad(lambda *a: T.stack(a, axis=axis), vals)


def test_stack_scalars_and_literals(rng):
    a, b = T.fscalar("a"), T.fscalar("b")
    out = T.stack([a, b, 0])
    assert out.dtype == "float32"
    np.testing.assert_array_equal(compile_py([a, b], out)(1.5, 2.5), np.array([1.5, 2.5, 0]))
    out = T.as_tensor_variable([a, b])
    np.testing.assert_array_equal(compile_py([a, b], out)(1.5, 2.5), np.array([1.5, 2.5]))


# MakeVector / Rebroadcast ---------------------------------------------------------------------
def test_make_vector(rng):
    a, b = T.dscalars("a", "b")
    out = T.MakeVector("float64")(a, b, 3)
    np.testing.assert_array_equal(compile_py([a, b], out)(1.5, -2.0), [1.5, -2.0, 3.0])
    check_infer_shape([a, b], out, [1.5, -2.0])
    check_grad(lambda u, v: T.MakeVector("float64")(u, v * 2), [np.array(0.3), np.array(0.7)])
    with pytest.raises(TypeError, match="scalars"):
        T.MakeVector("int64")(T.lvector("v"))


def test_rebroadcast(rng):
    x = T.dmatrix("x")
    out = T.Rebroadcast((True, False))(x)
    assert out.broadcastable == (True, False)
    f = compile_py([x], out)
    xv = rand(rng, (1, 4))
    np.testing.assert_array_equal(f(xv), xv)
    check_infer_shape([x], out, [xv])
    with pytest.raises(ValueError, match=r"dimension 0 of x.*size 1"):
        f(rand(rng, (2, 4)))


# Edge cases across the constructors: empty and non-contiguous inputs ---------------------------
@pytest.mark.parametrize("shape", [(0, 3, 2), (2, 0, 1)])
def test_transpose_stack_fill_of_empty_tensors(shape, rng):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    xv, yv = rand(rng, shape), rand(rng, shape)
    outs = [x.T, T.transpose(x, (1, -1, 0)), T.stack([x, y], axis=-2), T.fill(x, 2.5),
            T.ones_like(x), T.concatenate([x, y], axis=-3)]
    expected = [xv.T, np.transpose(xv, (1, -1, 0)), np.stack([xv, yv], axis=-2),
                np.full_like(xv, 2.5), np.ones_like(xv), np.concatenate([xv, yv], axis=-3)]
    for got, want in zip(compile_py([x, y], outs)(noncontig(xv), fortran(yv)), expected):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for out in outs:
        check_infer_shape([x, y], out, [xv, yv])


def test_dimshuffle_dropping_every_dimension_returns_a_0d_array_view():
    from theanine.compile.mode import Mode
    from theanine.tensor.basic import Rebroadcast

    x = T.dmatrix("x")
    y = Rebroadcast((True, True))(x).dimshuffle(())
    f = theanine.function([x], Out(y, borrow=True), mode=Mode(optimizer=None))
    xv = np.array([[5.0]])
    r = f(xv)
    storage = getattr(f.maker.backend, "storage", None)
    if storage is not None:  # a borrowed output of a device backend stays on the device
        assert storage.is_device(r) and r.shape == ()
        r = storage.to_host(r)
    assert type(r) is np.ndarray and r.shape == () and r == 5.0
