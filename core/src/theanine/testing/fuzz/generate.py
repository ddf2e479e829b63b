"""The random graph generator: graph `index` of seed `seed` is a pure function of the pair.

A case grows step by step.  Each step picks an op from the table, lets it choose arguments
(earlier results, preferring recent ones so elementwise chains on intermediates, the in-place
candidates, are common; or fresh inputs of a shape that fits) and parameters, builds the node
and computes its value with the reference, so later steps can size their arguments from real
shapes.  A step the op refuses is undone; a step whose reference raises is kept now and then
as the last one (every configuration must then raise as well).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from theanine.graph.basic import Variable
from theanine.tensor.type import TensorType
from theanine.testing.fuzz.case import (
    LAYOUTS,
    Built,
    Case,
    Leaf,
    Step,
    build,
    namespace,
)
from theanine.testing.fuzz.domains import FLOATS, OpSpec, draw_value
from theanine.testing.fuzz.reference import evaluate

#: how often a graph gets a gradient (of a random scalar cost w.r.t. its float inputs)
GRAD_RATE = 0.3
MAX_STEPS = 5
#: how often a step repeats an earlier one (identical subexpressions, for merging)
DUPLICATE_RATE = 0.1


class Skip(Exception):
    """An op cannot use what the case has so far (raised by samplers: try another op)."""


class Context:
    """What a sampler sees while a case grows: the nodes so far, their values, and helpers
    to pick an argument or make a fresh input."""

    def __init__(self, rng: np.random.Generator, excluded: frozenset[str]):
        self.rng = rng
        self.excluded = excluded
        self.nodes: list[Leaf | Step] = []
        self.vars: list[Variable] = []
        self.values: list[Any] = []
        self.bad = False  # set by a sampler that chose arguments that must make the op raise

    # What is there -------------------------------------------------------------------------
    def dtype(self, i: int) -> str:
        return self.vars[i].dtype

    def ndim(self, i: int) -> int:
        return self.vars[i].ndim

    def shape(self, i: int) -> tuple[int, ...]:
        return tuple(np.shape(self.values[i]))

    def bcast(self, i: int) -> tuple[bool, ...]:
        return self.vars[i].broadcastable

    def allows(self, defect: str) -> bool:
        """Whether samplers may build what triggers the known defect `defect`."""
        return defect not in self.excluded

    # Choosing ------------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, options: Sequence[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def random_shape(self, ndim: int, low: int = 0) -> tuple[int, ...]:
        sizes = [0, 1, 2, 3, 4]
        weights = np.array([0.08, 0.16, 0.33, 0.28, 0.15])
        if low:
            weights[:low] = 0
        weights /= weights.sum()
        return tuple(int(self.rng.choice(sizes, p=weights)) for _ in range(ndim))

    def pick(self, dtypes: Sequence[str], ndim: tuple[int, int] = (0, 3),
             domain: str = "any", fresh: float = 0.3, min_size: int = 0) -> int:
        """An earlier node of an allowed dtype and rank (recent ones more likely), or a fresh
        input.  Earlier results outside `domain` are taken now and then (NaNs must agree)."""
        lo, hi = ndim
        cands = [i for i, v in enumerate(self.vars)
                 if v.dtype in dtypes and lo <= v.ndim <= hi
                 and builtin_min(self.shape(i), default=1) >= min_size
                 and (domain == "any" or self.chance(0.15)
                      or (isinstance(self.nodes[i], Leaf) and self._domain_of(i) == domain))]
        if cands and not self.chance(fresh):
            weights = np.arange(1, len(cands) + 1, dtype=float) ** 2
            return cands[int(self.rng.choice(len(cands), p=weights / weights.sum()))]
        nd = int(self.rng.integers(lo, hi + 1))
        return self.fresh(self.choice(dtypes), self.random_shape(nd, low=min_size),
                          domain=domain)

    def _domain_of(self, i: int) -> str:
        node = self.nodes[i]
        return node.domain if isinstance(node, Leaf) else "any"

    def fresh(self, dtype: str, shape: Sequence[int], bcast: Sequence[bool] | None = None,
              domain: str = "any") -> int:
        """A new input of `dtype` and `shape` (`bcast`: its broadcastable pattern; by default
        none), its values drawn from `domain`, in a random memory layout."""
        shape = tuple(int(s) for s in shape)
        bcast = tuple(bcast) if bcast is not None else (False,) * len(shape)
        specials = (dtype in FLOATS + ("complex128",) and domain == "any"
                    or dtype == "bool") and self.chance(0.15)
        value = draw_value(self.rng, dtype, shape, domain, specials)
        layout = self.choice(LAYOUTS) if value.ndim and self.chance(0.4) else "c"
        leaf = Leaf(dtype, bcast, value, layout, domain)
        self.nodes.append(leaf)
        self.vars.append(TensorType(dtype, bcast)(f"x{len(self.nodes) - 1}"))
        self.values.append(value)
        return len(self.nodes) - 1

    def partner(self, i: int, dtypes: Sequence[str], domain: str = "any") -> int:
        """A second argument for an elementwise op with `i`: the same shape (an earlier node
        or a fresh input), some dimensions broadcastable, a scalar, or now and then a size-1
        value in a dimension typed non-broadcastable (which must raise)."""
        shape, r = self.shape(i), self.rng.random()
        if r < 0.08 and self.dtype(i) in dtypes and domain == "any" \
                and self.allows("sub_self_nan"):
            return i
        if r < 0.35:
            same = [j for j in range(len(self.vars)) if j != i and self.shape(j) == shape
                    and self.dtype(j) in dtypes and self.bcast(j) == self.bcast(i)]
            if same:
                return self.choice(same)
        dtype = self.choice(dtypes)
        if r < 0.5:
            return self.fresh(dtype, (), domain=domain)
        if r < 0.53 and self.allows("inplace_broadcast") and any(s > 1 for s in shape):
            dims = [d for d, s in enumerate(shape) if s > 1]
            bad = list(shape)
            bad[self.choice(dims)] = 1
            self.bad = True
            return self.fresh(dtype, bad, domain=domain)
        if r < 0.75 and shape:
            bc = [self.chance(0.4) for _ in shape]
            return self.fresh(dtype, [1 if b else s for b, s in zip(bc, shape)], bc, domain)
        return self.fresh(dtype, shape, self.bcast(i), domain)


builtin_min = min


def _choose_spec(rng: np.random.Generator, specs: Sequence[OpSpec]) -> OpSpec:
    weights = np.array([s.weight for s in specs], dtype=float)
    return specs[int(rng.choice(len(specs), p=weights / weights.sum()))]


def _default_sample(ctx: Context, spec: OpSpec) -> tuple[list[int], dict[str, Any]]:
    first = ctx.pick(spec.dtypes, spec.ndim, spec.domain)
    if spec.layout == "elemwise":
        rest = [ctx.partner(first, spec.dtypes, spec.domain) for _ in range(spec.arity - 1)]
    else:
        rest = [ctx.pick(spec.dtypes, (0, 3), spec.domain) for _ in range(spec.arity - 1)]
    return [first, *rest], {}


def generate(seed: int, index: int, specs: Mapping[str, OpSpec],
             excluded: frozenset[str] = frozenset(), max_steps: int = MAX_STEPS) -> Case:
    """Graph `index` of seed `seed` over the ops in `specs` (skipping those tagged with an
    excluded defect)."""
    return generate_built(seed, index, specs, excluded, max_steps)[0]


def generate_built(seed: int, index: int, specs: Mapping[str, OpSpec],
                   excluded: frozenset[str] = frozenset(), max_steps: int = MAX_STEPS
                   ) -> tuple[Case, Built | None]:
    """`generate`, plus the case's graph when building it was part of generating it (saves
    building it again to check it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = _generate(seed, index, specs, excluded, max_steps)
    built = case.__dict__.pop("_built", None)
    return case, built


