"""`theano._asarray`: `numpy.asarray` that returns exactly the dtype asked for."""

from __future__ import annotations

from typing import Any

import numpy as np


def _asarray(a: Any, dtype: Any, order: str | None = None) -> np.ndarray:
    """`np.asarray(a, dtype, order)`; `dtype` may be 'floatX' (`config.floatX`).

    Theano needed its own because old NumPy could return an equal but different dtype object
    for 'int32'; NumPy normalizes dtypes now, so this is asarray with Theano's signature."""
    if isinstance(dtype, str) and dtype == "floatX":
        from theanine.config import config

        dtype = config.floatX
    try:
        wanted = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"_asarray: dtype {dtype!r} is not a NumPy dtype") from None
    return np.asarray(a, dtype=wanted, order=order)
