"""`TensorType`: an ndarray type given by dtype and per-dimension broadcastability."""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.type import Type

_SHORT_NAMES = {0: "scalar", 1: "vector", 2: "matrix", 3: "tensor3", 4: "tensor4"}
ALL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", "complex64", "complex128")


def describe_value(value: Any) -> str:
    """A user's value as an error message shows it."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:200]


class TensorType(Type):
    """ndarrays of `dtype` with `len(broadcastable)` dimensions (True: a dimension of size 1)."""

    def __init__(self, dtype: str | np.dtype, broadcastable: tuple[bool, ...] | list[bool] = (),
                 shape: tuple[int | None, ...] | None = None):
        self.dtype = str(np.dtype(dtype))
        if self.dtype not in ALL_DTYPES:
            raise TypeError(f"unsupported dtype {self.dtype}; supported: {', '.join(ALL_DTYPES)}")
        if shape is not None:
            broadcastable = tuple(s == 1 for s in shape)
        self.broadcastable = tuple(bool(b) for b in broadcastable)
        self.ndim = len(self.broadcastable)
        self.numpy_dtype = np.dtype(self.dtype)
        self._hash = hash((TensorType, self.dtype, self.broadcastable))

    def clone(self, dtype: str | None = None, broadcastable: tuple[bool, ...] | None = None
              ) -> TensorType:
        return TensorType(dtype or self.dtype,
                          self.broadcastable if broadcastable is None else broadcastable)

    def __eq__(self, other: object) -> bool:
        return (type(other) is TensorType and other.dtype == self.dtype  # type: ignore[attr-defined]
                and other.broadcastable == self.broadcastable)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return self._hash

    def is_compatible(self, other: Type) -> bool:
        """Same dtype and rank; a broadcastable dimension may stand for a general one."""
        return (isinstance(other, TensorType) and other.dtype == self.dtype
                and other.ndim == self.ndim
                and all(o or not s for s, o in zip(self.broadcastable, other.broadcastable)))

    def __str__(self) -> str:
        kind = _SHORT_NAMES.get(self.ndim, f"{self.ndim}d")
        if any(self.broadcastable):  # only row and col have names; show other patterns
            kind = {(True, False): "row", (False, True): "col"}.get(
                self.broadcastable, str(self.broadcastable))
        return f"TensorType({self.dtype}, {kind})"

    __repr__ = __str__

    # Values -------------------------------------------------------------------------------
    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None,
               name: str | None = None) -> np.ndarray:
        """Convert `value` to an ndarray of this type, or raise TypeError saying why.

        Arrays must match the dtype exactly when `strict`; otherwise they are cast when NumPy
        calls the cast safe.  Python numbers and lists are converted when the conversion keeps
        their value; Python floats may always become a float dtype.  `allow_downcast=True`
        accepts any cast.
        """
        what = f"input {name!r}" if name else "value"
        if type(value) is np.ndarray and value.dtype == self.numpy_dtype:
            arr = value
        elif strict:
            raise TypeError(f"{what} expected an ndarray of type {self} but got "
                            f"{describe_value(value)}")
        else:
            arr = self._convert(value, allow_downcast, what)
        if arr.ndim != self.ndim:
            raise TypeError(f"{what} expected {self.ndim} dimension(s) ({self}) but got "
                            f"{arr.ndim} (shape {arr.shape})")
        for i, (b, s) in enumerate(zip(self.broadcastable, arr.shape)):
            if b and s != 1:
                raise TypeError(f"{what}: dimension {i} of {self} must have size 1 "
                                f"(broadcastable) but the value has shape {arr.shape}")
        return arr

    def _convert(self, value: Any, allow_downcast: bool | None, what: str) -> np.ndarray:
        target = self.numpy_dtype
        if isinstance(value, np.ndarray | np.generic):
            arr = np.asarray(value)
            if arr.dtype == target:
                return arr
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"{what} expected a numeric value of type {self} but got "
                                f"{describe_value(value)}")
            if allow_downcast or np.can_cast(arr.dtype, target, "safe"):
                return arr.astype(target)
            hint = ""
            if self.dtype == "float32" and arr.dtype == np.float64:
                hint = (" (code written for Theano's default floatX=float64 runs with "
                        "THEANINE_FLAGS=floatX=float64; this project's default is float32)")
            raise TypeError(
                f"{what} expected dtype {self.dtype} but got {arr.dtype}; casting would lose "
                f"precision. Cast the value (value.astype('{self.dtype}')) or pass "
                f"allow_input_downcast=True to theanine.function{hint}")
        try:
            raw = np.asarray(value)
        except Exception as exc:
            raise TypeError(f"{what} expected {self} but got {describe_value(value)}") from exc
        if raw.dtype.kind not in "biufc":
            raise TypeError(f"{what} expected a numeric value of type {self} but got "
                            f"{describe_value(value)}")
        if raw.dtype == target:
            return raw
        if allow_downcast:
            return raw.astype(target)
        if raw.dtype.kind == "f" and target.kind in "fc" and allow_downcast is None:
            return raw.astype(target)  # Python floats may become float32 (Theano's rule),
            # unless downcasting was explicitly refused (allow_downcast=False)
        if raw.dtype.kind == "c" and target.kind != "c":
            lossless = False  # checked before casting: the cast would warn
        else:
            with np.errstate(all="ignore"):
                converted = raw.astype(target)
            lossless = bool(np.all(converted == raw))
        if not lossless:
            raise TypeError(f"{what} expected dtype {self.dtype} but got {describe_value(value)}, "
                            "which does not convert without loss; pass allow_input_downcast=True "
                            "to theanine.function to allow it")
        return converted

    def value_signature(self, value: np.ndarray) -> Any:
        return (value.shape, value.dtype.str, value.tobytes())

    def value_str(self, value: np.ndarray) -> str:
        if value.ndim == 0:
            return str(value.item()) if value.dtype.kind != "b" else str(bool(value))
        return np.array2string(value, threshold=8, separator=", ").replace("\n", "")

    def values_eq(self, a: Any, b: Any) -> bool:
        return a.shape == b.shape and bool(np.all(a == b))

    def values_eq_approx(self, a: Any, b: Any, rtol: float | None = None,
                         atol: float | None = None) -> bool:
        if rtol is None:
            rtol = 1e-3 if self.dtype in ("float16", "float32", "complex64") else 1e-5
        if atol is None:
            atol = 1e-5 if self.dtype in ("float16", "float32", "complex64") else 1e-8
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))

    def make_variable(self, name: str | None = None):
        from theanine.tensor.variable import TensorVariable

        return TensorVariable(self, None, None, name)
