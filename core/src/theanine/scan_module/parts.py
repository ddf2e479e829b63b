"""`ScanParts`: a Scan node taken apart into editable pieces, and put back together.

The user-facing `scan`, the gradient and every scan rewrite work the same way: describe the
loop as sequences, states, outputs and non-sequences, each pairing outer variables with the
inner placeholders that stand for them, then `make()` a new node.  `ScanParts.of(node)` gives
a private copy of a node's inner graph, so editing it never touches the original Op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from theanine.graph.basic import Apply, Variable, clone_graph, clone_replace
from theanine.graph.fg import FunctionGraph
from theanine.scan_module.op import Scan, ScanInfo


@dataclass
class Seq:
    """A sequence: `inner[i]` stands for the row of `outer` at tap `taps[i]`."""

    outer: Variable
    taps: tuple[int, ...]
    inner: list[Variable]


@dataclass
class State:
    """A recurrent state: `inner[i]` is its value at tap `taps[i]` (negative), `out` the new
    value; `init` its initial value (rows of initial values for taps deeper than -1)."""

    init: Variable
    taps: tuple[int, ...]
    inner: list[Variable]
    out: Variable
    keep_all: bool = True


@dataclass
class Nit:
    """An output that is not fed back."""

    out: Variable
    keep_all: bool = True


@dataclass
class NonSeq:
    """A value every step reads unchanged."""

    outer: Variable
    inner: Variable


@dataclass
class ScanParts:
    n_steps: Variable
    seqs: list[Seq] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    nits: list[Nit] = field(default_factory=list)
    non_seqs: list[NonSeq] = field(default_factory=list)
    go_backwards: bool = False
    truncate_gradient: int = -1
    name: str | None = None
    rewritten: bool = False
    min_steps: int = 0
    #: the stopping condition (`until`), computed by the step after its outputs
    cond: Variable | None = None
    mode: Any = None

    @classmethod
    def of(cls, node: Apply) -> ScanParts:
        """The pieces of `node`, over a fresh copy of its inner graph."""
        op: Scan = node.op
        info = op.info
        inner_in, inner_out, _ = clone_graph(op.inner.inputs, op.inner.outputs)
        it = iter(inner_in)
        outer = iter(node.inputs[1:])
        parts = cls(node.inputs[0], go_backwards=info.go_backwards,
                    truncate_gradient=info.truncate_gradient, name=op.name,
                    rewritten=info.rewritten, min_steps=info.min_steps,
                    cond=inner_out[-1] if info.as_while else None, mode=info.mode)
        for taps in info.seq_taps:
            parts.seqs.append(Seq(next(outer), taps, [next(it) for _ in taps]))
        for j, taps in enumerate(info.state_taps):
            parts.states.append(State(next(outer), taps, [next(it) for _ in taps],
                                      inner_out[j], info.state_keep_all[j]))
        for m, keep in enumerate(info.nit_keep_all):
            parts.nits.append(Nit(inner_out[info.n_states + m], keep))
        for _ in range(info.n_non_seqs):
            parts.non_seqs.append(NonSeq(next(outer), next(it)))
        return parts

    # Views --------------------------------------------------------------------------------
    def inner_inputs(self) -> list[Variable]:
        return ([v for s in self.seqs for v in s.inner] + [v for s in self.states for v in s.inner]
                + [n.inner for n in self.non_seqs])

    def inner_outputs(self) -> list[Variable]:
        """The states' new values, the other outputs, then the stopping condition if any."""
        cond = [self.cond] if self.cond is not None else []
        return [s.out for s in self.states] + [n.out for n in self.nits] + cond

    def outer_inputs(self) -> list[Variable]:
        return ([s.outer for s in self.seqs] + [s.init for s in self.states]
                + [n.outer for n in self.non_seqs])

    def info(self) -> ScanInfo:
        return ScanInfo(
            seq_taps=tuple(s.taps for s in self.seqs),
            state_taps=tuple(s.taps for s in self.states),
            state_keep_all=tuple(s.keep_all for s in self.states),
            nit_keep_all=tuple(n.keep_all for n in self.nits),
            n_non_seqs=len(self.non_seqs), go_backwards=self.go_backwards,
            truncate_gradient=self.truncate_gradient, rewritten=self.rewritten,
            min_steps=self.min_steps, as_while=self.cond is not None, mode=self.mode)

    # Editing ------------------------------------------------------------------------------
    def map_outputs(self, fn: Callable[[list[Variable]], list[Variable]]) -> None:
        """Replace every inner output `o` by `fn(outputs)[i]` (e.g. a `clone_replace`)."""
        new = fn(self.inner_outputs())
        for s, o in zip(self.states, new[:len(self.states)]):
            s.out = o
        for n, o in zip(self.nits, new[len(self.states):]):
            n.out = o
        if self.cond is not None:
            self.cond = new[-1]

    def replace_inner(self, mapping: dict[Variable, Variable]) -> None:
        if mapping:
            self.map_outputs(lambda outs: clone_replace(outs, mapping, strict=False))

    def make(self) -> list[Variable]:
        """A new Scan node from the pieces; its outputs (states, then other outputs)."""
        inner = FunctionGraph(self.inner_inputs(), self.inner_outputs(), clone=True)
        op = Scan(inner, self.info(), self.name)
        return op.make_node(self.n_steps, *self.outer_inputs()).outputs


def nonzero(v: Any) -> bool:
    """False for a gradient known to be zero (None, or zeros built by `fill`/`alloc`)."""
    from theanine.rewriting.patterns import scalar_constant

    if v is None:
        return False
    c = scalar_constant(v)
    return c is None or c != 0
