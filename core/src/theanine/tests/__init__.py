"""Theano's `theano.tests` paths that user code imports: only `breakpoint` (PdbBreakpoint)."""
