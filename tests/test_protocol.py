"""The sans-I/O session with a fixed clock: phases, acks, generations, resync, liveness."""

from __future__ import annotations

import json

import pytest

from havterm.bench.streams import BookStreamGenerator
from havterm.engine.book import BookState
from havterm.engine.protocol import (
    ALLOWED,
    BookIntegrity,
    Phase,
    ReconnectWanted,
    Session,
    SessionConfig,
    StateChange,
    Subscription,
    SubscriptionFailed,
)

T0 = 1000.0
WALL = 1_754_100_000.0


def ack(req_id: int, symbol: str, channel: str = "book", depth: int = 10) -> str:
    return json.dumps(
        {
            "method": "subscribe",
            "req_id": req_id,
            "success": True,
            "result": {"channel": channel, "symbol": symbol, "depth": depth, "snapshot": True},
        }
    )


def sent(session: Session) -> list[dict[str, object]]:
    return [json.loads(f) for f in session.data_to_send()]


class Harness:
    """A session with one or more book subscriptions, and generators playing the exchange."""

    def __init__(self, symbols: list[str], config: SessionConfig | None = None) -> None:
        self.session = Session([Subscription("book", s, depth=10) for s in symbols], config=config)
        self.gens = {s: BookStreamGenerator(symbol=s, depth=10, seed=i) for i, s in enumerate(symbols)}
        self.now = T0
        self.events: list[object] = []

    def feed(self, frame: str) -> None:
        self.session.receive_frame(frame, self.now, WALL)
        self.events += self.session.events_received()

    def tick(self, dt: float) -> None:
        self.now += dt
        self.session.tick(self.now)
        self.events += self.session.events_received()

    def connect(self) -> list[dict[str, object]]:
        self.session.connecting(self.now)
        self.session.connection_opened(self.now)
        self.events += self.session.events_received()
        return sent(self.session)

    def sync(self) -> None:
        for req in self.connect():
            params = req["params"]
            assert isinstance(params, dict)
            sym = params["symbol"][0]
            self.feed(ack(int(req["req_id"]), sym))  # type: ignore[call-overload]
            self.feed(self.gens[sym].snapshot())

    def phases(self) -> list[Phase]:
        return [e.new for e in self.events if isinstance(e, StateChange)]


def test_connect_subscribes_each_symbol_with_its_own_req_id() -> None:
    h = Harness(["BTC/USD", "ETH/USD"])
    reqs = h.connect()
    assert [r["method"] for r in reqs] == ["subscribe", "subscribe"]
    assert [r["params"]["symbol"] for r in reqs] == [["BTC/USD"], ["ETH/USD"]]  # type: ignore[index]
    assert len({r["req_id"] for r in reqs}) == 2
    assert h.phases() == [Phase.CONNECTING, Phase.SUBSCRIBING]
    assert all(r["params"]["depth"] == 10 and r["params"]["snapshot"] is True for r in reqs)  # type: ignore[index]


def test_sync_then_updates_keep_subscribed() -> None:
    h = Harness(["BTC/USD", "ETH/USD"])
    h.sync()
    assert h.session.phase is Phase.SUBSCRIBED
    for _ in range(50):
        h.feed(h.gens["BTC/USD"].update())
    st = h.session.market.state.symbols["BTC/USD"]
    assert st.book_state is BookState.SYNCED and st.checksums_verified == 51


def test_snapshot_before_the_ack_is_an_old_generation_and_ignored() -> None:
    h = Harness(["BTC/USD"])
    (req,) = h.connect()
    h.feed(h.gens["BTC/USD"].snapshot())  # no ack yet
    assert h.session.market.state.symbols["BTC/USD"].book_state is BookState.AWAITING_SNAPSHOT
    h.feed(ack(int(req["req_id"]), "BTC/USD"))  # type: ignore[call-overload]
    h.feed(h.gens["BTC/USD"].snapshot())
    assert h.session.market.state.symbols["BTC/USD"].book_state is BookState.SYNCED


def corrupt(frame: str) -> str:
    msg = json.loads(frame)
    msg["data"][0]["checksum"] ^= 1
    return json.dumps(msg)


