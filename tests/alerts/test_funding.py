"""The funding-rate rule kinds: hysteresis and cooldown on fixed clocks, the rules file, ``havterm watch``."""

from __future__ import annotations

import argparse
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from havterm.alerts_config import load_rules
from havterm.engine.alerts import AlertEngine, RuleError
from havterm.engine.futures import FuturesTicker
from havterm.engine.state import MarketState
from havterm.sim import Exchange, SimConfig
from havterm.watch_cli import add_watch_parser, watch

from .helpers import market, rule

PF = "PF_XBTUSD"


def funding(m: MarketState, relative: str | None, symbol: str = PF, tag: str = "perpetual") -> None:
    """Give ``symbol`` a Futures ticker with this relative (hourly) funding rate; None leaves it out."""
    rel = None if relative is None else Decimal(relative)
    m.symbol(symbol).futures = FuturesTicker(
        symbol, 1_780_000_000_000, markPrice=Decimal("63000.5"), index=Decimal("63000"),
        relative_funding_rate=rel, tag=tag,
    )  # fmt: skip


def run(eng: AlertEngine, m: MarketState, t: float) -> list[str]:
    return [a.value for a in eng.evaluate(m, t, wall=1_000_000.0 + t)]


def test_funding_above_fires_once_and_rearms_past_the_default_hysteresis() -> None:
    m = market(PF)
    # Level 0.01 % per hour; default hysteresis 0.0005 percentage points: re-arms below 0.0095 %.
    eng = AlertEngine([rule("funding_above", "0.01", symbol=PF)])
    seq = [
        ("0.00009", []),  # 0.009 %
        ("0.0001", ["0.01"]),  # reached
        ("0.000099", []),  # 0.0099 %: inside the band, still disarmed
        ("0.00012", []),
        ("0.000094", []),  # 0.0094 %: back past the band, re-armed
        ("0.000101", ["0.0101"]),
    ]
    for t, (rel, want) in enumerate(seq):
        funding(m, rel)
        assert run(eng, m, float(t)) == want, (t, rel)
    (a,) = AlertEngine([rule("funding_above", "0.01", symbol=PF, name="hot")]).evaluate(m, 0.0)
    assert (a.name, a.symbol, a.kind, a.level, a.value) == ("hot", PF, "funding_above", "0.01", "0.0101")
    assert a.message == "PF_XBTUSD funding 0.0101 % per hour is above 0.01 %"


def test_funding_below_negative_level_cooldown_and_explicit_hysteresis() -> None:
    m = market(PF)
    hyst = Decimal("0.001")
    eng = AlertEngine([rule("funding_below", "-0.005", symbol=PF, cooldown_s=30.0, hysteresis=hyst)])
    funding(m, "-0.00006")  # -0.006 %
    assert run(eng, m, 0.0) == ["-0.006"]
    funding(m, "-0.000035")  # -0.0035 %: past -0.005 + 0.001, re-armed
    assert run(eng, m, 5.0) == []
    funding(m, "-0.00007")
    assert run(eng, m, 10.0) == []  # re-armed but cooling down until t = 30
    assert run(eng, m, 29.9) == []
    assert run(eng, m, 30.0) == ["-0.007"]


def test_funding_rules_ignore_spot_symbols_and_read_a_missing_rate_as_zero() -> None:
    m = market("BTC/USD", PF, "FI_XBTUSD_261225")
    eng = AlertEngine([rule("funding_below", "0", symbol="*")])
    funding(m, None)  # Kraken leaves a zero rate out: a perpetual then pays 0
    funding(m, None, "FI_XBTUSD_261225", tag="quarter")  # a dated future has no funding at all
    fired = eng.evaluate(m, 1.0)
    assert [(a.symbol, a.value) for a in fired] == [(PF, "0")]


def test_funding_rule_validation_and_the_rules_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="PF_XBTUSD"):
        rule("funding_above", "0.01", symbol="XBTUSD")
    f = tmp_path / "rules.toml"
    f.write_text(
        '[[rules]]\nname = "hot funding"\nsymbol = "PF_XBTUSD"\nkind = "funding_above"\nlevel = 0.01\n'
        "cooldown_s = 120\n"
    )
    (r,) = load_rules(f).rules
    assert (r.symbol, r.kind, r.level, r.cooldown_s, r.effective_hysteresis) == (
        PF,
        "funding_above",
        Decimal("0.01"),
        120.0,
        Decimal("0.0005"),
    )


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="havterm")
    add_watch_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["watch", *argv])


async def test_watch_fires_a_funding_rule_on_the_embedded_futures(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nname = "hot funding"\nsymbol = "PF_XBTUSD"\nkind = "funding_above"\nlevel = 0.0015\n'
        '\n[[rules]]\nname = "btc spot"\nsymbol = "BTC/USD"\nkind = "price_above"\nlevel = 1\n'
    )
    async with Exchange(SimConfig(seed=7, market=False)) as ex:
        ex.futures.set_funding(PF, Decimal("0.00002"))  # 0.002 % per hour, above 0.0015 %
        out = io.StringIO()
        args = parse(
            "--rules", str(rules), "--url", ex.endpoints["ws"], "--futures-url", ex.endpoints["futures_ws"],
            "--duration", "15", "--max-alerts", "2", "--no-history", "--json",
        )  # fmt: skip
        rc = await watch(args, out, io.StringIO())
    assert rc == 0
    got = {a["name"]: a for a in map(json.loads, out.getvalue().splitlines())}
    assert set(got) == {"hot funding", "btc spot"}  # Spot and Futures rules in one run
    hot = got["hot funding"]
    assert (hot["symbol"], hot["kind"], hot["level"]) == (PF, "funding_above", "0.0015")
    assert hot["value"] == "0.002"
    assert hot["message"] == "PF_XBTUSD funding 0.002 % per hour is above 0.0015 %"


async def test_watch_says_in_one_line_when_a_futures_product_is_unknown(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nname = "nope"\nsymbol = "PF_NOPEUSD"\nkind = "funding_above"\nlevel = 0\n')
    async with Exchange(SimConfig(seed=7, market=False)) as ex:
        out, err = io.StringIO(), io.StringIO()
        args = parse(
            "--rules", str(rules), "--futures-url", ex.endpoints["futures_ws"],
            "--duration", "2", "--no-history",
        )  # fmt: skip
        rc = await watch(args, out, err)
    assert rc == 0 and out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        "havterm watch: warning: PF_NOPEUSD: not a Kraken Futures product (Invalid product id)"
    ]
