"""A custom Op written outside theanine, tested with the author kit, then used to train.

The Op is seed 000's softmax (a row-wise softmax over a matrix, as Theano's `T.nnet.softmax`
class was written): `make_node` types the output, `perform` is the NumPy reference, `grad`
gives the backward pass in tensor ops, `infer_shape` gives the output shape without computing
it.  `theanine.testing` checks all three against the truth.  `c_code` gives the C backend native
code for the forward pass (any backend without it runs `perform`).  docs/writing-an-op.md walks
through this file.  Run `python examples/custom_op.py`.
"""

from __future__ import annotations

import numpy as np

import theanine
import theanine.tensor as T
from theanine import Apply, Op
from theanine.codegen import CCode
from theanine.testing import check_backends, check_infer_shape, verify_grad


class RowSoftmax(Op):
    """exp(x) / exp(x).sum(axis=1), row by row, for a float matrix x."""

    __props__ = ()  # no parameters: every RowSoftmax() is interchangeable with another

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        if x.ndim != 2 or x.dtype not in ("float32", "float64"):
            raise TypeError(f"RowSoftmax takes a float matrix, got {x} ({x.type})")
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        e_x = np.exp(x - x.max(axis=1)[:, None])  # shifted: exp never overflows
        output_storage[0][0] = e_x / e_x.sum(axis=1)[:, None]

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (g_sm,) = output_grads
        sm = self(x)
        # d(sm_i)/d(x_j) = sm_i (delta_ij - sm_j), contracted with g_sm row by row
        return [(g_sm - (g_sm * sm).sum(axis=1, keepdims=True)) * sm]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def c_code(self, node):
        """The forward pass in C for the C backend: inputs and outputs arrive as `th_array`s
        (C-contiguous inputs, an output allocated with the shape `output_shapes` gives)."""
        ctype = {"float32": "float", "float64": "double"}[node.inputs[0].dtype]
        return CCode(ROW_SOFTMAX_C.replace("T", ctype), "row_softmax",
                     output_shapes=lambda x: [x.shape])


ROW_SOFTMAX_C = """
int row_softmax(const th_array *in, th_array *out, char *error, int64_t error_size) {
    const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
    for (int64_t i = 0; i < rows; i++) {
        const T *x = (const T *)in[0].data + i * cols;
        T *y = (T *)out[0].data + i * cols;
        T m = x[0], s = 0;
        for (int64_t j = 1; j < cols; j++) m = x[j] > m ? x[j] : m;
        for (int64_t j = 0; j < cols; j++) { y[j] = exp(x[j] - m); s += y[j]; }
        for (int64_t j = 0; j < cols; j++) y[j] /= s;
    }
    return 0;
}
"""

row_softmax = RowSoftmax()


def check() -> None:
    """What the Op's test suite would assert, with the kit."""
    rng = np.random.default_rng(0)
    x_val = rng.normal(size=(4, 5))
    verify_grad(row_softmax, [x_val])
    print("verify_grad: ok")
    check_infer_shape(row_softmax, [x_val])
    check_infer_shape(row_softmax, [np.zeros((0, 3))])
    print("check_infer_shape: ok")
    backends = check_backends(row_softmax, [x_val])
    print(f"check_backends: ok ({', '.join(backends)})")


def train() -> None:
    """Seed 000's softmax regression, with the custom Op in place of T.nnet.softmax."""
    rng = np.random.default_rng(1)
    n, n_in, n_out = 300, 5, 3
    centers = rng.normal(scale=3.0, size=(n_out, n_in))
    labels = rng.integers(0, n_out, size=n)
    data = (centers[labels] + rng.normal(size=(n, n_in))).astype(theanine.config.floatX)

    x = T.matrix("x")
    y = T.ivector("y")
    theta = theanine.shared(np.zeros((n_in, n_out), dtype=theanine.config.floatX), name="theta")
    landa = 0.01
    hx = row_softmax(T.dot(x, theta))
    cost = -T.mean(T.log(hx)[T.arange(y.shape[0]), y]) + 0.5 * landa * T.sum(theta ** 2)
    g_theta = T.grad(cost, theta)
    step = theanine.function([x, y], cost, updates=[(theta, theta - 0.5 * g_theta)])
    predict = theanine.function([x], T.argmax(hx, axis=1))

    for epoch in range(5):
        print(f"epoch {epoch}: cost {float(step(data, labels.astype('int32'))):.4f}")
    print(f"training accuracy: {np.mean(predict(data) == labels):.2f}")

    same = theanine.function([x], [hx, T.nnet.softmax(T.dot(x, theta))])(data)
    np.testing.assert_allclose(same[0], same[1], rtol=1e-5)
    print("RowSoftmax agrees with T.nnet.softmax")


if __name__ == "__main__":
    check()
    train()
