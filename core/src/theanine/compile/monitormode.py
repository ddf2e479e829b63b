"""`MonitorMode`: Theano's mode that calls `pre_func(i, node, fn)` / `post_func(i, node, fn)`
around every node. Today it compiles and runs like the default `Mode` and warns once that the
callbacks are not called; per-node hooks come with the debugging issue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from theanine.compile.mode import Mode, note_unchecked


class MonitorMode(Mode):
    """Theano's constructor (`pre_func`, `post_func`, `optimizer`, `linker`); runs like Mode."""

    def __init__(self, pre_func: Callable[..., Any] | None = None,
                 post_func: Callable[..., Any] | None = None,
                 optimizer: str | None = "default", linker: str | None = None, **kwargs: Any):
        note_unchecked("MonitorMode", "pre_func and post_func are not called")
        self.pre_func, self.post_func = pre_func, post_func
        super().__init__(linker, optimizer, **kwargs)
