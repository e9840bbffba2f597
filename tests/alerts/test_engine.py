"""Every rule kind with a fixed clock: when it fires, its hysteresis, its cooldown, and the engine's cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from havterm.engine.alerts import (
    AlertEngine,
    AlertInputs,
    FiredAlert,
    OrderGauge,
    OwnFill,
    Rule,
    RuleError,
)
from havterm.engine.book import BookState
from havterm.engine.state import MarketState

from .helpers import add_trade, market, quote, rule, set_book


def run(engine: AlertEngine, m: MarketState, t: float, inputs: AlertInputs | None = None) -> list[str]:
    """Evaluate at ``t`` and return the fired values."""
    return [a.value for a in engine.evaluate(m, t, inputs, wall=1_000_000.0 + t)]


# ---------------------------------------------------------------------------- price


def test_price_above_fires_once_while_hovering_and_rearms_past_hysteresis() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("price_above", 100)])  # default hysteresis: 0.1 % of 100 = 0.1
    seq = [("99", []), ("100", ["100"]), ("99.95", []), ("100.02", []), ("99.8", []), ("100.1", ["100.1"])]
    for t, (price, want) in enumerate(seq):
        add_trade(st, price, "0.1")
        assert run(eng, m, float(t)) == want, (t, price)
    # A hundred wiggles inside the hysteresis band after firing: nothing.
    add_trade(st, "100.2", "0.1")
    fired = 0
    for i in range(100):
        add_trade(st, "100.05" if i % 2 else "99.95", "0.1")
        fired += len(run(eng, m, 10.0 + i))
    assert fired == 0


def test_price_above_alert_fields() -> None:
    m = market()
    add_trade(m.symbol("BTC/USD"), "63381.0", "0.5")
    eng = AlertEngine([Rule("btc high", "BTC/USD", "price_above", Decimal(60000), notify=("bell",))])
    (a,) = eng.evaluate(m, 5.0, wall=1_795_000_000.0)
    assert (a.name, a.symbol, a.kind, a.level, a.value) == (
        "btc high",
        "BTC/USD",
        "price_above",
        "60000",
        "63381.0",
    )
    assert a.message == "BTC/USD last 63381.0 is above 60000"
    assert (a.at, a.wall, a.notify) == (5.0, 1_795_000_000.0, ("bell",))
    back = FiredAlert.from_dict(a.to_dict())
    assert (back.name, back.value, back.message, back.wall) == (a.name, a.value, a.message, a.wall)


def test_price_below_and_sources() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine(
        [
            rule("price_below", 100, name="mid", source="mid"),
            rule("price_below", 100, name="bid", source="bid"),
            rule("price_below", 100, name="ask", source="ask"),
        ]
    )
    quote(st, "99.0", "101.0")  # mid 100, bid 99, ask 101
    assert {a.name: a.value for a in eng.evaluate(m, 0.0)} == {"mid": "100.0", "bid": "99.0"}
    quote(st, "99.5", "99.9")
    assert {a.name: a.value for a in eng.evaluate(m, 1.0)} == {"ask": "99.9"}
    st.book_state = BookState.RESYNCING  # an unsynced book is no price at all
    quote(st, "120.0", "121.0")
    st.book_state = BookState.RESYNCING
    assert eng.evaluate(m, 2.0) == []


def test_price_cooldown_holds_a_rearmed_rule_until_it_ends() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("price_above", 100, hysteresis=0, cooldown_s=10)])
    for t, price, want in [
        (0.0, "101", ["101"]),
        (1.0, "99", []),  # re-armed
        (2.0, "101", []),  # but cooling down
        (9.9, "101", []),
        (10.0, "101", ["101"]),  # still above when the cooldown ends
        (10.5, "102", []),
    ]:
        add_trade(st, price, "1")
        assert run(eng, m, t) == want, t


def test_price_cross_waits_for_the_other_side_first() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("price_above", 100, cross=True)])
    add_trade(st, "105", "1")
    assert run(eng, m, 0.0) == []
    add_trade(st, "99.95", "1")  # below, but inside the hysteresis band: not yet armed
    assert run(eng, m, 1.0) == []
    add_trade(st, "100.5", "1")
    assert run(eng, m, 2.0) == []
    add_trade(st, "99", "1")
    assert run(eng, m, 3.0) == []
    add_trade(st, "100", "1")
    assert run(eng, m, 4.0) == ["100"]


# ---------------------------------------------------------------------------- move


def test_move_pct_up_within_window_and_window_restarts_after_firing() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("move_pct", 1, window_s=60)])
    for t, price, want in [(0, "100", []), (10, "100.5", []), (20, "101", ["1.0000"]), (21, "101.5", [])]:
        add_trade(st, price, "1")
        assert run(eng, m, float(t)) == want, t
    add_trade(st, "102.01", "1")  # 1 % above 101 (the price when it fired)
    assert run(eng, m, 30.0) == ["1.0000"]


def test_move_pct_slow_move_outside_window_does_not_fire_and_down_moves() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    up = rule("move_pct", 1, name="up", window_s=60)
    down = rule("move_pct", -2, name="down", window_s=60)
    eng = AlertEngine([up, down])
    for t, price in [(0, "100"), (70, "100.6"), (140, "101.1")]:
        add_trade(st, price, "1")
        assert run(eng, m, float(t)) == []
    add_trade(st, "99.1", "1")  # -1.98 % from the window's high of 101.1: not yet
    assert run(eng, m, 145.0) == []
    add_trade(st, "99.07", "1")  # -2.008 %
    (a,) = eng.evaluate(m, 150.0)
    assert (a.name, a.value) == ("down", "-2.0079")
    assert a.message == "BTC/USD moved -2.01 % within 60 s (from 101.1 to 99.07)"


def test_move_pct_cooldown() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("move_pct", 1, cooldown_s=100, window_s=300)])
    add_trade(st, "100", "1")
    run(eng, m, 0.0)
    add_trade(st, "101", "1")
    assert run(eng, m, 1.0) == ["1.0000"]
    add_trade(st, "103", "1")
    assert run(eng, m, 2.0) == []
    add_trade(st, "106", "1")
    assert len(run(eng, m, 101.0)) == 1


# ---------------------------------------------------------------------------- book shape


def test_spread_above_bps_with_hysteresis() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("spread_above_bps", 5)])  # default hysteresis: 0.5 bps
    # bid 1000.0; ask 1000.6 = 5.998 bps, 1000.5 = 4.999 bps, 1000.4 = 3.999 bps.
    seq = (
        [("1000.6", ["6.00"])]
        + [("1000.5", []), ("1000.6", [])] * 50
        + [("1000.4", []), ("1000.6", ["6.00"])]
    )
    for t, (ask, want) in enumerate(seq):
        set_book(st, [("1000.0", "1")], [(ask, "1")])
        assert run(eng, m, float(t)) == want, (t, ask)
    (a,) = AlertEngine([rule("spread_above_bps", 5)]).evaluate(m, 0.0)
    assert a.message == "BTC/USD spread 6.00 bps is above 5 bps"


def test_imbalance_above_and_below() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine(
        [rule("imbalance_above", "0.4", name="up"), rule("imbalance_below", "-0.4", name="down")]
    )
    set_book(st, [("100.0", "3")], [("101.0", "1")])  # (3 - 1) / 4 = 0.5
    assert [(a.name, a.value) for a in eng.evaluate(m, 0.0)] == [("up", "0.5000")]
    set_book(st, [("100.0", "1.1")], [("101.0", "1")])  # 0.0476: re-arms "up" (below 0.35)
    assert run(eng, m, 1.0) == []
    set_book(st, [("100.0", "1")], [("101.0", "3")])  # -0.5
    assert [(a.name, a.value) for a in eng.evaluate(m, 2.0)] == [("down", "-0.5000")]
    set_book(st, [("100.0", "1")], [("101.0", "2.5")])  # -0.4286: still past, no repeat
    assert run(eng, m, 3.0) == []
    set_book(st, [("100.0", "3")], [("101.0", "1")])
    assert [a.name for a in eng.evaluate(m, 4.0)] == ["up"]


def test_imbalance_depth_counts_only_top_levels() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    set_book(st, [("100.0", "1"), ("99.0", "9")], [("101.0", "1"), ("102.0", "1")])
    assert run(AlertEngine([rule("imbalance_above", "0.5", depth=1)]), m, 0.0) == []  # 0 over 1 level
    assert run(AlertEngine([rule("imbalance_above", "0.5", depth=2)]), m, 0.0) == ["0.6667"]  # (10-2)/12


def test_pressure_above_and_below() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    # Weights 1, 1/2: bids 1 + 2/2 = 2, asks 1 + 1/2 = 1.5 -> 0.5 / 3.5 = 0.142857.
    set_book(st, [("100.0", "1"), ("99.0", "2")], [("101.0", "1"), ("102.0", "1")])
    eng = AlertEngine(
        [rule("pressure_above", "0.1", name="buy"), rule("pressure_below", "-0.1", name="sell")]
    )
    (a,) = eng.evaluate(m, 0.0)
    assert (a.name, a.value) == ("buy", "0.1429")
    assert run(eng, m, 1.0) == []
    set_book(st, [("100.0", "1"), ("99.0", "1")], [("101.0", "1"), ("102.0", "2")])
    assert [(a.name, a.value) for a in eng.evaluate(m, 2.0)] == [("sell", "-0.1429")]


# ---------------------------------------------------------------------------- trades and orders


def test_trade_size_at_least_only_new_trades() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    for _ in range(5):
        add_trade(st, "100", "50")  # the tape as first seen: history, not news
    eng = AlertEngine(
        [rule("trade_size_at_least", 1), rule("trade_size_at_least", 1, name="sells", side="sell")]
    )
    assert run(eng, m, 0.0) == []
    add_trade(st, "100", "0.5")
    assert run(eng, m, 1.0) == []
    add_trade(st, "100.5", "2.0")
    add_trade(st, "100.6", "3.0")
    (a,) = eng.evaluate(m, 2.0)
    assert (a.name, a.value) == ("trade_size_at_least", "3.0")
    assert a.message == "BTC/USD buy trade 3.0 @ 100.6 >= 1 (+1 more)"
    assert run(eng, m, 3.0) == []
    add_trade(st, "99", "1", side="sell")
    assert sorted(a.name for a in eng.evaluate(m, 4.0)) == ["sells", "trade_size_at_least"]


def test_trade_size_cooldown_drops_events_meanwhile() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    add_trade(st, "100", "0.1")
    eng = AlertEngine([rule("trade_size_at_least", 1, cooldown_s=10)])
    run(eng, m, 0.0)
    add_trade(st, "100", "5")
    assert run(eng, m, 1.0) == ["5"]
    add_trade(st, "100", "6")
    assert run(eng, m, 2.0) == []
    assert run(eng, m, 12.0) == []  # the trade during the cooldown is not replayed
    add_trade(st, "100", "7")
    assert run(eng, m, 13.0) == ["7"]


def test_large_order_appears_stays_shrinks_vanishes() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("large_order", 5)])  # hysteresis 0.2: stays large down to 4
    set_book(st, [("100.0", "1"), ("99.0", "6"), ("98.0", "1")], [("101.0", "1")])
    (a,) = eng.evaluate(m, 0.0)
    assert a.message == "BTC/USD large order: bid 6.00000000 @ 99.0 appeared"
    assert run(eng, m, 1.0) == []
    set_book(st, [("100.0", "1"), ("99.0", "4.5"), ("98.0", "1")], [("101.0", "1")])
    assert run(eng, m, 2.0) == []  # shrank, but not below 80 %
    set_book(st, [("100.0", "1"), ("98.0", "1")], [("101.0", "1"), ("102.0", "7")])
    (a,) = eng.evaluate(m, 3.0)
    assert a.value == "2"
    assert a.message == (
        "BTC/USD large order: ask 7.00000000 @ 102.0 appeared; bid 4.50000000 @ 99.0 vanished"
    )


def test_large_order_scrolled_out_or_unsynced_is_not_vanished() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine([rule("large_order", 5, depth=2, event="vanish")])
    set_book(st, [("100.0", "1"), ("99.0", "6")], [("101.0", "1")])
    assert run(eng, m, 0.0) == []  # appearing is not what this rule wants
    set_book(st, [("100.5", "1"), ("100.0", "1"), ("99.0", "6")], [("101.0", "1")])
    assert run(eng, m, 1.0) == []  # 99.0 is now the third level: out of view, not gone
    set_book(st, [("100.0", "1"), ("99.0", "6")], [("101.0", "1")])
    run(eng, m, 2.0)
    st.book_state = BookState.RESYNCING
    assert run(eng, m, 3.0) == []
    set_book(st, [("100.0", "1"), ("99.0", "1")], [("101.0", "1")])
    assert run(eng, m, 4.0) == ["1"]


def test_own_order_filled() -> None:
    m = market()
    eng = AlertEngine(
        [
            rule("own_order_filled", 1, name="full"),
            rule("own_order_filled", "0.5", name="half"),
            rule("own_order_filled", 1, name="other", order_id="O-OTHER"),
        ]
    )

    def fill(fid: str, cum: str) -> OwnFill:
        return OwnFill("O-1", "BTC/USD", "buy", Decimal("0.5"), Decimal("100"), Decimal(cum), Decimal(1), fid)

    got = eng.evaluate(m, 0.0, AlertInputs(fills=[fill("f1", "0.5")]))
    assert [(a.name, a.value) for a in got] == [("half", "0.5000")]
    got = eng.evaluate(m, 1.0, AlertInputs(fills=[fill("f1", "0.5"), fill("f2", "1")]))
    assert [(a.name, a.value) for a in got] == [("full", "1.0000"), ("half", "1.0000")]
    assert got[0].message == "BTC/USD own buy order O-1 filled: 0.5 @ 100"
    assert eng.evaluate(m, 2.0, AlertInputs(fills=[fill("f2", "1")])) == []  # a repeat


def test_queue_position_at_most() -> None:
    m = market()
    eng = AlertEngine([rule("queue_position_at_most", 2)])  # re-arms above 3

    def at(t: float, pos: float) -> list[str]:
        return run(eng, m, t, AlertInputs(queue_positions={"O-1": OrderGauge("BTC/USD", pos)}))

    assert [at(t, p) for t, p in enumerate([5, 2, 1, 3, 4, 2])] == [[], ["2"], [], [], [], ["2"]]
    assert run(eng, m, 9.0, AlertInputs()) == []


def test_fill_probability_at_least() -> None:
    m = market()
    eng = AlertEngine([rule("fill_probability_at_least", "0.8")])  # re-arms below 0.75
    seq = [0.5, 0.85, 0.78, 0.7, 0.9]
    got = [
        run(eng, m, float(t), AlertInputs(fill_probabilities={"O-9": OrderGauge("BTC/USD", p)}))
        for t, p in enumerate(seq)
    ]
    assert got == [[], ["0.8500"], [], [], ["0.9000"]]


def test_rate_counter_above() -> None:
    m = market()
    eng = AlertEngine([rule("rate_counter_above", 80)])  # re-arms below 75 %
    got = [
        run(eng, m, float(t), AlertInputs(rate_counters={"BTC/USD": v}))
        for t, v in enumerate([50.0, 85.0, 78.0, 74.0, 81.0])
    ]
    assert got == [[], ["85.0"], [], [], ["81.0"]]


# ---------------------------------------------------------------------------- feed health


def test_book_not_synced_for() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    eng = AlertEngine(
        [rule("book_not_synced_for", 5), rule("book_not_synced_for", 5, symbol="ETH/USD", name="eth")]
    )
    assert run(eng, m, 0.0) == []
    assert run(eng, m, 4.9) == []
    got = eng.evaluate(m, 5.0)
    assert [(a.symbol, a.value) for a in got] == [("BTC/USD", "5.0"), ("ETH/USD", "5.0")]
    assert got[0].message == "BTC/USD book not synced for 5.0 s (awaiting)"
    assert got[1].message == "ETH/USD book not synced for 5.0 s (no state)"
    assert run(eng, m, 6.0) == []
    quote(st, "100.0", "101.0")
    assert [a.symbol for a in eng.evaluate(m, 7.0)] == []
    st.book_state = BookState.RESYNCING
    assert [a.symbol for a in eng.evaluate(m, 8.0)] == []
    assert [a.symbol for a in eng.evaluate(m, 12.9)] == []
    assert [(a.symbol, a.value) for a in eng.evaluate(m, 13.0)] == [("BTC/USD", "5.0")]


def test_market_stale_for() -> None:
    m = market("BTC/USD", "ETH/USD")
    st = m.symbol("BTC/USD")
    st.touch(0.0)
    eng = AlertEngine(
        [rule("market_stale_for", 3), rule("market_stale_for", 3, symbol="ETH/USD", name="eth")]
    )
    assert run(eng, m, 1.0) == []
    got = eng.evaluate(m, 3.0)
    assert [(a.symbol, a.value) for a in got] == [("BTC/USD", "3.0")]
    assert got[0].message == "BTC/USD no market data for 3.0 s (active)"
    assert run(eng, m, 3.5) == []
    assert [(a.symbol, a.value) for a in eng.evaluate(m, 4.0)] == [("ETH/USD", "3.0")]  # nothing since t=1
    st.touch(5.0)
    assert run(eng, m, 5.0) == []
    assert run(eng, m, 7.9) == []
    assert [(a.symbol, a.value) for a in eng.evaluate(m, 8.0)] == [("BTC/USD", "3.0")]


# ---------------------------------------------------------------------------- the engine itself


def test_wildcard_symbol_and_disabled_rules() -> None:
    m = market("BTC/USD", "ETH/USD")
    add_trade(m.symbol("BTC/USD"), "101", "1")
    add_trade(m.symbol("ETH/USD"), "150", "1")
    eng = AlertEngine(
        [rule("price_above", 100, symbol="*"), rule("price_above", 1, name="off", enabled=False)]
    )
    assert [(a.symbol, a.value) for a in eng.evaluate(m, 0.0)] == [("BTC/USD", "101"), ("ETH/USD", "150")]
    assert eng.evaluate(m, 1.0) == []


def test_set_rules_keeps_state_of_unchanged_rules() -> None:
    m = market()
    add_trade(m.symbol("BTC/USD"), "101", "1")
    keep = rule("price_above", 100, name="keep")
    eng = AlertEngine([keep])
    assert len(eng.evaluate(m, 0.0)) == 1
    eng.set_rules([keep, rule("price_above", 100, name="new")])
    assert [a.name for a in eng.evaluate(m, 1.0)] == ["new"]  # "keep" is still disarmed
    eng.reset()
    assert len(eng.evaluate(m, 2.0)) == 2
    with pytest.raises(RuleError, match="two rules are named 'keep'"):
        eng.set_rules([keep, keep])


@pytest.mark.parametrize(
    ("kind", "level", "kw", "msg"),
    [
        ("nope", 1, {}, "unknown kind 'nope'"),
        ("price_above", 0, {}, "level must be above 0"),
        ("imbalance_above", 2, {}, "ratio from -1 to 1"),
        ("move_pct", 0, {}, "non-zero percentage"),
        ("price_above", 1, {"source": "vwap"}, "source must be one of"),
        ("price_above", 1, {"notify": ("pager",)}, "unknown notifier"),
        ("price_above", 1, {"notify": ("command",)}, "has no command"),
        ("price_above", 1, {"cooldown_s": -1.0}, "cooldown_s must be 0 or more"),
    ],
)
def test_rule_validation(kind: str, level: int, kw: dict[str, object], msg: str) -> None:
    with pytest.raises(RuleError, match=msg):
        Rule("r", "BTC/USD", kind, Decimal(level), **kw)  # type: ignore[arg-type]


def test_cost_at_20_hz_over_20_symbols() -> None:
    """Ten rules on each of 20 symbols with depth-25 books: one evaluation must fit well inside a frame."""
    syms = [f"S{i}/USD" for i in range(20)]
    m = market(*syms)
    rules = []
    for s in syms:
        st = m.symbol(s)
        set_book(
            st, [(f"{1000 - i}.0", "1.5") for i in range(25)], [(f"{1001 + i}.0", "1.5") for i in range(25)]
        )
        for _ in range(50):
            add_trade(st, "1000.5", "0.1", now=0.0)
        n = s.split("/")[0]
        rules += [
            rule("price_above", 2000, symbol=s, name=f"{n} a"),
            rule("price_below", 10, symbol=s, name=f"{n} b", source="mid"),
            rule("move_pct", 5, symbol=s, name=f"{n} c", window_s=300),
            rule("spread_above_bps", 100, symbol=s, name=f"{n} d"),
            rule("imbalance_above", "0.9", symbol=s, name=f"{n} e"),
            rule("pressure_below", "-0.9", symbol=s, name=f"{n} f"),
            rule("trade_size_at_least", 50, symbol=s, name=f"{n} g"),
            rule("large_order", 100, symbol=s, name=f"{n} h", depth=25),
            rule("book_not_synced_for", 10, symbol=s, name=f"{n} i"),
            rule("market_stale_for", 60, symbol=s, name=f"{n} j"),
        ]
    eng = AlertEngine(rules)
    frames = 200  # ten seconds at 20 Hz
    t0 = time.perf_counter()
    for f in range(frames):
        for s in syms[:4]:  # some symbols get a trade each frame, as a busy feed would
            add_trade(m.symbol(s), "1000.5", "0.1", now=f * 0.05)
        assert eng.evaluate(m, f * 0.05) == []
    per_frame_ms = (time.perf_counter() - t0) / frames * 1000
    print(f"alert engine: {len(rules)} rules, {per_frame_ms:.3f} ms per evaluation")
    # A frame at 20 Hz is 50 ms; the engine may take a small part of it even on a loaded 2-core box.
    assert per_frame_ms < 10.0


def test_wildcard_trading_rules_see_input_symbols_but_market_rules_do_not() -> None:
    m = market("BTC/USD")
    eng = AlertEngine(
        [rule("rate_counter_above", 50, symbol="*"), rule("book_not_synced_for", 1, symbol="*")]
    )
    inp = AlertInputs(rate_counters={"BTC/USD": 10.0, "SOL/USD": 60.0})
    assert [(a.kind, a.symbol) for a in eng.evaluate(m, 0.0, inp)] == [("rate_counter_above", "SOL/USD")]
    # SOL/USD is not in the market state: no "not synced" alert for it, only for BTC/USD.
    assert [(a.kind, a.symbol) for a in eng.evaluate(m, 1.0, inp)] == [("book_not_synced_for", "BTC/USD")]


# ---------------------------------------------------------------------------- cooldown of every kind

Step = Callable[[MarketState, float], "AlertInputs | None"]


def _trade(price: str, qty: str = "0.1") -> Step:
    def step(m: MarketState, t: float) -> AlertInputs | None:
        add_trade(m.symbol("BTC/USD"), price, qty)
        return None

    return step


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Step:
    def step(m: MarketState, t: float) -> AlertInputs | None:
        set_book(m.symbol("BTC/USD"), bids, asks)
        return None

    return step


def _inputs(**kw: object) -> Step:
    def step(m: MarketState, t: float) -> AlertInputs | None:
        return AlertInputs(**kw)  # type: ignore[arg-type]

    return step


def _nothing(m: MarketState, t: float) -> AlertInputs | None:
    return None


def _rising(m: MarketState, t: float) -> AlertInputs | None:
    st = m.symbol("BTC/USD")
    last = st.last_price or Decimal(100)
    add_trade(st, str(last * Decimal("1.02")), "0.1")
    return None


def _fresh_fill(m: MarketState, t: float) -> AlertInputs | None:
    one = Decimal(1)
    return AlertInputs(fills=[OwnFill("O-1", "BTC/USD", "buy", one, one, one, one, f"fill-{t}")])


_big_at = iter(range(10**6))


def _new_wall(m: MarketState, t: float) -> AlertInputs | None:
    price = f"{90 + next(_big_at) % 9}.0"  # somewhere new below the touch each time
    set_book(m.symbol("BTC/USD"), [("100.0", "1"), (price, "6")], [("101.0", "1")])
    return None


def _gauge(v: float) -> dict[str, OrderGauge]:
    return {"O-1": OrderGauge("BTC/USD", v)}


COOLDOWN_CASES: dict[str, tuple[Rule, Step, Step]] = {
    "price_above": (rule("price_above", 100, cooldown_s=10), _trade("101"), _trade("90")),
    "price_below": (rule("price_below", 100, cooldown_s=10), _trade("99"), _trade("110")),
    "move_pct": (rule("move_pct", 1, cooldown_s=10, window_s=300), _rising, _nothing),
    "spread_above_bps": (
        rule("spread_above_bps", 5, cooldown_s=10),
        _book([("1000.0", "1")], [("1000.6", "1")]),
        _book([("1000.0", "1")], [("1000.1", "1")]),
    ),
    "imbalance_above": (
        rule("imbalance_above", "0.4", cooldown_s=10),
        _book([("100.0", "3")], [("101.0", "1")]),
        _book([("100.0", "1")], [("101.0", "1")]),
    ),
    "imbalance_below": (
        rule("imbalance_below", "-0.4", cooldown_s=10),
        _book([("100.0", "1")], [("101.0", "3")]),
        _book([("100.0", "1")], [("101.0", "1")]),
    ),
    "pressure_above": (
        rule("pressure_above", "0.4", cooldown_s=10),
        _book([("100.0", "3")], [("101.0", "1")]),
        _book([("100.0", "1")], [("101.0", "1")]),
    ),
    "pressure_below": (
        rule("pressure_below", "-0.4", cooldown_s=10),
        _book([("100.0", "1")], [("101.0", "3")]),
        _book([("100.0", "1")], [("101.0", "1")]),
    ),
    "trade_size_at_least": (rule("trade_size_at_least", 1, cooldown_s=10), _trade("100", "2"), _nothing),
    "large_order": (
        rule("large_order", 5, cooldown_s=10, event="appear"),
        _new_wall,
        _book([("100.0", "1")], [("101.0", "1")]),
    ),
    "own_order_filled": (rule("own_order_filled", 1, cooldown_s=10), _fresh_fill, _nothing),
    "queue_position_at_most": (
        rule("queue_position_at_most", 2, cooldown_s=10),
        _inputs(queue_positions=_gauge(1)),
        _inputs(queue_positions=_gauge(5)),
    ),
    "fill_probability_at_least": (
        rule("fill_probability_at_least", "0.8", cooldown_s=10),
        _inputs(fill_probabilities=_gauge(0.9)),
        _inputs(fill_probabilities=_gauge(0.1)),
    ),
    "rate_counter_above": (
        rule("rate_counter_above", 80, cooldown_s=10),
        _inputs(rate_counters={"BTC/USD": 90.0}),
        _inputs(rate_counters={"BTC/USD": 10.0}),
    ),
}


@pytest.mark.parametrize("kind", sorted(COOLDOWN_CASES))
def test_cooldown_of_every_kind(kind: str) -> None:
    """Fire, re-arm, fire again inside the cooldown (silent), re-arm, fire after it (heard)."""
    r, fire, calm = COOLDOWN_CASES[kind]
    m = market()
    add_trade(m.symbol("BTC/USD"), "100", "0.1")
    eng = AlertEngine([r])
    assert eng.evaluate(m, -1.0, calm(m, -1.0)) == []  # the baseline: tape and book as first seen
    got = []
    for t, step in [(0.0, fire), (1.0, calm), (2.0, fire), (3.0, calm), (12.0, fire)]:
        got.append(len(eng.evaluate(m, t, step(m, t))))
    assert got == [1, 0, 0, 0, 1]


def test_cooldown_of_duration_kinds() -> None:
    m = market()
    st = m.symbol("BTC/USD")
    st.touch(0.0)
    eng = AlertEngine(
        [rule("book_not_synced_for", 1, cooldown_s=10), rule("market_stale_for", 1, cooldown_s=10)]
    )
    assert eng.evaluate(m, 0.0) == []
    assert [a.kind for a in eng.evaluate(m, 1.0)] == ["book_not_synced_for", "market_stale_for"]
    quote(st, "100.0", "101.0")
    st.touch(2.0)  # both conditions end: re-armed
    assert eng.evaluate(m, 2.0) == []
    st.book_state = BookState.RESYNCING
    assert eng.evaluate(m, 3.0) == []
    assert eng.evaluate(m, 4.5) == []  # both held over 1 s again, but inside the cooldown
    assert [a.kind for a in eng.evaluate(m, 11.0)] == ["book_not_synced_for", "market_stale_for"]
