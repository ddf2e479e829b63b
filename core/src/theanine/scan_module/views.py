"""`map`, `reduce`, `foldl`, `foldr`: the common shapes of loop, written with `scan` (Theano's
signatures: `mode` and `name` may be given by position)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from theanine.scan_module.basic import scan


def map(fn: Callable[..., Any], sequences: Any, non_sequences: Any = None,
        truncate_gradient: int = -1, go_backwards: bool = False, mode: Any = None,
        name: str | None = None) -> tuple[Any, OrderedDict]:
    """`fn` applied to each step of `sequences`; no output is fed back."""
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode,
                name=name)


def reduce(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
           non_sequences: Any = None, go_backwards: bool = False, mode: Any = None,
           name: str | None = None) -> tuple[Any, OrderedDict]:
    """Like `scan`, but only the last value of each output is returned (the compiled loop
    then keeps only that value, not every step's)."""
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                            non_sequences=non_sequences, go_backwards=go_backwards, mode=mode,
                            name=name, return_list=True)
    last = [o[-1] for o in outputs]
    return (last[0] if len(last) == 1 else last), updates


def foldl(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
          non_sequences: Any = None, mode: Any = None, name: str | None = None
          ) -> tuple[Any, OrderedDict]:
    """`reduce` from the first step to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, False, mode, name)


def foldr(fn: Callable[..., Any], sequences: Any, outputs_info: Any,
          non_sequences: Any = None, mode: Any = None, name: str | None = None
          ) -> tuple[Any, OrderedDict]:
    """`reduce` from the last step to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, True, mode, name)
