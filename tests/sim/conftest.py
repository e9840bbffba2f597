"""Fixtures: a seeded exchange with the market paused, so tests step it by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from havterm.sim import Exchange, SimConfig


@pytest.fixture
async def ex() -> AsyncIterator[Exchange]:
    """An exchange on 127.0.0.1 with ephemeral ports and a paused, seeded market."""
    async with Exchange(SimConfig(seed=7, market=False)) as e:
        yield e
