"""The NumPy draws behind `RandomFunction`, one per distribution.

Each sampler is `f(rng, size, *params) -> array` with `size` None (the broadcast shape of the
parameters) or a tuple.  They call `RandomState` the way Theano's `raw_random` did, element
loops included, so that a seed gives Theano's numbers: `permutation` and `multinomial` draw one
row at a time in C order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

RandomState = np.random.RandomState


def uniform(rng: RandomState, size: tuple | None, low: Any, high: Any) -> Any:
    return rng.uniform(low, high, size)


def normal(rng: RandomState, size: tuple | None, avg: Any, std: Any) -> Any:
    return rng.normal(avg, std, size)


def binomial(rng: RandomState, size: tuple | None, n: Any, p: Any) -> Any:
    return rng.binomial(n, p, size)


def random_integers(rng: RandomState, size: tuple | None, low: Any, high: Any) -> Any:
    """Integers in [low, high], both ends included (NumPy's randint with high + 1)."""
    return rng.randint(low, np.asarray(high) + 1, size)


def integers(rng: RandomState, size: tuple | None, low: Any, high: Any) -> Any:
    """Integers in [low, high), like `numpy.random.Generator.integers`."""
    return rng.randint(low, high, size)


def poisson(rng: RandomState, size: tuple | None, lam: Any) -> Any:
    return rng.poisson(lam, size)


def choice(rng: RandomState, size: tuple | None, a: Any, replace: Any, p: Any) -> Any:
    """`a` is a count (draw from arange(a)) or a vector of values; an empty `p` means
    uniform probabilities."""
    return rng.choice(a, size, bool(replace), p if p.size else None)


def permutation(rng: RandomState, size: tuple | None, n: Any) -> np.ndarray:
    """A permutation of arange(n) for each index of `size` (output shape size + (n,))."""
    shape = () if size is None else size
    n = int(n)
    out = np.empty(shape + (n,), dtype="int64")
    for index in np.ndindex(*shape):
        out[index] = rng.permutation(n)
    return out


def multinomial(rng: RandomState, size: tuple | None, n: Any, pvals: Any) -> np.ndarray:
    """Counts of `n` draws among `pvals.shape[-1]` outcomes; `n` and the leading dimensions of
    `pvals` broadcast against `size` (output shape size + (k,))."""
    n = np.asarray(n)
    pvals = np.asarray(pvals, dtype="float64")
    k = pvals.shape[-1]
    if size is None:
        size = np.broadcast_shapes(n.shape, pvals.shape[:-1])
    n_b = np.broadcast_to(n, size)
    p_b = np.broadcast_to(pvals, tuple(size) + (k,))
    out = np.empty(tuple(size) + (k,), dtype="int64")
    for index in np.ndindex(*size):
        p = p_b[index]
        total = p.sum()
        if 1.0 < total < 1.0 + 1e-5:
            p = p * (1.0 - 5e-5)  # rounding pushed the sum over 1, which NumPy refuses
        out[index] = rng.multinomial(int(n_b[index]), p)
    return out


#: distribution name -> sampler
SAMPLERS: dict[str, Callable[..., Any]] = {
    "uniform": uniform, "normal": normal, "binomial": binomial,
    "random_integers": random_integers, "integers": integers, "poisson": poisson,
    "choice": choice, "permutation": permutation, "multinomial": multinomial,
}
