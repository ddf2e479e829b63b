"""`scan`: loops inside the graph, with Theano's interface.

`scan` calls `fn` once on placeholder variables to build the step's graph, then wraps that
graph in a `Scan` node.  Everything the step uses besides its arguments is found in its graph:
shared variables and outer expressions become extra non-sequences (computed once, before the
loop); shared variables given an update (by `fn` or by their `default_update`, as random
streams do) become states of the loop, and their last values are returned in `updates`.

As in Theano, `non_sequences` are values of the loop's caller: a random draw passed there is
drawn once per call, while a draw built outside `fn` and only read inside it (not passed) is
drawn at every step, its generator becoming a state of the loop (Theano's rule too).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theanine.config import config
from theanine.graph.basic import (
    Constant,
    Variable,
    ancestors,
    clone_replace,
    eager_nodes,
    graph_inputs,
    io_toposort,
)
from theanine.scan_module.op import tap_span
from theanine.scan_module.parts import Nit, NonSeq, ScanParts, Seq, State
from theanine.scan_module.scan_utils import until
from theanine.tensor.basic import Rebroadcast, as_tensor_variable, constant
from theanine.tensor.math import cast, minimum
from theanine.tensor.sharedvar import SharedVariable
from theanine.tensor.type import TensorType


class ScanError(TypeError):
    """`scan` was called with arguments it cannot make a loop of."""


def scan(fn: Callable[..., Any], sequences: Any = None, outputs_info: Any = None,
         non_sequences: Any = None, n_steps: Any = None, truncate_gradient: int = -1,
         go_backwards: bool = False, mode: Any = None, name: str | None = None,
         profile: Any = False, allow_gc: bool | None = None, strict: bool = False,
         return_list: bool = False) -> tuple[Any, OrderedDict]:
    """Repeat `fn` over `sequences`, feeding outputs back as `outputs_info` says (Theano's
    signature).

    `fn` receives, in order: each sequence's taps, each fed-back output's taps, then the
    `non_sequences`.  `sequences`: variables or `dict(input=x, taps=[...])` (default tap 0;
    the loop runs len - span steps, the span of the taps counted with tap 0, as in Theano).
    `outputs_info`: per output of `fn`, an initial value (tap -1), `dict(initial=x,
    taps=[-2, -1])`, or None for an output that is not fed back.  `fn` returns its outputs,
    optionally with updates of shared variables (`return outputs, {shared: new}`), and
    optionally last a stopping condition (`return outputs, until(cond)`).  `n_steps` (an int
    or an integer scalar expression) fixes the number of steps.  `mode` rewrites and links
    the step as `function(mode=...)` would (None: as the calling function does).  `profile`
    and `allow_gc` are accepted for Theano code and change nothing here.

    Returns `(outputs, updates)`: each output stacked over the steps (one variable, or a list
    when there are several or `return_list`), and an OrderedDict of shared-variable updates to
    pass to `theanine.function`.
    """
    label = name or (fn.__name__ if getattr(fn, "__name__", "<lambda>") != "<lambda>"
                     else "scan")
    if not callable(fn):
        raise ScanError(f"scan: fn must be callable, got {type(fn).__name__} {fn!r}")
    if truncate_gradient != -1 and (not isinstance(truncate_gradient, int)
                                    or truncate_gradient <= 0):
        raise ScanError(f"scan {label!r}: truncate_gradient must be -1 (no truncation) or a "
                        f"positive number of steps, got {truncate_gradient!r}")
    seq_specs = [_seq_spec(s, k, label) for k, s in enumerate(_as_list(sequences))]
    out_specs = [_output_spec(o, j, label) for j, o in enumerate(_as_list(outputs_info))]
    inner_mode = _inner_mode(mode, label)
    step = _Step(label, seq_specs, out_specs, _as_list(non_sequences))
    outputs, updates, cond = _split_result(fn(*step.args), label)
    if out_specs and len(out_specs) != len(outputs):
        raise ScanError(
            f"scan {label!r}: fn returned {len(outputs)} output(s) but outputs_info has "
            f"{len(out_specs)} entries; give one entry per output (None for an output that "
            "is not fed back)")
    out_specs = out_specs or [None] * len(outputs)
    for j, spec in enumerate(out_specs):
        if spec is not None:
            outputs[j] = _fit_state_output(outputs[j], step.state_inner[j][0].type, spec[0],
                                           j, label)
    updates = _with_default_updates(updates, outputs + ([cond] if cond is not None else []),
                                    step.given)
    parts = ScanParts(_n_steps(n_steps, seq_specs, label), go_backwards=bool(go_backwards),
                      truncate_gradient=truncate_gradient, name=label, mode=inner_mode)
    n_hidden = step.fill(parts, outputs, updates, out_specs, strict, cond)
    return _results(parts.make(), out_specs, updates, n_hidden, return_list)


class _Step:
    """The step function's placeholders, and the loop description built around its graph."""

    def __init__(self, label: str, seq_specs: list[tuple[Variable, tuple[int, ...]]],
                 out_specs: list[Any], non_sequences: list[Any]):
        self.label = label
        self.args: list[Any] = []  # what fn is called with
        self.seqs: list[Seq] = []
        for k, (seq, taps) in enumerate(seq_specs):
            inner = [_placeholder(TensorType(seq.dtype, seq.broadcastable[1:]),
                                  f"{seq.name or f'sequence{k}'}[{_tap_text(tap)}]")
                     for tap in taps]
            self.seqs.append(Seq(seq, taps, inner))
            self.args += inner
        self.state_inner: dict[int, list[Variable]] = {}
        for j, spec in enumerate(out_specs):
            if spec is None:
                continue
            init, taps = spec
            state_type = init.type if taps == (-1,) else TensorType(init.dtype,
                                                                    init.broadcastable[1:])
            self.state_inner[j] = [
                _placeholder(state_type, f"{init.name or f'output{j}'}[{_tap_text(tap)}]")
                for tap in taps]
            self.args += self.state_inner[j]
        # Non-sequences are passed as they are (as Theano does, so that the step may
        # differentiate through them); like every outer value the step reads, they become
        # inputs of the loop when `fill` finds them in the step's graph.
        self.non_seqs: list[NonSeq] = []
        self.given: set[Variable] = set()
        for k, ns in enumerate(non_sequences):
            if not isinstance(ns, Variable):
                try:
                    ns = as_tensor_variable(ns)
                except TypeError as exc:
                    raise ScanError(f"scan {label!r}: non_sequences[{k}]: {exc}") from None
            self.args.append(ns)
            self.given.add(ns)

    def fill(self, parts: ScanParts, outputs: list[Variable],
             updates: list[tuple[SharedVariable, Variable]], out_specs: list[Any],
             strict: bool, cond: Variable | None) -> int:
        """Describe the loop in `parts`: the step's outputs (and stopping condition) with
        every outer value they read replaced by a placeholder.  Returns how many hidden
        outputs were added."""
        shared_inner = {sv: _placeholder(sv.type, sv.name) for sv, _ in updates}
        # the shared variables updated in the step change from step to step, like placeholders
        changing = ({v for s in self.seqs for v in s.inner} | set(shared_inner)
                    | {v for vs in self.state_inner.values() for v in vs})
        roots = outputs + [expr for _, expr in updates] + ([cond] if cond is not None else [])
        mapping: dict[Variable, Variable] = dict(shared_inner)
        for v in _free_variables(roots, changing):
            missing = _free_inputs(v, self.given)
            if strict and missing:
                raise ScanError(f"scan {self.label!r}: strict=True, but fn uses {missing[0]}, "
                                "which is not among the sequences, outputs_info or "
                                "non_sequences; pass it in non_sequences")
            self.non_seqs.append(NonSeq(v, _placeholder(v.type, v.name)))
            mapping[v] = self.non_seqs[-1].inner
        roots = clone_replace(roots, mapping, strict=False)
        if cond is not None:
            parts.cond = roots.pop()
        outputs, new_values = roots[:len(outputs)], roots[len(outputs):]
        parts.seqs = self.seqs
        for j, spec in enumerate(out_specs):
            if spec is None:
                parts.nits.append(Nit(outputs[j]))
            else:
                parts.states.append(State(spec[0], spec[1], self.state_inner[j], outputs[j]))
        for (sv, _), new in zip(updates, new_values):
            parts.states.append(State(sv, (-1,), [shared_inner[sv]], new,
                                      keep_all=isinstance(sv.type, TensorType)))
        parts.non_seqs = self.non_seqs
        return _keep_draws(parts, set(shared_inner.values()))


