"""Fixtures: a paused, seeded exchange and a Trader on a client authenticated with its test key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.credentials import Credentials
from havterm.engine.protocol import SessionConfig
from havterm.engine.trading import Trader, TraderConfig
from havterm.sim import Exchange, SimConfig
from tests.waiting import wait_for

SYMBOL = "BTC/USD"


def creds(ex: Exchange) -> Credentials:
    return Credentials(ex.endpoints["api_key"], ex.endpoints["api_secret"])


def make_client(ex: Exchange) -> KrakenClient:
    return KrakenClient(
        ClientConfig(
            symbols=[SYMBOL],
            channels=("book",),
            url=ex.endpoints["ws"],
            auth_url=ex.endpoints["ws_auth"],
            rest_url=ex.endpoints["rest"],
            credentials=creds(ex),
            private=("executions", "balances"),
            session=SessionConfig(heartbeat_timeout_s=5.0, ack_timeout_s=2.0),
            backoff_base_s=0.05,
            backoff_cap_s=0.3,
        )
    )


async def ready(t: Trader) -> None:
    """Authenticated and reconciled, balances in, and the public book synced (orders need it)."""
    await t.wait_ready(5.0)
    await wait_for(lambda: t.balances.snapshots >= 1 and t.client.book(SYMBOL) is not None, 5.0, "synced")


@pytest.fixture
async def ex() -> AsyncIterator[Exchange]:
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as e:
        yield e


@pytest.fixture
async def trader(ex: Exchange) -> AsyncIterator[Trader]:
    client = make_client(ex)
    t = Trader(client, TraderConfig(ack_timeout_s=1.0, reconnect_timeout_s=5.0))
    async with client:
        await ready(t)
        yield t
        await t.close()


def best(ex: Exchange, side: str) -> Any:
    """The exchange's best bid or ask level (price in ticks: BTC/USD has one decimal)."""
    book = ex.book(SYMBOL)
    return book.best_bid() if side == "bid" else book.best_ask()
