"""Issue 11, the semantics that broke ported Theano programs: truthiness, softmax of a vector,
NumPy operands on either side, the constructors, the Elemwise op instances, reduction
accumulators, the stabilized cross-entropy and argmax over several axes.  Checked against
NumPy, naive loops and numerical gradients."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest
from op_checks import check_grad, compile_py, rand

import theanine
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.config import config
from theanine.plugins import get_registry
from theanine.printing import debugprint
from theanine.tensor import math as tm
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.type import TensorType


# 1. Truthiness ---------------------------------------------------------------------------------
def test_variables_are_truthy_as_in_theano():
    W = theanine.shared(np.zeros(3), name="W")
    x = T.dvector("x")
    for v in (W, x, x + 1, T.constant(0.0), T.exp(x).sum()):
        assert bool(v) is True
    taken = []
    if not W:
        taken.append("not W")
    if x:
        taken.append("x")
    assert taken == ["x"]


@pytest.mark.parametrize("build", [operator.lt, operator.le, operator.gt, operator.ge,
                                   T.eq, T.neq, T.lt], ids=str)
def test_comparisons_refuse_bool(build):
    x, y = T.dvectors("x", "y")
    with pytest.raises(TypeError, match="has no truth value; use T.switch"):
        bool(build(x, y))


def test_chained_comparison_is_refused():
    a, b, c = T.dscalars("abc")
    with pytest.raises(TypeError, match="no truth value"):
        a < b < c  # noqa: B015 (the comparison is what is tested)


# 2. softmax of a vector ------------------------------------------------------------------------
def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_of_a_vector_is_a_row(rng):
    v = T.dvector("v")
    out = T.nnet.softmax(v)
    assert out.type == TensorType("float64", (True, False))
    vv = rand(rng, (5,), low=-3, high=3)
    got = compile_py([v], out)(vv)
    assert got.shape == (1, 5)
    np.testing.assert_allclose(got, _np_softmax(vv)[None, :], rtol=1e-13)


def test_softmax_of_a_vector_gradient(rng):
    vv = rand(rng, (4,), low=-2, high=2)
    w = rand(rng, (1, 4))
    check_grad(lambda v: T.nnet.softmax(v) * w, [vv])
    v = T.dvector("v")
    g = theanine.grad((T.nnet.softmax(v) * w).sum(), v)
    assert g.type == v.type
    sm = _np_softmax(vv)
    np.testing.assert_allclose(compile_py([v], g)(vv), sm * (w[0] - (w[0] * sm).sum()),
                               rtol=1e-12)


def test_softmax_of_a_vector_with_an_explicit_axis_keeps_its_shape(rng):
    v = T.dvector("v")
    vv = rand(rng, (5,))
    got = compile_py([v], T.nnet.softmax(v, axis=-1))(vv)
    np.testing.assert_allclose(got, _np_softmax(vv), rtol=1e-13)
    m = T.dmatrix("m")
    mv = rand(rng, (3, 4))
    np.testing.assert_allclose(compile_py([m], T.nnet.softmax(m))(mv), _np_softmax(mv),
                               rtol=1e-13)


# 3. NumPy values on either side of every operator -------------------------------------------
_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
           "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "<": operator.lt,
           "<=": operator.le, ">": operator.gt, ">=": operator.ge, "&": operator.and_,
           "|": operator.or_, "^": operator.xor}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@pytest.mark.parametrize("value", [np.float32(0.5), np.asarray(0.5), np.ones(3), np.int64(3),
                                   np.arange(1, 4, dtype="int16")], ids=repr)
def test_numpy_value_on_either_side_builds_the_graph_numpy_computes(dtype, value):
    x = T.tensor(dtype, (False,), name="x")
    xv = np.array([1, 2, 5]).astype(dtype)
    failures = []
    for (sym, fn), left in itertools.product(_BINARY.items(), (True, False)):
        args = (value, xv) if left else (xv, value)
        try:
            with np.errstate(all="ignore"):
                expected = np.asarray(fn(*args))
        except TypeError:
            with pytest.raises(TypeError):
                fn(value, x) if left else fn(x, value)
            continue
        out = fn(value, x) if left else fn(x, value)
        assert out.owner is not None, f"{sym} left={left} did not build a graph"
        with np.errstate(all="ignore"):
            got = compile_py([x], out)(xv)
        if out.dtype != str(expected.dtype) or not np.allclose(got, expected, rtol=1e-6):
            failures.append(f"{value!r} {sym} x (left={left}): {out.dtype} {got}, NumPy "
                            f"{expected.dtype} {expected}")
    assert not failures, "\n".join(failures)


def test_numpy_matrix_at_variable(rng):
    m = T.dmatrix("m")
    a, mv = rand(rng, (2, 3)), rand(rng, (3, 4))
    np.testing.assert_allclose(compile_py([m], a @ m)(mv), a @ mv, rtol=1e-13)
    np.testing.assert_allclose(compile_py([m], mv @ m.T)(mv), mv @ mv.T, rtol=1e-13)


def test_numpy_scalar_times_float32_gradient_stays_float32():
    g = T.fvector("g")
    assert (np.float32(0.1) * g).dtype == "float32"
    assert (np.asarray(0.1, dtype="float32") * g).dtype == "float32"


# 4. Constructors -------------------------------------------------------------------------------
_KINDS = {"scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
          "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "c": "complex64", "z": "complex128"}


@pytest.mark.parametrize("prefix, kind", list(itertools.product(_PREFIXES, _KINDS)))
def test_typed_constructors_are_callable_tensor_types(prefix, kind):
    typ = getattr(T, prefix + kind)
    assert isinstance(typ, TensorType)
    assert typ == TensorType(_PREFIXES[prefix], _KINDS[kind])
    named, unnamed = typ("a"), typ()
    assert named.name == "a" and unnamed.name is None
    assert named.type == typ and unnamed.type == typ


@pytest.mark.parametrize("prefix, kind", list(itertools.product([""] + list(_PREFIXES), _KINDS)))
def test_plural_constructors_split_a_string(prefix, kind):
    plural = getattr(T, prefix + ("matrices" if kind == "matrix" else kind + "s"))
    dtype = _PREFIXES.get(prefix, config.floatX)
    expected = TensorType(dtype, _KINDS[kind])
    xs = plural("xyz")
    assert [v.name for v in xs] == ["x", "y", "z"]
    assert all(v.type == expected for v in xs)
    assert [v.name for v in plural("ab", "cd")] == ["ab", "cd"]
    assert [v.name for v in plural(["p", "q"])] == ["p", "q"]
    single = plural("w")  # Theano: one name gives the variable itself
    assert single.name == "w" and single.type == expected
    assert [v.name for v in plural(3)] == [None] * 3
    assert plural(3)[0] is not plural(3)[1]


def test_floatx_constructors_stay_functions():
    assert not isinstance(T.scalar, TensorType) and not isinstance(T.matrix, TensorType)
    with config.change_flags(floatX="float64"):
        assert T.matrix("m").type == T.dmatrix
        assert T.scalars("ab")[1].dtype == "float64"
    with config.change_flags(floatX="float32"):
        assert T.matrix().type == T.fmatrix
    assert T.vector("v", dtype="int32").type == T.ivector


def test_plural_constructor_rejects_bad_names():
    with pytest.raises(TypeError, match="dscalars: variable names must be strings, got float"):
        T.dscalars("a", 1.5)


# 5. Elemwise op instances ---------------------------------------------------------------------
_THEANO_ELEMWISE = ["add", "sub", "mul", "true_div", "int_div", "mod", "pow", "neg", "abs",
                    "exp", "log", "log1p", "sqrt", "sqr", "tanh", "sin", "cos", "maximum",
                    "minimum", "floor", "ceil", "sgn", "eq", "neq", "lt", "gt", "le", "ge",
                    "and_", "or_", "xor", "invert", "erf", "gammaln", "arctan2", "isnan"]


@pytest.mark.parametrize("name", _THEANO_ELEMWISE)
def test_elemwise_functions_are_op_instances_printed_as_theano(name):
    op = getattr(T, name)
    assert isinstance(op, Elemwise)
    assert str(op) == repr(op) == f"Elemwise{{{op.scalar_op},no_inplace}}"


def test_add_and_mul_instances_keep_nary_calls_and_weak_literals(rng):
    x = T.fvector("x")
    assert (x * 2).dtype == T.mul(x, 2).dtype == T.add(x, 1, 2).dtype == "float32"
    a, b, c = T.dvectors("abc")
    av, bv, cv = (rand(rng, (3,)) for _ in range(3))
    f = compile_py([a, b, c], [T.add(a, b, c), T.mul(a, b, c, 2.0)])
    got_s, got_p = f(av, bv, cv)
    np.testing.assert_allclose(got_s, av + bv + cv, rtol=1e-14)
    np.testing.assert_allclose(got_p, av * bv * cv * 2.0, rtol=1e-14)
    with pytest.raises(TypeError, match="add takes at least 2 inputs, got 1"):
        T.add(a)


def test_debugprint_shows_theano_op_names():
    x, y = T.dvectors("x", "y")
    text = debugprint(T.exp(x + y), file="str")
    assert text.splitlines() == ["Elemwise{exp,no_inplace} [id A] ''",
                                 " |Elemwise{add,no_inplace} [id B] ''",
                                 " | |x [id C]", " | |y [id D]"]
    f = theanine.function([x, y], T.exp(x + y) * 2, mode=Mode("python", "fast_run"))
    printed = debugprint(f, file="str")
    assert "Elemwise{Composite{" in printed and "no_inplace" not in printed


# 6. Reduction accumulators -------------------------------------------------------------------
def _backends():
    entry = get_registry().backends.get("c")
    c_ok = entry is not None and entry[0].is_available()[0]
    return ["python", pytest.param("c", marks=pytest.mark.skipif(not c_ok,
                                                                 reason="backend c unavailable"))]


def _ill_conditioned(n=200_001):
    """1e4 followed by many small values: a float32 accumulator drops the small ones."""
    xv = np.full(n, 1e-4, dtype="float32")
    xv[0] = 1e4
    return xv


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_float32_reductions_accumulate_in_float64(backend, reduction):
    x = T.fvector("x")
    xv = _ill_conditioned()
    naive32 = np.float32(0)
    for v in xv[:1000]:  # a float32 running sum loses every small term after 1e4
        naive32 = np.float32(naive32 + v)
    assert naive32 == np.float32(1e4)
    out = getattr(T, reduction)(x)
    with config.change_flags(tiered=False):
        got = theanine.function([x], out, mode=Mode(backend, "fast_run"))(xv)
    exact = xv.astype("float64").sum()
    expected = np.float32(exact) if reduction == "sum" else np.float32(exact) / np.float32(
        xv.size)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-7)
    assert out.owner.op.acc_dtype == "float64" if reduction == "sum" else True


@pytest.mark.parametrize("backend", _backends())
def test_explicit_float32_accumulator_is_honoured(backend):
    x = T.fmatrix("x")
    xv = np.tile(_ill_conditioned(4097), (2, 1))
    out = T.sum(x, axis=1, acc_dtype="float32")
    assert out.owner.op.acc_dtype == "float32"
    with config.change_flags(tiered=False):
        got = theanine.function([x], out, mode=Mode(backend, "fast_run"))(xv)
    exact = np.float32(xv.astype("float64").sum(axis=1))
    # a float32 accumulator misses the correctly rounded sum a float64 one gives
    assert got.dtype == np.float32 and np.all(got != exact)
    np.testing.assert_allclose(got, exact, rtol=1e-3)


def test_float32_dot_product_sum_keeps_its_accumulator():
    """sum(x * y) of float32 vectors is not handed to BLAS's float32 dot."""
    x, y = T.fvectors("xy")
    xv = _ill_conditioned(50_001)
    yv = np.ones_like(xv)
    f = theanine.function([x, y], T.sum(x * y), mode=Mode("python", "fast_run"))
    assert f(xv, yv) == np.float32((xv.astype("float64") * yv).sum())
    g = theanine.function([x, y], T.sum(x * y, acc_dtype="float32"),
                          mode=Mode("python", "fast_run"))
    assert any(isinstance(n.op, T.Dot) for n in g.maker.fgraph.apply_nodes)


