"""``havterm bench ui``: the dashboard headless against the embedded exchange at a given input rate.

The exchange runs in a child process (``python -m havterm.sim``) so that the
CPU share measured here is the dashboard's own: client, bridge, Textual and
rendering. Keystrokes are real key events through Textual's pilot; their
latency runs from the key press until the ladder shows the change and the
app is idle again. The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

BENCH_SYMBOLS = (
    "BTC/USD",
    "ETH/USD",
    "SOL/USD",
    "XRP/USD",
    "ADA/USD",
    "DOT/USD",
    "LTC/USD",
    "LINK/USD",
    "AVAX/USD",
    "DOGE/USD",
    "ATOM/USD",
    "XLM/USD",
    "UNI/USD",
    "AAVE/USD",
    "ALGO/USD",
    "NEAR/USD",
    "FIL/USD",
    "ETC/USD",
    "BCH/USD",
    "TRX/USD",
    "MATIC/USD",
    "SHIB/USD",
    "ICP/USD",
    "APT/USD",
)
KEY_EVERY_S = 0.2


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _pct(data: list[float], p: float) -> float | None:
    if not data:
        return None
    s = sorted(data)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


async def _bench(rate: float, n_symbols: int, duration: float, fps: float, screen: str) -> dict[str, Any]:
    from textual import events

    from havterm.app import HavtermApp
    from havterm.bridge import Source, make_client
    from havterm.config import UiConfig
    from havterm.widgets.grid import Grid
    from havterm.widgets.ladder import Ladder

    symbols = list(BENCH_SYMBOLS[: max(1, min(n_symbols, len(BENCH_SYMBOLS)))])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "havterm.sim",
        "--rate",
        str(rate),
        "--seed",
        "7",
        "--symbols",
        *symbols,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        ep = json.loads(line)
        urls = {"url": ep["ws"], "auth_url": ep["ws_auth"], "l3_url": ep["ws_l3"], "rest_url": ep["rest"]}
        source = Source(symbols, 25, urls, alerts=False)  # the feed and the UI alone
        client = make_client(source, urls)
        app = HavtermApp(source, UiConfig(depth=25, fps=fps), client=client, freeze_gc=True)
        async with app.run_test(size=(120, 40)) as pilot:
            state = client.state
            deadline = time.monotonic() + 20
            while not all(s in state.symbols and state.symbols[s].synced for s in symbols):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # let rates settle before measuring
            lags: list[tuple[float, float]] = []
            stop = asyncio.Event()

            async def probe_loop() -> None:
                # Event-loop lag: how late a 20 ms sleep wakes up. A backlog shows as growing lag.
                while not stop.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.02)
                    lags.append((time.monotonic(), (time.perf_counter() - t - 0.02) * 1000))

            probe = asyncio.create_task(probe_loop())
            msgs0 = sum(st.messages.total for st in state.symbols.values())
            frames0 = app.bridge.frames
            cpu0, t0 = _cpu_s(), time.monotonic()
            lat_samples: list[tuple[float, float]] = []
            keys: list[float] = []
            if screen == "grid":
                await pilot.press("4")
            target: Any = app.screen.query_one(Grid if screen == "grid" else Ladder)
            painted = [0.0]
            original = target.render_line

            def spy(y: int) -> Any:
                painted[0] = time.perf_counter()
                return original(y)

            target.render_line = spy
            driver = app._driver
            assert driver is not None
            step = 1

            def position() -> int:
                return int(target.cursor if screen == "grid" else target.model.group_index)

            # At least one keystroke, however slow the start: a run with none has no latency to report.
            while not keys or time.monotonic() - t0 < duration:
                await asyncio.sleep(KEY_EVERY_S)
                want = position() + step
                if want >= 3 or want < 0:
                    step = -step
                    want = position() + step
                # The key goes in exactly as a terminal's would: through the driver.
                if screen == "grid":
                    key = events.Key("down", None) if step > 0 else events.Key("up", None)
                else:
                    key = events.Key("plus", "+") if step > 0 else events.Key("minus", "-")
                key.set_sender(app)
                k0 = time.perf_counter()
                driver.send_message(key)
                limit = k0 + 5.0
                while time.perf_counter() < limit:
                    await asyncio.sleep(0.001)
                    if position() == want and painted[0] > k0:
                        break
                keys.append((painted[0] - k0) * 1000 if painted[0] > k0 else 5000.0)
                for st in state.symbols.values():
                    p50 = st.latency.percentiles(50)[0]
                    if p50 is not None:
                        lat_samples.append((time.monotonic(), p50))
                        break
            elapsed = time.monotonic() - t0
            cpu = _cpu_s() - cpu0
            msgs = sum(st.messages.total for st in state.symbols.values()) - msgs0
            frames = app.bridge.frames - frames0
            stop.set()
            await probe
            errors = list(app.frame_errors)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)
    third = elapsed / 3
    early = [v for t, v in lat_samples if t - t0 < third]
    late = [v for t, v in lat_samples if t - t0 >= 2 * third]
    early_lag = [v for t, v in lags if t - t0 < third]
    late_lag = [v for t, v in lags if t - t0 >= 2 * third]
    # Falling behind shows as exchange-to-client latency that keeps climbing from the first third
    # to the last; a steady offset (or noise within 50 ms) is not a backlog.
    growing = bool(
        early
        and late
        and statistics.median(late) > statistics.median(early) + 50
        and statistics.median(late) > 2 * statistics.median(early)
    )
    return {
        "fps": round(frames / elapsed, 1),
        "ingest_msgs_per_s": round(msgs / elapsed, 1),
        "keystroke_p50_ms": round(_pct(keys, 50) or 0.0, 1),
        "keystroke_p99_ms": round(_pct(keys, 99) or 0.0, 1),
        "backlog_growing": growing,
        "cpu_cores": round(cpu / elapsed, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rate": rate,
        "symbols": len(symbols),
        "screen": screen,
        "duration_s": round(elapsed, 1),
        "keystrokes": len(keys),
        "feed_latency_p50_ms_first_third": round(statistics.median(early), 1) if early else None,
        "feed_latency_p50_ms_last_third": round(statistics.median(late), 1) if late else None,
        "loop_lag_p99_ms_first_third": round(_pct(early_lag, 99) or 0.0, 1),
        "loop_lag_p99_ms_last_third": round(_pct(late_lag, 99) or 0.0, 1),
        "frame_errors": len(errors),
    }


def run_ui_bench(
    rate: float = 5000.0, symbols: int = 10, duration: float = 20.0, fps: float = 20.0, screen: str = "ladder"
) -> int:
    """Run the benchmark and print its numbers; the last line is one JSON object. Returns 0, or 1 on error.

    ``screen`` is the screen on view while measuring: ``ladder`` (keys ``+``/``-``) or ``grid`` (arrows).
    """
    print(
        f"havterm bench ui: {rate:g} ops/s over {symbols} symbols for {duration:g} s "
        "(exchange in a child process)"
    )
    try:
        result = asyncio.run(_bench(rate, symbols, duration, fps, screen))
    except Exception as exc:
        print(f"havterm bench ui: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    ok = (
        result["fps"] >= 15
        and result["keystroke_p99_ms"] < 100
        and not result["backlog_growing"]
        and result["cpu_cores"] < 1.0
    )
    print(f"targets (>=15 fps, keystroke p99 < 100 ms, no backlog, < 1 core): {'met' if ok else 'NOT met'}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(run_ui_bench(float(argv[0]) if argv else 5000.0, int(argv[1]) if len(argv) > 1 else 10))