def test_mismatch_resyncs_only_that_symbol_and_drops_the_old_generation() -> None:
    h = Harness(["BTC/USD", "ETH/USD"])
    h.sync()
    h.feed(corrupt(h.gens["BTC/USD"].update()))
    out = sent(h.session)
    assert [(r["method"], r["params"]["symbol"]) for r in out] == [  # type: ignore[index]
        ("unsubscribe", ["BTC/USD"]),
        ("subscribe", ["BTC/USD"]),
    ]
    assert h.session.phase is Phase.RESYNCING
    assert [e for e in h.events if isinstance(e, BookIntegrity)][-1].state is BookState.RESYNCING
    # Old-generation updates (before the new ack) are dropped without counting as mismatches.
    h.feed(h.gens["BTC/USD"].update())
    h.feed(h.gens["ETH/USD"].update())
    st = h.session.market.state.symbols
    assert st["BTC/USD"].mismatches == 1 and st["ETH/USD"].book_state is BookState.SYNCED
    h.feed(ack(int(out[1]["req_id"]), "BTC/USD"))  # type: ignore[call-overload]
    h.feed(h.gens["BTC/USD"].snapshot())
    assert st["BTC/USD"].book_state is BookState.SYNCED
    assert h.session.phase is Phase.SUBSCRIBED
    assert [(e.symbol, e.state) for e in h.events if isinstance(e, BookIntegrity)] == [
        ("BTC/USD", BookState.RESYNCING),
        ("BTC/USD", BookState.SYNCED),
    ]


def test_repeated_mismatches_back_off_then_disable_with_a_reason() -> None:
    h = Harness(["BTC/USD"], SessionConfig(max_resyncs=3, resync_backoff_s=0.25))
    h.sync()
    resubscribed_at: list[float] = []
    for _ in range(4):
        failed_at = h.now
        h.feed(corrupt(h.gens["BTC/USD"].update()))
        out = sent(h.session)
        while not out and h.now - failed_at < 5:  # advance the clock until the session asks again
            h.tick(0.01)
            out = [r for r in sent(h.session) if r["method"] != "ping"]
        if out[-1]["method"] == "unsubscribe":  # given up
            break
        resubscribed_at.append(round(h.now - failed_at, 2))
        h.feed(ack(int(out[-1]["req_id"]), "BTC/USD"))  # type: ignore[call-overload]
        h.feed(h.gens["BTC/USD"].snapshot())
    # at once, then doubling (to within one 10 ms tick of the test clock)
    assert resubscribed_at == pytest.approx([0.0, 0.25, 0.5], abs=0.011), resubscribed_at
    st = h.session.market.state.symbols["BTC/USD"]
    assert st.book_state is BookState.DISABLED
    assert st.book_reason is not None and st.book_reason.startswith("4 checksum failures in a row")
    assert h.session.phase is Phase.DEGRADED


def test_a_refused_symbol_fails_alone() -> None:
    h = Harness(["BTC/USD", "XBT/USD"])
    reqs = h.connect()
    h.feed(ack(int(reqs[0]["req_id"]), "BTC/USD"))  # type: ignore[call-overload]
    h.feed(h.gens["BTC/USD"].snapshot())
    h.feed(
        json.dumps(
            {
                "method": "subscribe",
                "req_id": reqs[1]["req_id"],
                "success": False,
                "error": "Currency pair not supported XBT/USD",
                "symbol": "XBT/USD",
            }
        )
    )
    failed = [e for e in h.events if isinstance(e, SubscriptionFailed)]
    assert failed == [SubscriptionFailed("book", "XBT/USD", "Currency pair not supported XBT/USD")]
    assert h.session.market.state.symbols["BTC/USD"].book_state is BookState.SYNCED
    assert h.session.phase is Phase.DEGRADED


