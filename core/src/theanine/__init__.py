"""theanine: a symbolic tensor compiler in the lineage of Theano.

Build a graph of symbolic variables (`theanine.tensor`, imported as `T`), differentiate it
(`grad`), compile it (`function`) and run it on a backend chosen by `config.backend`.
"""

# `breakpoint` (theanine.breakpoint.PdbBreakpoint) stays out of __all__: a star import would
# hide Python's breakpoint()
from theanine import breakpoint, gof, ifelse, tensor
from theanine.compile import (
    FAST_COMPILE,
    FAST_RUN,
    Function,
    In,
    Mode,
    Out,
    Param,
    ProfileMode,
    SharedVariable,
    function,
    get_default_mode,
    shared,
)
from theanine.compile.builders import OpFromGraph
from theanine.compile.dump import function_dump
from theanine.compile.pfunc import clone
from theanine.config import change_flags, config
from theanine.gof import Op
from theanine.gradient import grad
from theanine.graph.basic import Apply, Constant, Variable
from theanine.graph.type import Type
from theanine.hookspecs import hookimpl
from theanine.misc.safe_asarray import _asarray
from theanine.printing import debugprint, pp
from theanine.rewriting.provenance import explain
from theanine.tensor.products import dot

__version__ = "0.1.0"

# Loaded on first use, to keep `import theanine` fast.
_LAZY = {"scan": "theanine.scan_module", "map": "theanine.scan_module",
         "reduce": "theanine.scan_module", "foldl": "theanine.scan_module",
         "foldr": "theanine.scan_module", "jacobian": "theanine.compile.jacobian",
         "hessian": "theanine.compile.jacobian", "verify_grad": "theanine.testing.checks"}


def __getattr__(name: str):
    if name in ("d3viz", "sparse"):  # modules: d3viz is callable, sparse comes from a plugin
        from importlib import import_module

        return import_module(f"theanine.{name}")
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'theanine' has no attribute {name!r}")


__all__ = ["FAST_COMPILE", "FAST_RUN", "Apply", "Constant", "Function", "In", "Mode", "Op", "Out",
           "OpFromGraph", "Param", "ProfileMode", "SharedVariable", "Type", "Variable", "_asarray",
           "change_flags", "clone", "config", "debugprint", "dot", "explain", "function",
           "get_default_mode", "gof", "grad", "hookimpl", "ifelse", "pp", "shared", "tensor",
           "function_dump",
           "verify_grad", "d3viz", "scan", "map", "reduce", "foldl", "foldr", "jacobian", "hessian"]
