"""A generated test case as a recipe: leaves (inputs with values), steps (op applications by
name) and outputs.  The recipe, not the graph, is what the fuzzer keeps: the minimizer edits
it, `build` turns it into a graph, and `to_code` prints it as a runnable reproducer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import theanine
import theanine.tensor as T
from theanine.graph.basic import Variable
from theanine.testing.fuzz.domains import OpSpec

#: memory layouts of input values: C order, Fortran order, a negative-stride view, a view that
#: skips every other element of its last dimension
LAYOUTS = ("c", "f", "neg", "strided")


@dataclass
class Leaf:
    """A function input: its type and its (logical, contiguous) value, passed in `layout`."""

    dtype: str
    broadcastable: tuple[bool, ...]
    value: np.ndarray
    layout: str = "c"
    domain: str = "any"  # the range the values were drawn from

    def array(self) -> np.ndarray:
        """A fresh array holding `value` in this leaf's memory layout."""
        v = self.value
        if v.ndim == 0 or self.layout == "c":
            return v.copy()
        if self.layout == "f":
            return np.asfortranarray(v.copy())
        if self.layout == "neg":
            return np.flip(v, 0).copy()[::-1]
        return np.repeat(v, 2, axis=-1)[..., ::2]


@dataclass
class Step:
    """`spec` applied to earlier nodes `args` with static `params`."""

    op: str
    args: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    """Graph `index` of seed `seed`.  `grad`: (cost node, wrt leaves) or None."""

    seed: int
    index: int
    nodes: list[Leaf | Step]
    outputs: list[int]
    grad: tuple[int, tuple[int, ...]] | None = None
    raises: bool = False  # the generator kept a step whose reference raises

    def leaves(self) -> list[int]:
        """The indices of the leaves the outputs (and the cost) depend on, in order."""
        roots = list(self.outputs) + ([self.grad[0]] if self.grad else [])
        used = self.ancestors(roots)
        return [i for i in sorted(used) if isinstance(self.nodes[i], Leaf)]

    def ancestors(self, roots: list[int]) -> set[int]:
        seen: set[int] = set()
        todo = list(roots)
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            node = self.nodes[i]
            if isinstance(node, Step):
                todo.extend(node.args)
        return seen

    def ops(self) -> list[str]:
        roots = list(self.outputs) + ([self.grad[0]] if self.grad else [])
        return [self.nodes[i].op for i in sorted(self.ancestors(roots))
                if isinstance(self.nodes[i], Step)]

    def copy(self) -> Case:
        return replace(self, nodes=list(self.nodes), outputs=list(self.outputs))


def name_of(case: Case, i: int) -> str:
    return f"x{i}" if isinstance(case.nodes[i], Leaf) else f"v{i}"


@dataclass
class Built:
    """The graph of a case: its inputs, the outputs to compare (user outputs, then gradients),
    and the input values."""

    inputs: list[Variable]
    outputs: list[Variable]
    leaves: list[Leaf]
    n_user: int  # outputs[:n_user] are the case's outputs, the rest its gradients
    steps: dict[int, Variable] = field(default_factory=dict)  # node index -> its variable

    def values(self) -> list[np.ndarray]:
        return [leaf.array() for leaf in self.leaves]


def namespace(specs: Iterable[OpSpec] = ()) -> dict[str, Any]:
    """What expressions are evaluated in: T, np, theano and the names `specs` import."""
    ns = {"T": T, "np": np, "theano": theanine}
    for spec in specs:
        if spec.imports:
            ns.update(_imported(spec.imports))
    return ns


@functools.cache
def _imported(lines: tuple[str, ...]) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec("\n".join(lines), ns)  # noqa: S102 - import lines a spec declares
    ns.pop("__builtins__", None)
    return ns


