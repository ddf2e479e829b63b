"""Regression tests for the op and semantics defects found by fuzzing (issue 9), each checked
against NumPy, a naive loop or numerical gradients."""

from __future__ import annotations

import itertools
import operator
import pickle
import warnings

import numpy as np
import pytest
import scipy.special as sp

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.gradient import verify_grad
from theanine.graph.basic import Constant, graph_inputs
from theanine.scalar import basic as ps
from theanine.tensor.elemwise import Elemwise

FAST = Mode(optimizer="fast_run")
NONE = Mode(optimizer=None)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64",
          "complex64", "complex128"]


def _ops(f):
    return [n.op for n in f.maker.fgraph.toposort()]


# 1. inplace Elemwise and the run-time broadcast check -----------------------------------------
def _dot_times_y():
    m, x, y = T.dmatrix("m"), T.dvector("x"), T.dvector("y")
    return [m, x, y], T.dot(m, x) * y


def test_inplace_elemwise_refuses_to_stretch_a_non_broadcastable_dimension():
    inputs, out = _dot_times_y()
    f_fast, f_none = th.function(inputs, out, mode=FAST), th.function(inputs, out, mode=NONE)
    assert any(isinstance(op, Elemwise) and op.inplace_pattern for op in _ops(f_fast))
    m, x = np.ones((3, 2)), np.array([2.0, 3.0])
    for f in (f_fast, f_none):
        with pytest.raises(ValueError, match="not broadcastable"):
            f(m, x, np.array([1.0]))
        y = np.array([1.0, -2.0, 0.5])
        np.testing.assert_allclose(f(m, x, y), np.dot(m, x) * y)


