"""How long the client takes to recover from each fault the embedded exchange can inject.

Each scenario runs a fresh exchange and client, breaks something, and measures
the time until every book is SYNCED again (and how many healthy symbols were
interrupted). Prints one line per fault and a JSON summary last.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.protocol import BookIntegrity, Phase, SessionConfig, StateChange
from havterm.sim import Exchange, SimConfig

SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD"]


async def until(pred: Callable[[], bool], timeout: float = 15.0) -> float:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError
        await asyncio.sleep(0.002)
    return time.monotonic() - t0


def all_synced(c: KrakenClient) -> bool:
    return all(c.book_state(s) is BookState.SYNCED for s in SYMBOLS)


async def scenario(name: str, breaker: Callable[[Exchange, KrakenClient], Awaitable[None]],
                   session: SessionConfig | None = None) -> dict[str, object]:
    async with Exchange(SimConfig(seed=3, rate=800, symbols=SYMBOLS)) as ex:
        client = KrakenClient(ClientConfig(symbols=SYMBOLS, depth=25, url=ex.endpoints["ws"],
                                           session=session or SessionConfig(),
                                           backoff_base_s=0.1, backoff_cap_s=1.0))
        hit: set[str] = set()
        disrupted: list[float] = []
        client.on(BookIntegrity, lambda ev: (hit.add(ev.symbol), disrupted.append(time.monotonic())))
        client.on(StateChange, lambda ev: disrupted.append(time.monotonic())
                  if ev.new is Phase.DISCONNECTED else None)
        async with client:
            await until(lambda: all_synced(client))
            await asyncio.sleep(0.5)
            fault_on = time.monotonic()
            await breaker(ex, client)
            fault_off = time.monotonic()
            await until(lambda: bool(disrupted), 10)
            # Recovered: every book SYNCED again, after the fault was switched off.
            await until(lambda: all_synced(client) and not _pending(client), 20)
            done = time.monotonic()
            stats = client.stats()
    return {
        "fault": name,
        "detected_after_s": round(disrupted[0] - fault_on, 3),
        "recovered_after_clear_s": round(done - fault_off, 3),
        "books_hit": sorted(hit),
        "mismatches": stats["checksum_mismatches"],
        "reconnects": stats["reconnects"],
    }


def _pending(client: KrakenClient) -> bool:
    return any(s.resync_at is not None for s in client.session.subs.values())


async def conn(ex: Exchange) -> int:
    return ex.connections("public")[0]


def faulty(spec: str, hold_s: float) -> Callable[[Exchange, KrakenClient], Awaitable[None]]:
    async def go(ex: Exchange, client: KrakenClient) -> None:
        cid = await conn(ex)
        ex.faults.set_connection(cid, spec)
        await asyncio.sleep(hold_s)
        ex.faults.clear(cid)
    return go


def disconnect(code: int | None) -> Callable[[Exchange, KrakenClient], Awaitable[None]]:
    async def go(ex: Exchange, client: KrakenClient) -> None:
        ex.disconnect(await conn(ex), code)
    return go


async def main() -> None:
    results = []
    runs = [
        ("corrupt_checksum (one burst)", faulty("corrupt_checksum=1.0", 0.02), None),
        ("drop=0.2 for 0.5 s", faulty("drop=0.2", 0.5), None),
        ("reorder=0.3 for 0.5 s", faulty("reorder=0.3", 0.5), None),
        ("disconnect 1001", disconnect(1001), None),
        ("disconnect 1006", disconnect(1006), None),
        ("disconnect, no close frame", disconnect(None), None),
        ("stale connection (delay 3 s)", faulty("delay_ms=3000", 2.0),
         SessionConfig(heartbeat_timeout_s=1.0)),
    ]
    for name, fn, sess in runs:
        r = await scenario(name, fn, sess)
        results.append(r)
        print(f"{name:30s} detected after {r['detected_after_s']:.3f} s, all books synced "
              f"{r['recovered_after_clear_s']:.3f} s after the fault ended; books hit {r['books_hit']}, "
              f"mismatches {r['mismatches']}, reconnects {r['reconnects']}")
    worst = max(float(str(r["recovered_after_clear_s"])) for r in results)
    median = statistics.median(float(str(r["recovered_after_clear_s"])) for r in results)
    print(json.dumps({"median_recovery_s": median, "worst_recovery_s": worst, "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