def test_float16_reductions_accumulate_in_float32(rng):
    h = T.tensor("float16", (False,), name="h")
    hv = np.full(5000, 1.0, dtype="float16")  # float16 counts only up to 2048 exactly
    for fn in (T.sum, T.mean):
        out = fn(h)
        assert out.dtype == "float16"
        got = compile_py([h], out)(hv)
        assert got == (np.float16(5000) if fn is T.sum else np.float16(1))
    assert T.sum(h).owner.op.acc_dtype == "float32"


def test_dtype_and_acc_dtype_keep_theano_meaning(rng):
    x, i = T.fmatrix("x"), T.ivector("i")
    xv, iv = rand(rng, (3, 4), "float32"), np.array([3, -7, 2**30], dtype="int32")
    cases = {
        "sum64": (T.sum(x, dtype="float64"), xv.astype("float64").sum(), "float64"),
        "mean64": (T.mean(x, axis=0, dtype="float64"), xv.astype("float64").mean(0), "float64"),
        "prod": (x.prod(axis=1, acc_dtype="float64"), xv.astype("float64").prod(1), "float32"),
        "isum": (T.sum(i), np.int64(iv).sum(), "int64"),
        "imean": (T.mean(i), iv.astype("float64").mean(), "float64"),
        "isum_f": (i.sum(acc_dtype="float64"), iv.astype("float64").sum(), "int64"),
        "method": (x.mean(axis=1, dtype="float64"), xv.astype("float64").mean(1), "float64"),
    }
    f = compile_py([x, i], [c[0] for c in cases.values()])
    for (name, (out, want, dtype)), got in zip(cases.items(), f(xv, iv)):
        assert out.dtype == got.dtype == dtype, name
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)


