"""Sparse arithmetic: sums, elementwise addition and multiplication, and the structured
elementwise functions (applied to the stored entries only, so the structure is kept).

`add`, `sub` and `mul` take any mix of sparse and dense operands (Python numbers adopt the
sparse operand's dtype).  sparse + sparse and sparse * anything are sparse; sparse + dense is
dense, as in Theano.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

import theanine.tensor as T
from theanine.graph.basic import Apply, Variable
from theanine.graph.op import Op
from theanine.tensor.extra_ops import diff
from theanine.tensor.type import TensorType
from theanine_sparse.basic import (
    CSM,
    SparseOp,
    csm_properties,
    dense_from_sparse,
    sp_ones_like,
    structure,
    to_format,
)
from theanine_sparse.basic import SparseFromDense as _FromDense
from theanine_sparse.type import SparseType, as_sparse_variable, is_sparse_variable


def _upcast(*variables: Variable) -> str:
    return np.result_type(*(np.dtype(v.dtype) for v in variables)).name


def _dense_operand(y: Any, like: Variable, op: str) -> Variable:
    """`y` as a tensor of at most 2 dimensions; a Python number takes `like`'s dtype."""
    if isinstance(y, int | float) and not isinstance(y, bool):
        value = np.asarray(y, dtype=like.dtype)
        y = T.constant(value if value == y else np.asarray(y))
    y = T.as_tensor_variable(y)
    if y.ndim > 2:
        raise TypeError(f"{op}: the dense operand must have at most 2 dimensions, got {y} "
                        f"({y.type})")
    return y


def _broadcast_to(y: np.ndarray, broadcastable: tuple[bool, ...], shape: tuple[int, int],
                  op: str) -> np.ndarray:
    """y stretched to `shape` along its broadcastable (size-1) and missing dimensions only."""
    dims = shape[2 - y.ndim:]
    if any(n != m and not (b and n == 1) for n, m, b in zip(y.shape, dims, broadcastable)):
        raise ValueError(f"{op}: the dense operand of shape {y.shape} does not match the sparse "
                         f"operand of shape {shape}")
    return np.broadcast_to(y, shape)


def _sum_to(g: Variable, y: Variable) -> Variable:
    """The dense matrix gradient `g` summed down to the shape of operand `y`."""
    if y.ndim == 0:
        return g.sum()
    if y.ndim == 1:
        return g.sum(axis=0)
    for axis, b in enumerate(y.broadcastable):
        if b:
            g = g.sum(axis=axis, keepdims=True)
    return g


class SpSum(Op):
    """The sum of all entries (`axis=None`), of each column (0) or of each row (1).  With
    `sparse_grad` the gradient is structured; otherwise it covers every entry."""

    __props__ = ("axis", "sparse_grad")

    def __init__(self, axis: int | None = None, sparse_grad: bool = False):
        if axis not in (None, 0, 1):
            raise ValueError(f"sp_sum: axis must be None, 0 or 1, got {axis!r}")
        self.axis = axis
        self.sparse_grad = bool(sparse_grad)

    def make_node(self, x: Any) -> Apply:
        x = as_sparse_variable(x)
        pattern = () if self.axis is None else (False,)
        return Apply(self, [x], [TensorType(x.dtype, pattern)()])

    def perform(self, node, inputs, output_storage):
        out = inputs[0].sum(axis=self.axis, dtype=node.outputs[0].dtype)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype).reshape(
            () if self.axis is None else -1)

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if self.sparse_grad:
            data, indices, indptr, shape = csm_properties(x)
            if self.axis is None:
                g_data = T.ones_like(data) * gz
            else:
                # axis 0 gives one value per column: a CSR entry's column is its minor index
                by_minor = (self.axis == 0) == (x.format == "csr")
                n_major = indptr.shape[0] - 1
                major = T.repeat(T.arange(n_major), diff(indptr))
                g_data = gz[indices] if by_minor else gz[major]
            return [CSM(x.format)(g_data, indices, indptr, shape)]
        shape = x.shape
        per_row = gz.dimshuffle(0, "x") if self.axis == 1 else gz
        return [_FromDense(x.format)(T.alloc(per_row, shape[0], shape[1]))]


def sp_sum(x: Any, axis: int | None = None, sparse_grad: bool = False) -> Variable:
    """Theano's `sp_sum`: sum of a sparse matrix's entries, overall or along an axis."""
    return SpSum(axis, sparse_grad)(x)


def _same_format_node(op: SparseOp, x: Any, y: Any, name: str) -> Apply:
    """The node of a sparse-sparse op: both operands of one format, the result too."""
    x, y = as_sparse_variable(x), as_sparse_variable(y)
    if x.format != y.format:
        raise TypeError(f"{name}: operands must have one format, got {x.format} and "
                        f"{y.format} (convert one with to_format)")
    return Apply(op, [x, y], [SparseType(x.format, _upcast(x, y))()])


class AddSS(SparseOp):
    """sparse + sparse of one format: the union of the structures."""

    def make_node(self, x: Any, y: Any) -> Apply:
        return _same_format_node(self, x, y, "add_s_s")

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _same_shape(x, y, "add")
        out = node.outputs[0].type
        output_storage[0][0] = out.filter((x + y).astype(out.dtype), allow_downcast=True)

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        return [gz, gz]


