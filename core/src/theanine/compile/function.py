"""`theanine.function`: compile symbolic outputs (and shared-variable updates) into a callable.

Compiling takes four steps: normalize the arguments (inputs, outputs, updates, givens) with
clear errors, build a `FunctionGraph` whose inputs are the explicit inputs followed by the
shared variables the graph reads, rewrite it, and hand it to the selected backend's `link`.
Calling converts the arguments, runs the program, then writes the updates back: only after
every output is computed, and not at all if the call fails.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from theanine.compile.arguments import (
    input_update,
    label,
    normalize_givens,
    normalize_updates,
    owned_mutable,
    refuse_inplace,
)
from theanine.compile.entry import make_entry
from theanine.compile.io import In, Out, converter
from theanine.compile.mode import Mode, get_mode
from theanine.compile.placement import Placement
from theanine.config import config
from theanine.graph.basic import Constant, Variable, clone_replace, graph_inputs, no_creation_trace
from theanine.graph.fg import FunctionGraph
from theanine.link.backend import link_program, select_backend
from theanine.link.storage import storage_of
from theanine.rewriting import rewrite_graph
from theanine.tensor.sharedvar import SharedVariable


class UnusedInputError(ValueError):
    """An explicit input does not contribute to any output or update."""


def function(inputs: Sequence[Variable | In] = (), outputs: Any = None, mode: Any = None,
             updates: Any = None, givens: Any = None,
             no_default_updates: bool | Sequence[Variable] = False,
             accept_inplace: bool = False, name: str | None = None,
             rebuild_strict: bool = True, allow_input_downcast: bool | None = None,
             profile: Any = None, on_unused_input: str | None = None,
             backend: str | None = None) -> Function:
    """Compile `outputs` as a function of `inputs` (Theano's signature, plus `backend`).

    `outputs`: a variable (the call returns one array), a list (returns a list), or None.
    `updates`: (shared variable, expression) pairs applied after each call. `givens`:
    (variable, replacement) pairs substituted into the graph; `rebuild_strict=False` lets a
    replacement change the types downstream.  `accept_inplace`: allow Ops that overwrite
    their inputs in the given graph.  `on_unused_input`: 'raise', 'warn', 'ignore' or None
    (`config.on_unused_input`).  `profile`: True (or a message, or a `ProfileStats` to share)
    collects a profile into `f.profile` (`compile.profiling`; None: `config.profile`).
    `backend`/`mode` choose how the graph is rewritten and run.
    """
    started = time.perf_counter()
    if on_unused_input is None:
        on_unused_input = config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got "
                         f"{on_unused_input!r}")
    if not isinstance(inputs, list | tuple):
        raise TypeError(f"function inputs must be a list of variables, got "
                        f"{type(inputs).__name__}")
    specs = [i if isinstance(i, In) else In(i) if isinstance(i, Variable) else None
             for i in inputs]
    for k, spec in enumerate(specs):
        if spec is None:
            raise TypeError(f"function input {k} is {inputs[k]!r}, not a symbolic variable")
        if isinstance(spec.variable, SharedVariable):
            raise TypeError(f"input {label(spec.variable)} is a shared variable; shared "
                            "variables are implicit inputs: use set_value, or givens to "
                            "substitute a value")
        if isinstance(spec.variable, Constant):
            raise TypeError(f"input {k} ({spec.variable}) is a constant, not an input")
        if spec.implicit and not spec.has_default:
            raise ValueError(f"input {label(spec.variable)} is implicit but has no value")
        if spec.allow_downcast is None:
            spec.allow_downcast = allow_input_downcast
    in_vars = [s.variable for s in specs]
    for k, v in enumerate(in_vars):
        if v in in_vars[:k]:
            raise ValueError(f"input {label(v)} appears more than once in the inputs (at "
                             f"positions {in_vars.index(v)} and {k})")
    seen_default = False
    for s in specs:
        if s.implicit:
            continue
        if s.has_default:
            seen_default = True
        elif seen_default:
            raise TypeError(f"input {label(s.variable)} has no default but follows an input "
                            "that has one")

    single = outputs is not None and not isinstance(outputs, list | tuple)
    out_items = [] if outputs is None else [outputs] if single else list(outputs)
    out_vars, borrow = [], []
    from theanine.tensor.basic import as_tensor_variable

    for o in out_items:
        if isinstance(o, Out):
            out_vars.append(o.variable)
            borrow.append(o.borrow)
        else:
            out_vars.append(o if isinstance(o, Variable) else as_tensor_variable(o))
            borrow.append(False)

    update_pairs = normalize_updates(updates)
    given = normalize_givens(givens, rebuild_strict)
    # Default updates (random streams) unless disabled.
    explicit = {v for v, _ in update_pairs}
    skip_defaults = (set(no_default_updates) if isinstance(no_default_updates, list | tuple)
                     else None)
    if no_default_updates is not True:
        for v in graph_inputs(out_vars + [e for _, e in update_pairs]):
            if (isinstance(v, SharedVariable) and v.default_update is not None
                    and v not in explicit and (skip_defaults is None or v not in skip_defaults)):
                update_pairs.append((v, v.default_update))
                explicit.add(v)
    state_updates = [(k, input_update(s)) for k, s in enumerate(specs) if s.update is not None]

    targets = out_vars + [e for _, e in update_pairs] + [e for _, e in state_updates]
    if given:
        targets = clone_replace(targets, given, strict=False)
    if not accept_inplace:
        refuse_inplace(targets, in_vars)
    # What the graph reads: explicit inputs and shared variables.
    leaves = graph_inputs(targets, blockers=in_vars)
    shared_vars: list[SharedVariable] = []
    for v in leaves:
        if v in in_vars or isinstance(v, Constant):
            continue
        if isinstance(v, SharedVariable):
            if v not in shared_vars:
                shared_vars.append(v)
            continue
        raise ValueError(f"variable {label(v)} ({v.type}) is needed to compute the outputs but "
                         "is not in the function's inputs; add it to the inputs or give it a "
                         "value with givens")
    for v, _ in update_pairs:
        if v not in shared_vars:
            shared_vars.append(v)
    used = set(leaves)
    for k, v in enumerate(in_vars):
        if v not in used and on_unused_input != "ignore":
            msg = (f"input {k} ({label(v)}) is not used to compute any output or update; pass "
                   "on_unused_input='ignore' (or 'warn') to allow it")
            if on_unused_input == "raise":
                raise UnusedInputError(msg)
            import warnings

            warnings.warn(msg, stacklevel=2)

    mode_obj = get_mode(mode, backend)
    stats = None
    if profile is not False and (profile or config.profile or hasattr(mode_obj, "profile_stats")):
        from theanine.compile.profiling import as_profile

        stats = as_profile(profile, name, mode_obj)
        stats.add("normalize inputs, outputs, updates, givens", time.perf_counter() - started)
    maker = FunctionMaker(in_vars + shared_vars, targets, mode_obj,
                          borrowed=[v for v, s in zip(in_vars, specs) if s.borrow],
                          mutable=[(in_vars + shared_vars)[k] for k in owned_mutable(
                              specs, [k for k, _ in state_updates], shared_vars,
                              [v for v, _ in update_pairs])],
                          profile=stats)
    made = time.perf_counter()
    _check_float64(maker.fgraph)
    n_out = len(out_vars)
    fn = Function(maker, specs, shared_vars, [v for v, _ in update_pairs], n_out, single,
                  borrow, name, [k for k, _ in state_updates])
    if stats is None:
        return fn
    from theanine.compile.profiling import profiled

    stats.add("make the Function", time.perf_counter() - made)
    stats.compile_time += time.perf_counter() - started
    return profiled(fn, stats)


def _check_float64(fgraph: FunctionGraph) -> None:
    """`config.warn_float64`: complain about float64 variables in the compiled graph."""
    action = config.warn_float64
    if action == "ignore":
        return
    computed = [o for node in fgraph.toposort() for o in node.outputs]
    for v in fgraph.inputs + computed:
        if getattr(v.type, "dtype", None) == "float64":
            msg = (f"the compiled graph computes in float64: {v} ({v.type}); "
                   "config.warn_float64 is " + repr(action))
            if action == "warn":
                import warnings

                warnings.warn(msg, stacklevel=3)
                return
            raise TypeError(msg)


class FunctionMaker:
    """Builds the rewritten graph and the linked program (`f.maker.fgraph`)."""

    def __init__(self, inputs: list[Variable], outputs: list[Variable], mode: Mode,
                 borrowed: list[Variable] = (), fgraph: FunctionGraph | None = None,
                 profile: Any = None, mutable: list[Variable] = ()):
        """`borrowed`: inputs an output may alias without a copy (`In(borrow=True)`).
        `mutable`: inputs whose buffers rewrites may let nodes overwrite (`owned_mutable`).
        `fgraph`: an already rewritten graph to link as it is (an unpickled function).
        `profile`: a `ProfileStats` that times each phase and, through the node hook, each
        node.  Nodes built meanwhile take their creation line from the node they replace."""
        self.mode = mode
        # nullcontext(name) enters as a no-op: unprofiled compiles time nothing
        phase = profile.phase if profile is not None else contextlib.nullcontext
        with phase("select the backend"):
            self.backend = select_backend(mode.backend)
        with no_creation_trace():
            if fgraph is None:
                with phase("build the FunctionGraph"):
                    fgraph = FunctionGraph(inputs, outputs, clone=True)
                    fgraph.mutable_inputs = frozenset(fgraph.inputs[inputs.index(v)]
                                                      for v in mutable)
                self._rewrite(fgraph, profile)
                borrowed = [fgraph.inputs[inputs.index(v)] for v in borrowed]
            self.fgraph = fgraph
            #: the outputs as the user gave them (those of the stored graph when unpickled)
            self.user_outputs = list(outputs)
            self.borrowed = list(borrowed)
            hook = mode.node_hook if profile is None else profile.hook_over(mode.node_hook,
                                                                        self.backend)
            with phase("link"):
                self.program = link_program(self.backend, fgraph, hook, recorder=profile)
        if profile is not None:
            profile.linked(fgraph, self.program, self.backend.name)
        self.aliased_outputs = _aliased_outputs(fgraph, set(self.borrowed))

    def _rewrite(self, fgraph: FunctionGraph, profile: Any) -> None:
        from theanine.plugins import get_registry

        excluded = self.mode.excluded_names(get_registry().rewrites)
        if profile is None:
            rewrite_graph(fgraph, self.mode.rewrite_optimizer, self.mode.include_tags, excluded,
                          self.backend)
            return
        from theanine.compile.profiling import rewrite_by_stage

        rewrite_by_stage(fgraph, self.mode, self.backend, excluded, profile)


def _aliased_outputs(fgraph: FunctionGraph, borrowed: set[Variable]) -> list[bool]:
    """For each output, whether it may share memory with an input, a constant or an earlier
    output (the same variable listed twice, or an output that is also an update): such an
    output is copied, so that no two results, and no result and shared value, share a buffer.
    An output that aliases a `borrowed` input (and no earlier output) is not."""
    flags = []
    roots: set[Variable] = set()
    for out in fgraph.outputs:
        # every variable the output may view (an ifelse views either branch)
        stack, sources = [out], []
        while stack:
            v = stack.pop()
            src = (getattr(v.owner.op, "view_map", {}) or {}).get(v.index) if v.owner else None
            if src:
                stack.extend(v.owner.inputs[i] for i in src)
            else:
                sources.append(v)
        flags.append(any(v in roots or (v.owner is None and v not in borrowed)
                         for v in sources))
        roots.update(sources)
    return flags


class Function:
    """A compiled function. Call it positionally or by input name."""

    #: the `ProfileStats` of a profiled function (`function(profile=True)`), else None
    profile: Any = None

    def __init__(self, maker: FunctionMaker, specs: list[In], shared_vars: list[SharedVariable],
                 updated: list[SharedVariable], n_out: int, single: bool, borrow: list[bool],
                 name: str | None, state_inputs: list[int] = ()):
        self.maker = maker
        self.specs = specs
        self.shared_vars = shared_vars
        self.updated = updated
        self.n_out = n_out
        self.single = single
        self.borrow = borrow
        self.name = name
        self.state_inputs = list(state_inputs)
        fg_inputs = maker.fgraph.inputs
        storage = storage_of(maker.backend)
        self._convert = [converter(s, k, fg_inputs[k].type, storage)
                         for k, s in enumerate(specs)]
        self._defaults = [s.value for s in specs]
        self._explicit = [k for k, s in enumerate(specs) if not s.implicit]
        self._names = {s.name: k for k, s in enumerate(specs) if s.name is not None}
        self._containers = [v.container for v in shared_vars]
        index_of = {v: k for k, v in enumerate(shared_vars)}
        self._update_slots = [(self._containers[index_of[v]], n_out + j)
                              for j, v in enumerate(updated)]
        self._placement = Placement(storage, self._containers, self._update_slots,
                                     [k for k in range(n_out) if not borrow[k]])
        first_state = len(maker.fgraph.outputs) - len(self.state_inputs)
        self._state_slots = [(k, first_state + j) for j, k in enumerate(self.state_inputs)]
        aliased = maker.aliased_outputs
        self._copy_outputs = [k for k in range(n_out + len(updated))
                              if aliased[k] and not (k < n_out and borrow[k])]
        # the fast path (all inputs given positionally) only for functions without implicit
        # inputs or states
        self._n_in = -1 if self._state_slots or len(self._explicit) < len(specs) else len(specs)
        self._protect = self._unowned_destroyed()
        self._lock = _update_lock(self._containers) if self._update_slots else None
        self._state_lock = threading.Lock() if self._state_slots else None
        # nothing to read, copy, place or store around the program: a call runs it straight
        self._straight = not (self._containers or self._protect or self._copy_outputs
                              or self._state_slots or self._placement.active)
        self._program = maker.program

    @property
    def _program(self) -> Any:
        """The linked program (a profiled function times it: setting it makes the entry
        anew)."""
        return self.__program

    @_program.setter
    def _program(self, program: Any) -> None:
        self.__program = program
        self._entry = make_entry(self._convert, program, self._straight, self.single,
                                 self.n_out, self._run, self._lock)

    def _unowned_destroyed(self) -> list[int]:
        """Positions of the graph inputs that the compiled graph overwrites but this function
        may not (a copy without the updates that made them mutable): passed as copies."""
        fg = self.maker.fgraph
        destroyed = {fg.inputs.index(v) for v in fg.input_destroyers()}
        owned = owned_mutable(self.specs, self.state_inputs, self.shared_vars, self.updated)
        return sorted(destroyed.difference(owned))

    def _bind(self, args: tuple, kwargs: dict[str, Any]) -> list[Any]:
        explicit = self._explicit
        if len(args) > len(explicit):
            raise TypeError(f"{self._title()} takes {len(explicit)} input(s) "
                            f"({self._input_list()}), got {len(args)}")
        values: list[Any] = [_MISSING] * len(self.specs)
        for k, a in zip(explicit, args):
            values[k] = a
        for key, val in kwargs.items():
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._title()} got an unknown keyword argument {key!r}; "
                                f"inputs: {self._input_list()}")
            if self.specs[k].implicit:
                raise TypeError(f"{self._title()}: input {key!r} is implicit; it takes no "
                                "argument")
            if values[k] is not _MISSING:
                raise TypeError(f"{self._title()} got input {key!r} both by position and by "
                                "keyword")
            values[k] = val
        for k, v in enumerate(values):
            if v is _MISSING:
                if not self.specs[k].has_default:
                    raise TypeError(f"{self._title()} is missing input {k} "
                                    f"({self.specs[k].name or self.specs[k].variable}); inputs: "
                                    f"{self._input_list()}")
                values[k] = self._defaults[k]
        return values

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != self._n_in:
            if self._state_lock is not None:
                return self._call_with_states(args, kwargs)
            args = self._bind(args, kwargs)
        # converts, then runs the program; under the lock where shared values are updated
        # (read them, compute, write the updates: one step)
        return self._entry(*args)

    def _call_with_states(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        """A call of a function with `In(update=)` states: reading the states, running and
        storing the new states is one step."""
        with self._state_lock:  # type: ignore[union-attr]
            return self._entry(*self._bind(args, kwargs))

    def _run(self, values: list[Any]) -> Any:
        for c in self._containers:
            values.append(c.value)
        for k in self._protect:
            values[k] = values[k].copy()
        placement = self._placement
        if placement.active:
            placement.inputs(values, len(values) - len(self._containers))
        outs = self._program(*values)
        if placement.active:
            outs = placement.outputs(outs, self._copy_outputs)
        else:
            for k in self._copy_outputs:
                out = outs[k]
                # a returned view is copied in its own order where it is Fortran-contiguous
                # (`x.T`: one pass, not a transposition), as Theano's DeepCopyOp did
                # (NPY_ANYORDER); an update stays C-ordered, as its shared value was
                outs[k] = out.copy("A") if k < self.n_out and type(out) is np.ndarray \
                    else out.copy()
        for container, k in self._update_slots:
            container.value = outs[k]
        for k, slot in self._state_slots:
            self._defaults[k] = outs[slot]
        if self.single:
            return outs[0]
        return outs[:self.n_out]

    def report(self) -> str:
        """One line on how the compiled graph runs: on a native backend, how many nodes run
        natively, as host views, or fell back to `perform` (and why); `theanine.explain(self)`
        gives it node by node."""
        report = getattr(self.maker.program, "report", None)
        if report is None:
            return (f"backend {self.maker.backend.name}: every node runs its Python "
                    "implementation")
        return report.summary()

    def _title(self) -> str:
        return f"function {self.name!r}" if self.name else "the function"

    def _input_list(self) -> str:
        return ", ".join(s.name or str(s.variable) for s in self.specs) or "none"

    def copy(self, share_memory: bool = False,
             swap: dict[SharedVariable, SharedVariable] | None = None,
             delete_updates: bool = False, name: str | None = None,
             profile: Any = None) -> Function:
        """The same compiled function with some shared variables swapped for others and/or
        without its updates (no recompilation). As in Theano the copy reads and updates the
        same shared variables; `share_memory` (whether the two share intermediate buffers)
        changes nothing here, since a call keeps no buffers between calls.  The copy starts
        from this function's current `In(update=)` states and keeps its own."""
        swap = dict(swap or {})
        for old, new in swap.items():
            if old not in self.shared_vars:
                raise ValueError(f"swap: {label(old)} is not a shared variable of this function")
            if not isinstance(new, SharedVariable) or new.type != old.type:
                raise TypeError(f"swap: {label(old)} ({old.type}) can only be swapped for a "
                                f"shared variable of the same type, got {new!r}")
        shared_vars = [swap.get(v, v) for v in self.shared_vars]
        updated = [] if delete_updates else [swap.get(v, v) for v in self.updated]
        cp = Function(self.maker, self.specs, shared_vars, updated, self.n_out, self.single,
                      self.borrow, name or self.name, [] if delete_updates else self.state_inputs)
        cp._defaults = list(self._defaults)
        return cp

    def __reduce__(self) -> tuple:
        """Pickled with its rewritten graph, which unpickling links again (no rewriting; the
        native backends find their compiled code in the artifact cache)."""
        from theanine.compile.persist import (
            Requirements,
            function_state,
            plugin_requirements,
            rebuild_function,
        )

        # the requirements come first: unpickling them checks the plugins are there
        return rebuild_function, (Requirements(plugin_requirements(self.maker.fgraph)),
                                  function_state(self))

    def __repr__(self) -> str:
        return f"<theanine.Function {self.name or ''}({self._input_list()})>"


_MISSING = object()


class _LockSet:
    """Several containers' locks taken together, always in the containers' global order (so
    two functions locking overlapping sets cannot deadlock), released in reverse."""

    __slots__ = ("locks",)

    def __init__(self, locks: list[Any]):
        self.locks = locks

    def __enter__(self) -> None:
        taken = []
        try:
            for lock in self.locks:
                lock.acquire()
                taken.append(lock)
        except BaseException:  # e.g. KeyboardInterrupt while waiting: undo what was taken
            for lock in reversed(taken):
                lock.release()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        for lock in reversed(self.locks):
            lock.release()


def _update_lock(containers: list[Any]) -> Any:
    """The lock a function with updates holds while it reads and writes `containers`: the
    container's own lock when there is one, else a `_LockSet`.  Concurrent calls of functions
    that share a container are serialized; everything else runs in parallel."""
    unique = sorted({id(c): c for c in containers}.values(), key=lambda c: c.order)
    if len(unique) == 1:
        return unique[0].lock
    return _LockSet([c.lock for c in unique])
