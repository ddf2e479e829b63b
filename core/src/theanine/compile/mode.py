"""`Mode`: which rewrites run and which backend links, for one `theanine.function`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from theanine.config import config

_OPTIMIZER_OF_MODE = {"FAST_RUN": "fast_run", "FAST_COMPILE": "fast_compile"}


@dataclass(frozen=True)
class Mode:
    """`backend`: a backend name or None for `config.backend`; `optimizer`: 'fast_run',
    'fast_compile' or None; `including` / `excluding`: rewrite names or tags."""

    backend: str | None = None
    optimizer: str | None = "fast_run"
    including: tuple[str, ...] = field(default_factory=tuple)
    excluding: tuple[str, ...] = field(default_factory=tuple)


def get_mode(mode: Any = None, backend: str | None = None) -> Mode:
    """Resolve `function(mode=..., backend=...)` against the config flags."""
    if isinstance(mode, Mode):
        base = mode
    elif mode is None:
        base = Mode(None, config.optimizer, tuple(config.optimizer_including),
                    tuple(config.optimizer_excluding))
    elif isinstance(mode, str) and mode.upper() in _OPTIMIZER_OF_MODE:
        base = Mode(None, _OPTIMIZER_OF_MODE[mode.upper()], tuple(config.optimizer_including),
                    tuple(config.optimizer_excluding))
    else:
        raise ValueError(f"unknown mode {mode!r}; use 'FAST_RUN', 'FAST_COMPILE' or a Mode")
    if backend is not None:
        base = Mode(backend, base.optimizer, base.including, base.excluding)
    return base
