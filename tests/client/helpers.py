"""Loopback helpers: an embedded exchange, a client pointed at it, and awaiting conditions."""

from __future__ import annotations

from typing import Any

from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.protocol import SessionConfig
from tests.waiting import wait_for  # noqa: F401 (re-exported for the tests here)


def client_for(ex: Any, symbols: list[str], **overrides: Any) -> KrakenClient:
    """A client on the exchange's public endpoint with test-sized timeouts."""
    session = SessionConfig(
        heartbeat_timeout_s=overrides.pop("heartbeat_timeout_s", 3.0),
        silent_subscription_s=overrides.pop("silent_subscription_s", 1.0),
        ack_timeout_s=overrides.pop("ack_timeout_s", 2.0),
        max_resyncs=overrides.pop("max_resyncs", 3),
        healthy_after=overrides.pop("healthy_after", 20),
    )
    cfg = ClientConfig(
        symbols=symbols,
        url=ex.endpoints["ws"],
        session=session,
        backoff_base_s=0.05,
        backoff_cap_s=0.5,
        **overrides,
    )
    return KrakenClient(cfg)