def test_inplace_thunk_checks_operands_against_the_overwritten_input():
    a, b = T.dvector("a"), T.dvector("b")
    node = Elemwise(ps.add, ((0, 0),)).make_node(a, b)
    thunk = node.op.python_thunk(node)
    with pytest.raises(ValueError, match="not broadcastable"):
        thunk(np.ones(3), np.ones(1))
    with pytest.raises(ValueError, match="not broadcastable"):
        thunk(np.ones(1), np.ones(3))  # the overwritten input itself is the short one
    target = np.ones(3)
    (r,) = thunk(target, np.arange(3.0))
    assert r is target and np.array_equal(r, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("mode", [FAST, NONE], ids=["fast_run", "none"])
def test_gradient_alone_refuses_mismatched_lengths(mode):
    # the gradient of y never computes dot(m, x) * y, only reads its shape
    (m, x, y), out = _dot_times_y()
    g = th.function([m, x, y], th.grad(out.sum(), y), mode=mode)
    mv, xv = np.ones((3, 2)), np.array([2.0, 3.0])
    with pytest.raises(ValueError, match="not broadcastable|never stretched"):
        g(mv, xv, np.array([1.0]))
    np.testing.assert_allclose(g(mv, xv, np.zeros(3)), np.dot(mv, xv))


def test_product_gradient_keeps_its_shape_check_and_values():
    a, b = T.dvector("a"), T.dvector("b")
    ga = th.function([a, b], th.grad((a * b).sum(), a), mode=FAST)
    bv = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(ga(np.zeros(3), bv), bv)
    with pytest.raises(ValueError):
        ga(np.zeros(1), bv)


# 3. advanced indices separated by an (empty) ellipsis ----------------------------------------
_S = slice(None)
INDEX_PATTERNS = {
    "adjacent": lambda a, b: (_S, a, b),
    "split_by_slice": lambda a, b: (a, _S, b),
    "split_by_empty_ellipsis": lambda a, b: (_S, a, Ellipsis, b),
    "split_by_ellipsis": lambda a, b: (a, Ellipsis, b),
    "split_by_none": lambda a, b: (_S, a, None, b),
    "none_and_empty_ellipsis": lambda a, b: (None, _S, a, Ellipsis, b),
    "leading_ellipsis": lambda a, b: (Ellipsis, a, b),
    "trailing_ellipsis": lambda a, b: (a, b, Ellipsis),
    "int_and_empty_ellipsis": lambda a, b: (_S, 1, Ellipsis, b),
    "int_split_by_ellipsis": lambda a, b: (1, Ellipsis, b),
}


@pytest.mark.parametrize("pattern", sorted(INDEX_PATTERNS))
@pytest.mark.parametrize("symbolic", [True, False], ids=["symbolic", "constant"])
def test_advanced_index_placement(pattern, symbolic, rng):
    make = INDEX_PATTERNS[pattern]
    xv = rng.normal(size=(2, 3, 4))
    av, bv = np.array([1, 0, 1]), np.array([0, 2, 1])
    expected = xv[make(av, bv)]
    x, a, b = T.dtensor3("x"), T.lvector("a"), T.lvector("b")
    sub = x[make(a, b) if symbolic else make(av, bv)]
    y = T.tensor("float64", (False,) * expected.ndim, name="y")
    f = th.function([x, a, b, y], [sub, sub.shape, T.set_subtensor(sub, y),
                                   T.inc_subtensor(sub, y)], on_unused_input="ignore")
    yv = rng.normal(size=expected.shape)
    got, shape, set_, inc = f(xv, av, bv, yv)
    np.testing.assert_array_equal(got, expected)
    assert tuple(shape) == expected.shape
    want_set, want_inc = xv.copy(), xv.copy()
    want_set[make(av, bv)] = yv
    np.add.at(want_inc, make(av, bv), yv)
    np.testing.assert_array_equal(set_, want_set)
    np.testing.assert_allclose(inc, want_inc)


def test_advanced_index_placement_gradient(rng):
    verify_grad(lambda v: v[:, [1, 2], ..., [0, 3]] ** 2, [rng.normal(size=(2, 3, 4))])


# 4. products with empty operands --------------------------------------------------------------
_EMPTY_SHAPES = {1: [(0,), (3,)], 2: [(0, 3), (2, 0), (0, 0), (2, 3)],
                 3: [(0, 2, 3), (2, 0, 3), (2, 3, 0), (2, 2, 3)]}


def _batched_dot_reference(a, b):
    """A naive loop over the batch: a[i] · b[i]."""
    if a.shape[0] != b.shape[0] or a.shape[-1] != b.shape[1]:
        raise ValueError("shapes do not match")
    rows = [np.dot(a[i], b[i]) for i in range(a.shape[0])]
    tail = a.shape[1:-1] + b.shape[2:]
    return np.array(rows).reshape((a.shape[0],) + tail)


def _product_cases():
    for xn, yn in itertools.product((1, 2, 3), repeat=2):
        for xs, ys in itertools.product(_EMPTY_SHAPES[xn], _EMPTY_SHAPES[yn]):
            if 0 not in xs + ys:
                continue
            yield "matmul", T.matmul, np.matmul, xs, ys
            yield "dot", T.dot, np.dot, xs, ys
            for n in range(min(xn, yn) + 1):
                yield (f"tensordot{n}", lambda a, b, n=n: T.tensordot(a, b, n),
                       lambda a, b, n=n: np.tensordot(a, b, n), xs, ys)
            if xn >= 2 and yn >= 2:
                yield "batched_dot", T.batched_dot, _batched_dot_reference, xs, ys


def test_products_of_empty_operands_as_numpy():
    failures = []
    for name, fn, ref, xs, ys in _product_cases():
        xv, yv = np.ones(xs), np.ones(ys)
        try:
            expected = ref(xv, yv)
        except ValueError:
            expected = None
        x = T.tensor("float64", (False,) * len(xs), name="x")
        y = T.tensor("float64", (False,) * len(ys), name="y")
        try:
            out = fn(x, y)
            got, shape = th.function([x, y], [out, out.shape])(xv, yv)
        except ValueError:
            if expected is not None:
                failures.append(f"{name} {xs} {ys}: raised, NumPy gives {expected.shape}")
            continue
        if expected is None:
            failures.append(f"{name} {xs} {ys}: NumPy raises, got {got.shape}")
        elif got.shape != expected.shape or tuple(shape) != expected.shape \
                or not np.array_equal(got, expected):
            failures.append(f"{name} {xs} {ys}: got {got.shape} (inferred {tuple(shape)}), "
                            f"NumPy {expected.shape}")
    assert not failures, "\n".join(failures)


def test_matmul_of_an_empty_batch():
    a, b = T.dtensor3("a"), T.dmatrix("b")
    out = th.function([a, b], a @ b)(np.zeros((0, 2, 3)), np.zeros((3, 4)))
    assert out.shape == (0, 2, 4)


# 5. set_subtensor with a repeated index: the last write wins ----------------------------------
def _naive_set_grads(x_len, idx, weights):
    """Gradients of sum(w * set(x, idx, y)) by following the writes one at a time."""
    owner = {}  # position -> which entry of y wrote it last
    for k, i in enumerate(idx):
        owner[i] = k
    gx = np.array([0.0 if i in owner else weights[i] for i in range(x_len)])
    gy = np.zeros(len(idx))
    for i, k in owner.items():
        gy[k] = weights[i]
    return gx, gy


@pytest.mark.parametrize("idx", [[0, 0], [0, 0, 2], [2, 1, 2, 2, 0], [3]])
def test_set_subtensor_repeated_index_grad(idx, rng):
    x, y = T.dvector("x"), T.dvector("y")
    w = rng.normal(size=4)
    cost = (T.set_subtensor(x[idx], y) * w).sum()
    gx, gy = th.function([x, y], th.grad(cost, [x, y]))(np.zeros(4), np.zeros(len(idx)))
    want_gx, want_gy = _naive_set_grads(4, idx, w)
    np.testing.assert_allclose(gx, want_gx)
    np.testing.assert_allclose(gy, want_gy)


def test_set_subtensor_repeated_rows_with_broadcast_value(rng):
    verify_grad(lambda a, b: T.set_subtensor(a[[1, 1, 0]], b),
                [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))])
    verify_grad(lambda a, b: T.set_subtensor(a[[2, 0, 2], 1:], b),
                [rng.normal(size=(3, 4)), rng.normal(size=(3, 3))])
    m, r = T.dmatrix("m"), T.drow("r")
    w = rng.normal(size=(2, 4))
    g = th.function([m, r], th.grad((T.set_subtensor(m[[1, 1, 0]], r) * w).sum(), r))
    np.testing.assert_allclose(g(np.zeros((2, 4)), np.zeros((1, 4))), w.sum(axis=0)[None])