def test_narrower_accumulator_is_refused():
    with pytest.raises(TypeError, match="acc_dtype float32 cannot hold the values of x"):
        T.sum(T.dvector("x"), acc_dtype="float32")
    with pytest.raises(TypeError, match="acc_dtype int8 cannot hold"):
        T.prod(T.ivector("x"), acc_dtype="int8")
    with pytest.raises(TypeError, match="dtype int32 is not a float"):
        T.mean(T.dvector("x"), dtype="int32")


def test_reduction_gradient_with_acc_dtype(rng):
    check_grad(lambda a: T.sum(a * a, axis=0, acc_dtype="float64"), [rand(rng, (3, 2))])
    check_grad(lambda a: T.mean(a, axis=1, dtype="float64"), [rand(rng, (3, 2))])


# 7. Stable cross-entropy ---------------------------------------------------------------------
def _np_log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("labels", ["one_hot", "integers"])
def test_crossentropy_of_softmax_is_finite_for_huge_logits(labels):
    x = T.dmatrix("x")
    xv = np.array([[1e7, 0.0, -1e7], [0.0, 1e7, 3.0], [2.0, 1.0, 0.5]])
    lab = np.array([1, 2, 0])
    if labels == "one_hot":
        y, yv = T.dmatrix("y"), np.eye(3)[lab]
    else:
        y, yv = T.lvector("y"), lab
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y)
    f = theanine.function([x, y], [cost, theanine.grad(cost.sum(), x)],
                          mode=Mode("python", "fast_run"))
    got_cost, got_grad = f(xv, yv)
    logp = _np_log_softmax(xv)
    np.testing.assert_allclose(got_cost, -logp[np.arange(3), lab], rtol=1e-12)
    want_grad = np.exp(logp) - np.eye(3)[lab]  # d(-log softmax_y)/dx = softmax - onehot
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-12)


