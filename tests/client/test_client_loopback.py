"""The client against the embedded exchange: sync, per-symbol resync, faults and recovery bounds."""

from __future__ import annotations

import asyncio

import pytest

from havterm.engine.book import BookState
from havterm.engine.client import KrakenClient
from havterm.engine.protocol import BookIntegrity, Phase, StateChange
from havterm.sim import Exchange, SimConfig

from .helpers import client_for, wait_for

SYMBOLS = ["BTC/USD", "ETH/USD", "XRP/USD"]


def synced(client: KrakenClient, symbols: list[str] = SYMBOLS) -> bool:
    return all(client.book_state(s) is BookState.SYNCED for s in symbols)


def collect(client: KrakenClient) -> list[object]:
    seen: list[object] = []
    client.on(StateChange, seen.append)
    client.on(BookIntegrity, seen.append)
    return seen


async def settle(ex: Exchange, client: KrakenClient, ops: int = 200) -> None:
    """Step the paused market, then wait until the client has seen the same top of book."""
    ex.step(ops)
    await ex.drain()

    def caught_up() -> bool:
        for s in SYMBOLS:
            book = client.book(s)
            truth = ex.book(s)
            if book is None or book.best_bid() is None:
                return False
            if (book.best_bid()[0], book.best_ask()[0]) != (truth.best_bid().price, truth.best_ask().price):
                return False
        return True

    await wait_for(caught_up, 5, "client top of book == exchange top of book")


