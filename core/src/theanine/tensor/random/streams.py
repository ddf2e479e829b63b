"""`RandomStreams`: random variables that each own a NumPy RandomState in a shared variable.

Seeding follows Theano, so that a seed gives Theano's numbers: the streams object keeps a
`RandomState(seed)` from which each new variable takes its own seed, `randint(2**30)`, in the
order the variables are created.  A variable's shared state has a default update (the state
after the draw), which every function drawing it applies unless compiled with
`no_default_updates`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from theanine.graph.basic import Variable
from theanine.tensor.random import basic
from theanine.tensor.sharedvar import SharedVariable, shared

_SEED_BOUND = 2**30


class RandomStreams:
    """A factory of random variables sharing one seed (Theano's `shared_randomstreams`).

    Each variable `rv` it returns has `rv.rng` (the shared RandomState) and `rv.update`
    (`(rv.rng, state after the draw)`); `state_updates` lists every such pair.
    """

    def __init__(self, seed: int | None = None):
        self.state_updates: list[tuple[SharedVariable, Variable]] = []
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.RandomState(seed)

    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        """The (shared state, new state) pairs of every variable made so far."""
        return list(self.state_updates)

    def seed(self, seed: int | None = None) -> None:
        """Reseed every variable made so far, as a fresh `RandomStreams(seed)` would have
        seeded them (the default: the seed this object was made with).  Variables made
        afterwards continue that same sequence of seeds."""
        if seed is None:
            seed = self.default_instance_seed
        seedgen = np.random.RandomState(seed)
        for rng, _ in self.state_updates:
            rng.set_value(np.random.RandomState(int(seedgen.randint(_SEED_BOUND))), borrow=True)
        self.gen_seedgen = seedgen

    def _rng_of(self, item: Any) -> SharedVariable:
        rng = getattr(item, "rng", item)
        if not any(rng is r for r, _ in self.state_updates):
            raise KeyError(f"{item} is not a random variable (or state) of these streams")
        return rng

    def __getitem__(self, item: Any) -> np.random.RandomState:
        """The RandomState of a variable (or of its `rng`), not copied."""
        return self._rng_of(item).get_value(borrow=True)

    def __setitem__(self, item: Any, value: np.random.RandomState) -> None:
        self._rng_of(item).set_value(value, borrow=True)

    def gen(self, fn: Callable[..., tuple[Variable, Variable]], *args: Any, **kwargs: Any
            ) -> Variable:
        """A random variable drawn by `fn(rng, *args, **kwargs) -> (new rng, sample)` from a
        new shared RandomState seeded from this object's seed sequence."""
        seed = int(self.gen_seedgen.randint(_SEED_BOUND))
        rng = shared(np.random.RandomState(seed))
        rng.tag["is_rng"] = True
        new_rng, out = fn(rng, *args, **kwargs)
        rng.default_update = new_rng
        out.rng = rng
        out.update = (rng, new_rng)
        self.state_updates.append(out.update)
        return out

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0,
                ndim: int | None = None, dtype: str | None = None) -> Variable:
        """Floats uniform in [low, high)."""
        return self.gen(basic.uniform, size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0,
               ndim: int | None = None, dtype: str | None = None) -> Variable:
        """Gaussian floats of mean `avg` and standard deviation `std`."""
        return self.gen(basic.normal, size, avg, std, ndim=ndim, dtype=dtype)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: str = "int64", prob: Any = None) -> Variable:
        """Successes in `n` trials of probability `p`."""
        return self.gen(basic.binomial, size, n, p, ndim=ndim, dtype=dtype, prob=prob)

    def random_integers(self, size: Any = None, low: Any = 0, high: Any = 1,
                        ndim: int | None = None, dtype: str = "int64") -> Variable:
        """Integers uniform in [low, high], both included."""
        return self.gen(basic.random_integers, size, low, high, ndim=ndim, dtype=dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None, ndim: int | None = None,
                 dtype: str = "int64") -> Variable:
        """Integers uniform in [low, high), or [0, low) without `high`."""
        return self.gen(basic.integers, low, high, size, ndim=ndim, dtype=dtype)

    def poisson(self, size: Any = None, lam: Any = 1.0, ndim: int | None = None,
                dtype: str = "int64") -> Variable:
        """Poisson counts of mean `lam`."""
        return self.gen(basic.poisson, size, lam, ndim=ndim, dtype=dtype)

    def choice(self, size: Any = None, a: Any = 2, replace: Any = True, p: Any = None,
               ndim: int | None = None, dtype: str | None = None) -> Variable:
        """Draws from arange(a) or the vector `a`, with probabilities `p`."""
        return self.gen(basic.choice, size, a, replace, p, ndim=ndim, dtype=dtype)

    def permutation(self, size: Any = None, n: Any = 1, ndim: int | None = None,
                    dtype: str = "int64") -> Variable:
        """Permutations of arange(n), one per index of `size`."""
        return self.gen(basic.permutation, size, n, ndim=ndim, dtype=dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5),
                    ndim: int | None = None, dtype: str = "int64") -> Variable:
        """Counts of `n` draws among the outcomes of `pvals`."""
        return self.gen(basic.multinomial, size, n, pvals, ndim=ndim, dtype=dtype)
