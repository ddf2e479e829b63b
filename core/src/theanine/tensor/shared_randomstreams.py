"""Theano's import path for `RandomStreams` (`theano.tensor.shared_randomstreams`)."""

from theanine.tensor.random.streams import RandomStreams

__all__ = ["RandomStreams"]