# 6. identities that do not hold for infinities and NaNs ---------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_x_minus_x_keeps_nan_and_inf(dtype):
    x = T.tensor(dtype, (False,), name="x")
    xv = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=dtype)
    with np.errstate(invalid="ignore"):
        expected = xv - xv
        for mode in (FAST, NONE):
            got = th.function([x], x - x, mode=mode)(xv)
            np.testing.assert_array_equal(got, expected)


def test_x_minus_x_of_integers_is_still_rewritten():
    x = T.lvector("x")
    f = th.function([x], x - x, mode=FAST)
    assert not any(isinstance(op, Elemwise) and op.scalar_op == ps.sub for op in _ops(f))
    np.testing.assert_array_equal(f(np.array([3, -4, 0])), np.zeros(3, "int64"))


# 8. graphs over every scalar op pickle --------------------------------------------------------
def _operand_dtype(op):
    if op.name in ("and", "or", "xor", "invert"):
        return "int64"
    if op.name == "complex":
        return "float64"
    return "float64" if op.name not in ("real", "imag", "conj", "angle") else "complex128"


def _pickle_cases():
    for name in sorted(ps._BY_NAME):
        op = ps._BY_NAME[name]
        yield name, op
    yield "cast", ps.Cast("float32")


@pytest.mark.parametrize("name, op", list(_pickle_cases()), ids=lambda v: str(v))
def test_graph_over_every_scalar_op_pickles(name, op, rng):
    dtype = _operand_dtype(op)
    inputs = [T.tensor(dtype, (False,), name=f"x{k}") for k in range(op.nin)]
    if name == "switch":
        inputs[0] = T.bvector("c")
    out = Elemwise(op)(*inputs)
    copy = pickle.loads(pickle.dumps(out))
    assert copy.owner.op == out.owner.op
    copied_inputs = sorted((v for v in graph_inputs([copy]) if not isinstance(v, Constant)),
                           key=lambda v: v.name)
    values = []
    for v in inputs:
        if v.dtype == "int8":
            values.append(np.array([1, 0, 1], "int8"))
        elif v.dtype[0] == "c":
            values.append((rng.uniform(0.2, 0.9, 3) + 0.3j).astype(v.dtype))
        else:
            values.append(rng.uniform(0.2, 0.9, 3).astype(v.dtype) if v.dtype[0] == "f"
                          else np.array([1, 2, 3], v.dtype))
    with np.errstate(all="ignore"):
        want = th.function(inputs, out)(*values)
        got = th.function(copied_inputs, copy)(*values)
    np.testing.assert_array_equal(got, want)


