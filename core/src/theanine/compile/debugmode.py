"""`DebugMode` (also `mode='DebugMode'` / `'DEBUG_MODE'`).

Theano's DebugMode checked every node against its Python implementation and for in-place
errors. Today it compiles and runs like the default `Mode` and warns once that nothing is
checked; the checks come with the debugging issue.
"""

from __future__ import annotations

from typing import Any

from theanine.compile.mode import Mode, note_unchecked


class DebugMode(Mode):
    """Theano's constructor (`optimizer`, `stability_patience`, `check_c_code`,
    `check_py_code`, `check_isfinite`, `require_matching_strides`, `linker`); runs like Mode."""

    def __init__(self, optimizer: str | None = "default", stability_patience: int | None = None,
                 check_c_code: bool | None = None, check_py_code: bool | None = None,
                 check_isfinite: bool | None = None, check_preallocated_output: Any = None,
                 require_matching_strides: int | None = None, linker: str | None = None,
                 **kwargs: Any):
        note_unchecked("DebugMode", "nodes are not checked against their Python "
                       "implementation")
        super().__init__(linker, optimizer, **kwargs)
