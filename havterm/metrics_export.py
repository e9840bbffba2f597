"""Prometheus metrics for a running client (``--metrics-port``), read from its state at scrape time.

Nothing is counted twice: a custom collector turns the client's own counters
and windows into metric families when Prometheus asks, so the message path
pays only for the latency histogram buckets (and only once metrics are on).
The server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from havterm.engine.book import BookState
from havterm.engine.client import KrakenClient

METRICS = {
    "havterm_messages_total": "Messages received, by symbol and channel",
    "havterm_checksums_verified_total": "Book messages whose Kraken checksum matched, by symbol and channel",
    "havterm_checksum_mismatches_total": "Book messages whose checksum did not match, by symbol and channel",
    "havterm_resyncs_total": "Resubscriptions for a fresh snapshot, by symbol and channel",
    "havterm_reconnects_total": "Reconnects, by endpoint (public, auth, l3)",
    "havterm_decode_errors_total": "Frames that could not be decoded",
    "havterm_book_synced": "1 while the symbol's book is SYNCED, else 0",
    "havterm_rtt_ms": "Last ping/pong round trip on the public connection (ms)",
    "havterm_latency_ms": "Exchange timestamp to receive, per symbol (ms)",
    "havterm_apply_ms": "Time to apply and verify one book message, per symbol (ms)",
}
"""Every exported metric and its help text (the README lists these)."""


class ClientCollector(Collector):
    """Reads one ``KrakenClient`` when scraped."""

    def __init__(self, client: KrakenClient) -> None:
        self.client = client
        for st in client.state.symbols.values():
            st.latency.enable_histogram()
            st.apply_time.enable_histogram()

    def collect(self) -> Iterator[Metric]:
        # The event loop mutates these dicts while this runs in the server thread:
        # take snapshots, and try again if one changed size under us.
        for _ in range(3):
            try:
                yield from self._collect()
                return
            except RuntimeError:
                continue

    def _collect(self) -> Iterator[Metric]:
        client = self.client
        symbols = list(client.state.symbols.items())
        labels = ["symbol", "channel"]
        msgs = _counter("havterm_messages_total", labels)
        verified = _counter("havterm_checksums_verified_total", labels)
        mismatches = _counter("havterm_checksum_mismatches_total", labels)
        synced = GaugeMetricFamily("havterm_book_synced", METRICS["havterm_book_synced"], labels=["symbol"])
        latency = HistogramMetricFamily(
            "havterm_latency_ms", METRICS["havterm_latency_ms"], labels=["symbol"]
        )
        apply_ms = HistogramMetricFamily("havterm_apply_ms", METRICS["havterm_apply_ms"], labels=["symbol"])
        for sym, st in symbols:
            st.latency.enable_histogram()  # symbols added after the collector was made
            st.apply_time.enable_histogram()
            for channel, meter in list(st.channel_rates.items()):
                msgs.add_metric([sym, channel], meter.total)
            verified.add_metric([sym, "book"], st.checksums_verified)
            mismatches.add_metric([sym, "book"], st.mismatches)
            if st.l3 is not None:
                verified.add_metric([sym, "level3"], st.l3.checksums_verified)
                mismatches.add_metric([sym, "level3"], st.l3_mismatches)
            synced.add_metric([sym], 1.0 if st.book_state is BookState.SYNCED else 0.0)
            for family, window in ((latency, st.latency), (apply_ms, st.apply_time)):
                buckets = window.histogram()
                if buckets:
                    family.add_metric([sym], buckets, window.total)
        resyncs = CounterMetricFamily(
            "havterm_resyncs", METRICS["havterm_resyncs_total"], labels=["symbol", "channel"]
        )
        for session in client.sessions:
            for sub in list(session.subs.values()):
                if sub.channel in ("book", "level3") and sub.symbol:
                    resyncs.add_metric([sub.symbol, sub.channel], sub.resubscribes)
        reconnects = CounterMetricFamily(
            "havterm_reconnects", METRICS["havterm_reconnects_total"], labels=["endpoint"]
        )
        for t in client.transports:
            reconnects.add_metric([t.session.name], max(0, t.stats.connects - 1))
        errors = _counter("havterm_decode_errors_total", [])
        errors.add_metric([], client.counts.get("DecodeError", 0))
        yield from (msgs, verified, mismatches, resyncs, reconnects, errors, synced, latency, apply_ms)
        if client.state.rtt_ms is not None:
            rtt = GaugeMetricFamily("havterm_rtt_ms", METRICS["havterm_rtt_ms"])
            rtt.add_metric([], client.state.rtt_ms)
            yield rtt


def _counter(name: str, labels: list[str]) -> CounterMetricFamily:
    # prometheus_client appends the ``_total`` suffix itself.
    return CounterMetricFamily(name.removesuffix("_total"), METRICS[name], labels=labels)


def serve_metrics(client: KrakenClient, port: int, host: str = "127.0.0.1") -> Any:
    """Start the exporter in a background thread; returns the server (``.shutdown()`` stops it)."""
    registry = CollectorRegistry()
    registry.register(ClientCollector(client))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