def _generate(seed: int, index: int, specs: Mapping[str, OpSpec], excluded: frozenset[str],
              max_steps: int) -> Case:
    rng = np.random.default_rng([seed, index])
    usable = [s for s in specs.values() if not (s.defects & excluded)]
    ctx = Context(rng, excluded)
    memo: dict[Variable, Any] = {}
    n_steps = int(rng.integers(1, max_steps + 1))
    steps: list[int] = []
    raised = False
    for _ in range(n_steps * 8):
        if len(steps) >= n_steps:
            break
        spec = _choose_spec(rng, usable)
        mark = len(ctx.nodes)
        ctx.bad = False
        try:
            if steps and ctx.allows("final_merge_destroyed") and ctx.chance(DUPLICATE_RATE):
                # the same expression again: merging must not share a buffer one of the
                # two copies then overwrites in place
                twin = ctx.nodes[ctx.choice(steps)]
                assert isinstance(twin, Step)
                spec, args, params = specs[twin.op], list(twin.args), dict(twin.params)
            else:
                args, params = (spec.sample(ctx) if spec.sample is not None
                                else _default_sample(ctx, spec))
            ns = namespace([spec])
            ns.update({_name(ctx, a): ctx.vars[a] for a in args})
            var = eval(spec.render([_name(ctx, a) for a in args], params), ns)  # noqa: S307
            if not isinstance(var, Variable):
                raise Skip
        except Skip:
            _truncate(ctx, mark)
            continue
        except Exception:
            if not spec.strict:  # arguments the op refuses: try another op
                _truncate(ctx, mark)
                continue
            ctx.nodes.append(Step(spec.name, tuple(args), params))  # a bug: keep it, stop
            steps.append(len(ctx.nodes) - 1)
            return Case(seed, index, ctx.nodes, [steps[-1]])
        givens = {ctx.vars[j]: ctx.values[j] for j in range(len(ctx.nodes))
                  if isinstance(ctx.nodes[j], Leaf)}
        try:
            (value,) = evaluate([var], givens, memo)
        except Exception:
            if ctx.bad or ctx.chance(0.15):
                raised = True
            else:
                _truncate(ctx, mark)
                continue
            value = None
        ctx.nodes.append(Step(spec.name, tuple(args), params))
        ctx.vars.append(var)
        ctx.values.append(value)
        steps.append(len(ctx.nodes) - 1)
        if raised:
            break
    if not steps:  # nothing fitted: a plain input is still a (trivial) case
        steps.append(ctx.fresh("float64", (2,)))
    outputs = [steps[-1]] + [s for s in steps[:-1] if ctx.chance(0.25)]
    case = Case(seed, index, ctx.nodes, outputs, raises=raised)
    if not raised and ctx.chance(GRAD_RATE):
        case.grad = _gradient(ctx, case, specs)
    if case.grad is None:  # the graph is the one built while growing the case
        needed = sorted(case.ancestors(outputs))
        leaves = [i for i in needed if isinstance(ctx.nodes[i], Leaf)]
        case.__dict__["_built"] = Built(
            [ctx.vars[i] for i in leaves], [ctx.vars[i] for i in outputs],
            [ctx.nodes[i] for i in leaves], len(outputs),
            {i: ctx.vars[i] for i in needed if isinstance(ctx.nodes[i], Step)})
    return case


