"""`from theano.tests.breakpoint import PdbBreakpoint`, as Theano 1.0 programs write it."""

from theanine.breakpoint import PdbBreakpoint

__all__ = ["PdbBreakpoint"]
