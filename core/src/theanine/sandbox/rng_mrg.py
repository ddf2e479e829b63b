"""Theano's import path for the MRG31k3p streams (`theano.sandbox.rng_mrg`)."""

from __future__ import annotations

import numpy as np

from theanine.tensor.random import mrg
from theanine.tensor.random.mrg_streams import MRG_RandomStreams


def ff_2p72(rstate: np.ndarray) -> np.ndarray:
    """`rstate` advanced by 2**72 steps: the next substream."""
    return mrg.jump(np.asarray(rstate, dtype=np.int32), mrg.SUBSTREAM_JUMP)


def ff_2p134(rstate: np.ndarray) -> np.ndarray:
    """`rstate` advanced by 2**134 steps: the next stream."""
    return mrg.next_stream(rstate)


def guess_n_streams(size: tuple[int, ...]) -> int:
    """How many substreams `MRG_RandomStreams` gives a draw of the constant `size`."""
    return mrg.guess_n_streams(tuple(int(s) for s in size))


__all__ = ["MRG_RandomStreams", "ff_2p134", "ff_2p72", "guess_n_streams"]
