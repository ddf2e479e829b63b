"""`NanGuardMode` (also `mode='NanGuardMode'`).

Theano's NanGuardMode raised when a node produced NaN, Inf or very large values. Today it
compiles and runs like the default `Mode` and warns once that values are not checked; the
checks come with the debugging issue.
"""

from __future__ import annotations

from typing import Any

from theanine.compile.mode import Mode, note_unchecked


class NanGuardMode(Mode):
    """Theano's constructor (`nan_is_error`, `inf_is_error`, `big_is_error`, `optimizer`,
    `linker`); runs like Mode."""

    def __init__(self, nan_is_error: bool | None = None, inf_is_error: bool | None = None,
                 big_is_error: bool | None = None, optimizer: str | None = "default",
                 linker: str | None = None, **kwargs: Any):
        note_unchecked("NanGuardMode", "results are not checked for NaN, Inf or huge values")
        self.nan_is_error, self.inf_is_error, self.big_is_error = (
            nan_is_error, inf_is_error, big_is_error)
        super().__init__(linker, optimizer, **kwargs)
