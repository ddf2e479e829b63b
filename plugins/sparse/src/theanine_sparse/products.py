"""Matrix products with sparse operands: `dot` and `structured_dot`, their gradients, and the
component form of sparse-by-dense (`SparseDenseProduct`) that native backends implement.

`dot` and `structured_dot` compute the same product; they differ in the gradient with
respect to the sparse operand.  `structured_dot`'s lives on the operand's stored entries
(what training a sparse weight matrix wants: its structure stays fixed); `dot`'s is the full
gradient, converted to the operand's format (it may be dense in all but name).

A specialization rewrite turns sparse-by-dense into `SparseDenseProduct` over
`csm_properties`: plain arrays in, a dense array out, which the C backend runs natively.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

import theanine.tensor as T
from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.rewriting.basic import node_rewriter
from theanine.tensor.type import TensorType
from theanine_sparse.basic import (
    _MATRIX,
    SparseFromDense,
    SparseOp,
    csm_properties,
    structure,
    to_format,
    transpose,
)
from theanine_sparse.type import (
    SparseType,
    as_sparse_or_tensor_variable,
    as_sparse_variable,
    is_sparse_variable,
)


def _upcast(*variables: Variable) -> str:
    return np.result_type(*(np.dtype(v.dtype) for v in variables)).name


def _outer_or_dot(a: Variable, b: Variable) -> Variable:
    """a @ b.T for matrices; the outer product for vectors (the gradient of a product whose
    dense operand is a vector)."""
    if a.ndim == 1:
        return T.outer(a, b)
    return T.dot(a, b.T)


class SparseDot(Op):
    """x @ y where x or y (or both) is sparse; see the module docstring for `structured`.
    sparse @ sparse is sparse (x's format); otherwise the result is dense.  A dense operand
    may be a vector."""

    __props__ = ("structured",)

    def __init__(self, structured: bool = False):
        self.structured = bool(structured)

    @property
    def _name(self) -> str:
        return "structured_dot" if self.structured else "dot"

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_sparse_or_tensor_variable(x), as_sparse_or_tensor_variable(y)
        xs, ys = is_sparse_variable(x), is_sparse_variable(y)
        if not (xs or ys):
            raise TypeError(f"{self._name}: one operand must be sparse, got {x} ({x.type}) and "
                            f"{y} ({y.type}); use theanine.tensor.dot for dense operands")
        if self.structured and not xs:
            raise TypeError(f"structured_dot: the left operand must be sparse, got {x} "
                            f"({x.type})")
        for v, sparse in ((x, xs), (y, ys)):
            if not sparse and v.ndim not in (1, 2):
                raise TypeError(f"{self._name}: the dense operand must be a vector or a matrix, "
                                f"got {v} ({v.type})")
        dtype = _upcast(x, y)
        if xs and ys:
            out = SparseType(x.format, dtype)()
        else:
            dense = y if xs else x
            out = TensorType(dtype, (False,) * dense.ndim)()
        return Apply(self, [x, y], [out])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        out = node.outputs[0]
        z = _product(x, y, out.dtype, self._name)
        if isinstance(out.type, SparseType):
            z = out.type.filter(z, allow_downcast=True)
        output_storage[0][0] = z

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        xs, ys = is_sparse_variable(x), is_sparse_variable(y)
        if xs and ys:
            return [to_format(self(gz, transpose(y)), x.format),
                    to_format(self(transpose(x), gz), y.format)]
        if xs:
            g_y = self(transpose(x), gz)
            if self.structured:
                return [StructuredDotGrad()(x, y, gz), g_y]
            return [SparseFromDense(x.format)(_outer_or_dot(gz, y)), g_y]
        # dense @ sparse: (x @ y).T = y.T @ x.T
        g_x = self(gz, transpose(y))
        g_y = (T.outer(x, gz) if x.ndim == 1 else T.dot(x.T, gz))
        return [g_x, SparseFromDense(y.format)(g_y)]


dot = SparseDot(structured=False)
structured_dot = SparseDot(structured=True)


class StructuredDotGrad(SparseOp):
    """The gradient of `structured_dot(x, y)` with respect to x: (gz @ y.T) read at x's
    stored entries, as a matrix of x's structure."""

    def make_node(self, x: Any, y: Any, gz: Any) -> Apply:
        x = as_sparse_variable(x)
        y, gz = T.as_tensor_variable(y), T.as_tensor_variable(gz)
        return Apply(self, [x, y, gz], [SparseType(x.format, _upcast(y, gz))()])

    def perform(self, node, inputs, output_storage):
        x, y, gz = inputs
        rows, cols = structure(x)
        if y.ndim == 1:
            values = gz[rows] * y[cols]
        else:
            values = np.einsum("ij,ij->i", gz[rows], y[cols])
        output_storage[0][0] = _MATRIX[x.format](
            (values.astype(node.outputs[0].dtype), x.indices.copy(), x.indptr.copy()),
            shape=x.shape)


class SparseDenseProduct(Op):
    """(sparse matrix given by its CSR or CSC components) @ dense y, y a vector or matrix.
    Inputs: data, indices, indptr, shape (as `csm_properties` gives them), y; data and y
    of the output's dtype.  The C backend runs it natively (`theanine_sparse.native`)."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = format

    def make_node(self, data: Any, indices: Any, indptr: Any, shape: Any, y: Any) -> Apply:
        inputs = [T.as_tensor_variable(v) for v in (data, indices, indptr, shape, y)]
        if inputs[0].dtype != inputs[4].dtype or inputs[4].ndim not in (1, 2):
            raise TypeError(f"SparseDenseProduct: data and y must share a dtype and y must be a "
                            f"vector or matrix, got {inputs[0].type} and {inputs[4].type}")
        out = TensorType(inputs[4].dtype, (False,) * inputs[4].ndim)()
        return Apply(self, inputs, [out])

    def perform(self, node, inputs, output_storage):
        data, indices, indptr, shape, y = inputs
        if len(shape) != 2:
            raise ValueError(f"SparseDenseProduct: shape must have 2 entries, got {shape}")
        x = _MATRIX[self.format]((data, indices, indptr), shape=tuple(int(s) for s in shape))
        output_storage[0][0] = _product(x, y, node.outputs[0].dtype)


def _product(x: Any, y: Any, dtype: str, name: str = "sparse-dense product") -> Any:
    """x @ y in `dtype` (sparse when both operands are), or a ValueError naming the shapes."""
    if x.shape[-1] != y.shape[0]:
        raise ValueError(f"{name}: shapes {x.shape} and {y.shape} do not align "
                         f"({x.shape[-1]} != {y.shape[0]})")
    z = x @ y
    return z.astype(dtype) if sp.issparse(z) else np.asarray(z, dtype=dtype)


@node_rewriter([SparseDot])
def local_sparse_dense_product(fgraph, node):
    """sparse @ dense → SparseDenseProduct on the sparse operand's components."""
    x, y = node.inputs
    if not is_sparse_variable(x) or is_sparse_variable(y):
        return None
    dtype = node.outputs[0].dtype
    data, indices, indptr, shape = csm_properties(x)
    return [SparseDenseProduct(x.format)(T.cast(data, dtype), indices, indptr, shape,
                                         T.cast(y, dtype))]