def test_integer_label_crossentropy_gradient_matches_numerical(rng):
    lab = np.array([0, 2, 1, 2])
    check_grad(lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), lab),
               [rand(rng, (4, 3))])


# 8. argmax over several axes; max_and_argmax -------------------------------------------------
def _naive_arg(xv, axes, pick):
    """The index into the reduced axes flattened in C order, by a loop over the kept ones."""
    keep = [d for d in range(xv.ndim) if d not in axes]
    out = np.empty([xv.shape[d] for d in keep], dtype="int64")
    for idx in np.ndindex(*out.shape):
        sel = [slice(None)] * xv.ndim
        for d, k in zip(keep, idx):
            sel[d] = k
        block = xv[tuple(sel)]  # the reduced axes, in their order
        flat = block.reshape(-1)
        out[idx] = pick(range(flat.size), key=lambda j: (flat[j], -j))
    return out


@pytest.mark.parametrize("axes", [(0, 1), (1, 2), (0, 2), [2, 0], (0, 1, 2), (-1, -3)], ids=str)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_argmax_over_several_axes(kind, axes, rng):
    x = T.dtensor3("x")
    xv = rng.integers(0, 4, (2, 3, 4)).astype("float64")  # ties: the first index wins
    out = getattr(T, kind)(x, axis=axes)
    got = compile_py([x], out)(xv)
    norm = sorted(a % 3 for a in axes)
    if kind == "argmax":
        want = _naive_arg(xv, norm, max)
    else:
        want = _naive_arg(-xv, norm, max)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    kept = compile_py([x], getattr(T, kind)(x, axis=axes, keepdims=True))(xv)
    np.testing.assert_array_equal(kept, np.expand_dims(want, tuple(norm)))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
def test_max_and_argmax(axis, rng):
    x = T.dmatrix("x")
    xv = rand(rng, (3, 4))
    mx, am = tm.max_and_argmax(x, axis)
    got_max, got_arg = compile_py([x], [mx, am])(xv)
    if axis == (0, 1):
        axis = None
    np.testing.assert_array_equal(got_max, xv.max(axis=axis))
    np.testing.assert_array_equal(got_arg, xv.argmax(axis=axis))
