"""``havterm verify`` (the engine's own books) passes on frames recorded from the sim."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from havterm.engine.verify import verify_frames
from havterm.sim import Exchange
from havterm.sim.feeds import BOOK_DEPTHS, L3_DEPTHS
from tests.sim.helpers import Client
from tests.sim.rest_client import get_token

SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD"]


async def _record(ex: Exchange, url: str, params: dict[str, object], steps: int) -> list[str]:
    c = await Client.open(url)
    if "token" not in params:
        await c.request({"method": "subscribe", "params": {"channel": "instrument"}, "req_id": 1})
    await c.request({"method": "subscribe", "params": params, "req_id": 2})
    for _ in range(steps // 100):
        ex.step(100)
        await asyncio.sleep(0)
    await c.request({"method": "ping", "req_id": 3})  # every frame sent before it has arrived
    await c.close()
    return c.raw


async def test_verify_passes_on_sim_recordings_every_depth(ex: Exchange, tmp_path: Path) -> None:
    files = []
    for depth in BOOK_DEPTHS:
        raw = await _record(
            ex, ex.endpoints["ws"], {"channel": "book", "symbol": SYMBOLS, "depth": depth}, 1200
        )
        report = verify_frames(((f, f"line {i + 1}") for i, f in enumerate(raw)), f"book{depth}")
        assert report.ok, report
        assert {s for _, s in report.symbols} == set(SYMBOLS)
        assert all(r.total > 20 for r in report.symbols.values())
        path = tmp_path / f"sim_book{depth}.jsonl"
        path.write_text("\n".join(raw) + "\n")
        files.append(str(path))
    token = await get_token(ex.endpoints)
    for depth in L3_DEPTHS:
        params = {"channel": "level3", "symbol": SYMBOLS[:2], "depth": depth, "token": token}
        raw = await _record(ex, ex.endpoints["ws_l3"], params, 800)
        report = verify_frames(((f, f"line {i + 1}") for i, f in enumerate(raw)), f"l3_{depth}")
        assert report.ok, report
        path = tmp_path / f"sim_level3_{depth}.jsonl"
        path.write_text("\n".join(raw) + "\n")
        files.append(str(path))
    res = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "havterm", "verify", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
