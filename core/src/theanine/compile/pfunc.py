"""Theano's `pfunc` (compile from `In` parameters) and `clone` (copy a graph with
replacements)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theanine.compile.arguments import replacement_pairs
from theanine.compile.function import Function, function
from theanine.compile.io import In
from theanine.graph.basic import Constant, Variable, graph_inputs, io_toposort


def pfunc(params: Sequence[Any], outputs: Any = None, mode: Any = None, updates: Any = None,
          givens: Any = None, no_default_updates: bool | Sequence[Variable] = False,
          accept_inplace: bool = False, name: str | None = None, rebuild_strict: bool = True,
          allow_input_downcast: bool | None = None, profile: Any = None,
          on_unused_input: str | None = None, output_keys: Sequence[str] | None = None,
          ) -> Function:
    """Theano's `pfunc`: `function` whose inputs are `In` (or `Param`) objects or
    variables.  `output_keys`: return a dict of the outputs under these keys."""
    if not isinstance(params, list | tuple):
        raise TypeError(f"pfunc params must be a list of variables or In objects, got "
                        f"{type(params).__name__}")
    for k, p in enumerate(params):
        if not isinstance(p, In | Variable):
            raise TypeError(f"pfunc param {k} is {p!r}: expected a symbolic variable or In")
    f = function(list(params), outputs, mode=mode, updates=updates, givens=givens,
                 no_default_updates=no_default_updates, accept_inplace=accept_inplace,
                 name=name, rebuild_strict=rebuild_strict,
                 allow_input_downcast=allow_input_downcast, profile=profile,
                 on_unused_input=on_unused_input)
    if output_keys is None:
        return f
    keys = list(output_keys)
    if not isinstance(outputs, list | tuple) or len(keys) != len(outputs):
        raise ValueError(f"output_keys names {len(keys)} outputs but outputs is "
                         f"{type(outputs).__name__} of length "
                         f"{len(outputs) if isinstance(outputs, list | tuple) else 1}")
    return _KeyedFunction(f, keys)


class _KeyedFunction:
    """A function returning a dict (pfunc's `output_keys`)."""

    def __init__(self, f: Function, keys: list[str]):
        self.function, self.keys = f, keys

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(zip(self.keys, self.function(*args, **kwargs)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.function, name)


def clone(output: Variable | Sequence[Variable], replace: Any = None, strict: bool = True,
          share_inputs: bool = True) -> Any:
    """Theano's `theano.clone`: a copy of the graph of `output` (a variable or a list) with
    `replace` ({old: new} or (old, new) pairs) substituted.

    `strict`: each replacement must have its variable's type (else the graph is rebuilt
    through `make_node`, so types downstream may change). `share_inputs`: keep the graph's
    inputs (and shared variables) as they are; False clones them too (shared variables keep
    their value container).
    """
    single = isinstance(output, Variable)
    outputs = [output] if single else list(output)
    for k, o in enumerate(outputs):
        if not isinstance(o, Variable):
            raise TypeError(f"clone: output {k} is {type(o).__name__} {o!r}, not a symbolic "
                            "variable")
    memo: dict[Variable, Variable] = {}
    for old, new in replacement_pairs(replace, "clone: replace"):
        if strict and new.type != old.type:
            raise TypeError(f"clone: replacement for {old} has type {new.type}, expected "
                            f"{old.type}; pass strict=False to allow it")
        memo[old] = new
    if not share_inputs:
        for v in graph_inputs(outputs, blockers=list(memo)):
            if v not in memo and not isinstance(v, Constant):
                memo[v] = v.clone()
    for node in io_toposort(list(memo), outputs):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(n.type == o.type for n, o in zip(new_inputs, node.inputs)):
            made = node.copy_onto(new_inputs)
        else:
            made = node.clone_with_new_inputs(new_inputs, strict=False).outputs
            for old, new in zip(node.outputs, made):
                new.name = old.name if new.name is None else new.name
        memo.update(zip(node.outputs, made))
    result = [memo.get(o, o) for o in outputs]
    return result[0] if single else result

