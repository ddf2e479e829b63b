"""Synthetic data and NumPy references shared by the port tests (our own small stand-ins for the
datasets the public Theano tutorials train on: the same shapes and dtypes, learnable structure)."""

from __future__ import annotations

import numpy as np


def blobs(rng: np.random.Generator, n: int, n_in: int, n_out: int, dtype: str,
          noise: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Rows near one of `n_out` random prototypes; the label is the prototype's index."""
    protos = rng.normal(size=(n_out, n_in))
    y = rng.integers(0, n_out, size=n)
    x = protos[y] + noise * rng.normal(size=(n, n_in))
    return x.astype(dtype), y.astype("int64")


def binary_patterns(rng: np.random.Generator, n: int, n_vis: int, k: int = 4,
                    dtype: str = "float32") -> np.ndarray:
    """Binary rows: one of `k` random patterns, 5% of bits flipped (what an RBM/dA can learn)."""
    protos = rng.random((k, n_vis)) < 0.5
    rows = protos[rng.integers(0, k, size=n)]
    flip = rng.random(rows.shape) < 0.05
    return (rows ^ flip).astype(dtype)


def softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def nll(p: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels `y` under the rows of `p`."""
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def onehot(y: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n)[y]
