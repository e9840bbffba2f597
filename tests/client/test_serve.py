"""``havterm serve``: the page is served over HTTP, and a browser session runs the demo dashboard."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect

from havterm.serve_cli import dashboard_command, is_loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_loopback_rules_and_command() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert dashboard_command(["BTC/USD"], True).endswith("-m havterm BTC/USD --demo")


@pytest.fixture
def served() -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "havterm", "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)  # polling a server that is starting; there is no event to await
    yield proc, port
    proc.terminate()
    proc.wait(timeout=10)


async def test_serve_page_and_a_browser_session_runs_the_dashboard(
    served: tuple[subprocess.Popen[str], int],
) -> None:
    _proc, port = served
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    assert "textual.js" in page and f"ws://127.0.0.1:{port}/ws" in page
    # Be the browser: open the session websocket and read the dashboard's terminal output.
    seen = b""
    async with connect(f"ws://127.0.0.1:{port}/ws?width=120&height=40", max_size=None) as ws:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and b"SYNCED" not in seen:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=deadline - time.monotonic())
            except TimeoutError:
                break
            seen += msg if isinstance(msg, bytes) else msg.encode()
    assert b"SYNCED" in seen, seen[-500:]
    assert b"Traceback" not in seen


def test_non_loopback_bind_warns() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "havterm", "serve", "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "warning: binding to 0.0.0.0 exposes the dashboard" in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
