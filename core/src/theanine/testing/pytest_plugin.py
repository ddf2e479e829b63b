"""pytest plugin: run the tests that take the `theanine_backend` fixture once per backend.

    pytest --theanine-backend=python --theanine-backend=c   # these two
    pytest                                                  # every registered backend

Inside such a test, `theanine_backend` is the backend's name and `config.backend` is set to
it, so `theanine.function` compiles for it without being told.  A registered backend that is
not available here (no compiler, no device) is skipped with the reason it gives.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

OPTION = "--theanine-backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("theanine")
    group.addoption(OPTION, action="append", default=None, metavar="NAME",
                    help="run tests using the theanine_backend fixture on backend NAME "
                         "(repeatable, or comma-separated; 'all': every registered backend, "
                         "the default)")


def _registered() -> dict:
    from theanine.plugins import get_registry

    return get_registry().backends


def selected_backends(config: pytest.Config) -> list[str]:
    """The backend names the command line asks for, checked against the registered ones."""
    registered = sorted(_registered())
    asked = [n.strip() for opt in (config.getoption(OPTION) or ["all"])
             for n in opt.split(",") if n.strip()]
    if "all" in asked:
        return registered
    unknown = [n for n in asked if n not in registered]
    if unknown:
        raise pytest.UsageError(f"{OPTION}: unknown backend(s) {', '.join(unknown)}; "
                                f"registered backends: {', '.join(registered) or 'none'}")
    return list(dict.fromkeys(asked))


def pytest_report_header(config: pytest.Config) -> str | None:
    # Installed, the plugin loads in every pytest run of the environment: a project that has
    # not imported theanine (nor asked for a backend) does not pay for loading its plugins.
    if "theanine" not in sys.modules and config.getoption(OPTION) is None:
        return None
    parts = []
    for name in selected_backends(config):
        ok, reason = _registered()[name][0].is_available()
        parts.append(name if ok else f"{name} (unavailable: {reason})")
    return "theanine backends: " + ", ".join(parts)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "theanine_backend" in metafunc.fixturenames:
        names = selected_backends(metafunc.config)
        metafunc.parametrize("theanine_backend", names, indirect=True, ids=names)


@pytest.fixture
def theanine_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of the backend this run of the test is for (also set as config.backend)."""
    from theanine.config import config

    name = request.param
    ok, reason = _registered()[name][0].is_available()
    if not ok:
        pytest.skip(f"theanine backend {name!r} is not available: {reason}")
    with config.change_flags(backend=name):
        yield name
