"""``havterm sim`` as a process: the endpoints line, clean shutdown, one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from tests.sim.helpers import Client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "havterm.sim",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_cli_prints_endpoints_and_stops_cleanly(sig: signal.Signals) -> None:
    p = await _spawn("--seed", "5", "--rate", "50", "--symbols", "BTC/USD", "DOGE/USD")
    assert p.stdout is not None and p.stderr is not None
    line = await asyncio.wait_for(p.stdout.readline(), 20)
    ep = json.loads(line)
    assert list(ep) == ["ws", "ws_auth", "ws_l3", "rest", "api_key", "api_secret", "futures_ws"]
    assert ep["futures_ws"].startswith("ws://127.0.0.1:") and ep["futures_ws"].endswith("/ws/v1")
    assert all(
        ep[k].startswith("ws://127.0.0.1:") and ep[k].endswith("/v2") for k in ("ws", "ws_auth", "ws_l3")
    )
    assert ep["rest"].startswith("http://127.0.0.1:")
    c = await Client.open(ep["ws"])
    await c.send({"method": "subscribe", "params": {"channel": "book", "symbol": ["DOGE/USD"]}})
    snap = await c.wait_for(lambda m: m.get("channel") == "book")
    assert len(snap["data"][0]["bids"][0]["price"].split(".")[1]) == 7
    await c.close()
    p.send_signal(sig)
    assert await asyncio.wait_for(p.wait(), 20) == 0
    err = await p.stderr.read()
    assert b"Traceback" not in err


@pytest.mark.parametrize("args", [["--faults", "drop=2"], ["--faults", "nonsense"], ["--symbols", "BTCUSD"]])
async def test_cli_bad_arguments_exit_2_with_one_line(args: list[str]) -> None:
    p = await _spawn(*args)
    out, err = await asyncio.wait_for(p.communicate(), 20)
    assert p.returncode == 2 and out == b""
    assert err.count(b"\n") == 1 and err.startswith(b"havterm sim: error: ")