# Arguments --------------------------------------------------------------------------------
def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    if isinstance(x, list | tuple):
        return list(x)
    return [x]


def _taps(value: Any, what: str, negative: bool) -> tuple[int, ...]:
    taps = [value] if isinstance(value, int | np.integer) else list(value)
    if not taps or not all(isinstance(t, int | np.integer) and not isinstance(t, bool)
                           for t in taps):
        raise ScanError(f"{what}: taps must be a non-empty list of integers, got {value!r}")
    if len(set(taps)) != len(taps):
        raise ScanError(f"{what}: taps {list(taps)} repeat a tap")
    if negative and any(t >= 0 for t in taps):
        raise ScanError(f"{what}: the taps of an output fed back must be negative (t-1, t-2, "
                        f"...), got {list(taps)}")
    return tuple(int(t) for t in taps)


def _seq_spec(s: Any, k: int, label: str) -> tuple[Variable, tuple[int, ...]]:
    what = f"scan {label!r}: sequences[{k}]"
    taps: Any = (0,)
    if isinstance(s, dict):
        unknown = set(s) - {"input", "taps"}
        if unknown or "input" not in s:
            raise ScanError(f"{what}: a sequence given as a dict needs the key 'input' (and "
                            f"optionally 'taps'), got the keys {sorted(s)}")
        taps = s.get("taps", (0,)) if s.get("taps") is not None else (0,)
        s = s["input"]
    try:
        seq = as_tensor_variable(s)
    except TypeError as exc:
        raise ScanError(f"{what}: {exc}") from None
    if seq.ndim == 0:
        raise ScanError(f"{what}: {seq} is a scalar ({seq.type}); a sequence needs a first "
                        "dimension to iterate over")
    return seq, _taps(taps, what, negative=False)


