"""``havterm serve --demo`` driven by a real browser: headless Chromium over the DevTools protocol.

Chromium loads the page, runs textual-serve's JavaScript terminal, opens the
session WebSocket and renders the dashboard; the test reads what the page's
own socket received (``Network.webSocketFrameReceived``), checks that the
terminal drew it, and presses a key in the page to switch screens. Skipped,
with the reason, where no Chromium binary is installed (Debian: ``apt-get
install chromium``) or it cannot start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from .test_serve import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)"
)


@pytest.fixture
def served_demo() -> Iterator[int]:
    """``havterm serve --demo`` on a free loopback port, answering HTTP."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "havterm", "serve", "--demo", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("havterm serve did not answer") from None
                time.sleep(0.1)  # polling a server that is starting; there is no event to await
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class DevTools:
    """A minimal Chrome DevTools Protocol client for one page: commands and the events seen so far."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.received = b""
        """Everything the page's WebSocket received in binary frames: the dashboard's terminal output."""
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self.pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
                continue
            self.events.append(msg)
            if msg.get("method") == "Network.webSocketFrameReceived":
                resp = msg["params"]["response"]
                if resp.get("opcode") == 2:
                    self.received += base64.b64decode(resp["payloadData"])

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        i = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, 10)
        if "error" in msg:
            raise AssertionError(f"{method}: {msg['error']}")
        return dict(msg.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        res = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res.get("result", {}).get("value")

    async def press(self, key: str) -> None:
        """Type one printable key into the focused element (xterm's input)."""
        await self.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=key)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key)

    async def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not await predicate():
            if time.monotonic() > deadline:
                tail = self.received[-400:].decode("utf-8", "replace")
                raise AssertionError(f"timed out waiting for {what}; last output: {tail!r}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def chromium_page() -> AsyncIterator[DevTools]:
    """Headless Chromium with remote debugging; yields a DevTools client on its first page."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="havterm-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1400,900",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            browser_ws = None
            lines: list[str] = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    while browser_ws is None:
                        raw = await proc.stderr.readline()
                        if not raw:
                            break
                        line = raw.decode("utf-8", "replace").strip()
                        lines.append(line)
                        if line.startswith("DevTools listening on "):
                            browser_ws = line.removeprefix("DevTools listening on ")
            if browser_ws is None:
                pytest.skip(f"chromium did not start: {' | '.join(lines[-3:])}")
            # Keep draining stderr (dbus complaints and the like) so the browser never blocks on it.
            drain = asyncio.create_task(proc.stderr.read())
            port = browser_ws.split(":")[2].split("/")[0]
            listing = await asyncio.to_thread(
                lambda: json.loads(
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5).read()
                )
            )
            page = next(t for t in listing if t.get("type") == "page")
            async with connect(page["webSocketDebuggerUrl"], max_size=None) as ws:
                tools = DevTools(ws)
                try:
                    yield tools
                finally:
                    tools.reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await tools.reader
            drain.cancel()
        finally:
            if proc.returncode is None:
                proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_chromium_renders_the_dashboard_and_a_key_switches_to_the_grid(served_demo: int) -> None:
    port = served_demo
    async with chromium_page() as page:
        await page.call("Network.enable")
        await page.call("Page.enable")
        await page.call("Page.navigate", url=f"http://127.0.0.1:{port}/")

        async def dashboard_up() -> bool:
            return b"SYNCED" in page.received and b"SUBSCRIBED" in page.received

        await page.wait_for(dashboard_up, 25, "the dashboard's ladder, synced, in the page")
        # The page's terminal took the bytes (textual.js marks the body once it wrote output) and
        # xterm.js built its screen inside the page's terminal element.
        assert await page.evaluate("document.body.classList.contains('-first-byte')") is True
        assert await page.evaluate("document.querySelectorAll('.textual-terminal .xterm-screen').length") == 1
        assert b"Traceback" not in page.received
        # Drive it: focus xterm's input, press 4, and the grid (with the demo's perpetual) is drawn.
        await page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        before = len(page.received)
        await page.press("4")

        async def grid_up() -> bool:
            later = page.received[before:]
            return b"Fund %/h" in later and b"PF_XBTUSD" in later

        await page.wait_for(grid_up, 10, "the grid after pressing 4 in the page")
        assert b"Traceback" not in page.received
