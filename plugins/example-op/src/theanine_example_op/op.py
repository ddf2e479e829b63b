"""`RowSoftmax`: exp(x) / exp(x).sum(axis=1) row by row, the softmax of seed 000.

Everything an Op needs: `make_node` (types the output), `perform` (the NumPy reference every
backend is tested against), `grad` (the backward pass, in tensor operations), `infer_shape`
(the output shape without computing the output) and `c_code` (native code for the C backend).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import theanine.tensor as T
from theanine import Apply, Op
from theanine.codegen import CCode

_CTYPES = {"float32": ("float", "f"), "float64": ("double", "")}


class RowSoftmax(Op):
    """exp(x) / exp(x).sum(axis=1), row by row, for a float32 or float64 matrix x."""

    __props__ = ()  # no parameters: every RowSoftmax() is the same Op (merge may share them)

    def make_node(self, x: Any) -> Apply:
        x = T.as_tensor_variable(x)
        if x.ndim != 2 or x.dtype not in _CTYPES:
            raise TypeError(f"RowSoftmax takes a float32 or float64 matrix, got {x} of type "
                            f"{x.type}")
        return Apply(self, [x], [x.type()])

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list) -> None:
        (x,) = inputs
        e_x = np.exp(x - x.max(axis=1, keepdims=True, initial=-np.inf))  # shifted: no overflow
        output_storage[0][0] = e_x / e_x.sum(axis=1, keepdims=True)

    def grad(self, inputs: list[Any], output_grads: list[Any]) -> list[Any]:
        (x,) = inputs
        (g_sm,) = output_grads
        sm = self(x)
        # d sm_i / d x_j = sm_i (delta_ij - sm_j), contracted with g_sm row by row
        return [(g_sm - (g_sm * sm).sum(axis=1, keepdims=True)) * sm]

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return [input_shapes[0]]

    # -- native code ---------------------------------------------------------------------
    def c_code(self, node: Apply) -> CCode:
        """The forward pass for the C backend: C-contiguous input, output allocated by the
        backend with the shape `output_shapes` gives (see theanine.codegen.native)."""
        ctype, suffix = _CTYPES[node.inputs[0].dtype]
        source = ROW_SOFTMAX_C.replace("REAL", ctype).replace("EXP", "exp" + suffix)
        return CCode(source, "example_row_softmax_" + ctype, output_shapes=lambda x: [x.shape])

    # -- other backends ------------------------------------------------------------------
    # A device backend takes native code as an impl registered per backend: plugin.py
    # registers `opencl.row_softmax_plan` for backend "opencl" (a DevicePlan with an OpenCL C
    # kernel).  A backend without native code for this Op runs `perform` on the host, and the
    # compile report says so.


# One row per iteration; the sum is accumulated in double whatever REAL is.  A row of length
# 0 has nothing to read (x[0] would be out of bounds).
ROW_SOFTMAX_C = """
int example_row_softmax_REAL(const th_array *in, th_array *out, char *error,
                             int64_t error_size) {
    (void)error; (void)error_size;
    const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
    if (cols == 0) return 0;
    for (int64_t i = 0; i < rows; i++) {
        const REAL *x = (const REAL *)in[0].data + i * cols;
        REAL *y = (REAL *)out[0].data + i * cols;
        REAL m = x[0];
        double s = 0;
        for (int64_t j = 1; j < cols; j++) m = x[j] > m ? x[j] : m;
        for (int64_t j = 0; j < cols; j++) { y[j] = EXP(x[j] - m); s += y[j]; }
        for (int64_t j = 0; j < cols; j++) y[j] = (REAL)(y[j] / s);
    }
    return 0;
}
"""

row_softmax = RowSoftmax()
