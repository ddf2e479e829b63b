"""Test values per dtype: the special values of the dtype first (extremes, zeros, -1, NaN,
infinities, subnormals), then random ones."""

from __future__ import annotations

import numpy as np

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")


def specials(dtype: str) -> np.ndarray:
    d = np.dtype(dtype)
    if d.kind == "b":
        return np.array([False, True])
    if d.kind in "iu":
        info = np.iinfo(d)
        vals = {info.min, info.max, info.min + 1, info.max - 1, 0, 1, 2, 3, 7}
        if d.kind == "i":
            vals |= {-1, -2, -3, -7}
        return np.array(sorted(vals), dtype=d)
    info = np.finfo(d)
    return np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 3.0,
                     info.max, -info.max, info.tiny, -info.tiny, info.smallest_subnormal,
                     info.eps, 100.0], dtype=d)


def randoms(rng: np.random.Generator, dtype: str, n: int) -> np.ndarray:
    d = np.dtype(dtype)
    if d.kind == "b":
        return rng.integers(0, 2, n).astype(bool)
    if d.kind in "iu":
        info = np.iinfo(d)
        small = rng.integers(max(info.min, -100), min(info.max, 100), n, endpoint=True)
        large = rng.integers(info.min, info.max, n, endpoint=True, dtype=d)
        return np.where(rng.random(n) < 0.5, small.astype(d), large)
    scale = 10.0 ** rng.uniform(-3, 3 if d != np.float16 else 2, n)
    return (rng.standard_normal(n) * scale).astype(d)


def unary_values(rng: np.random.Generator, dtype: str, n: int = 40) -> np.ndarray:
    return np.concatenate([specials(dtype), randoms(rng, dtype, n)])


def binary_values(rng: np.random.Generator, dtype_x: str, dtype_y: str, n: int = 40
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of special values, then random pairs."""
    sx, sy = specials(dtype_x), specials(dtype_y)
    x = np.concatenate([np.repeat(sx, sy.size), randoms(rng, dtype_x, n)])
    y = np.concatenate([np.tile(sy, sx.size), randoms(rng, dtype_y, n)])
    return x, y