def test_compiled_graph_with_fused_nodes_pickles(rng):
    x, y = T.dvector("x"), T.dvector("y")
    out = T.tanh(T.exp(x) * T.log(y)) + T.nnet.sigmoid(x) + T.cast(x, "float32")
    f = th.function([x, y], out)
    fgraph = pickle.loads(pickle.dumps(f.maker.fgraph))
    assert any("Composite" in str(n.op) for n in fgraph.toposort())
    g = th.function(list(fgraph.inputs), fgraph.outputs[0])
    xv, yv = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    np.testing.assert_allclose(g(xv, yv), f(xv, yv), rtol=1e-6)
    again = pickle.loads(pickle.dumps(th.grad(out.sum(), x)))
    assert again.ndim == 1


# 9. one promotion rule: every scalar op on every dtype, as NumPy ------------------------------
def _exp_of(x):
    return np.exp(-x) if x.dtype != bool else np.exp(x)


# NumPy equivalents of the ops whose impl is not the NumPy function itself
_EQUIVALENT = {
    "sigmoid": lambda x: 1 / (1 + _exp_of(x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "relu": lambda x: np.maximum(x, 0),
    "inv": lambda x: 1 / x,
    "switch": np.where,
    "round_half_away_from_zero": np.trunc,  # NumPy's dtype rule for rounding to integers
    "tri_gamma": sp.gammaln,  # polygamma(n, x) computes in float64 because of its order n
    "tetra_gamma": sp.gammaln,
    "complex": lambda re, im: re + 1j * im,
}


def _numpy_dtype(op, dtypes):
    fn = _EQUIVALENT.get(op.name) or op.impl
    if op.name == "complex" and any(np.dtype(d).kind == "c" for d in dtypes):
        return None  # documented: complex() takes real parts
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(np.asarray(fn(*[np.ones(2, dtype=d) for d in dtypes])).dtype)
    except TypeError:
        return None


def test_every_scalar_op_on_every_dtype_as_numpy():
    failures = []
    for name in sorted(ps._BY_NAME):
        op = ps._BY_NAME[name]
        for dtypes in itertools.product(DTYPES, repeat=op.nin):
            expected = _numpy_dtype(op, dtypes)
            try:
                got = Elemwise(op)(*[T.tensor(d, (False,)) for d in dtypes]).dtype
            except TypeError:
                got = None
            if got != expected:
                failures.append(f"{name}{dtypes}: {got}, NumPy {expected}")
    assert not failures, "\n".join(failures)


def test_sigmoid_and_softplus_of_bool_are_float16():
    b = T.tensor("bool", (False,), name="b")
    bv = np.array([True, False])
    for fn, ref in ((T.nnet.sigmoid, lambda v: 1 / (1 + np.exp(-v.astype("float16")))),
                    (T.nnet.softplus, lambda v: np.log1p(np.exp(v.astype("float16"))))):
        out = fn(b)
        got = th.function([b], out)(bv)
        assert out.dtype == got.dtype == ref(bv).dtype == np.float16
        np.testing.assert_allclose(got, ref(bv), rtol=1e-3)


_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul,
              "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
              "**": operator.pow, "<": operator.lt, ">": operator.gt, "<=": operator.le,
              ">=": operator.ge, "&": operator.and_, "|": operator.or_, "^": operator.xor}


def test_weak_python_literals_as_numpy():
    failures = []
    for (sym, fn), dtype, lit in itertools.product(_OPERATORS.items(), DTYPES,
                                                   [2, 3, 2.5, True, 1j, 300, -1]):
        if sym == "**" and lit == -1 and np.dtype(dtype).kind in "biu":
            continue  # NumPy refuses the values (negative integer powers), not the dtypes
        a, x = np.ones(2, dtype=dtype), T.tensor(dtype, (False,), name="x")
        for left in (False, True):
            try:
                with np.errstate(all="ignore"):
                    expected = str((fn(lit, a) if left else fn(a, lit)).dtype)
            except (TypeError, OverflowError):
                expected = None
            try:
                got = (fn(lit, x) if left else fn(x, lit)).dtype
            except TypeError:
                got = None
            if got != expected:
                side = f"{lit!r} {sym} x" if left else f"x {sym} {lit!r}"
                failures.append(f"{side} for {dtype}: {got}, NumPy {expected}")
    assert not failures, "\n".join(failures)


def test_bool_squared_is_int8_with_its_values():
    b = T.tensor("bool", (False,), name="b")
    bv = np.array([True, False])
    out = b ** 2
    got = th.function([b], out)(bv)
    np.testing.assert_array_equal(got, bv ** 2)
    assert out.dtype == got.dtype == (bv ** 2).dtype == np.int8


# 10. NumPy values on the left of an operator --------------------------------------------------
_LEFT_VALUES = [np.float32(0.5), np.asarray(0.5), np.ones(3), np.int8(3),
                np.arange(1, 4, dtype="uint8"), np.float64(2), np.bool_(True)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "bool"])
