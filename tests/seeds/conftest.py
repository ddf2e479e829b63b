"""The seeds were run with floatX=float32 (they print float32 results); pin it for them."""

import pytest

from theanine.config import config


@pytest.fixture(autouse=True)
def _seed_float_x():
    with config.change_flags(floatX="float32"):
        yield
