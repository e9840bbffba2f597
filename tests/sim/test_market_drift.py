"""The demo's synthetic market holds its level: the pull towards the mid is symmetric."""

from __future__ import annotations

from havterm.sim import Exchange, SimConfig
from havterm.sim.market import pulled_to_mid


def test_the_pull_to_the_mid_is_the_same_size_up_and_down() -> None:
    # Within 64 ticks either way there is no pull; floor division pulled down by one tick.
    assert pulled_to_mid(1000, 990) == 1000 == pulled_to_mid(1000, 1010)
    assert pulled_to_mid(1000, 1000 - 63) == 1000 == pulled_to_mid(1000, 1000 + 63)
    assert (pulled_to_mid(1000, 1000 - 128), pulled_to_mid(1000, 1000 + 128)) == (998, 1002)
    assert (pulled_to_mid(1000, 1000 - 130), pulled_to_mid(1000, 1000 + 130)) == (998, 1002)


def test_the_market_does_not_drift_down_over_many_steps() -> None:
    # With floor division these seeds fell by 300 to 550 ticks over 25,000 to 40,000 steps.
    moves = []
    for seed in (2, 3):
        ex = Exchange(SimConfig(seed=seed, market=False, symbols=("BTC/USD",)))
        ex.step(200)
        start = ex.book("BTC/USD").best_bid()
        ex.step(25_000)
        end = ex.book("BTC/USD").best_bid()
        assert start is not None and end is not None
        moves.append(end.price - start.price)
    assert abs(sum(moves)) / len(moves) < 150, moves
