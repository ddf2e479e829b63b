"""The graph IR: types, variables, Apply nodes, Ops and the mutable FunctionGraph."""

from theanine.graph.basic import (
    Apply,
    Constant,
    Variable,
    ancestors,
    clone_graph,
    clone_replace,
    graph_inputs,
    io_toposort,
)
from theanine.graph.fg import FunctionGraph
from theanine.graph.op import Op
from theanine.graph.type import Type

__all__ = ["Apply", "Constant", "FunctionGraph", "Op", "Type", "Variable", "ancestors",
           "clone_graph", "clone_replace", "graph_inputs", "io_toposort"]
