"""Shared test setup.  The backend under test comes from THEANINE_FLAGS (tox sets it per env);
`backend_name` names it for tests that pass it explicitly."""

from __future__ import annotations

import numpy as np
import pytest

from theanine.config import config


@pytest.fixture
def backend_name() -> str:
    from theanine.link.backend import select_backend

    return select_backend(config.backend).name


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
