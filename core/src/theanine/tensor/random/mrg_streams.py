"""`MRG_RandomStreams`: counter-style random streams whose state is an int32 array.

Every random variable gets its own stream of the MRG31k3p generator (`mrg.py`): the streams
object keeps `rstate`, the start of the next stream (six integers; `[seed] * 6` for an int
seed), hands the next variable substreams of it (one per group of elements, spaced 2**72
steps apart) in a shared int32 variable with a default update, then jumps `rstate` 2**134
steps ahead.  Normal, binomial, multinomial and choice draws are built from the variable's
uniforms, so only the uniform draw needs a native implementation on a backend, and the same
seed gives the same uniforms everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.graph.basic import Constant, Variable
from theanine.tensor.random import mrg
from theanine.tensor.random.basic import float_dtype, normalize_size
from theanine.tensor.random.mrg_ops import ChoiceFromUniform, MRGUniform, MultinomialFromUniform
from theanine.tensor.sharedvar import SharedVariable, shared


def _is_number(v: Any, value: float) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == value


def _entries(size: Any, what: str, ndim: int | None) -> list[Any]:
    """`size` as a list of ints and integer scalar variables (`ndim` entries for a symbolic
    vector of unknown length)."""
    if size is None:
        raise ValueError(f"{what}: size is required (a tuple of integers or a shape vector)")
    vec, static = normalize_size(size, what, ndim)
    return [s if s is not None else vec[i] for i, s in enumerate(static)]


def _product(entries: list[Any]) -> Any:
    total: Any = 1
    for e in entries:
        total = total * e
    return total


class MRG_RandomStreams:
    """Random variables drawn with MRG31k3p (Theano's `sandbox.rng_mrg.MRG_RandomStreams`).

    `rstate` is the start of the next variable's stream (assign another object's `rstate` to
    make future variables match it); `state_updates` lists each variable's (shared state,
    new state) pair.  `nstreams` overrides how many substreams a variable gets.
    """

    def __init__(self, seed: int | Any = 12345):
        self.state_updates: list[tuple[SharedVariable, Variable]] = []
        self._stream_counts: list[int] = []
        self.default_instance_seed = seed
        self.set_rstate(seed)

    # Seeding --------------------------------------------------------------------------------
    def set_rstate(self, seed: int | Any) -> None:
        """Start from `seed`: an int in [1, M2) (the state [seed] * 6) or six integers."""
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            if not 0 < seed < mrg.M2:
                raise ValueError(f"MRG_RandomStreams: an int seed must lie in [1, {mrg.M2}), "
                                 f"got {seed}")
            self.rstate = np.array([seed] * 6, dtype=np.int32)
            return
        state = np.asarray(seed)
        if state.shape != (6,) or state.dtype.kind not in "iu":
            raise TypeError(f"MRG_RandomStreams: seed must be an int or six integers, got "
                            f"{seed!r}"[:200])
        if ((state < 0) | (state >= 2**31)).any():
            raise ValueError(f"MRG_RandomStreams: seed entries must lie in [0, 2**31), got "
                             f"{seed!r}")
        self.rstate = state.astype(np.int32)
        mrg.state_columns(self.rstate.reshape(1, 6), "MRG_RandomStreams seed")

    def inc_rstate(self) -> None:
        """Move `rstate` to the next stream (2**134 steps on)."""
        self.rstate = mrg.next_stream(self.rstate)

    def get_substream_rstates(self, n_streams: int, dtype: str | None = None,
                              inc_rstate: bool = True) -> np.ndarray:
        """The (n_streams, 6) states of the substreams of the stream at `rstate`, then (by
        default) move `rstate` to the next stream."""
        rows = mrg.substreams(self.rstate, n_streams)
        if inc_rstate:
            self.inc_rstate()
        return rows

    def n_streams(self, size: Any) -> int:
        """How many substreams a draw of `size` gets by default."""
        return mrg.guess_n_streams(normalize_size(size, "MRG_RandomStreams")[1])

    def seed(self, seed: int | Any = None) -> None:
        """Restart from `seed` (default: the constructor's) and give every variable made so
        far the state a fresh `MRG_RandomStreams(seed)` would have given it."""
        self.set_rstate(self.default_instance_seed if seed is None else seed)
        for (state, _), n in zip(self.state_updates, self._stream_counts):
            state.set_value(self.get_substream_rstates(n), borrow=True)

    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        return list(self.state_updates)

    # Draws ----------------------------------------------------------------------------------
    def _uniform01(self, size: Any, dtype: str, nstreams: int | None, what: str) -> Variable:
        """Uniforms in (0, 1) from a new variable's stream."""
        vec, static = normalize_size(size, what)
        if nstreams is None:
            nstreams = mrg.guess_n_streams(static)
        elif not isinstance(nstreams, int | np.integer) or nstreams < 1:
            raise ValueError(f"{what}: nstreams must be a positive integer, got {nstreams!r}")
        state = shared(self.get_substream_rstates(int(nstreams)))
        state.tag["is_rng"] = True
        new_state, u = MRGUniform(dtype, tuple(s == 1 for s in static)).make_node(
            state, vec).outputs
        state.default_update = new_state
        u.rstate = state
        u.update = (state, new_state)
        self.state_updates.append(u.update)
        self._stream_counts.append(int(nstreams))
        return u

    @staticmethod
    def _tag(out: Variable, u: Variable) -> Variable:
        if out is not u:
            out.rstate, out.update = u.rstate, u.update
        return out

    def uniform(self, size: Any, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: str | None = None, nstreams: int | None = None) -> Variable:
        """Floats uniform in (low, high) (float32 or float64)."""
        from theanine.tensor.math import cast

        dtype = dtype or float_dtype(low, high)
        entries = _entries(size, "MRG_RandomStreams.uniform", ndim)
        _check_ndim(ndim, entries, "uniform")
        u = self._uniform01(entries, dtype, nstreams, "MRG_RandomStreams.uniform")
        if _is_number(low, 0) and _is_number(high, 1):
            return u
        r = u * (high - low) + low
        if r.broadcastable != u.broadcastable:
            raise ValueError(f"MRG_RandomStreams.uniform: low and high must broadcast to the "
                             f"size {size!r} without changing it")
        return self._tag(r if r.dtype == dtype else cast(r, dtype), u)

    def binomial(self, size: Any = None, n: int = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: str = "int64", nstreams: int | None = None) -> Variable:
        """Successes in `n` trials of probability `p`; with n=1 and a float dtype, the mask
        of dropout (1 with probability p)."""
        from theanine.tensor.math import cast

        entries = _entries(size, "MRG_RandomStreams.binomial", ndim)
        _check_ndim(ndim, entries, "binomial")
        if not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"MRG_RandomStreams.binomial: n must be a positive integer, got "
                             f"{n!r}")
        udtype = float_dtype(p)
        if n == 1:
            u = self._uniform01(entries, udtype, nstreams, "MRG_RandomStreams.binomial")
            return self._tag(cast(u < p, dtype), u)
        u = self._uniform01([int(n), *entries], udtype, nstreams, "MRG_RandomStreams.binomial")
        return self._tag(cast((u < p).sum(axis=0), dtype), u)

    def normal(self, size: Any, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: str | None = None, nstreams: int | None = None) -> Variable:
        """Gaussian floats of mean `avg` and deviation `std`, by the Box-Muller transform of
        an even number of uniforms (the first half give the radii, the second the angles)."""
        from theanine.tensor.basic import reshape
        from theanine.tensor.join import concatenate
        from theanine.tensor.math import cos, log, sin, sqrt

        dtype = dtype or float_dtype(avg, std)
        entries = _entries(size, "MRG_RandomStreams.normal", ndim)
        _check_ndim(ndim, entries, "normal")
        total = _product(entries)
        n_even = total + total % 2
        u = self._uniform01((n_even,), dtype, nstreams, "MRG_RandomStreams.normal")
        half = n_even // 2
        radius = sqrt(-2.0 * log(u[:half]))
        angle = (2.0 * np.pi) * u[half:]
        z = concatenate([radius * cos(angle), radius * sin(angle)])
        if not (isinstance(total, int) and total % 2 == 0):
            z = z[:total]
        z = reshape(z, entries)
        if not (_is_number(avg, 0) and _is_number(std, 1)):
            z = avg + std * z
        return self._tag(z, u)

    def _pvals(self, pvals: Any, what: str) -> tuple[Variable, bool, Any]:
        """pvals as a matrix, whether it was a vector, and its row count (an int when
        fixed)."""
        from theanine.tensor.basic import as_tensor_variable

        if pvals is None:
            raise TypeError(f"{what}: the probabilities (pvals / p) are required")
        pv = as_tensor_variable(pvals)
        if pv.ndim not in (1, 2):
            raise ValueError(f"{what}: probabilities must be a vector or a (rows, outcomes) "
                             f"matrix, got {pv} ({pv.type})")
        vector = pv.ndim == 1
        if vector:
            pv = pv.dimshuffle("x", 0)
            return pv, True, 1
        rows = pv.data.shape[0] if isinstance(pv, Constant) else pv.shape[0]
        return pv, False, rows

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None,
                    ndim: int | None = None, dtype: str = "int64",
                    nstreams: int | None = None) -> Variable:
        """Counts of `n` draws per row of `pvals` (rows, outcomes): same shape as pvals (a
        vector of probabilities gives a vector of counts)."""
        what = "MRG_RandomStreams.multinomial"
        if size is not None or ndim is not None:
            raise ValueError(f"{what}: the shape comes from pvals; do not pass size or ndim")
        pv, vector, rows = self._pvals(pvals, what)
        u = self._uniform01((rows * n,), float_dtype(pv), nstreams, what)
        out = MultinomialFromUniform(dtype)(pv, u, n)
        return self._tag(out[0] if vector else out, u)

    def choice(self, size: Any = 1, a: Any = None, replace: bool = True, p: Any = None,
               ndim: int | None = None, dtype: str = "int64",
               nstreams: int | None = None) -> Variable:
        """`size` outcome indices per row of `p` (rows, outcomes), with or without
        replacement: shape (rows, size), or (size,) for a vector `p`."""
        what = "MRG_RandomStreams.choice"
        if a is not None:
            raise TypeError(f"{what}: draws indices of the outcomes of p; `a` is not supported")
        if ndim is not None:
            raise ValueError(f"{what}: the shape comes from p and size; do not pass ndim")
        if isinstance(size, tuple | list):
            if len(size) != 1:
                raise ValueError(f"{what}: size is the number of draws per row, got {size!r}")
            size = size[0]
        pv, vector, rows = self._pvals(p, what)
        u = self._uniform01((rows * size,), float_dtype(pv), nstreams, what)
        out = ChoiceFromUniform(dtype, replace)(pv, u, size)
        return self._tag(out[0] if vector else out, u)


def _check_ndim(ndim: int | None, entries: list[Any], what: str) -> None:
    if ndim is not None and ndim != len(entries):
        raise ValueError(f"MRG_RandomStreams.{what}: ndim={ndim} does not match a size of "
                         f"{len(entries)} dimension(s)")
