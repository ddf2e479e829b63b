"""Compiling graphs into callables: `function`, `pfunc`, `In`, `Out`, `shared`, `Mode` and the
mode names Theano had (`FAST_RUN`, `FAST_COMPILE`, `DebugMode`, `NanGuardMode`,
`MonitorMode`, `ProfileMode`)."""

from theanine.compile.builders import OpFromGraph
from theanine.compile.debugmode import DebugMode
from theanine.compile.function import Function, function
from theanine.compile.io import In, Out, Param
from theanine.compile.mode import (
    FAST_COMPILE,
    FAST_RUN,
    Mode,
    ProfileMode,
    get_default_mode,
    get_mode,
    predefined_modes,
    register_mode,
)
from theanine.compile.monitormode import MonitorMode
from theanine.compile.nanguardmode import NanGuardMode
from theanine.compile.ops import as_op
from theanine.compile.pfunc import pfunc
from theanine.tensor.sharedvar import SharedVariable, shared

__all__ = ["FAST_COMPILE", "FAST_RUN", "DebugMode", "Function", "In", "Mode", "MonitorMode",
           "OpFromGraph",
           "NanGuardMode", "Out", "Param", "ProfileMode", "SharedVariable", "as_op",
           "function", "get_default_mode", "get_mode", "pfunc", "predefined_modes",
           "register_mode", "shared"]
