"""Regenerate ``screenshots/*.svg`` (one per screen) from a seeded demo exchange, headless.

Usage: ``python scripts/screenshots.py [--out screenshots] [--size 120x40]``.
The exchange is seeded and stepped by hand (ten seconds of trading), so the
books are the same every run; only clocks and latencies differ.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from havterm.app import HavtermApp
from havterm.bridge import Source, make_client
from havterm.config import UiConfig
from havterm.engine.credentials import Credentials
from havterm.sim import Exchange, SimConfig

SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD")
RULES = """\
# Example rules for the watcher screenshot: one fires at once, one waits.
[[rules]]
name = "btc above 62k"
symbol = "BTC/USD"
kind = "price_above"
level = 62000

[[rules]]
name = "eth wide spread"
symbol = "ETH/USD"
kind = "spread_above_bps"
level = 25
cooldown_s = 300
"""
SHOTS = (("ladder", "1", ()), ("depth", "2", ()), ("flow", "3", ()), ("grid", "4", ()), ("watcher", "5", ()))


async def _until(pred: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the demo did not come up")
        await asyncio.sleep(0.01)


async def main(out: Path, size: tuple[int, int]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    async with Exchange(SimConfig(seed=7, market=False, symbols=SYMBOLS)) as ex:
        ex.step(800)
        ep = ex.endpoints
        urls = {
            "url": ep["ws"],
            "auth_url": ep["ws_auth"],
            "l3_url": ep["ws_l3"],
            "rest_url": ep["rest"],
            "futures_url": ep["futures_ws"],
        }
        tmp = Path(tempfile.mkdtemp(prefix="havterm-shots-"))
        (tmp / "rules.toml").write_text(RULES)
        source = Source(
            [*SYMBOLS, "PF_XBTUSD"],
            100,
            urls,
            rules_path=str(tmp / "rules.toml"),
            history_path=str(tmp / "alerts.jsonl"),
        )
        # The demo's test key, with level3: own orders show their exact queue and P(fill).
        client = make_client(source, urls, Credentials(ep["api_key"], ep["api_secret"]), l3=True)
        app = HavtermApp(source, UiConfig(depth=100), client=client)
        async with app.run_test(size=size) as pilot:

            def synced() -> bool:
                sts = client.state.symbols
                return all(s in sts and sts[s].book_state.value == "synced" for s in SYMBOLS)

            await _until(synced)
            # Trade for ten seconds, one batch per frame, so the flow screen has history.
            for _ in range(200):
                ex.step(10, symbol="BTC/USD")
                ex.step(4)
                await ex.drain()
                await pilot.pause(0.05)
            trading = app.bridge.trading
            assert trading is not None
            await _until(lambda: trading.trader.ready)
            book = client.state.symbols["BTC/USD"].book
            bid = book.best_bid()
            # A resting buy three ticks under the touch, so the ladder has an own order to show.
            price = book.format_price(bid[0] - 3)
            print(await trading.place("BTC/USD", "buy", "0.05", price, "limit"))
            await pilot.press("1", "down", "down", "down")  # the cursor on the third bid: a new order there
            try:
                await _until(lambda: any(q.p30 is not None for q in app.bridge.queue_lines("BTC/USD")))
            except TimeoutError:
                print("no P(fill) yet:", app.bridge.queue_lines("BTC/USD"), trading.open_limit_orders())

            for name, key, extra in SHOTS:
                await pilot.press(key, *extra)
                app.bridge.frame()
                await pilot.pause(0.1)
                path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
                print(path)
            await pilot.press("question_mark")
            await pilot.pause(0.1)
            print(app.save_screenshot(filename="help.svg", path=str(out)))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots")
    parser.add_argument("--size", default="120x40")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    sys.exit(asyncio.run(main(args.out, (w, h))))