class AddSD(Op):
    """sparse + dense: a dense matrix (the dense operand broadcasts along its broadcastable
    dimensions).  The gradient of the sparse operand is structured."""

    def make_node(self, x: Any, y: Any) -> Apply:
        x = as_sparse_variable(x)
        y = _dense_operand(y, x, "add")
        return Apply(self, [x, y], [TensorType(_upcast(x, y), (False, False))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        dense = _broadcast_to(y, node.inputs[1].broadcastable, x.shape, "add")
        output_storage[0][0] = np.add(x.toarray(), dense, dtype=node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        return [mul_sd(sp_ones_like(x), gz), _sum_to(gz, y)]


class MulSS(SparseOp):
    """sparse * sparse of one format, entry by entry: the intersection of the structures."""

    def make_node(self, x: Any, y: Any) -> Apply:
        return _same_format_node(self, x, y, "mul_s_s")

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _same_shape(x, y, "mul")
        out = node.outputs[0].type
        output_storage[0][0] = out.filter(x.multiply(y).astype(out.dtype), allow_downcast=True)

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        return [mul_ss(gz, y), mul_ss(gz, x)]


class MulSD(SparseOp):
    """sparse * dense, entry by entry: the sparse operand's structure, each stored value
    times the dense value at its position (the dense operand broadcasts)."""

    def make_node(self, x: Any, y: Any) -> Apply:
        x = as_sparse_variable(x)
        y = _dense_operand(y, x, "mul")
        return Apply(self, [x, y], [SparseType(x.format, _upcast(x, y))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        dense = _broadcast_to(y, node.inputs[1].broadcastable, x.shape, "mul")
        rows, cols = structure(x)
        out = x.astype(node.outputs[0].dtype)  # a copy with x's arrays
        np.multiply(x.data, dense[rows, cols], out=out.data, casting="unsafe")
        output_storage[0][0] = out

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        return [mul_sd(gz, y), _sum_to(dense_from_sparse(mul_ss(gz, x)), y)]


def _same_shape(x: Any, y: Any, op: str) -> None:
    if x.shape != y.shape:
        raise ValueError(f"{op}: sparse operands of shapes {x.shape} and {y.shape} differ")


add_s_s = AddSS()
add_s_d = AddSD()
mul_s_s = MulSS()
mul_s_d = MulSD()


def mul_ss(x: Any, y: Any) -> Variable:
    x = as_sparse_variable(x)
    return mul_s_s(x, to_format(y, x.format))


def mul_sd(x: Any, y: Any) -> Variable:
    return mul_s_d(x, y)


def add(x: Any, y: Any) -> Variable:
    """x + y with at least one sparse operand: sparse if both are, else dense."""
    if is_sparse_variable(x) or _is_sparse_value(x):
        x = as_sparse_variable(x)
        if is_sparse_variable(y) or _is_sparse_value(y):
            return add_s_s(x, to_format(y, x.format))
        return add_s_d(x, y)
    return add_s_d(as_sparse_variable(y), x)


def sub(x: Any, y: Any) -> Variable:
    """x - y with at least one sparse operand."""
    if is_sparse_variable(y) or _is_sparse_value(y):
        return add(x, neg(y))
    return add(x, -_dense_operand(y, as_sparse_variable(x), "sub"))


def mul(x: Any, y: Any) -> Variable:
    """x * y, entry by entry, with at least one sparse operand: always sparse."""
    if not (is_sparse_variable(x) or _is_sparse_value(x)):
        x, y = y, x
    x = as_sparse_variable(x)
    if is_sparse_variable(y) or _is_sparse_value(y):
        return mul_ss(x, y)
    return mul_s_d(x, y)


def _is_sparse_value(v: Any) -> bool:
    return sp.issparse(v)


def structured(tensor_fn: Callable[..., Variable], name: str) -> Callable[..., Variable]:
    """The sparse function applying `tensor_fn` to the stored entries only (Theano's
    structured monoid): a graph on `csm_properties`, so its gradient is the tensor one."""

    def fn(x: Any, *args: Any) -> Variable:
        x = as_sparse_variable(x)
        data, indices, indptr, shape = csm_properties(x)
        return CSM(x.format)(tensor_fn(data, *args), indices, indptr, shape)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"`{name}` of the stored entries of a sparse matrix (its "
                  "structure is kept).")
    return fn


# f(0) = 0 for these: on the stored entries they are the dense function
neg = structured(T.neg, "neg")
sqr = structured(T.sqr, "sqr")
sqrt = structured(T.sqrt, "sqrt")
abs_ = structured(T.abs_, "abs_")
sgn = structured(T.sgn, "sgn")
ceil = structured(T.ceil, "ceil")
floor = structured(T.floor, "floor")
trunc = structured(T.trunc, "trunc")
log1p = structured(T.log1p, "log1p")
expm1 = structured(T.expm1, "expm1")
sin = structured(T.sin, "sin")
tan = structured(T.tan, "tan")
arcsin = structured(T.arcsin, "arcsin")
arctan = structured(T.arctan, "arctan")
sinh = structured(T.sinh, "sinh")
tanh = structured(T.tanh, "tanh")
arcsinh = structured(T.arcsinh, "arcsinh")
arctanh = structured(T.arctanh, "arctanh")
# f(0) != 0: applied to the stored entries only, hence "structured"
structured_exp = structured(T.exp, "structured_exp")
structured_log = structured(T.log, "structured_log")
structured_sigmoid = structured(T.sigmoid, "structured_sigmoid")
structured_pow = structured(T.pow, "structured_pow")
