"""Symbolic draws from a RandomState variable (Theano's `raw_random` functions).

Each function takes the state variable first and returns `(new_state, sample)`; the streams
(`RandomStreams`) wrap them so that the state lives in a shared variable that updates itself.
Sizes are tuples of ints or integer scalars, an int, or a symbolic shape vector whose length
the graph tells (such as `x.shape`) or `ndim` gives (as Theano's `ndim` argument did);
`size=None` means the broadcast shape of the parameters.  Float draws
default to `config.floatX` (promoted with the dtype of any tensor parameter; Python numbers
do not count), integer draws to int64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theanine.config import config
from theanine.graph.basic import Constant, Variable
from theanine.tensor.random.op import RandomFunction

Pair = tuple[Variable, Variable]


def _label(what: str, value: Any) -> str:
    return f"{what}: {type(value).__name__} {value!r}"[:200]


def _entry_value(e: Variable) -> int | None:
    """The value of a scalar size entry when the graph fixes it."""
    if isinstance(e, Constant):
        return int(e.data)
    return None


def normalize_size(size: Any, what: str, ndim: int | None = None
                   ) -> tuple[Variable, tuple[int | None, ...]]:
    """`size` as an int64 vector variable, and each entry's value where it is a constant.
    `ndim` is the length of a symbolic size vector whose length the graph does not tell."""
    from theanine.tensor.basic import MakeVector, as_tensor_variable, constant, shape_length
    from theanine.tensor.math import cast

    if isinstance(size, Variable):
        v = as_tensor_variable(size)
        if v.dtype[:3] not in ("int", "uin"):
            raise TypeError(f"{what}: size must hold integers, got {v} ({v.type})")
        if v.ndim == 0:
            return MakeVector("int64")(v), (_entry_value(v),)
        n = shape_length(v) if v.ndim == 1 else None
        if n is None and v.ndim == 1 and ndim is not None:
            n = ndim  # checked against the drawn sample when it runs
        if n is None:
            raise ValueError(f"{what}: the length of the symbolic size {v} ({v.type}) is "
                             "unknown; pass a tuple such as (x.shape[0], 3), or give ndim")
        if isinstance(v, Constant):
            static = tuple(int(s) for s in v.data)
        elif v.owner is not None and isinstance(v.owner.op, MakeVector):
            static = tuple(_entry_value(e) for e in v.owner.inputs)
        else:
            static = (None,) * n
        return (v if v.dtype == "int64" else cast(v, "int64")), static
    if isinstance(size, int | np.integer):
        size = (size,)
    if not isinstance(size, tuple | list):
        raise TypeError(f"{_label(what, size)} is not a size; use a tuple of integers or "
                        "integer scalars, or a shape vector such as x.shape")
    entries: list[Any] = []
    for s in size:
        if isinstance(s, Variable):
            s = as_tensor_variable(s)
            if s.ndim != 0 or s.dtype[:3] not in ("int", "uin"):
                raise TypeError(f"{what}: size entry {s} ({s.type}) is not an integer scalar")
        elif isinstance(s, int | np.integer) and not isinstance(s, bool):
            if s < 0:
                raise ValueError(f"{what}: size {tuple(size)!r} has a negative entry")
            s = int(s)
        else:
            raise TypeError(f"{what}: size entry {s!r} in {tuple(size)!r} is not an integer")
        entries.append(s)
    static = tuple(s if isinstance(s, int) else _entry_value(s) for s in entries)
    if all(isinstance(s, int) for s in entries):
        return constant(np.array(entries, dtype="int64")), static
    return MakeVector("int64")(*entries), static


def _shape_info(size: Any, ndim: int | None, lead: list[tuple[bool, ...]], what: str
                ) -> tuple[Variable, tuple[bool, ...]]:
    """The size vector and the sample's broadcast pattern (before any dimensions the draw
    adds).  `lead` holds the patterns of the parameters that broadcast against the size."""
    from theanine.tensor.basic import constant

    if size is None:
        nd = max((len(b) for b in lead), default=0)
        if ndim is not None and ndim != nd:
            raise ValueError(f"{what}: ndim={ndim} but the parameters broadcast to {nd} "
                             "dimension(s) and no size is given")
        bcast = tuple(all(b[d - nd + len(b)] if d >= nd - len(b) else True for b in lead)
                      for d in range(nd))
        return constant(np.zeros(0, dtype="int64")), bcast
    vec, static = normalize_size(size, what, ndim)
    if ndim is not None and ndim != len(static):
        raise ValueError(f"{what}: ndim={ndim} does not match size {size!r}, which has "
                         f"{len(static)} dimension(s)")
    for b in lead:
        if len(b) > len(static):
            raise ValueError(f"{what}: a parameter has {len(b)} dimension(s), more than the "
                             f"{len(static)} of size {size!r}")
    return vec, tuple(s == 1 for s in static)


def float_dtype(*params: Any) -> str:
    """floatX promoted with the dtypes of tensor-valued parameters (Python numbers are weak)."""
    dt = np.dtype(config.floatX)
    for p in params:
        if isinstance(p, Variable | np.ndarray | np.generic):
            dt = np.promote_types(dt, p.dtype)
    if dt.kind != "f":
        dt = np.dtype("float64")
    return str(dt)


def _tensors(*values: Any) -> list[Variable]:
    from theanine.tensor.basic import as_tensor_variable

    return [as_tensor_variable(v) for v in values]


def _draw(dist: str, rng: Variable, size: Any, ndim: int | None, dtype: str,
          params: list[Variable], lead: list[tuple[bool, ...]],
          extra: tuple[bool, ...] = ()) -> Pair:
    vec, bcast = _shape_info(size, ndim, lead, dist)
    node = RandomFunction(dist, dtype, bcast + extra).make_node(rng, vec, *params)
    return node.outputs[0], node.outputs[1]


def _broadcasting(dist: str, rng: Variable, size: Any, ndim: int | None, dtype: str,
                  *params: Any) -> Pair:
    ps = _tensors(*params)
    return _draw(dist, rng, size, ndim, dtype, ps, [p.broadcastable for p in ps])


def uniform(rng: Variable, size: Any = None, low: Any = 0.0, high: Any = 1.0,
            ndim: int | None = None, dtype: str | None = None) -> Pair:
    """Floats uniform in [low, high)."""
    return _broadcasting("uniform", rng, size, ndim, dtype or float_dtype(low, high), low,
                         high)


def normal(rng: Variable, size: Any = None, avg: Any = 0.0, std: Any = 1.0,
           ndim: int | None = None, dtype: str | None = None) -> Pair:
    """Gaussian floats of mean `avg` and standard deviation `std`."""
    return _broadcasting("normal", rng, size, ndim, dtype or float_dtype(avg, std), avg, std)


def binomial(rng: Variable, size: Any = None, n: Any = 1, p: Any = 0.5,
             ndim: int | None = None, dtype: str = "int64", prob: Any = None) -> Pair:
    """The number of successes in `n` trials of probability `p` (`prob` is an old alias)."""
    if prob is not None:
        p = prob
    return _broadcasting("binomial", rng, size, ndim, dtype, n, p)


def random_integers(rng: Variable, size: Any = None, low: Any = 0, high: Any = 1,
                    ndim: int | None = None, dtype: str = "int64") -> Pair:
    """Integers uniform in [low, high], both included."""
    return _broadcasting("random_integers", rng, size, ndim, dtype, low, high)


def integers(rng: Variable, low: Any, high: Any = None, size: Any = None,
             ndim: int | None = None, dtype: str = "int64") -> Pair:
    """Integers uniform in [low, high) (in [0, low) when `high` is omitted), like NumPy's
    `Generator.integers`."""
    if high is None:
        low, high = 0, low
    return _broadcasting("integers", rng, size, ndim, dtype, low, high)


def poisson(rng: Variable, size: Any = None, lam: Any = 1.0, ndim: int | None = None,
            dtype: str = "int64") -> Pair:
    """Poisson counts of mean `lam`."""
    return _broadcasting("poisson", rng, size, ndim, dtype, lam)


def choice(rng: Variable, size: Any = None, a: Any = 2, replace: Any = True, p: Any = None,
           ndim: int | None = None, dtype: str | None = None) -> Pair:
    """Draws from arange(a) (a count) or from the vector `a`, with probabilities `p`
    (uniform when None).  The dtype defaults to int64 for a count, a's dtype for a vector."""
    from theanine.tensor.basic import constant

    a_var, replace_var = _tensors(a, replace)
    if a_var.ndim > 1:
        raise ValueError(f"choice: a must be a count or a vector, got {a_var} ({a_var.type})")
    p_var = constant(np.zeros(0)) if p is None else _tensors(p)[0]
    if p_var.ndim != 1:
        raise ValueError(f"choice: p must be a vector of probabilities, got {p_var} "
                         f"({p_var.type})")
    if replace_var.ndim != 0:
        raise ValueError(f"choice: replace must be a scalar, got {replace_var.type}")
    if dtype is None:
        dtype = "int64" if a_var.ndim == 0 else a_var.dtype
    return _draw("choice", rng, size, ndim, dtype, [a_var, replace_var, p_var], [])


def permutation(rng: Variable, size: Any = None, n: Any = 1, ndim: int | None = None,
                dtype: str = "int64") -> Pair:
    """A permutation of arange(n) for each index of `size`: shape size + (n,)."""
    (n_var,) = _tensors(n)
    if n_var.ndim != 0 or n_var.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"permutation: n must be an integer scalar, got {n_var} ({n_var.type})")
    return _draw("permutation", rng, size, ndim, dtype, [n_var], [], (False,))


def multinomial(rng: Variable, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5),
                ndim: int | None = None, dtype: str = "int64") -> Pair:
    """Counts of `n` draws among the outcomes of `pvals` (its last axis): shape
    size + (len(pvals[-1]),); `n` and the leading axes of `pvals` broadcast against size."""
    n_var, p_var = _tensors(n, list(pvals) if isinstance(pvals, tuple) else pvals)
    if p_var.ndim < 1:
        raise ValueError(f"multinomial: pvals must have at least one dimension, got "
                         f"{p_var.type}")
    lead = [n_var.broadcastable, p_var.broadcastable[:-1]]
    return _draw("multinomial", rng, size, ndim, dtype, [n_var, p_var], lead,
                 (p_var.broadcastable[-1],))