def test_numpy_operand_on_either_side_builds_a_graph(dtype):
    x = T.tensor(dtype, (False,), name="x")
    xv = np.arange(1, 4).astype(dtype)
    failures = []
    ops = dict(_OPERATORS, **{"@": operator.matmul})
    for (sym, fn), value in itertools.product(ops.items(), _LEFT_VALUES):
        for left in (True, False):
            try:
                with np.errstate(all="ignore"):
                    expected = np.asarray(fn(value, xv) if left else fn(xv, value))
            except (TypeError, ValueError):
                expected = None
            try:
                out = fn(value, x) if left else fn(x, value)
                with np.errstate(all="ignore"):
                    got = th.function([x], out)(xv)
            except (TypeError, ValueError):
                if expected is not None:
                    failures.append(f"{sym} {value!r} left={left}: raised")
                continue
            if expected is None:
                failures.append(f"{sym} {value!r} left={left}: NumPy raises, built {out}")
            elif out.dtype != str(expected.dtype) or not np.allclose(got, expected):
                failures.append(f"{sym} {value!r} left={left}: {out.dtype} {got}, NumPy "
                                f"{expected.dtype} {expected}")
    assert not failures, "\n".join(failures)


def test_numpy_scalar_times_variable_is_the_symbolic_product():
    g = T.fvector("g")
    out = np.float32(0.1) * g
    assert out.owner is not None and out.dtype == "float32"
    assert (np.float64(0.1) * g).dtype == "float64"  # a NumPy scalar is not a weak literal
    assert (0.1 * g).dtype == "float32"  # a Python float is
    np.testing.assert_allclose(th.function([g], out)(np.ones(2, "float32")),
                               np.float32(0.1) * np.ones(2, "float32"))
