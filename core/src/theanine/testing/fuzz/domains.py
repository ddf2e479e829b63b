"""What the fuzzer knows about an Op: the declaration (`OpSpec`) and the value domains.

An Op joins the generator by declaring which dtypes and ranks it accepts, the range its inputs
should be drawn from (log wants positive values, arcsin values in (-1, 1)) and how its further
arguments relate to the first (same shape for elementwise ops, or a custom `sample`).  The
expression template is the single source of truth: it builds the graph and it is what the
reproducer prints, so a printed reproducer runs exactly what the fuzzer ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BOOL = ("bool",)
INTS = ("int8", "int32", "int64")
FLOATS = ("float16", "float32", "float64")
COMPLEX = ("complex128",)
NUMBERS = INTS + FLOATS
REAL = BOOL + INTS + FLOATS
ALL = REAL + COMPLEX

#: value ranges of generated inputs: (low, high) for floats; ints are drawn in the same range
DOMAINS: dict[str, tuple[float, float]] = {
    "any": (-3.0, 3.0),
    "positive": (0.25, 4.0),
    "nonneg": (0.0, 4.0),
    "unit": (-0.9, 0.9),
    "prob": (0.05, 0.95),
    "ge1": (1.1, 4.0),
    "small": (-1.0, 1.0),
    "nonzero": (0.5, 3.0),  # drawn with a random sign
}


@dataclass(frozen=True)
class OpSpec:
    """One fuzzable operation.

    `expr` is a Python expression over `T` (theanine.tensor), `np` and `theano` with the
    arguments as `{0}`, `{1}`, ... and the static parameters as `{name}` (formatted with
    `repr`, so `{axis}` gives `(0, 2)` or `None`).  Parameters are drawn by `sample`.

    - `dtypes`: the dtypes every argument may have; `domain`: the range of fresh inputs;
    - `ndim`: allowed ranks (min, max) of the first argument;
    - `layout`: how arguments after the first are chosen: "elemwise" (same shape, possibly
      broadcastable dimensions or a scalar), "free" (any rank, any shape), or ignored when
      `sample` is given;
    - `sample(ctx) -> (arg node indices, params)`: full control (see `generate.Context`);
    - `differentiable`: gradients may flow through it; `smooth`: finite differences are
      meaningful (no kinks or steps), so the float64 spot check may use it;
    - `numpy`: an independent NumPy expression for the same result (same placeholders,
      arguments are the input values, `flt(x)` casts to the float dtype NumPy's exp gives):
      the reference's `perform` is then checked against it, dtype, shape and values;
    - `imports`: import lines the expression needs (a plugin's own Ops: "from pkg.ops import
      Cube"); they run before the expression is evaluated and head the reproducer;
    - `strict`: the sampler's arguments are always valid, so a failure to build the
      expression is itself a bug (reported as "build-error"), not a reason to try another op;
    - `defects`: names of known defects the op may trigger (see `known.KNOWN_DEFECTS`); the
      generator skips it when any of them is excluded.
    """

    name: str
    expr: str
    arity: int = 1
    dtypes: tuple[str, ...] = ALL
    domain: str = "any"
    ndim: tuple[int, int] = (0, 3)
    layout: str = "elemwise"
    sample: Callable[[Any], tuple[list[int], dict[str, Any]]] | None = None
    differentiable: bool = True
    smooth: bool = True
    weight: float = 1.0
    numpy: str | None = None
    imports: tuple[str, ...] = ()
    strict: bool = False
    defects: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"OpSpec {self.name!r}: unknown domain {self.domain!r}; "
                             f"expected one of {sorted(DOMAINS)}")
        if self.layout not in ("elemwise", "free"):
            raise ValueError(f"OpSpec {self.name!r}: layout must be 'elemwise' or 'free', "
                             f"got {self.layout!r}")
        bad = [d for d in self.dtypes if d not in ALL]
        if bad:
            raise ValueError(f"OpSpec {self.name!r}: unsupported dtype(s) {bad}; the fuzzer "
                             f"draws from {ALL}")

    def render(self, args: list[str], params: dict[str, Any], numpy: bool = False) -> str:
        """The expression (or its NumPy twin) with arguments and parameters filled in."""
        template = self.numpy if numpy else self.expr
        assert template is not None
        return template.format(*args, **{k: _literal(v) for k, v in params.items()})


class Code(str):
    """A parameter that is already source code (an index expression), inserted as is."""


def _literal(v: Any) -> str:
    return str(v) if isinstance(v, Code) else repr(v)


def flt(x: Any) -> np.ndarray:
    """`x` as the float dtype NumPy computes transcendental functions of it in."""
    x = np.asarray(x)
    return x.astype(np.exp(np.zeros((), x.dtype)).dtype)


def draw_value(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], domain: str,
               specials: bool) -> np.ndarray:
    """Random values of `dtype` in `domain`; `specials` plants a NaN, an Inf or a zero, and
    makes a bool array's True bytes other than 1 (as C code and `u8.view(bool)` leave them;
    NumPy reads any nonzero byte as True)."""
    lo, hi = DOMAINS[domain]
    if dtype == "bool":
        truth = rng.random(shape) < 0.5
        if not specials:
            return truth
        return (truth * rng.integers(1, 256, size=shape)).astype(np.uint8).view(bool)
    if dtype.startswith("int"):
        ilo, ihi = int(np.floor(lo)), int(np.ceil(hi))
        if domain in ("positive", "ge1", "nonzero"):
            ilo = max(ilo, 1)
        vals = rng.integers(ilo, ihi + 1, size=shape)
        if domain == "nonzero":
            vals = vals * rng.choice([-1, 1], size=shape)
        return vals.astype(dtype)
    vals = rng.uniform(lo, hi, size=shape)
    if domain == "nonzero":
        vals = vals * rng.choice([-1.0, 1.0], size=shape)
    if dtype.startswith("complex"):
        vals = vals + 1j * rng.uniform(lo, hi, size=shape)
    vals = np.round(vals, 3).astype(dtype)
    if specials and vals.size:
        flat = vals.reshape(-1)
        flat[rng.integers(flat.size)] = rng.choice([np.nan, np.inf, -np.inf, 0.0])
    return vals
