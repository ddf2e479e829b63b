"""The `Scan` Op: a loop whose body is an inner `FunctionGraph`.

Layout (fixed, so that rewrites and the gradient can take a node apart and rebuild it):

- outer inputs: `n_steps`, then the sequences, the initial values of the recurrent states, and
  the non-sequences;
- inner inputs: for each sequence one placeholder per tap, for each state one per tap, then one
  per non-sequence;
- inner outputs and outer outputs: the states' new values, then the outputs that are not fed
  back ("nit-sot" in Theano's words); a loop with a stopping condition (`as_while`, built from
  `until`) has one more inner output, the condition, after which the loop stops once it is
  true (the outer outputs then hold the steps actually run).

A sequence's taps read rows as Theano's do: the span of the taps counted as if tap 0 were
among them (`taps=[-1]` reads row t for step t and runs len - 1 steps; `taps=[2]` reads row
t + 2 and runs len - 2 steps).

A state with taps `(-1,)` takes its initial value as is; a state with deeper taps takes the
first `L = -min(taps)` rows of its initial array.  Each output either keeps every step
(`keep_all`: states as a buffer of `L + n_steps` rows that starts with the initial rows, other
outputs as `n_steps` rows) or only the last value (chosen by the `scan_save_mem` rewrite, or
for states whose values are not tensors, such as random generators).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph
from theanine.graph.op import Op, cached_thunk
from theanine.tensor.type import TensorType


@dataclass(frozen=True)
class ScanInfo:
    """The static description of a loop (everything but the inner graph)."""

    seq_taps: tuple[tuple[int, ...], ...] = ()
    state_taps: tuple[tuple[int, ...], ...] = ()
    state_keep_all: tuple[bool, ...] = ()
    nit_keep_all: tuple[bool, ...] = ()
    n_non_seqs: int = 0
    go_backwards: bool = False
    truncate_gradient: int = -1
    #: fewer steps raise IndexError, as the `out[c:][-1]` that `scan_save_mem` replaced would
    min_steps: int = 0
    #: whether the inner graph has been through the rewrites (set by `scan_inner_rewrite`)
    rewritten: bool = False
    #: the loop stops after the step whose last inner output (the condition) is true
    as_while: bool = False
    #: the `Mode` the inner graph is rewritten and linked with (None: the outer function's)
    mode: Any = None

    @property
    def n_seqs(self) -> int:
        return len(self.seq_taps)

    @property
    def n_states(self) -> int:
        return len(self.state_taps)

    @property
    def n_nit(self) -> int:
        return len(self.nit_keep_all)

    def span(self, k: int) -> int:
        """How many more rows than steps sequence `k` needs."""
        return tap_span(self.seq_taps[k])

    def seq_offsets(self, k: int) -> list[int]:
        """For each tap of sequence `k`, the row read at step t is `t + offset` of the sequence
        (of the reversed sequence when going backwards, matching Theano)."""
        taps = self.seq_taps[k]
        if self.go_backwards:
            return [max(max(taps), 0) - tap for tap in taps]
        return [tap - min(min(taps), 0) for tap in taps]

    def depth(self, j: int) -> int:
        """How many initial rows state `j` needs (L = -min(taps))."""
        return -min(self.state_taps[j])

    def n_inner_outputs(self) -> int:
        return self.n_states + self.n_nit + int(self.as_while)

    def n_inner_inputs(self) -> int:
        return (sum(len(t) for t in self.seq_taps) + sum(len(t) for t in self.state_taps)
                + self.n_non_seqs)


def tap_span(taps: Sequence[int]) -> int:
    """How many more rows than steps a sequence read at `taps` needs: Theano counts tap 0 as
    read, so `[-1]` and `[1]` both need one more row."""
    return max(max(taps), 0) - min(min(taps), 0)


def graph_signature(fgraph: FunctionGraph) -> tuple:
    """A hashable description of `fgraph`'s structure: equal for graphs that compute the same
    thing the same way (what makes two Scan Ops interchangeable)."""
    ids: dict[Variable, tuple] = {v: ("in", k) for k, v in enumerate(fgraph.inputs)}

    def ref(v: Variable) -> tuple:
        if v in ids:
            return ids[v]
        if isinstance(v, Constant):
            return ("const", v.signature())
        raise ValueError(f"variable {v} of the inner graph is not computed by it")

    items: list[Any] = [tuple(v.type for v in fgraph.inputs)]
    for n, node in enumerate(fgraph.toposort()):
        items.append((node.op, tuple(ref(i) for i in node.inputs)))
        for j, out in enumerate(node.outputs):
            ids[out] = ("node", n, j)
    items.append(tuple(ref(o) for o in fgraph.outputs))
    return tuple(items)


def sequence_type(t: Any) -> TensorType:
    """The type of a stack of values of tensor type `t`."""
    return TensorType(t.dtype, (False, *t.broadcastable))


class Scan(Op):
    """Run `inner` for `n_steps` steps (see the module docstring for the layout).

    Identity is the loop description plus the inner graph's structure, so equal loops over
    equal inputs merge.  The Python backend links the inner graph once per compiled function
    and calls it once per step (see `theanine.scan_module.loop`).
    """

    __props__ = ("info", "signature")
    foldable = False  # a loop over constants can be long; it runs at call time

    def __init__(self, inner: FunctionGraph, info: ScanInfo, name: str | None = None):
        if len(inner.inputs) != info.n_inner_inputs():
            raise ValueError(f"Scan: the inner graph has {len(inner.inputs)} inputs, the "
                             f"layout needs {info.n_inner_inputs()}")
        if len(inner.outputs) != info.n_inner_outputs():
            raise ValueError(f"Scan: the inner graph has {len(inner.outputs)} outputs, the "
                             f"layout needs {info.n_inner_outputs()}")
        if info.as_while and inner.outputs[-1].type.ndim != 0:
            raise TypeError(f"Scan: the stopping condition must be a scalar, got "
                            f"{inner.outputs[-1].type}")
        self.inner = inner
        self.info = info
        self.name = name
        self.signature = graph_signature(inner)
        self._hash = hash((Scan, info, self.signature))
        for j in range(info.n_states):
            state_type = self.state_type(j)
            out = inner.outputs[j]
            if not _fits(state_type, out.type):
                raise TypeError(f"Scan: the new value of state {j} has type {out.type}, the "
                                f"state has type {state_type}")
            if not isinstance(state_type, TensorType) and (
                    info.state_keep_all[j] or info.state_taps[j] != (-1,)):
                raise TypeError(f"Scan: state {j} of type {state_type} can only keep its last "
                                "value and have taps (-1,)")

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return f"Scan{{{self.name or 'scan'}}}"

    # Layout -------------------------------------------------------------------------------
    def seq_inputs(self, k: int) -> list[Variable]:
        start = sum(len(t) for t in self.info.seq_taps[:k])
        return self.inner.inputs[start:start + len(self.info.seq_taps[k])]

    def state_inputs(self, j: int) -> list[Variable]:
        info = self.info
        start = sum(len(t) for t in info.seq_taps) + sum(len(t) for t in info.state_taps[:j])
        return self.inner.inputs[start:start + len(info.state_taps[j])]

    def non_seq_inputs(self) -> list[Variable]:
        return self.inner.inputs[len(self.inner.inputs) - self.info.n_non_seqs:]

    def state_type(self, j: int) -> Any:
        return self.state_inputs(j)[0].type

    # Building -----------------------------------------------------------------------------
    def make_node(self, n_steps: Any, *outer: Any) -> Apply:
        from theanine.tensor.basic import as_tensor_variable
        from theanine.tensor.math import cast

        info = self.info
        expected = info.n_seqs + info.n_states + info.n_non_seqs
        if len(outer) != expected:
            raise TypeError(f"{self} takes n_steps and {expected} inputs, got {len(outer)}")
        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or n_steps.dtype[0] not in "iu":
            raise TypeError(f"{self}: n_steps must be an integer scalar, got {n_steps} "
                            f"({n_steps.type})")
        if n_steps.dtype != "int64":
            n_steps = cast(n_steps, "int64")
        seqs = outer[:info.n_seqs]
        inits = outer[info.n_seqs:info.n_seqs + info.n_states]
        non_seqs = outer[info.n_seqs + info.n_states:]
        inputs: list[Variable] = [n_steps]
        for k, seq in enumerate(seqs):
            seq = as_tensor_variable(seq)
            want = self.seq_inputs(k)[0].type
            if seq.ndim != want.ndim + 1 or not _fits(want, TensorType(seq.dtype,
                                                                        seq.broadcastable[1:])):
                raise TypeError(f"{self}: sequence {k} ({seq}) has type {seq.type}; expected "
                                f"{sequence_type(want)}, a stack of {want}")
            inputs.append(seq)
        for j, init in enumerate(inits):
            state_type = self.state_type(j)
            if not isinstance(state_type, TensorType):
                if not isinstance(init, Variable) or init.type != state_type:
                    raise TypeError(f"{self}: the initial value of state {j} must have type "
                                    f"{state_type}, got {init!r}")
                inputs.append(init)
                continue
            init = as_tensor_variable(init)
            if info.state_taps[j] == (-1,):
                ok = _fits(state_type, init.type)
                want_text = str(state_type)
            else:
                ok = init.ndim == state_type.ndim + 1 and _fits(
                    state_type, TensorType(init.dtype, init.broadcastable[1:]))
                want_text = f"{sequence_type(state_type)} with at least {info.depth(j)} rows"
            if not ok:
                raise TypeError(f"{self}: the initial value of state {j} ({init}) has type "
                                f"{_text(init.type, want_text)}; expected {want_text}")
            inputs.append(init)
        for k, (ns, placeholder) in enumerate(zip(non_seqs, self.non_seq_inputs())):
            if isinstance(placeholder.type, TensorType):
                ns = as_tensor_variable(ns)
            if not isinstance(ns, Variable) or not _fits(placeholder.type, ns.type):
                got = getattr(ns, "type", type(ns).__name__)
                raise TypeError(f"{self}: non-sequence {k} ({ns}) has type "
                                f"{_text(got, str(placeholder.type))}; expected "
                                f"{placeholder.type}")
            inputs.append(ns)
        outputs = []
        for j in range(info.n_states):
            t = self.state_type(j)
            outputs.append(sequence_type(t)() if info.state_keep_all[j] else t())
        for m in range(info.n_nit):
            t = self.inner.outputs[info.n_states + m].type
            outputs.append(sequence_type(t)() if info.nit_keep_all[m] else t())
        return Apply(self, inputs, outputs)

    # Running ------------------------------------------------------------------------------
    def make_thunk(self, node: Apply, backend: Any) -> Any:
        """The loop for `node`, with the inner graph linked once by `backend`, or as the
        loop's own `mode` says (`scan(mode=...)`): its rewrites, if the outer function's did
        not run them, and its backend."""
        from theanine.link.backend import link_program, select_backend
        from theanine.scan_module.loop import compile_loop
        from theanine.scan_module.ownership import loop_owned

        inner, mode = self.inner, self.info.mode
        if mode is not None:
            if not self.info.rewritten:
                inner = inner.clone()
                inner.mutable_inputs = loop_owned(self, inner)
                rewrite_as(mode, inner)
            if mode.backend is not None:
                backend = select_backend(mode.backend)
        hook = mode.node_hook if mode is not None else None
        return compile_loop(self, node, link_program(backend, inner, hook), inner)

    def python_thunk(self, node: Apply) -> Any:
        from theanine.link.python import BACKEND

        return self.make_thunk(node, BACKEND)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]
                ) -> None:
        for cell, value in zip(output_storage, cached_thunk(node, self.python_thunk)(*inputs)):
            cell[0] = value

    # Meaning ------------------------------------------------------------------------------
    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable | None]:
        from theanine.scan_module.grad import scan_grad

        return scan_grad(self, inputs, outputs, output_grads)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        info = self.info
        shapes: list[tuple] = []
        for j in range(info.n_states):
            if not isinstance(self.state_type(j), TensorType):
                shapes.append(())
                continue
            init_shape = tuple(input_shapes[1 + info.n_seqs + j])
            row = init_shape if info.state_taps[j] == (-1,) else init_shape[1:]
            shapes.append(((self._rows(node, j),) + row) if info.state_keep_all[j] else row)
        for m in range(info.n_nit):
            out = node.outputs[info.n_states + m]
            lead = 1 if info.nit_keep_all[m] else 0
            rest = tuple(out.shape[d] for d in range(lead, out.ndim))
            shapes.append(((self._rows(node, info.n_states + m),) + rest) if lead else rest)
        return shapes

    def _rows(self, node: Apply, i: int) -> Any:
        """The leading extent of output `i` (every step kept): the steps, plus the initial
        rows of a state; for a loop that may stop early, only the output itself knows."""
        if self.info.as_while:
            return node.outputs[i].shape[0]
        n = node.inputs[0]
        return n + self.info.depth(i) if i < self.info.n_states else n


def rewrite_as(mode: Any, fgraph: FunctionGraph) -> FunctionGraph:
    """`fgraph` rewritten in place as `function(mode=mode)` rewrites its graph."""
    from theanine.plugins import get_registry
    from theanine.rewriting import rewrite_graph

    return rewrite_graph(fgraph, mode.rewrite_optimizer, mode.include_tags,
                         mode.excluded_names(get_registry().rewrites))


def _text(t: Any, other: str) -> str:
    """`t` as text, with its broadcastable pattern when the text alone reads like `other`."""
    text = str(t)
    return f"{text} (broadcastable {t.broadcastable})" if text == other else text


def _fits(want: Any, got: Any) -> bool:
    """Whether a value of type `got` may stand where `want` is expected."""
    return want == got or want.is_compatible(got)
