"""Prometheus export: fetch /metrics from a live client and check that the real counters moved."""

from __future__ import annotations

import asyncio
import re
import urllib.request

from havterm.engine.client import ClientConfig, KrakenClient
from havterm.metrics_export import METRICS, serve_metrics
from havterm.sim import Exchange, SimConfig

from .helpers import wait_for


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^(havterm_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


async def test_metrics_endpoint_reports_the_clients_counters() -> None:
    async with Exchange(SimConfig(seed=8, market=False, symbols=["BTC/USD", "ETH/USD"])) as ex:
        client = KrakenClient(ClientConfig(symbols=["BTC/USD", "ETH/USD"], url=ex.endpoints["ws"]))
        async with client:
            server = serve_metrics(client, 0)
            port = server.server_port
            try:
                await wait_for(lambda: client.book("ETH/USD") is not None, 5)
                first = await asyncio.to_thread(scrape, port)
                ex.step(100)
                await ex.drain()
                await wait_for(lambda: client.state.symbols["BTC/USD"].checksums_verified > 20, 5)
                second = await asyncio.to_thread(scrape, port)
            finally:
                server.shutdown()
    key = 'havterm_checksums_verified_total{channel="book",symbol="BTC/USD"}'
    assert second[key] > first[key] >= 1
    assert second[key] == client.state.symbols["BTC/USD"].checksums_verified
    assert second['havterm_messages_total{channel="book",symbol="ETH/USD"}'] >= 1
    assert second['havterm_book_synced{symbol="BTC/USD"}'] == 1.0
    assert second['havterm_reconnects_total{endpoint="public"}'] == 0.0
    assert second['havterm_latency_ms_count{symbol="BTC/USD"}'] > first.get(
        'havterm_latency_ms_count{symbol="BTC/USD"}', 0)
    exported = {k.split("{")[0] for k in second}
    for name in METRICS:
        base = name
        if name in ("havterm_latency_ms", "havterm_apply_ms"):
            base = name + "_count"
        if name == "havterm_rtt_ms":
            continue  # only after the first pong
        assert base in exported, name
