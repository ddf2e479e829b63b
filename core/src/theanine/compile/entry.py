"""A compiled function's call, generated for its inputs: each input's fast type test inline
(its converter runs only when the test fails), then the program, straight or through the
function's `_run`.  Calling one converter per input from a comprehension cost 0.4 us of a
1.5 us call of `x + y` on two 0-d arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Converter = Callable[[Any], Any]


def make_entry(converters: Sequence[Converter], program: Callable[..., Any], straight: bool,
               single: bool, n_out: int, run: Callable[[list[Any]], Any],
               lock: Any) -> Callable[..., Any]:
    """`entry(*values)` for every input of the function, in order.  A converter whose
    `fast_check` is `(dtype, ndim)` passes an ndarray of that exact dtype and rank
    unchanged, and one that `takes_floats` makes a Python float an array of that dtype; the
    entry does both itself.  `straight`: nothing is read, copied or stored
    around the program, so its outputs are returned as they come (the first alone when
    `single`, else the first `n_out`); otherwise `run(values)` does the rest, under `lock`
    when it is not None."""
    names = [f"a{k}" for k in range(len(converters))]
    space: dict[str, Any] = {"ndarray": np.ndarray, "array": np.array, "program": program,
                             "run": run, "lock": lock}
    lines = [f"def entry({', '.join(names)}):"]
    for k, convert in enumerate(converters):
        space[f"c{k}"] = convert
        fast = getattr(convert, "fast_check", None)
        if fast is None:
            lines.append(f"    a{k} = c{k}(a{k})")
            continue
        space[f"d{k}"] = fast[0]
        convert_it = (f"array(a{k}, d{k}) if type(a{k}) is float else c{k}(a{k})"
                      if getattr(convert, "takes_floats", False) else f"c{k}(a{k})")
        lines += [f"    if type(a{k}) is not ndarray or a{k}.dtype is not d{k} "
                  f"or a{k}.ndim != {fast[1]}:", f"        a{k} = {convert_it}"]
    values = ", ".join(names)
    if straight:
        lines.append(f"    return program({values})" + ("[0]" if single else f"[:{n_out}]"))
    elif lock is None:
        lines.append(f"    return run([{values}])")
    else:
        lines += ["    with lock:", f"        return run([{values}])"]
    exec(compile("\n".join(lines) + "\n", "<theanine-function-entry>", "exec"), space)
    return space["entry"]
