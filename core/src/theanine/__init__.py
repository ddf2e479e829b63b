"""theanine: a symbolic tensor compiler in the lineage of Theano.

Build a graph of symbolic variables (`theanine.tensor`, imported as `T`), differentiate it
(`grad`), compile it (`function`) and run it on a backend chosen by `config.backend`.
"""

from theanine import tensor
from theanine.compile import Function, In, Mode, Out, SharedVariable, function, shared
from theanine.config import config
from theanine.gradient import grad, verify_grad
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.op import Op
from theanine.graph.type import Type
from theanine.hookspecs import hookimpl
from theanine.printing import debugprint, pp
from theanine.rewriting.provenance import explain

__version__ = "0.1.0"

# Loaded on first use, to keep `import theanine` fast.
_LAZY = {"scan": "theanine.scan_module", "map": "theanine.scan_module",
         "reduce": "theanine.scan_module", "foldl": "theanine.scan_module",
         "foldr": "theanine.scan_module", "jacobian": "theanine.gradient",
         "hessian": "theanine.gradient"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'theanine' has no attribute {name!r}")


__all__ = ["Apply", "Constant", "Function", "In", "Mode", "Op", "Out", "SharedVariable", "Type",
           "Variable", "config", "debugprint", "explain", "function", "grad", "hookimpl", "pp",
           "shared", "tensor", "verify_grad", "scan", "map", "reduce", "foldl", "foldr",
           "jacobian", "hessian"]
