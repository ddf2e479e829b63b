"""Compiling graphs into callables: `function`, `In`, `Out`, `shared`, `Mode`."""

from theanine.compile.function import Function, function
from theanine.compile.io import In, Out
from theanine.compile.mode import Mode
from theanine.compile.sharedvalue import SharedVariable, shared

__all__ = ["Function", "In", "Mode", "Out", "SharedVariable", "function", "shared"]
