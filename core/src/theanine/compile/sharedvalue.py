"""Theano's import path of `theanine.tensor.sharedvar`, kept for porting code and old pickles."""

from theanine.tensor.sharedvar import (
    GENERIC_SHARED_CLASSES,
    Container,
    GenericSharedVariable,
    GenericType,
    SharedVariable,
    TensorSharedVariable,
    shared,
)

__all__ = ["GENERIC_SHARED_CLASSES", "Container", "GenericSharedVariable", "GenericType",
           "SharedVariable", "TensorSharedVariable", "shared"]