def _initial(value: Any, what: str) -> Variable:
    if isinstance(value, Variable):
        return value if not isinstance(value.type, TensorType) else as_tensor_variable(value)
    if isinstance(value, float):
        return constant(np.asarray(value, dtype=config.floatX))
    try:
        return as_tensor_variable(value)
    except TypeError as exc:
        raise ScanError(f"{what}: {exc}") from None


def _output_spec(o: Any, j: int, label: str) -> tuple[Variable, tuple[int, ...]] | None:
    what = f"scan {label!r}: outputs_info[{j}]"
    if o is None:
        return None
    if isinstance(o, dict):
        unknown = set(o) - {"initial", "taps"}
        if unknown:
            raise ScanError(f"{what}: unknown key(s) {sorted(unknown)}; use 'initial' and "
                            "'taps'")
        if o.get("initial") is None:
            return None
        init = _initial(o["initial"], what)
        taps = _taps(o.get("taps", (-1,)) if o.get("taps") is not None else (-1,), what,
                     negative=True)
    else:
        init, taps = _initial(o, what), (-1,)
    if taps != (-1,) and init.ndim == 0:
        raise ScanError(f"{what}: with taps {list(taps)} the initial value must hold "
                        f"{-min(taps)} rows (one per step back), but {init} is a scalar")
    return init, taps


def _tap_text(tap: int) -> str:
    return "t" if tap == 0 else f"t{tap:+d}"


def _placeholder(t: Any, name: str | None) -> Variable:
    return t.make_variable(name)


# The step's result ------------------------------------------------------------------------
def _is_updates(x: Any) -> bool:
    if isinstance(x, dict):
        return True
    return (isinstance(x, list | tuple) and len(x) > 0
            and all(isinstance(p, list | tuple) and len(p) == 2
                    and isinstance(p[0], SharedVariable) for p in x))