def test_stale_heartbeat_asks_for_a_reconnect() -> None:
    h = Harness(["BTC/USD"], SessionConfig(heartbeat_timeout_s=5.0))
    h.sync()
    h.tick(4.9)
    assert not any(isinstance(e, ReconnectWanted) for e in h.events)
    h.feed('{"channel":"heartbeat"}')
    h.tick(4.9)
    assert not any(isinstance(e, ReconnectWanted) for e in h.events)
    h.tick(0.2)
    wanted = [e for e in h.events if isinstance(e, ReconnectWanted)]
    assert len(wanted) == 1 and wanted[0].cause == "no data or heartbeat for 5.1s"


def test_acked_but_silent_subscription_is_resubscribed() -> None:
    h = Harness(["BTC/USD"], SessionConfig(silent_subscription_s=5.0, heartbeat_timeout_s=60))
    (req,) = h.connect()
    h.feed(ack(int(req["req_id"]), "BTC/USD"))  # type: ignore[call-overload]
    h.tick(4.0)
    assert [r["method"] for r in sent(h.session) if r["method"] != "ping"] == []
    h.tick(1.5)
    out = [r for r in sent(h.session) if r["method"] != "ping"]
    assert [r["method"] for r in out] == ["unsubscribe", "subscribe"]


def test_lost_ack_is_retried() -> None:
    h = Harness(["BTC/USD"], SessionConfig(ack_timeout_s=10.0, heartbeat_timeout_s=60))
    (req,) = h.connect()
    h.tick(10.5)
    out = [r for r in sent(h.session) if r["method"] == "subscribe"]
    assert len(out) == 1 and out[0]["req_id"] != req["req_id"]


def test_ping_pong_gives_rtt() -> None:
    h = Harness(["BTC/USD"], SessionConfig(ping_interval_s=15.0, heartbeat_timeout_s=60))
    h.sync()
    h.tick(15.0)
    (ping,) = [r for r in sent(h.session) if r["method"] == "ping"]
    h.now += 0.012
    h.feed(json.dumps({"method": "pong", "req_id": ping["req_id"]}))
    assert round(h.session.market.state.rtt_ms or 0, 3) == 12.0


def test_disconnect_marks_books_stale_and_reconnect_resubscribes_everything() -> None:
    h = Harness(["BTC/USD", "ETH/USD"])
    h.sync()
    h.session.connection_lost(h.now, "closed by the exchange (1006)")
    h.events += h.session.events_received()
    assert all(st.book_state is BookState.STALE for st in h.session.market.state.symbols.values())
    assert h.phases()[-1] is Phase.DISCONNECTED
    reqs = h.connect()
    assert sorted(r["params"]["symbol"][0] for r in reqs) == ["BTC/USD", "ETH/USD"]  # type: ignore[index]


def test_exchange_maintenance_degrades_then_recovers() -> None:
    h = Harness(["BTC/USD"])
    h.sync()
    status = '{"channel":"status","type":"update","data":[{"system":"%s","api_version":"v2"}]}'
    h.feed(status % "maintenance")
    assert h.session.phase is Phase.DEGRADED
    assert h.session.market.state.symbols["BTC/USD"].health.value == "halted"
    h.feed(status % "online")
    assert h.session.phase is Phase.SUBSCRIBED


def test_every_emitted_transition_is_in_the_table() -> None:
    h = Harness(["BTC/USD", "ETH/USD"])
    h.sync()
    h.feed(corrupt(h.gens["BTC/USD"].update()))
    h.session.connection_lost(h.now, "x")
    h.connect()
    h.session.close(h.now)
    h.events += h.session.events_received()
    changes = [e for e in h.events if isinstance(e, StateChange)]
    assert len(changes) >= 6
    for c in changes:
        assert c.new in ALLOWED[c.old] and c.cause


def test_garbage_frames_become_events_and_the_session_goes_on() -> None:
    h = Harness(["BTC/USD"])
    h.sync()
    h.feed("CloudFlare WebSocket proxy restarting")
    h.feed(h.gens["BTC/USD"].update())
    from havterm.engine.events import DecodeError

    assert any(isinstance(e, DecodeError) for e in h.events)
    assert h.session.market.state.symbols["BTC/USD"].book_state is BookState.SYNCED
