"""Shared fixtures: where the reference data lives, and the ``online`` marker switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
KRAKEN_DATA = FIXTURES / "kraken"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--online", action="store_true", help="run tests that need live Kraken")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``online`` tests unless --online, and ``slow`` soaks unless -m slow or HAVTERM_SLOW=1."""
    online = config.getoption("--online")
    markexpr = config.getoption("markexpr", "") or ""
    slow = "slow" in markexpr or os.environ.get("HAVTERM_SLOW") == "1"
    skip_online = pytest.mark.skip(reason="needs live Kraken; run with --online")
    skip_slow = pytest.mark.skip(reason="slow soak; run with -m slow or HAVTERM_SLOW=1")
    for item in items:
        if "online" in item.keywords and not online:
            item.add_marker(skip_online)
        if "slow" in item.keywords and not slow:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config, data and log dirs in a temp dir: no test reads or writes the user's own files."""
    base = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(base / var.lower()))


@pytest.fixture
def kraken_data() -> Path:
    return KRAKEN_DATA
