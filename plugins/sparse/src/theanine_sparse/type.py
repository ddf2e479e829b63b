"""The sparse Type: 2-d variables whose values are scipy.sparse CSR or CSC matrices.

A `SparseType` is not a `TensorType`: tensor Ops refuse sparse variables, so a graph never
hands a scipy matrix to code that expects an ndarray.  Crossing over is explicit
(`dense_from_sparse`, `csr_from_dense`), as in Theano.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import scipy.sparse as sp

from theanine.config import config
from theanine.graph.basic import Constant, Variable
from theanine.graph.type import Type
from theanine.tensor.sharedvar import SharedVariable
from theanine.tensor.type import ALL_DTYPES, describe_value

FORMATS = ("csr", "csc")
#: scipy.sparse has no float16 matrices
DTYPES = tuple(d for d in ALL_DTYPES if d != "float16")
_MATRIX = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}


def _m():
    from theanine_sparse import math

    return math


def _b():
    from theanine_sparse import basic

    return basic


class SparseType(Type):
    """scipy.sparse matrices of one format ('csr' or 'csc') and dtype.

    `ndim` and `broadcastable` are a matrix's (as in Theano); no dimension is ever
    broadcastable.
    """

    ndim = 2
    broadcastable = (False, False)

    def __init__(self, format: str, dtype: str | np.dtype):
        if format not in FORMATS:
            raise ValueError(f"sparse format must be one of {FORMATS}, got {format!r}")
        dtype = str(np.dtype(dtype))
        if dtype not in DTYPES:
            raise TypeError(f"unsupported sparse dtype {dtype}; supported: {', '.join(DTYPES)}")
        self.format = format
        self.dtype = dtype

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None,
               name: str | None = None) -> Any:
        what = f"input {name!r}" if name else "value"
        if not sp.issparse(value) or value.ndim != 2:
            raise TypeError(f"{what} expected a scipy.sparse {self.format} matrix of dtype "
                            f"{self.dtype} ({self}) but got {describe_value(value)}; convert "
                            f"a dense array with scipy.sparse.{self.format}_matrix(value)")
        if strict and (value.format != self.format or value.dtype != self.dtype):
            raise TypeError(f"{what} expected a {self.format} matrix of dtype {self.dtype} "
                            f"({self}) but got a {value.format} matrix of dtype {value.dtype} "
                            "(strict: no conversion)")
        if value.dtype != self.dtype:
            if not (allow_downcast or np.can_cast(value.dtype, self.dtype, "safe")):
                raise TypeError(f"{what} expected a sparse matrix of dtype {self.dtype} ({self})"
                                f" but got dtype {value.dtype}, which does not convert without "
                                f"loss; cast it first (value.astype('{self.dtype}'))")
            value = value.astype(self.dtype)
        if value.format != self.format or not isinstance(value, sp.spmatrix):
            value = _MATRIX[self.format](value)
        return value

    def __eq__(self, other: object) -> bool:
        return (type(other) is SparseType and other.format == self.format  # type: ignore
                and other.dtype == self.dtype)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((SparseType, self.format, self.dtype))

    def __str__(self) -> str:
        return f"Sparse[{self.format}, {self.dtype}]"

    __repr__ = __str__

    def fit_gradient(self, g: Any, like: Variable, source: str) -> Variable:
        """A gradient term for `like` (of this type) in its format and dtype; a dense matrix
        term becomes sparse (the core's `grad` calls this for Types that define it)."""
        basic = _b()
        if not is_sparse_variable(g):
            from theanine.tensor.basic import as_tensor_variable

            g = as_tensor_variable(g)
            if g.ndim != 2:
                raise TypeError(f"{source} gave a gradient of type {g.type} for the sparse "
                                f"matrix {like} ({self})")
            g = basic.SparseFromDense(self.format)(g)
        g = basic.to_format(g, self.format)
        return basic.cast(g, self.dtype) if self.dtype[0] in "fc" else g

    def value_signature(self, value: Any) -> Any:
        digest = hashlib.sha256()
        for part in (value.data, value.indices, value.indptr):
            digest.update(np.ascontiguousarray(part).tobytes())
        return (value.format, value.shape, str(value.dtype), digest.hexdigest())

    def values_eq(self, a: Any, b: Any) -> bool:
        return a.shape == b.shape and (a != b).nnz == 0

    def value_str(self, value: Any) -> str:
        return f"{value.format} {value.shape[0]}x{value.shape[1]}, nnz={value.nnz}"


class SparseOperators:
    """Operators and properties of every sparse variable class (plain, constant, shared)."""

    type: SparseType
    #: NumPy values on the left of an operator defer to the reflected operator here
    __array_ufunc__ = None

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def format(self) -> str:
        return self.type.format

    @property
    def ndim(self) -> int:
        return 2

    @property
    def broadcastable(self) -> tuple[bool, bool]:
        return (False, False)

    @property
    def shape(self) -> Variable:
        return _b().csm_shape(self)

    @property
    def T(self) -> Variable:
        return _b().transpose(self)

    def __neg__(self): return _m().neg(self)
    def __add__(self, other): return _m().add(self, other)
    def __radd__(self, other): return _m().add(other, self)
    def __sub__(self, other): return _m().sub(self, other)
    def __rsub__(self, other): return _m().sub(other, self)
    def __mul__(self, other): return _m().mul(self, other)
    def __rmul__(self, other): return _m().mul(other, self)

    def sum(self, axis: int | None = None, sparse_grad: bool = False) -> Variable:
        return _m().sp_sum(self, axis, sparse_grad)

    def toarray(self) -> Variable:
        return _b().dense_from_sparse(self)


class SparseVariable(SparseOperators, Variable):
    """A symbolic sparse matrix."""


class SparseConstant(SparseOperators, Constant):
    """A sparse matrix known when the graph is built."""


class SparseSharedVariable(SparseOperators, SharedVariable):
    """A shared scipy.sparse matrix."""


SparseType.variable_type = SparseVariable
SparseType.constant_type = SparseConstant


def matrix(format: str, name: str | None = None, dtype: str | None = None) -> SparseVariable:
    """A symbolic sparse matrix of `format` ('csr' or 'csc'); dtype defaults to floatX."""
    return SparseType(format, dtype or config.floatX)(name)  # type: ignore[return-value]


def csr_matrix(name: str | None = None, dtype: str | None = None) -> SparseVariable:
    return matrix("csr", name, dtype)


def csc_matrix(name: str | None = None, dtype: str | None = None) -> SparseVariable:
    return matrix("csc", name, dtype)


def _type_of(value: Any, what: str) -> SparseType:
    if not sp.issparse(value) or value.format not in FORMATS:
        raise TypeError(f"{what} takes a scipy.sparse csr or csc matrix, got "
                        f"{describe_value(value)}; convert it first (value.tocsr())")
    return SparseType(value.format, value.dtype)


def constant(value: Any, name: str | None = None) -> SparseConstant:
    """A sparse constant holding a CSR or CSC scipy matrix."""
    return SparseConstant(_type_of(value, "sparse constant()"), value, name)


def is_sparse_variable(x: Any) -> bool:
    return isinstance(x, Variable) and isinstance(x.type, SparseType)


def as_sparse_variable(x: Any, name: str | None = None) -> Variable:
    """`x` as a sparse variable: sparse variables pass through, scipy matrices become
    constants."""
    if isinstance(x, Variable):
        if not isinstance(x.type, SparseType):
            raise TypeError(f"variable {x} of type {x.type} is not sparse; convert a dense "
                            "matrix with csr_from_dense or csc_from_dense")
        return x
    return constant(x, name)


def as_sparse_or_tensor_variable(x: Any, name: str | None = None) -> Variable:
    """A sparse variable for sparse values and variables, a tensor variable otherwise."""
    from theanine.tensor.basic import as_tensor_variable

    if is_sparse_variable(x) or sp.issparse(x):
        return as_sparse_variable(x, name)
    return as_tensor_variable(x, name)


def shared_constructor(value: Any, name: str | None = None, strict: bool = False,
                       allow_downcast: bool | None = None, borrow: bool = False,
                       broadcastable: tuple[bool, ...] | None = None) -> SparseSharedVariable:
    """`theanine.shared` of a scipy.sparse matrix (registered by the plugin)."""
    stype = _type_of(value, "shared()")
    if broadcastable not in (None, (False, False)):
        raise TypeError(f"shared(): a sparse matrix has no broadcastable dimension, got "
                        f"broadcastable={broadcastable!r}")
    return SparseSharedVariable(stype, value, name=name, strict=strict,
                                allow_downcast=allow_downcast, borrow=borrow)
