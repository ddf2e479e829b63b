"""Theano's `theano.sandbox` import paths for code ported from Theano (`rng_mrg`)."""
