"""Rules files: parsing, one-line errors that name the line, comment-keeping saves; the history file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from havterm.alerts_config import (
    AlertHistory,
    RulesError,
    config_path,
    history_path,
    load_rules,
    parse_rules,
    save_rules,
)
from havterm.engine.alerts import FiredAlert, Rule

GOOD = textwrap.dedent(
    """\
    # My alerts. This comment must survive a save.
    [ui]
    fps = 30

    # The big one
    [[rules]]
    name = "btc 100k"   # round number
    symbol = "BTC/USD"
    kind = "price_above"
    level = 100000
    cooldown_s = 300

    [[rules]]
    name = "from the future"
    symbol = "BTC/USD"
    kind = "vwap_cross"   # a kind this version does not know
    level = 3
    colour = "red"

    [[rules]]
    name = "eth spread"
    symbol = "ETH/USD"
    kind = "spread_above_bps"
    level = 12.5
    notify = ["bell", "command"]
    command = "/bin/true"

    [[rules]]
    name = "fills"
    symbol = "*"
    kind = "own_order_filled"
    """
)


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file(tmp_path: Path) -> None:
    rf = load_rules(write(tmp_path, GOOD))
    assert [r.name for r in rf.rules] == ["btc 100k", "eth spread", "fills"]
    btc, eth, fills = rf.rules
    assert (btc.kind, btc.level, btc.cooldown_s, btc.symbol) == (
        "price_above",
        Decimal(100000),
        300.0,
        "BTC/USD",
    )
    assert (eth.level, eth.notify, eth.command, eth.cooldown_s) == (
        Decimal("12.5"),
        ("bell", "command"),
        "/bin/true",
        60.0,
    )
    assert (fills.symbol, fills.level) == ("*", Decimal(1))
    assert [t["name"] for t in rf.unknown] == ["from the future"]
    assert rf.warnings == [
        f"{tmp_path / 'rules.toml'}:13: rule 'from the future': "
        "unknown kind 'vwap_cross' (kept, not evaluated)"
    ]


@pytest.mark.parametrize(
    ("body", "line", "msg"),
    [
        ('level = "lots"', 6, "rule 'r': level must be a number, got 'lots'"),
        ("level = 0", 6, "rule 'r': level must be above 0"),
        ("level = 5\ncooldown_s = -1", 7, "rule 'r': cooldown_s must be 0 or more"),
        ('level = 5\nsource = "vwap"', 7, "rule 'r': source must be one of last, mid, bid, ask"),
        ('level = 5\nnotify = ["pager"]', 7, "rule 'r': unknown notifier(s) pager"),
        ("level = 5\ncolour = 1", 7, "rule 'r': unknown field(s) colour"),
        ("", 5, "rule 'r': missing level"),
        ("level = = 5", 6, "invalid TOML"),
    ],
)
def test_bad_rule_is_one_line_naming_the_line(tmp_path: Path, body: str, line: int, msg: str) -> None:
    text = '[[rules]]\nname = "ok"\nsymbol = "BTC/USD"\nkind = "price_below"\nlevel = 1\n\n'
    text += '[[rules]]\nname = "r"\nsymbol = "BTC/USD"\nkind = "price_above"\n' + body + "\n"
    # Rules start on lines 1 and 7; "kind" of the second is line 10 and its body from line 11.
    p = write(tmp_path, text)
    with pytest.raises(RulesError) as exc:
        load_rules(p)
    text_err = str(exc.value)
    assert "\n" not in text_err
    assert text_err.startswith(f"{p}:{line + 5}: "), text_err
    assert msg in text_err


def test_missing_field_and_duplicate_names(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r":2: rules\[0\]: missing name$"):
        parse_rules('\n[[rules]]\nsymbol = "BTC/USD"\nkind = "price_above"\nlevel = 1\n', "f.toml")
    dup = '[[rules]]\nname = "a"\nsymbol = "X/Y"\nkind = "price_above"\nlevel = 1\n' * 2
    with pytest.raises(
        RulesError, match=r"^f.toml:6: rule 'a': the name is already used by the rule on line 1$"
    ):
        parse_rules(dup, "f.toml")


def test_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RulesError, match="no such file"):
        load_rules(tmp_path / "nope.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert config_path() == tmp_path / "cfg" / "havterm" / "config.toml"
    assert history_path() == tmp_path / "data" / "havterm" / "alerts.jsonl"
    assert load_rules().rules == []  # no config file yet: no rules, no error


def test_save_keeps_comments_unknown_rules_and_other_tables(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    rules = load_rules(p).rules
    btc, eth, _fills = rules
    edited = [
        replace(btc, level=Decimal(101000), enabled=False),
        Rule("sol dump", "SOL/USD", "move_pct", Decimal("-1.5"), window_s=300.0, notify=("desktop",)),
        eth,
    ]  # "fills" deleted, "sol dump" added, btc edited
    save_rules(edited, p)
    out = p.read_text()
    assert "# My alerts. This comment must survive a save." in out
    assert "# The big one" in out
    assert 'name = "btc 100k"   # round number' in out
    assert 'kind = "vwap_cross"   # a kind this version does not know' in out
    assert 'colour = "red"' in out
    assert "[ui]\nfps = 30" in out
    assert "level = 101000" in out and "enabled = false" in out
    assert '"fills"' not in out
    rf = load_rules(p)
    assert sorted(r.name for r in rf.rules) == ["btc 100k", "eth spread", "sol dump"]
    assert {r.name: r for r in rf.rules} == {r.name: r for r in edited}
    assert [t["name"] for t in rf.unknown] == ["from the future"]
    save_rules(rf.rules, p)
    assert p.read_text() == out  # saving what was loaded changes nothing


def test_save_into_new_file(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "config.toml"
    r = Rule("x", "BTC/USD", "large_order", Decimal("2.5"), depth=25, event="appear", cooldown_s=5.0)
    save_rules([r], p)
    assert load_rules(p).rules == [r]
    assert "cooldown_s = 5\n" in p.read_text()


def alert(i: int) -> FiredAlert:
    return FiredAlert(
        f"r{i}", "BTC/USD", "price_above", "100", str(100 + i), f"msg {i}", float(i), 1_795_000_000.0 + i
    )


def test_history_survives_a_restart(tmp_path: Path) -> None:
    p = tmp_path / "data" / "alerts.jsonl"
    AlertHistory(p).append(alert(1))
    # Another process (a restart) appends too; a crash left a cut line in between.
    code = (
        "import sys; from havterm.alerts_config import AlertHistory; "
        "from havterm.engine.alerts import FiredAlert; "
        "AlertHistory(sys.argv[1]).append(FiredAlert('r2','ETH/USD','spread_above_bps','5','6.1','m2',0.0,1795000002.0))"
    )
    with open(p, "a") as f:
        f.write('{"t": 1795000001.5, "name": "cut')
        f.write("\n")
    subprocess.run([sys.executable, "-c", code, str(p)], check=True, timeout=30)
    got = AlertHistory(p).read()
    assert [(a.name, a.symbol, a.value, a.wall) for a in got] == [
        ("r1", "BTC/USD", "101", 1_795_000_001.0),
        ("r2", "ETH/USD", "6.1", 1_795_000_002.0),
    ]
    assert [a.name for a in AlertHistory(p).read(limit=1)] == ["r2"]
    assert AlertHistory(tmp_path / "none.jsonl").read() == []


def test_history_rotates(tmp_path: Path) -> None:
    h = AlertHistory(tmp_path / "a.jsonl", max_bytes=500)
    for i in range(10):
        h.append(alert(i))
    assert (tmp_path / "a.jsonl.1").exists()
    assert h.read()[-1].name == "r9"
    assert len(h.read()) < 10


def test_exact_levels_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    rules = [
        Rule("fine", "XRP/USD", "price_above", Decimal("0.123456789012345678901")),
        Rule("tenth", "XRP/USD", "price_below", Decimal("0.1")),
    ]
    save_rules(rules, p)
    assert 'level = "0.123456789012345678901"' in p.read_text()
    assert "level = 0.1\n" in p.read_text()
    assert load_rules(p).rules == rules