def _split_result(result: Any, label: str
                  ) -> tuple[list[Variable], list[tuple[Any, Any]], Variable | None]:
    """(outputs, update pairs, stopping condition) from what `fn` returned, in any of
    Theano's forms: the condition, an `until`, comes last."""
    cond = None
    if isinstance(result, list | tuple) and result and isinstance(result[-1], until):
        cond = result[-1].condition
        result = result[0] if len(result) == 2 else tuple(result[:-1])
    if isinstance(result, until) or (isinstance(result, list | tuple)
                                     and any(isinstance(r, until) for r in result)):
        raise ScanError(f"scan {label!r}: fn must return until(...) last, after its outputs "
                        "and updates (return outputs, until(cond) or return outputs, "
                        "updates, until(cond))")
    outs: Any = result
    ups: Any = []
    if _is_updates(result):
        outs, ups = [], result
    elif isinstance(result, list | tuple) and len(result) == 2:
        first, second = result
        if _is_updates(second) or (isinstance(second, list | tuple) and not second
                                   and not isinstance(first, list | tuple)):
            outs, ups = first, second
        elif _is_updates(first):
            ups, outs = first, second
    pairs = list(ups.items()) if isinstance(ups, dict) else list(ups)
    outputs = []
    for i, o in enumerate(_as_list(outs)):
        try:
            outputs.append(as_tensor_variable(o))
        except TypeError as exc:
            raise ScanError(f"scan {label!r}: output {i} of fn is not a tensor: {exc}; fn "
                            "must return variables, a list of them, and optionally a dict of "
                            "updates") from None
    return outputs, _check_updates(pairs, label), cond


def _check_updates(pairs: list[Any], label: str) -> list[tuple[SharedVariable, Variable]]:
    out: list[tuple[SharedVariable, Variable]] = []
    for sv, expr in pairs:
        if not isinstance(sv, SharedVariable):
            raise ScanError(f"scan {label!r}: fn returned an update for {sv!r}, which is not a "
                            "shared variable")
        if any(sv is seen for seen, _ in out):
            raise ScanError(f"scan {label!r}: shared variable {sv} is updated twice")
        if isinstance(sv.type, TensorType):
            expr = as_tensor_variable(expr)
            if expr.type != sv.type:
                if expr.dtype != sv.dtype or expr.ndim != sv.ndim:
                    raise ScanError(
                        f"scan {label!r}: the update of shared variable {sv} has type "
                        f"{expr.type}, but {sv} has type {sv.type}; cast it (e.g. "
                        f"T.cast(expr, '{sv.dtype}'))")
                expr = Rebroadcast(sv.broadcastable)(expr)
        elif not isinstance(expr, Variable) or expr.type != sv.type:
            raise ScanError(f"scan {label!r}: the update of {sv} must have type {sv.type}, "
                            f"got {expr!r}")
        out.append((sv, expr))
    return out


def _fit_state_output(out: Variable, state_type: TensorType, init: Variable, j: int,
                      label: str) -> Variable:
    """The new value of a fed-back output, checked against (and given) its state's type."""
    if out.type == state_type:
        return out
    if out.dtype != state_type.dtype or out.ndim != state_type.ndim:
        raise ScanError(
            f"scan {label!r}: output {j} of fn ({out}) has type {out.type}, but its initial "
            f"value in outputs_info ({init}) gives the state the type {state_type}; they must "
            "match because the output is fed back to the next step. Cast one of them (e.g. "
            f"T.cast(output, '{state_type.dtype}')) or change the initial value")
    if state_type.is_compatible(out.type):
        return Rebroadcast(state_type.broadcastable)(out)
    dims = [d for d, (s, o) in enumerate(zip(state_type.broadcastable, out.broadcastable))
            if s and not o]
    raise ScanError(
        f"scan {label!r}: output {j} of fn ({out}, {out.type}) may have any size in "
        f"dimension(s) {dims}, where its initial value ({init}, {init.type}) is broadcastable "
        "(size 1); give an initial value that is not broadcastable there, or make the "
        "output keep size 1")


def _with_default_updates(updates: list[tuple[SharedVariable, Variable]],
                          outputs: list[Variable], given: set[Variable]
                          ) -> list[tuple[SharedVariable, Variable]]:
    """Add the default updates (random streams) of the shared variables the step reads, not
    looking past the `given` non-sequences (values of the caller, computed once per call)."""
    updates = list(updates)
    done = {sv for sv, _ in updates}
    while True:
        found = [v for v in graph_inputs(outputs + [e for _, e in updates], given)
                 if isinstance(v, SharedVariable) and v not in done
                 and getattr(v, "default_update", None) is not None]
        if not found:
            return updates
        for sv in found:
            done.add(sv)
            updates.append((sv, sv.default_update))