async def test_books_sync_and_track_the_exchange_exactly() -> None:
    async with Exchange(SimConfig(seed=11, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, SYMBOLS)
        changes = collect(client)
        async with client:
            await wait_for(lambda: synced(client), 5, "books synced")
            await settle(ex, client, 500)
            for s in SYMBOLS:
                book = client.book(s)
                assert book is not None
                truth = ex.book(s)
                assert book.best_bid() == (truth.best_bid().price, truth.best_bid().total)
                assert book.best_ask() == (truth.best_ask().price, truth.best_ask().total)
                assert book.checksums_verified > 10
                book._check()
            assert client.session.phase is Phase.SUBSCRIBED
            phases = [c.new for c in changes if isinstance(c, StateChange)]
            assert phases[:3] == [Phase.CONNECTING, Phase.SUBSCRIBING, Phase.SUBSCRIBED]
            stats = client.stats()
            assert stats["checksum_mismatches"] == 0 and stats["reconnects"] == 0
            assert stats["books"] == {s: "synced" for s in SYMBOLS}


async def test_a_corrupted_checksum_resyncs_only_that_symbol() -> None:
    async with Exchange(SimConfig(seed=12, market=False, symbols=SYMBOLS)) as ex:
        # The paused exchange sends the identical, identically corrupted snapshot on every
        # resync while the fault is on, so allow many resyncs before giving up here.
        client = client_for(ex, SYMBOLS, max_resyncs=10_000)
        events = collect(client)
        async with client:
            await wait_for(lambda: synced(client), 5)
            await settle(ex, client, 100)
            eth_before = client.state.symbols["ETH/USD"].checksums_verified
            (cid,) = ex.connections("public")
            ex.faults.set_connection(cid, corrupt_checksum=1.0)
            ex.step(1, symbol="BTC/USD")
            await ex.drain()
            await wait_for(lambda: client.state.symbols["BTC/USD"].mismatches >= 1, 5)
            ex.faults.clear(cid)
            took = await wait_for(lambda: synced(client), 5, "BTC/USD resynced")
            await settle(ex, client, 200)
            btc = client.state.symbols["BTC/USD"]
            assert btc.mismatches >= 1 and btc.book_state is BookState.SYNCED
            integrity = [(e.symbol, e.state) for e in events if isinstance(e, BookIntegrity)]
            assert integrity[0] == ("BTC/USD", BookState.RESYNCING)
            assert integrity[-1] == ("BTC/USD", BookState.SYNCED)
            assert {sym for sym, _ in integrity} == {"BTC/USD"}
            # the healthy symbols were never interrupted: no integrity event, more checksums verified
            assert client.state.symbols["ETH/USD"].checksums_verified > eth_before
            assert client.state.symbols["ETH/USD"].mismatches == 0
            assert took < 2.0


async def test_persistent_mismatches_disable_the_book_with_a_reason() -> None:
    async with Exchange(SimConfig(seed=13, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, SYMBOLS, max_resyncs=3)
        events = collect(client)
        async with client:
            await wait_for(lambda: synced(client), 5)
            (cid,) = ex.connections("public")
            ex.faults.set_connection(cid, corrupt_checksum=1.0)

            async def poke() -> None:
                while client.book_state("BTC/USD") is not BookState.DISABLED:
                    ex.step(1, symbol="BTC/USD")
                    await ex.drain()
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(poke(), 10)
            ex.faults.clear(cid)
            st = client.state.symbols["BTC/USD"]
            assert st.book_state is BookState.DISABLED
            assert "4 checksum failures in a row" in (st.book_reason or "")
            assert client.book("BTC/USD") is None  # a broken book is never presented
            assert client.session.phase is Phase.DEGRADED
            disabled = [e for e in events if isinstance(e, BookIntegrity) and e.state is BookState.DISABLED]
            assert len(disabled) == 1
            await settle_others(ex, client)
            assert all(client.book_state(s) is BookState.SYNCED for s in ("ETH/USD", "XRP/USD"))


async def settle_others(ex: Exchange, client: KrakenClient) -> None:
    for s in ("ETH/USD", "XRP/USD"):
        ex.step(20, symbol=s)
    await ex.drain()
    await wait_for(lambda: client.book_state("ETH/USD") is BookState.SYNCED, 5)


@pytest.mark.parametrize("fault", ["drop=0.2", "duplicate=0.3", "reorder=0.3"])
async def test_lossy_streams_recover_to_verified_books(fault: str) -> None:
    async with Exchange(SimConfig(seed=14, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, SYMBOLS, max_resyncs=50)
        async with client:
            await wait_for(lambda: synced(client), 5)
            (cid,) = ex.connections("public")
            ex.faults.set_connection(cid, fault)
            for _ in range(20):
                ex.step(10)
                await ex.drain()
            if fault.startswith("duplicate"):
                # An L2 delta is idempotent (set a quantity, delete a level), so duplicates
                # cannot desync a book: every checksum must still have matched.
                assert sum(client.state.symbols[s].mismatches for s in SYMBOLS) == 0
            else:
                await wait_for(lambda: sum(client.state.symbols[s].mismatches for s in SYMBOLS) >= 1, 5)
            ex.faults.clear(cid)
            took = await wait_for(lambda: synced(client), 8, f"recovery from {fault}")
            await settle(ex, client, 200)
            for s in SYMBOLS:
                book = client.book(s)
                assert book is not None and book.state is BookState.SYNCED
                book._check()
            assert took < 5.0


@pytest.mark.parametrize("code", [1001, 1006, None])
async def test_disconnects_reconnect_and_resubscribe(code: int | None) -> None:
    async with Exchange(SimConfig(seed=15, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, SYMBOLS)
        changes = collect(client)
        async with client:
            await wait_for(lambda: synced(client), 5)
            (cid,) = ex.connections("public")
            ex.disconnect(cid, code)
            await wait_for(
                lambda: any(isinstance(c, StateChange) and c.new is Phase.DISCONNECTED for c in changes),
                5,
                "the drop noticed",
            )
            took = await wait_for(
                lambda: (
                    client.session.phase is Phase.SUBSCRIBED
                    and synced(client)
                    and ex.connections("public") not in ([], [cid])
                ),
                5,
                "reconnected and resynced",
            )
            await settle(ex, client, 100)
            phases = [c.new for c in changes if isinstance(c, StateChange)]
            assert Phase.DISCONNECTED in phases
            i = phases.index(Phase.DISCONNECTED)
            assert phases[i : i + 4] == [
                Phase.DISCONNECTED,
                Phase.CONNECTING,
                Phase.SUBSCRIBING,
                Phase.SUBSCRIBED,
            ]
            assert client.stats()["reconnects"] == 1
            assert took < 3.0


async def test_silent_subscription_is_resubscribed() -> None:
    async with Exchange(
        SimConfig(seed=16, market=False, symbols=SYMBOLS, faults="silent_subscription=1.0")
    ) as ex:
        client = client_for(ex, SYMBOLS, silent_subscription_s=0.5)
        async with client:
            await wait_for(
                lambda: any(s.resubscribes for s in client.session.subs.values()),
                5,
                "a silent subscription noticed",
            )
            assert not synced(client)
            ex.faults.clear()
            took = await wait_for(lambda: synced(client), 5, "books after resubscribe")
            assert took < 3.0


async def test_maintenance_halts_markets_and_recovers() -> None:
    async with Exchange(SimConfig(seed=17, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, SYMBOLS)
        async with client:
            await wait_for(lambda: synced(client), 5)
            ex.set_system("maintenance")
            await wait_for(lambda: client.session.phase is Phase.DEGRADED, 5)
            assert client.state.system_status == "maintenance"
            assert all(st.health.value == "halted" for st in client.state.symbols.values())
            ex.set_system("online")
            await wait_for(lambda: client.session.phase is Phase.SUBSCRIBED, 5)
            assert all(st.health.value == "active" for st in client.state.symbols.values())


async def test_stale_connection_is_detected_and_replaced() -> None:
    async with Exchange(SimConfig(seed=18, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, SYMBOLS, heartbeat_timeout_s=1.0)
        changes = collect(client)
        async with client:
            await wait_for(lambda: synced(client), 5)
            (cid,) = ex.connections("public")
            ex.faults.set_connection(cid, delay_ms=4000)  # heartbeats stop arriving in time
            await wait_for(lambda: client.stats()["reconnects"] >= 1, 6, "a reconnect after stale heartbeats")
            causes = [c.cause for c in changes if isinstance(c, StateChange) and c.new is Phase.DISCONNECTED]
            assert any("no data or heartbeat" in c for c in causes), causes
            await wait_for(lambda: synced(client), 5)


async def test_unknown_symbol_fails_alone() -> None:
    async with Exchange(SimConfig(seed=19, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, ["BTC/USD", "XBT/USD"])
        async with client:
            await wait_for(lambda: client.book_state("XBT/USD") is BookState.DISABLED, 5)
            await wait_for(lambda: client.book_state("BTC/USD") is BookState.SYNCED, 5)
            assert "not supported" in (client.state.symbols["XBT/USD"].book_reason or "").lower()
            assert client.session.phase is Phase.DEGRADED


async def test_add_and_remove_symbols_at_runtime() -> None:
    async with Exchange(SimConfig(seed=20, market=False, symbols=SYMBOLS)) as ex:
        client = client_for(ex, ["BTC/USD"])
        async with client:
            await wait_for(lambda: synced(client, ["BTC/USD"]), 5)
            await client.add_symbol("ETH/USD")
            await wait_for(lambda: synced(client, ["BTC/USD", "ETH/USD"]), 5)
            await client.remove_symbol("BTC/USD")
            assert "BTC/USD" not in client.state.symbols
            ex.step(50)
            await ex.drain()
            await wait_for(lambda: client.session.phase is Phase.SUBSCRIBED, 5)
            assert client.book("ETH/USD") is not None


async def test_connection_refused_keeps_retrying_visibly() -> None:
    from havterm.engine.client import ClientConfig, KrakenClient

    client = KrakenClient(
        ClientConfig(symbols=["BTC/USD"], url="ws://127.0.0.1:9/v2", backoff_base_s=0.01, backoff_cap_s=0.05)
    )
    changes = collect(client)
    async with client:
        await wait_for(lambda: client.transport.stats.failures >= 3, 5)
    assert "cannot connect" in (client.transport.stats.last_error or "")
    causes = [c.cause for c in changes if isinstance(c, StateChange) and c.new is Phase.DISCONNECTED]
    assert causes and all("cannot connect" in c for c in causes)
