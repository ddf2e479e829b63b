"""Random numbers in graphs.

`RandomStreams` gives each random variable a NumPy RandomState in a shared variable (Theano's
`shared_randomstreams`, seeded as Theano seeded it); `MRG_RandomStreams` draws with MRG31k3p
from an int32 state that every backend can advance natively (Theano's `sandbox.rng_mrg`).
Both update their state after each call unless the function is compiled with
`no_default_updates`.
"""

import numpy as np

from theanine.tensor.random.mrg_ops import ChoiceFromUniform, MRGUniform, MultinomialFromUniform
from theanine.tensor.random.mrg_streams import MRG_RandomStreams
from theanine.tensor.random.op import RandomFunction
from theanine.tensor.random.streams import RandomStreams
from theanine.tensor.sharedvar import GenericType

__all__ = ["ChoiceFromUniform", "MRGUniform", "MRG_RandomStreams", "MultinomialFromUniform",
           "RandomFunction", "RandomStreams", "random_state_type"]

#: the type of a RandomState variable (Theano's `raw_random.random_state_type()`)
random_state_type = GenericType(np.random.RandomState)
