"""``havterm watch`` on the embedded exchange: a price rule fires within seconds and lands in the history."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from havterm.alerts_config import AlertHistory
from havterm.sim import Exchange, SimConfig
from havterm.watch_cli import add_watch_parser, watch

RULES = """\
# BTC is far above 1 on the embedded exchange, and far below 10 million.
[[rules]]
name = "btc mid"
symbol = "BTC/USD"
kind = "price_above"
source = "mid"
level = 1

[[rules]]
name = "never"
symbol = "BTC/USD"
kind = "price_above"
level = 10000000
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="havterm")
    add_watch_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["watch", *argv])


async def test_watch_fires_a_price_rule_within_seconds(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    hist = tmp_path / "alerts.jsonl"
    async with Exchange(SimConfig(seed=7, market=False)) as ex:
        ex.step(50)
        bid, ask = ex.book("BTC/USD").best_bid(), ex.book("BTC/USD").best_ask()
        assert bid is not None and ask is not None
        mid = Decimal(bid.price + ask.price).scaleb(-1) / 2  # BTC/USD prices have 1 decimal on the sim
        out = io.StringIO()
        args = parse(
            "--rules",
            str(rules),
            "--url",
            ex.endpoints["ws"],
            "--duration",
            "15",
            "--max-alerts",
            "1",
            "--history",
            str(hist),
            "--json",
        )
        t0 = time.monotonic()
        rc = await watch(args, out, io.StringIO())
        elapsed = time.monotonic() - t0
    assert rc == 0
    assert elapsed < 10.0, elapsed
    (line,) = out.getvalue().splitlines()
    got = json.loads(line)
    assert (got["name"], got["symbol"], got["kind"], got["level"]) == (
        "btc mid",
        "BTC/USD",
        "price_above",
        "1",
    )
    assert Decimal(got["value"]) == mid  # the exchange's own mid: the market is paused
    assert got["message"] == f"BTC/USD mid {got['value']} is above 1"
    assert [(a.name, a.value) for a in AlertHistory(hist).read()] == [("btc mid", got["value"])]


async def test_watch_too_few_alerts_exits_1(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.split("[[rules]]")[0] + "[[rules]]" + RULES.split("[[rules]]")[2])  # only "never"
    async with Exchange(SimConfig(seed=7, market=False)) as ex:
        out = io.StringIO()
        args = parse(
            "--rules",
            str(rules),
            "--url",
            ex.endpoints["ws"],
            "--duration",
            "0.5",
            "--max-alerts",
            "1",
            "--no-history",
        )
        assert await watch(args, out, io.StringIO()) == 1
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("text", "argv", "err"),
    [
        (
            '[[rules]]\nname = "x"\nsymbol = "BTC/USD"\nkind = "price_above"\nlevel = -3\n',
            [],
            ":5: rule 'x': level must be above 0",
        ),
        ("", [], "no enabled rules in"),
        (
            '[[rules]]\nname = "x"\nsymbol = "*"\nkind = "price_above"\nlevel = 3\n',
            [],
            'every rule has symbol = "*"',
        ),
        (
            '[[rules]]\nname = "x"\nsymbol = "BTC/USD"\nkind = "price_above"\nlevel = 3\n',
            ["ETH/USD"],
            "none of the rules",
        ),
    ],
)
async def test_watch_usage_errors_exit_2(tmp_path: Path, text: str, argv: list[str], err: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    errs = io.StringIO()
    rc = await watch(parse(*argv, "--rules", str(rules), "--url", "ws://127.0.0.1:9/v2"), io.StringIO(), errs)
    assert rc == 2
    line = errs.getvalue().splitlines()[-1]
    assert line.startswith("havterm watch: error: ") and err in line


def test_watch_command_line_against_havterm_sim(tmp_path: Path) -> None:
    """Real processes: ``python -m havterm.sim`` and ``python -m havterm.watch_cli`` (= ``havterm watch``)."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    sim = subprocess.Popen(
        [sys.executable, "-m", "havterm.sim", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        endpoints = json.loads(sim.stdout.readline())
        t0 = time.monotonic()
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "havterm.watch_cli",
                "BTC/USD",
                "--rules",
                str(rules),
                "--url",
                endpoints["ws"],
                "--duration",
                "20",
                "--max-alerts",
                "1",
                "--no-history",
                "--no-notify",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        elapsed = time.monotonic() - t0
    finally:
        sim.terminate()
        sim.wait(10)
    assert res.returncode == 0, res.stderr
    assert elapsed < 10.0
    (line,) = res.stdout.splitlines()
    assert " BTC/USD price_above [btc mid] BTC/USD mid " in line and line.endswith(" is above 1")
