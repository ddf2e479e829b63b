"""`theano.gof.graph`: graph vertices and walks under Theano's names."""

from __future__ import annotations

from collections.abc import Sequence

from theanine.graph.basic import Apply, Constant, Variable, ancestors, clone_graph, io_toposort


def inputs(variable_list: Sequence[Variable],
           blockers: Sequence[Variable] | None = None) -> list[Variable]:
    """The ownerless variables (and `blockers`) the variables depend on."""
    from theanine.graph.basic import graph_inputs

    return graph_inputs(list(variable_list), blockers or ())


def clone(i: Sequence[Variable], o: Sequence[Variable], copy_inputs: bool = True,
          ) -> tuple[list[Variable], list[Variable]]:
    """A copy of the graph from `i` to `o`: (new inputs, new outputs); `copy_inputs=False`
    keeps the inputs themselves."""
    equiv = clone_get_equiv(i, o, copy_inputs)
    return [equiv[v] for v in i], [equiv[v] for v in o]


def clone_get_equiv(inputs: Sequence[Variable], outputs: Sequence[Variable],
                    copy_inputs: bool = True) -> dict[Variable, Variable]:
    """Old variable -> its copy, for the graph from `inputs` to `outputs`; with
    `copy_inputs=False` the inputs (and other ownerless variables) map to themselves."""
    if copy_inputs:
        return clone_graph(list(inputs), list(outputs))[2]
    memo: dict[Variable, Variable] = {v: v for v in inputs}
    for node in io_toposort(list(inputs), list(outputs)):
        memo.update(zip(node.outputs, node.copy_onto([memo.get(x, x) for x in node.inputs])))
    return memo


__all__ = ["Apply", "Constant", "Variable", "ancestors", "clone", "clone_get_equiv", "inputs",
           "io_toposort"]
