"""The Scan loop: a Python function generated per Scan node around the linked inner program.

The generated code reads each step's inputs straight from the sequences and state buffers by
index, calls the inner program once, checks the shapes of the new values and stores them, so a
step costs the inner program plus about a microsecond.  Errors inside a step are re-raised with
the scan's name and the step number added.  A loop with a stopping condition (`until`) breaks
after the step whose condition is true and returns only the rows of the steps it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from theanine.graph.basic import Apply
from theanine.graph.fg import FunctionGraph
from theanine.scan_module.ownership import copies
from theanine.tensor.type import TensorType


class _Checks:
    """The run-time checks and allocations the generated loop calls (outside the hot path)."""

    def __init__(self, op: Any, node: Apply):
        self.op = op
        self.node = node
        self.label = f"scan {op.name!r}" if op.name else "scan"

    def steps(self, n: Any) -> int:
        n = int(n)
        if n < 0:
            raise ValueError(f"{self.label}: the number of steps must be >= 0, got {n}")
        if n < self.op.info.min_steps:
            raise IndexError(f"{self.label}: index -1 is out of bounds: the last step of an "
                             f"output was read, but the loop ran {n} steps")
        return n

    def seq(self, k: int, value: np.ndarray, n: int) -> np.ndarray:
        info = self.op.info
        need = n + info.span(k)
        if value.shape[0] < need:
            taps = info.seq_taps[k]
            raise ValueError(
                f"{self.label}: sequence {k} ({self.node.inputs[1 + k]}) has {value.shape[0]} "
                f"entries, but {n} steps with taps {list(taps)} read {need}")
        return value[::-1] if info.go_backwards else value

    def ran(self, r: int) -> int:
        """The steps a loop with a stopping condition ran, checked like `steps`."""
        if r < self.op.info.min_steps:
            raise IndexError(f"{self.label}: index -1 is out of bounds: the last step of an "
                             f"output was read, but the loop stopped after {r} steps")
        return r

    @staticmethod
    def trim(buf: np.ndarray, rows: int) -> np.ndarray:
        """The first `rows` rows of a buffer allocated for every step (a copy when the loop
        stopped early, so the unused rows are freed)."""
        return buf if buf.shape[0] == rows else buf[:rows].copy()

    def init_rows(self, j: int, value: np.ndarray) -> np.ndarray:
        depth = self.op.info.depth(j)
        if value.shape[0] < depth:
            var = self.node.inputs[1 + self.op.info.n_seqs + j]
            raise ValueError(
                f"{self.label}: the initial value of output {j} ({var}) has {value.shape[0]} "
                f"rows, but its taps {list(self.op.info.state_taps[j])} need {depth}")
        return value

    def buffer(self, j: int, init: np.ndarray, n: int) -> np.ndarray:
        """Rows for state `j`: its initial rows, then one per step."""
        info = self.op.info
        dtype = self.op.state_type(j).numpy_dtype
        if info.state_taps[j] == (-1,):
            buf = np.empty((n + 1,) + init.shape, dtype=dtype)
            buf[0] = init
            return buf
        depth = info.depth(j)
        self.init_rows(j, init)
        buf = np.empty((n + depth,) + init.shape[1:], dtype=dtype)
        buf[:depth] = init[:depth]
        return buf

    def nit_buffer(self, m: int, n: int, first: Any) -> np.ndarray:
        dtype = self.node.outputs[self.op.info.n_states + m].type.numpy_dtype
        return np.empty((n,) + np.shape(first), dtype=dtype)

    def no_steps(self, m: int) -> None:
        raise ValueError(f"{self.label}: with 0 steps the shape of output "
                         f"{self.op.info.n_states + m} (not fed back, so without an initial "
                         "value) is unknown; run at least one step")

    def bad_shape(self, index: int, t: int, got: Any, want: tuple) -> None:
        source = "its initial value" if index < self.op.info.n_states else "step 0"
        raise ValueError(
            f"{self.label}: at step {t}, output {index} of the step function has shape "
            f"{np.shape(got)}, but {source} gave shape {want}; a scan output must keep its "
            "shape from step to step")

    def failed(self, exc: BaseException, t: int, n: int) -> None:
        """Re-raise `exc` (same type) with the step it happened at."""
        message = f"{exc}\n  in {self.label} at step {t} of {n}"
        try:
            new = type(exc)(message)
        except Exception:
            exc.add_note(message.splitlines()[-1].strip())
            return
        if hasattr(exc, "node"):
            new.node = exc.node  # type: ignore[attr-defined]
        raise new from exc


def _own(value: Any) -> np.ndarray:
    """A last value returned to the caller: an array that nothing else holds."""
    return np.array(value)


def compile_loop(op: Any, node: Apply, program: Callable[..., Any],
                 inner: FunctionGraph) -> Callable[..., list]:
    """The thunk `f(n_steps, *seqs, *inits, *non_seqs) -> outputs` for a Scan node whose
    inner graph, as linked into `program`, is `inner`."""
    info = op.info
    checks = _Checks(op, node)
    # states the step overwrites: the caller's initial value copied first, or every input
    copied = copies(op, inner)
    S, J, M, K = info.n_seqs, info.n_states, info.n_nit, info.n_non_seqs
    params = (["n_steps"] + [f"s{k}" for k in range(S)] + [f"i{j}" for j in range(J)]
              + [f"n{k}" for k in range(K)])
    head = [f"def scan_loop({', '.join(params)}):", "    N = _c.steps(n_steps)"]
    args: list[str] = []
    for k in range(S):
        head.append(f"    s{k} = _c.seq({k}, s{k}, N)")
        zero_d = ", ..." if op.seq_inputs(k)[0].type.ndim == 0 else ""
        for off in info.seq_offsets(k):
            args.append(f"s{k}[{_plus('t', off)}{zero_d}]")
    store: list[str] = []
    results: list[str] = []
    for j in range(J):
        taps, depth = info.state_taps[j], info.depth(j)
        is_tensor = isinstance(op.state_type(j), TensorType)
        zero_d = ", ..." if is_tensor and op.state_type(j).ndim == 0 else ""
        if info.state_keep_all[j]:
            # tap -1 is the previous new value, held in a local (no indexing)
            head += [f"    b{j} = _c.buffer({j}, i{j}, N)", f"    r{j} = b{j}.shape[1:]",
                     f"    p{j} = b{j}[{depth - 1}{zero_d}]"]
            args += [_fresh(f"p{j}" if tap == -1 else f"b{j}[{_plus('t', depth + tap)}{zero_d}]",
                            copied.get(j)) for tap in taps]
            store += [f"            if o{j}.shape != r{j}: _c.bad_shape({j}, t, o{j}, r{j})",
                      f"            b{j}[{_plus('t', depth)}] = p{j} = o{j}"]
            results.append(f"_c.trim(b{j}, R + {depth})" if info.as_while else f"b{j}")
            continue
        if taps == (-1,):
            head.append(f"    w{j}_0 = _copy(i{j})" if copied.get(j) == "first"
                        else f"    w{j}_0 = i{j}")
        else:
            head.append(f"    _c.init_rows({j}, i{j})")
            head += [f"    w{j}_{q} = i{j}[{q}{zero_d}]" for q in range(depth)]
        args += [_fresh(f"w{j}_{depth + tap}", copied.get(j)) for tap in taps]
        if is_tensor:
            head.append(f"    r{j} = w{j}_0.shape")
            store.append(f"            if o{j}.shape != r{j}: _c.bad_shape({j}, t, o{j}, r{j})")
        window = [f"w{j}_{q}" for q in range(depth)]
        store.append(f"            {', '.join(window)} = {', '.join(window[1:] + [f'o{j}'])}")
        results.append(f"_own(w{j}_{depth - 1})" if is_tensor else f"w{j}_{depth - 1}")
    for m in range(M):
        o = f"o{J + m}"
        head.append(f"    y{m} = None")
        if info.nit_keep_all[m]:
            store += [f"            if y{m} is None: y{m} = _c.nit_buffer({m}, N, {o}); "
                      f"q{m} = {o}.shape",
                      f"            elif {o}.shape != q{m}: _c.bad_shape({J + m}, t, {o}, q{m})",
                      f"            y{m}[t] = {o}"]
            kept = f"_c.trim(y{m}, R)" if info.as_while else f"y{m}"
            results.append(f"({kept} if y{m} is not None else _c.no_steps({m}))")
        else:
            store.append(f"            y{m} = {o}")
            results.append(f"(_own(y{m}) if y{m} is not None else _c.no_steps({m}))")
    args += [f"n{k}" for k in range(K)]
    outs = [f"o{i}" for i in range(J + M)] + (["stop"] if info.as_while else [])
    call = f"run({', '.join(args)})"
    if info.as_while:  # it returns the rows of the R steps it ran
        head.append("    R = N")
        store.append("            if stop: R = _c.ran(t + 1); break")
    body = ["    t = 0", "    try:", "        for t in range(N):",
            f"            {', '.join(outs)}, = {call}" if outs else f"            {call}",
            *store, "    except Exception as exc:", "        _c.failed(exc, t, N)",
            "        raise", f"    return [{', '.join(results)}]"]
    env: dict[str, Any] = {"_c": checks, "run": program, "_own": _own, "_copy": _own}
    code = compile("\n".join(head + body), f"<theanine-scan-loop {op}>", "exec")
    exec(code, env)
    return env["scan_loop"]


def _fresh(arg: str, copied: str | None) -> str:
    """A state's argument, copied when the step overwrites it and the loop does not own it."""
    return f"_copy({arg})" if copied == "every" else arg


def _plus(name: str, offset: int) -> str:
    return f"{name} + {offset}" if offset > 0 else f"{name} - {-offset}" if offset < 0 else name
