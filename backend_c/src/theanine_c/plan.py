"""What a native implementation of one node gives the linker: the translation units it needs
and how to make the node's thunk once they are loaded.

Units of every node of a graph are compiled together (in parallel, through the cache) before
any thunk is made, so `make_thunk` receives loaded libraries, in the order of `sources`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theanine_c.build import Library, Source

Thunk = Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class NativePlan:
    sources: tuple[Source, ...]
    make_thunk: Callable[[Sequence[Library]], Thunk]


def named_source(text: str, cdefs: Sequence[str], placeholder: str = "KNAME") -> tuple[Source, str]:
    """Give a rendered unit's kernel a name derived from its content (so equal kernels share
    one library and one cache entry) and return it with that name."""
    name = "th_" + hashlib.sha256(text.encode()).hexdigest()[:20]
    return (Source(text.replace(placeholder, name),
                   tuple(c.replace(placeholder, name) for c in cdefs)), name)


def checked_input(value: Any, dtype: np.dtype, ndim: int, what: Any, var: Any) -> np.ndarray:
    """`value` as an array of `dtype`, or a ValueError naming the node (`what`) and the user's
    variable `var` when it has not `ndim` dimensions: the slow path of a native thunk's input,
    whose fast path (`type(x) is np.ndarray and x.dtype is dtype and x.ndim == ndim`) stays
    inline, since a call costs a small kernel's thunk a tenth of its time."""
    x = np.asarray(value, dtype=dtype)
    if x.ndim != ndim:
        raise ValueError(f"{what}: {var} should have {ndim} dimension(s), got shape {x.shape}")
    return x