def _name(ctx: Context, i: int) -> str:
    return f"x{i}" if isinstance(ctx.nodes[i], Leaf) else f"v{i}"


def _truncate(ctx: Context, mark: int) -> None:
    del ctx.nodes[mark:], ctx.vars[mark:], ctx.values[mark:]


def _gradient(ctx: Context, case: Case, specs: Mapping[str, OpSpec]
              ) -> tuple[int, tuple[int, ...]] | None:
    """A scalar cost over a float output (a sum, or a sum of squares) and the real float
    inputs it depends on through differentiable ops."""
    floats = [o for o in case.outputs if ctx.dtype(o) in FLOATS
              and isinstance(case.nodes[o], Step) and ctx.values[o] is not None]
    if not floats:
        return None
    out = ctx.choice(floats)
    reachable = _differentiable_leaves(case, out, specs)
    wrt = tuple(i for i in sorted(reachable) if ctx.dtype(i) in FLOATS)
    if not wrt:
        return None
    op = "cost_sum" if ctx.chance(0.5) else "cost_sqr"
    case.nodes.append(Step(op, (out,)))
    cost = len(case.nodes) - 1
    try:
        built = build(Case(case.seed, case.index, case.nodes, case.outputs, (cost, wrt)), specs)
    except Exception:  # an op without a gradient: no gradient for this case
        case.nodes.pop()
        return None
    case.__dict__["_built"] = built  # handed over by generate_built
    return cost, wrt


def _differentiable_leaves(case: Case, out: int, specs: Mapping[str, OpSpec]) -> set[int]:
    leaves: set[int] = set()
    todo = [out]
    while todo:
        i = todo.pop()
        node = case.nodes[i]
        if isinstance(node, Leaf):
            leaves.add(i)
        elif specs[node.op].differentiable:
            todo.extend(node.args)
    return leaves

