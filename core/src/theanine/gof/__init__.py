"""`theano.gof` as ported custom Ops use it: `Op`, `Apply`, `Variable`, `Constant`, `Type`,
`FunctionGraph`, and the `graph` / `utils` modules."""

from theanine.gof import graph, utils
from theanine.gof.op import Op
from theanine.gof.utils import MethodNotDefined
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.fg import FunctionGraph
from theanine.graph.type import Type

__all__ = ["Apply", "Constant", "FunctionGraph", "MethodNotDefined", "Op", "Type", "Variable",
           "graph", "utils"]
