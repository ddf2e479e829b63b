"""Theano's older pooling module (before `signal.pool`): `max_pool_2d` with the old argument
names, kept so that programs written against it run unchanged."""

from __future__ import annotations

from typing import Any

from theanine.tensor.signal.pool import Pool, max_pool_2d_same_size, pool_2d
from theanine.tensor.variable import TensorVariable

DownsampleFactorMax = Pool

__all__ = ["DownsampleFactorMax", "max_pool_2d", "max_pool_2d_same_size"]


def max_pool_2d(input: Any, ds: Any, ignore_border: bool | None = None, st: Any = None,
                padding: Any = (0, 0), mode: str = "max") -> TensorVariable:
    """Pool the last two dimensions of `input` over `ds` windows moved by `st`; see
    `pool.pool_2d` (ws=ds, stride=st, pad=padding)."""
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding,
                   mode=mode)