def build(case: Case, specs: Mapping[str, OpSpec]) -> Built:
    """The symbolic graph of `case` (raises what building raises: a TypeError for a step
    whose arguments the op refuses)."""
    roots = list(case.outputs) + ([case.grad[0]] if case.grad else [])
    needed = case.ancestors(roots)
    ns = namespace(specs[case.nodes[i].op] for i in needed if isinstance(case.nodes[i], Step))
    inputs, leaves, steps = [], [], {}
    for i in sorted(needed):
        node = case.nodes[i]
        name = name_of(case, i)
        if isinstance(node, Leaf):
            ns[name] = T.TensorType(node.dtype, node.broadcastable)(name)
            inputs.append(ns[name])
            leaves.append(node)
        else:
            args = [name_of(case, a) for a in node.args]
            ns[name] = steps[i] = eval(specs[node.op].render(args, node.params), ns)  # noqa: S307
    outputs = [ns[name_of(case, i)] for i in case.outputs]
    n_user = len(outputs)
    if case.grad is not None:
        cost, wrt = case.grad
        outputs += theanine.grad(ns[name_of(case, cost)], [ns[name_of(case, w)] for w in wrt],
                                 disconnected_inputs="ignore")
    return Built(inputs, outputs, leaves, n_user, steps)


def array_code(leaf: Leaf) -> str:
    """Source code that recreates `leaf.array()` (values inline, same memory layout)."""
    v = leaf.value
    if leaf.layout == "neg" and v.ndim:
        v = np.flip(v, 0)
    if v.dtype == bool and v.view(np.uint8).max(initial=0) > 1:  # bytes, not just truths
        body = f"np.array({_list_code(v.view(np.uint8).reshape(-1))}, dtype='uint8').view(bool)"
    else:
        body = f"np.array({_list_code(v.reshape(-1))}, dtype={leaf.dtype!r})"
    if v.ndim != 1:
        body += f".reshape({v.shape!r})"
    if v.ndim == 0 or leaf.layout == "c":
        return body
    if leaf.layout == "f":
        return f"np.asfortranarray({body})"
    if leaf.layout == "neg":
        return f"{body}[::-1]"
    return f"np.repeat({body}, 2, axis=-1)[..., ::2]"


def _scalar_code(x: Any) -> str:
    if isinstance(x, complex):
        return f"complex({_scalar_code(x.real)}, {_scalar_code(x.imag)})"
    if isinstance(x, float):
        if np.isnan(x):
            return "np.nan"
        if np.isinf(x):
            return "np.inf" if x > 0 else "-np.inf"
    return repr(x)


def _list_code(flat: np.ndarray) -> str:
    return "[" + ", ".join(_scalar_code(x) for x in flat.tolist()) + "]"


def to_code(case: Case, specs: Mapping[str, OpSpec]) -> list[str]:
    """Lines of Python that build the case's graph: `inputs`, `outputs` and `values`."""
    roots = list(case.outputs) + ([case.grad[0]] if case.grad else [])
    needed = case.ancestors(roots)
    lines: list[str] = list(dict.fromkeys(
        line for i in sorted(needed) if isinstance(case.nodes[i], Step)
        for line in specs[case.nodes[i].op].imports))
    inputs, values = [], []
    for i in sorted(needed):
        node = case.nodes[i]
        name = name_of(case, i)
        if isinstance(node, Leaf):
            lines.append(f"{name} = T.TensorType({node.dtype!r}, {node.broadcastable!r})"
                         f"({name!r})")
            inputs.append(name)
            values.append(f"    {array_code(node)},")
        else:
            args = [name_of(case, a) for a in node.args]
            lines.append(f"{name} = {specs[node.op].render(args, node.params)}")
    outs = ", ".join(name_of(case, i) for i in case.outputs)
    lines.append(f"outputs = [{outs}]")
    if case.grad is not None:
        cost, wrt = case.grad
        wrt_names = ", ".join(name_of(case, w) for w in wrt)
        lines.append(f"outputs += theano.grad({name_of(case, cost)}, [{wrt_names}], "
                     "disconnected_inputs='ignore')")
    lines.append(f"inputs = [{', '.join(inputs)}]")
    lines.append("values = [")
    lines.extend(values)
    lines.append("]")
    return lines
