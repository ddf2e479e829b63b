"""The third-party native-code contract on backend c: an Op's `c_code(node)` returning a
`theanine.codegen.CCode` runs natively, agrees with its `perform`, sees its inputs as
th_arrays (shape, strides, contiguity as promised) and turns a nonzero return with a
message into a Python exception carrying that message."""

from __future__ import annotations

import numpy as np
import pytest
from c_checks import report, require_c

import theanine
import theanine.tensor as T
from theanine.codegen import CCode
from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.tensor.basic import as_tensor_variable
from theanine.tensor.type import TensorType

require_c()

SOFTMAX = r"""
int row_softmax(const th_array *in, th_array *out, char *error, int64_t error_size) {
    const th_array *x = &in[0];
    if (x->ndim != 2) {
        snprintf(error, error_size, "row_softmax wants a matrix, got %d dimensions",
                 (int)x->ndim);
        return 1;
    }
    int64_t rows = x->shape[0], cols = x->shape[1];
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = (const double *)(x->data + r * x->strides[0]);
        double *o = (double *)(out[0].data + r * out[0].strides[0]);
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < cols; c++) {
            if (xr[c] != xr[c]) {
                snprintf(error, error_size, "NaN in row %lld, column %lld",
                         (long long)r, (long long)c);
                return 2;
            }
            m = xr[c] > m ? xr[c] : m;
        }
        for (int64_t c = 0; c < cols; c++) { o[c] = exp(xr[c] - m); s += o[c]; }
        for (int64_t c = 0; c < cols; c++) o[c] /= s;
    }
    return 0;
}
"""

LAYOUT = r"""
int describe(const th_array *in, th_array *out, char *error, int64_t error_size) {
    /* out[0] = (ndim, size, shape..., strides...) of the input as the kernel sees it */
    int64_t *o = (int64_t *)out[0].data, k = 0;
    o[k++] = in[0].ndim;
    o[k++] = in[0].size;
    for (int64_t d = 0; d < in[0].ndim; d++) o[k++] = in[0].shape[d];
    for (int64_t d = 0; d < in[0].ndim; d++) o[k++] = in[0].strides[d];
    return 0;
}
"""


class RowSoftmax(Op):
    __props__ = ()

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("float64", x.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        x = np.asarray(inputs[0], dtype="float64")
        if np.isnan(x).any():
            raise ValueError("NaN in input")
        e = np.exp(x - x.max(axis=1, keepdims=True))
        output_storage[0][0] = e / e.sum(axis=1, keepdims=True)

    def c_code(self, node):
        return CCode("#include <stdio.h>\n" + SOFTMAX, "row_softmax", lambda x: [x.shape])


class Describe(Op):
    """How the native code sees its input (the contract's guarantees made visible)."""

    __props__ = ("contiguous",)

    def __init__(self, contiguous: bool):
        self.contiguous = contiguous

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [T.lvector()])

    def c_code(self, node):
        return CCode(LAYOUT, "describe", lambda x: [(2 + 2 * x.ndim,)],
                     contiguous_inputs=self.contiguous)


def _native(f) -> list[str]:
    return [n.how for n in report(f).nodes]


def test_row_softmax_in_c_matches_its_perform(rng):
    x = T.dmatrix("x")
    f = theanine.function([x], RowSoftmax()(x * 2) + 1, backend="c")
    ref = theanine.function([x], RowSoftmax()(x * 2) + 1, backend="python")
    assert set(_native(f)) == {"native"}, report(f).summary()
    v = rng.standard_normal((7, 13)) * 10
    for value in (v, v[::-1, ::2], np.asfortranarray(v), v[:0], v[:, :1]):
        np.testing.assert_allclose(f(value), ref(value), rtol=1e-14, atol=1e-15)


def test_an_error_returned_by_c_becomes_a_python_exception_with_its_message():
    x = T.dmatrix("x")
    f = theanine.function([x], RowSoftmax()(x), backend="c")
    v = np.ones((3, 4))
    v[2, 1] = np.nan
    with pytest.raises(RuntimeError, match=r"NaN in row 2, column 1") as info:
        f(v)
    assert "row_softmax" in str(info.value)
    np.testing.assert_allclose(f(np.zeros((2, 4))), np.full((2, 4), 0.25))  # still usable


@pytest.mark.parametrize("contiguous", [True, False])
def test_the_kernel_sees_the_promised_layout(contiguous):
    x = T.dtensor3("x")
    f = theanine.function([x], Describe(contiguous)(x), backend="c")
    v = np.arange(120.0).reshape(4, 5, 6)[::-1, :, ::2]
    got = f(v)
    strides = np.ascontiguousarray(v).strides if contiguous else v.strides
    assert list(got) == [3, v.size, *v.shape, *strides]


def test_output_shapes_of_the_wrong_rank_are_refused_before_the_call():
    class BadShapes(RowSoftmax):
        def c_code(self, node):
            return CCode("#include <stdio.h>\n" + SOFTMAX, "row_softmax",
                         lambda x: [(x.shape[0],)])

    x = T.dmatrix("x")
    f = theanine.function([x], BadShapes()(x), backend="c")
    with pytest.raises(ValueError, match="output_shapes gave"):
        f(np.ones((2, 3)))


def test_c_that_does_not_compile_falls_back_to_perform_and_says_why(rng):
    class Broken(RowSoftmax):
        def c_code(self, node):
            return CCode("int row_softmax(void) { return syntax error; }", "row_softmax",
                         lambda x: [x.shape])

    x = T.dmatrix("x")
    f = theanine.function([x], Broken()(x), backend="c")
    entry = report(f).nodes[0]
    assert entry.how == "fallback" and "native build failed" in entry.why
    v = rng.standard_normal((3, 4))
    np.testing.assert_allclose(f(v), np.exp(v) / np.exp(v).sum(axis=1, keepdims=True))