def _free_variables(roots: list[Variable], placeholders: set[Variable]) -> list[Variable]:
    """The outer values the step reads: the largest sub-expressions that depend on no
    placeholder (they are computed once, outside the loop), constants excepted.  What only a
    lazy branch (ifelse) needs stays in the step: outside, it would always run."""
    variant: set[Variable] = set(placeholders)
    eager = set(eager_nodes([], roots))
    for node in io_toposort([], roots):
        if node not in eager or any(i in variant for i in node.inputs):
            variant.update(node.outputs)
    free: list[Variable] = []
    seen: set[Variable] = set()

    def visit(v: Variable) -> None:
        if v not in variant and v not in seen and not isinstance(v, Constant):
            seen.add(v)
            free.append(v)

    for node in io_toposort([], roots):
        if node.outputs[0] in variant:
            for i in node.inputs:
                visit(i)
    for r in roots:
        visit(r)
    # expressions of constants alone stay in the step (constant folding simplifies them)
    return [v for v in free if _free_inputs(v)]


def _free_inputs(v: Variable, given: set[Variable] | None = None) -> list[Variable]:
    """The ownerless variables other than constants that `v` depends on, not looking past
    (and leaving out) the `given` ones."""
    given = given or set()
    return [i for i in ancestors([v], blockers=given)
            if i.owner is None and not isinstance(i, Constant) and i not in given]


def _keep_draws(parts: ScanParts, shared_inner: set[Variable]) -> int:
    """Keep, as extra outputs, the tensors computed directly from non-tensor states (the draws
    of a random generator): the gradient reuses them instead of drawing again."""
    generators = {v for s in parts.states for v in s.inner
                  if v in shared_inner and not isinstance(v.type, TensorType)}
    if not generators:
        return 0
    outputs = set(parts.inner_outputs())
    kept = 0
    for node in io_toposort(parts.inner_inputs(), parts.inner_outputs()):
        if not any(i in generators for i in node.inputs):
            continue
        for o in node.outputs:
            if isinstance(o.type, TensorType) and o not in outputs:
                parts.nits.append(Nit(o))
                outputs.add(o)
                kept += 1
    return kept


def _n_steps(n_steps: Any, seq_specs: Sequence[tuple[Variable, tuple[int, ...]]],
             label: str) -> Variable:
    if n_steps is not None:
        if isinstance(n_steps, int | np.integer):
            if n_steps < 0:
                raise ScanError(f"scan {label!r}: n_steps must be >= 0, got {n_steps}")
            return constant(int(n_steps), dtype="int64")
        n = as_tensor_variable(n_steps)
        if n.ndim != 0 or n.dtype[0] not in "iu":
            raise ScanError(f"scan {label!r}: n_steps must be an integer scalar, got {n} "
                            f"({n.type})")
        return n if n.dtype == "int64" else cast(n, "int64")
    if not seq_specs:
        raise ScanError(f"scan {label!r}: the number of steps is unknown; give n_steps or at "
                        "least one sequence")
    lengths = []
    for seq, taps in seq_specs:
        span = tap_span(taps)
        lengths.append(seq.shape[0] - span if span else seq.shape[0])
    n = lengths[0]
    for length in lengths[1:]:
        n = minimum(n, length)
    return n


def _inner_mode(mode: Any, label: str) -> Any:
    """`scan(mode=...)` as a `Mode` for the step (None: the calling function's)."""
    if mode is None:
        return None
    from theanine.compile.mode import get_mode

    try:
        return get_mode(mode)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"scan {label!r}: mode: {exc}") from None


def _results(outs: list[Variable], out_specs: list[Any],
             updates: list[tuple[SharedVariable, Variable]], n_hidden: int,
             return_list: bool) -> tuple[Any, OrderedDict]:
    n_user_states = sum(1 for s in out_specs if s is not None)
    states = iter(outs[:n_user_states])
    shared_outs = outs[n_user_states:n_user_states + len(updates)]
    nits = iter(outs[n_user_states + len(updates):len(outs) - n_hidden])
    results = []
    for spec in out_specs:
        if spec is None:
            results.append(next(nits))
        else:
            buf = next(states)
            results.append(buf[-min(spec[1]):])
    update_map: OrderedDict = OrderedDict()
    for (sv, _), out in zip(updates, shared_outs):
        update_map[sv] = out[-1] if isinstance(sv.type, TensorType) else out
    if return_list:
        return results, update_map
    if len(results) == 1:
        return results[0], update_map
    return (results or None), update_map
