"""Shared helpers: random scipy.sparse values and a gradient check for sparse inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import theanine.sparse as S
import theanine.tensor as T
from theanine.config import config
from theanine.testing import verify_grad


@pytest.fixture(autouse=True)
def native_from_the_first_call() -> Any:
    """Native backends build their code before the first call (no tiering), so the tests
    run the native code itself."""
    with config.change_flags(tiered=False):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261130)


def random_sparse(rng: np.random.Generator, shape: tuple[int, int], format: str = "csr",
                  density: float = 0.4, dtype: str = "float64") -> Any:
    """A scipy matrix with about `density` of its entries stored, values in ±[0.5, 1.5]."""
    mask = rng.random(shape) < density
    values = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return sp.csr_matrix(np.where(mask, values, 0.0).astype(dtype)).asformat(format)


def verify_sparse_grad(fn: Callable[..., Any], sparse_values: Sequence[Any],
                       dense_values: Sequence[np.ndarray] = (), **kwargs: Any) -> None:
    """`verify_grad` of `fn(*sparse, *dense)` with respect to the stored values of each sparse
    input and to each dense input.  Each sparse input is built by `CSM` from a data vector
    and its (fixed) structure, so finite differences perturb stored entries only: what a
    structured gradient promises.  A sparse result is compared through its dense form."""
    structures = [(v.format, v.indices.astype("int32"), v.indptr.astype("int32"),
                   np.array(v.shape, dtype="int64")) for v in sparse_values]
    n = len(structures)

    def wrapped(*args: Any) -> Any:
        sparse = [S.CSM(fmt)(data, T.constant(ind), T.constant(ptr), T.constant(shp))
                  for data, (fmt, ind, ptr, shp) in zip(args[:n], structures)]
        out = fn(*sparse, *args[n:])
        return S.dense_from_sparse(out) if isinstance(out.type, S.SparseType) else out

    verify_grad(wrapped, [np.array(v.data) for v in sparse_values] + list(dense_values),
                **kwargs)
