"""Fixtures for the dashboard tests: a seeded, paused embedded exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from havterm.sim import Exchange, SimConfig

from .helpers import SYMBOLS


@pytest.fixture
async def exchange() -> AsyncIterator[Exchange]:
    """A paused exchange with a seeded book; tests step it by hand."""
    async with Exchange(SimConfig(seed=7, market=False, symbols=(*SYMBOLS, "SOL/USD"))) as ex:
        ex.step(300)
        yield ex
