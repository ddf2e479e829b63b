"""Tensor variables: Python operators and NumPy-like methods on symbolic tensors."""

from __future__ import annotations

from typing import Any

from theanine.graph.basic import Constant, Variable


def _m():
    from theanine.tensor import math

    return math


def _shape_ops():
    from theanine.tensor import shape_ops

    return shape_ops


def _b():
    from theanine.tensor import basic

    return basic


#: scalar ops whose results refuse `bool()` (Theano: the comparison operators')
_COMPARISONS = frozenset({"lt", "gt", "le", "ge", "eq", "neq"})


class TensorOperators:
    """Mixed into every tensor variable class (plain, constant, shared)."""

    type: Any

    #: NumPy scalars and arrays on the left of an operator defer to the reflected operator
    #: here (`np.float32(0.1) * g` builds a graph), instead of NumPy trying to convert the
    #: variable to an array; a NumPy value is a strong (typed) operand, not a weak literal.
    __array_ufunc__ = None

    # Type facts ---------------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self):
        return _b().shape(self)

    @property
    def size(self):
        return _m().prod(self.shape)

    @property
    def T(self):
        return _b().transpose(self)

    # Arithmetic ---------------------------------------------------------------------------
    def __add__(self, other): return _m().add(self, other)
    def __radd__(self, other): return _m().add(other, self)
    def __sub__(self, other): return _m().sub(self, other)
    def __rsub__(self, other): return _m().sub(other, self)
    def __mul__(self, other): return _m().mul(self, other)
    def __rmul__(self, other): return _m().mul(other, self)
    def __truediv__(self, other): return _m().true_div(self, other)
    def __rtruediv__(self, other): return _m().true_div(other, self)
    def __floordiv__(self, other): return _m().int_div(self, other)
    def __rfloordiv__(self, other): return _m().int_div(other, self)
    def __mod__(self, other): return _m().mod(self, other)
    def __rmod__(self, other): return _m().mod(other, self)
    def __pow__(self, other):
        # NumPy's `a ** 2` is `square(a)`, which differs from power only for bool (int8)
        if type(other) is int and other == 2 and self.dtype == "bool":
            return _m().sqr(self)
        return _m().pow(self, other)

    def __rpow__(self, other): return _m().pow(other, self)
    def __neg__(self): return _m().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _m().abs(self)
    def __matmul__(self, other): return _m().matmul(self, other)
    def __rmatmul__(self, other): return _m().matmul(other, self)

    # Comparisons (elementwise, like NumPy; `==` stays identity so variables hash) ----------
    def __lt__(self, other): return _m().lt(self, other)
    def __le__(self, other): return _m().le(self, other)
    def __gt__(self, other): return _m().gt(self, other)
    def __ge__(self, other): return _m().ge(self, other)
    def __and__(self, other): return _m().and_(self, other)
    def __rand__(self, other): return _m().and_(other, self)
    def __or__(self, other): return _m().or_(self, other)
    def __ror__(self, other): return _m().or_(other, self)
    def __xor__(self, other): return _m().xor(self, other)
    def __rxor__(self, other): return _m().xor(other, self)
    def __invert__(self): return _m().invert(self)

    __hash__ = Variable.__hash__

    def __bool__(self) -> bool:
        """True, as in Theano 1.0 (`if not W:` tests whether W was given), except for the
        result of a comparison: `a < b < c` would silently mean `(a < b) and (b < c)`."""
        owner = self.owner  # type: ignore[attr-defined]
        if owner is not None and getattr(getattr(owner.op, "scalar_op", None), "name",
                                         None) in _COMPARISONS:
            raise TypeError(f"symbolic variable {self} has no truth value; use T.switch or "
                            "compile a function to get a value")
        return True

    def __iter__(self):
        raise TypeError(f"symbolic variable {self} is not iterable; index it instead")

    def __len__(self) -> int:
        raise TypeError(f"symbolic variable {self} has no len(); use .shape[0]")

    # Methods ------------------------------------------------------------------------------
    def __getitem__(self, index):
        from theanine.tensor.subtensor import getitem

        return getitem(self, index)

    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _m().sum(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _m().prod(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _m().mean(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def max(self, axis=None, keepdims=False):
        return _m().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _m().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _m().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _m().argmin(self, axis=axis, keepdims=keepdims)

    def dot(self, other):
        return _m().dot(self, other)

    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], list | tuple):
            pattern = tuple(pattern[0])
        return _b().dimshuffle(self, pattern)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], list | tuple):
            axes = tuple(axes[0])
        return _b().transpose(self, axes or None)

    def reshape(self, shape, ndim=None):
        return _b().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=None, outdim=None):
        return _b().flatten(self, ndim, outdim)

    def swapaxes(self, axis1, axis2):
        return _shape_ops().swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        return _shape_ops().squeeze(self, axis)

    def repeat(self, repeats, axis=None):
        return _shape_ops().repeat(self, repeats, axis)

    def take(self, indices, axis=None, mode="raise"):
        from theanine.tensor.subtensor import take

        return take(self, indices, axis=axis, mode=mode)

    def sort(self, axis=-1, kind="quicksort"):
        from theanine.tensor.sort import sort

        return sort(self, axis=axis, kind=kind)

    def argsort(self, axis=-1, kind="quicksort"):
        from theanine.tensor.sort import argsort

        return argsort(self, axis=axis, kind=kind)

    def astype(self, dtype):
        return _m().cast(self, dtype)

    def clip(self, a_min, a_max):
        return _m().clip(self, a_min, a_max)

    # The rest of Theano's variable methods: each the function of the same name ------------
    def var(self, axis=None, ddof=0, keepdims=False):
        return _m().var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _m().std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _m().any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _m().all(self, axis=axis, keepdims=keepdims)

    def norm(self, L, axis=None):
        """(sum |x|^L)^(1/L) over `axis` (Theano's: L = 0 and inf are not supported)."""
        if L == 0 or L in (float("inf"), float("-inf")):
            raise NotImplementedError(f"norm: L={L} is not supported; use max(abs(x)) for "
                                      "the infinity norm")
        return _m().pow(_m().pow(_m().abs(self), L).sum(axis=axis), 1.0 / L)

    def round(self, mode=None):
        return _m().round(self, mode)

    def conj(self):
        return _m().conj(self)

    conjugate = conj

    @property
    def real(self):
        return _m().real(self)

    @property
    def imag(self):
        return _m().imag(self)

    def ravel(self):
        return _b().flatten(self)

    def cumsum(self, axis=None):
        from theanine.tensor.extra_ops import cumsum

        return cumsum(self, axis)

    def cumprod(self, axis=None):
        from theanine.tensor.extra_ops import cumprod

        return cumprod(self, axis)

    def ptp(self, axis=None):
        from theanine.tensor.extra_ops import ptp

        return ptp(self, axis)

    def trace(self, offset=0):
        from theanine.tensor.nlinalg import trace

        return trace(self, offset)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        from theanine.tensor.locate import diagonal

        return diagonal(self, offset, axis1, axis2)

    def nonzero(self, return_matrix=False):
        from theanine.tensor.locate import nonzero

        return nonzero(self, return_matrix)

    def nonzero_values(self):
        from theanine.tensor.locate import nonzero_values

        return nonzero_values(self)

    def searchsorted(self, v, side="left", sorter=None):
        from theanine.tensor.locate import searchsorted

        return searchsorted(self, v, side, sorter)

    def choose(self, choices, out=None, mode="raise"):
        from theanine.tensor.extra_ops import choose

        return choose(self, choices, out, mode)

    def compress(self, condition, axis=None):
        from theanine.tensor.extra_ops import compress

        return compress(condition, self, axis)

    def fill(self, value):
        return _b().fill(self, value)

    def copy(self, name=None):
        """A symbolic copy (`tensor_copy(self)`) named `name`; tags are not copied."""
        out = _b().tensor_copy(self)
        out.name = name
        return out

    def zeros_like(self, dtype=None):
        return _b().zeros_like(self, dtype)

    def ones_like(self, dtype=None):
        return _b().ones_like(self, dtype)

    def __array__(self, *args, **kwargs):
        raise TypeError(f"symbolic variable {self} cannot be converted to a NumPy array; "
                        "compile a theanine.function to compute its value")


class TensorVariable(TensorOperators, Variable):
    """A symbolic tensor."""


class TensorConstant(TensorOperators, Constant):
    """A tensor whose value is fixed when the graph is built."""

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        return f"TensorConstant{{{self.type.value_str(self.data)}}}"
