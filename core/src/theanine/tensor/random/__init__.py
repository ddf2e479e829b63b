"""Random numbers in graphs.

`RandomStreams` gives each random variable a NumPy RandomState in a shared variable (Theano's
`shared_randomstreams`, seeded as Theano seeded it); `MRG_RandomStreams` draws with MRG31k3p
from an int32 state that every backend can advance natively (Theano's `sandbox.rng_mrg`).
Both update their state after each call unless the function is compiled with
`no_default_updates`.
"""

from theanine.tensor.random.mrg_ops import ChoiceFromUniform, MRGUniform, MultinomialFromUniform
from theanine.tensor.random.mrg_streams import MRG_RandomStreams
from theanine.tensor.random.op import RandomFunction
from theanine.tensor.random.streams import RandomStreams

__all__ = ["ChoiceFromUniform", "MRGUniform", "MRG_RandomStreams", "MultinomialFromUniform",
           "RandomFunction", "RandomStreams", "random_state_type"]


def __getattr__(name: str):
    """`random_state_type`, the type of a RandomState variable, made on first use: its class
    (`GenericType`) lives in the compile layer, which this package must not import at load."""
    if name == "random_state_type":
        import numpy as np

        from theanine.compile.sharedvalue import GenericType

        return GenericType(np.random.RandomState)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
