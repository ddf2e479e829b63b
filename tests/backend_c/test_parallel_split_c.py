"""Kernels take their serial loop below `PARALLEL_THRESHOLD` elements and an OpenMP loop above
it (`CRenderer.parallel_if`): both branches against NumPy, for every kernel family that splits;
and the thunks' argument helpers (`array_pointer`, `int64_arrays`)."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import require_c

import theanine as theano
import theanine.tensor as T

require_c()

from theanine_c.build import array_pointer, ffi, int64_arrays  # noqa: E402
from theanine_c.loops import PARALLEL_THRESHOLD  # noqa: E402

#: row counts of a 1000-column matrix on each side of the threshold
ROWS = (PARALLEL_THRESHOLD // 1000 - 7, PARALLEL_THRESHOLD // 1000 + 9)


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


#: name -> (graph of a matrix x and a row vector b, NumPy's answer)
CASES = {
    "plain elemwise, flat": (lambda x, b: x * 2 + 1, lambda a, c: a * 2 + 1),
    "plain elemwise, broadcast row": (lambda x, b: x * b, lambda a, c: a * c),
    "vector-math elemwise, flat": (lambda x, b: T.exp(x), lambda a, c: np.exp(a)),
    "vector-math elemwise, broadcast row": (lambda x, b: T.tanh(x + b),
                                            lambda a, c: np.tanh(a + c)),
    "sum of rows": (lambda x, b: x.sum(axis=1), lambda a, c: a.sum(axis=1)),
    "sum over the batch axis (row walk)": (lambda x, b: x.sum(axis=0), lambda a, c: a.sum(axis=0)),
    "fused sum": (lambda x, b: (x * b).sum(axis=1), lambda a, c: (a * c).sum(axis=1)),
    "argmax of rows": (lambda x, b: T.argmax(x, axis=1), lambda a, c: a.argmax(axis=1)),
    "softmax": (lambda x, b: T.nnet.softmax(x), lambda a, c: _softmax(a)),
    "log-softmax": (lambda x, b: T.nnet.log_softmax(x), lambda a, c: np.log(_softmax(a))),
    "softmax gradient": (lambda x, b: T.grad((T.nnet.softmax(x) * b).sum(), x),
                         lambda a, c: (s := _softmax(a)) * (c - (s * c).sum(1, keepdims=True))),
}


@pytest.mark.parametrize("rows", ROWS, ids=["serial", "parallel"])
@pytest.mark.parametrize("case", list(CASES))
def test_both_sides_of_the_threshold_agree_with_numpy(case, rows):
    graph, reference = CASES[case]
    x, b = T.dmatrix("x"), T.drow("b")
    f = theano.function([x, b], graph(x, b), backend="c", on_unused_input="ignore")
    rng = np.random.default_rng(rows)
    a, c = rng.standard_normal((rows, 1000)), rng.standard_normal((1, 1000))
    assert (a.size > PARALLEL_THRESHOLD) == (rows == ROWS[1])
    np.testing.assert_allclose(f(a, c), reference(a, c), rtol=1e-10, atol=1e-12)
    assert "0 fallback" in f.report()


def _address(p) -> int:
    return int(ffi().cast("uintptr_t", p))


def test_array_pointer_is_the_first_element_of_any_layout():
    base = np.arange(60.0).reshape(6, 10)
    ptr = array_pointer()
    for a in (base, base[2:], base.T, base[:, 3], base[::-1, ::2], base[1:4, 5:]):
        assert _address(ptr(a)) == a.__array_interface__["data"][0]


def test_int64_arrays_are_made_once_per_tuple_and_stay_right_past_the_limit():
    arrays = int64_arrays(limit=4)
    first = arrays((3, -8, 0))
    assert arrays((3, -8, 0)) is first
    for k in range(10):  # past the limit: the cache starts over, each array still right
        values = (k, 2 * k + 1)
        assert list(arrays(values)) == list(values)
    assert list(arrays((3, -8, 0))) == [3, -8, 0]
