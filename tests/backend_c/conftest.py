"""The C backend tests run native code from the first call (no tiered Python phase)."""

from __future__ import annotations

import pytest

from theanine.config import config


@pytest.fixture(autouse=True)
def _native_from_the_first_call():
    with config.change_flags(tiered=False):
        yield
