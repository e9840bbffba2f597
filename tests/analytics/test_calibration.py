"""Calibration of P(fill within T) on the embedded exchange: predicted against observed, Brier scores.

The exchange runs stepped and seeded (``market=False``, seed 7), one symbol,
and time is virtual: operation ``k`` happens at ``k / RATE`` seconds, so the
run is exactly repeatable and takes a few seconds instead of minutes. Every
``EVERY`` operations a passive limit order is placed at one of the best five
levels of a random side, through the exchange's own matching engine (it is
published on every stream exactly as a user order is). Its fill probability
is predicted from the frames the exchange published (level3, book, trades,
decoded and applied as the client does), and it is never cancelled, so
"filled within T" is read off the exchange's book.

Orders go in every ``EVERY`` operations (2 s of virtual time), so the 200 of
them span about 400 s of the market's wandering rather than one 80 s spell.

Tolerances (stated here, asserted below). For the L3 model:

* at 1 s, calibration in the large (|mean predicted - observed fill rate|
  <= 0.06), skill (a Brier score at least 0.02 below the climatological
  forecast, which always predicts the observed base rate), and in every
  probability bucket with at least 20 orders |predicted - observed| <= 0.16;
* at 5 s, calibration in the large (<= 0.06) and a Brier score within 0.01
  of climatology's: the model has no skill there (see below);
* at 30 s it is known to be optimistic (a market that walks away from the
  order for good is not modelled, see ``fillprob``): within 0.01 of
  climatology's Brier score, over-predicting by at most 0.10.

The L2-only model must beat an uninformed 0.5 forecast (Brier < 0.25) at 1 s
and 30 s, beat climatology at 1 s, and stay within 0.03 of it at 5 s.

Until this change the demo's market drifted down (a floor division in its
fair-price pull), and that drift made fills predictable by side: the L3
model's 5 s Brier score read 0.167 against climatology's 0.246. In a market
that holds its level it is 0.234 against 0.238, so the 5 s claim of skill was
dropped rather than kept by picking a seed.
"""

from __future__ import annotations

import itertools
import random

import numpy as np

from havterm.engine.fillprob import estimate_own
from havterm.sim.exchange import Exchange, SimConfig
from havterm.sim.matching import ASK, BID
from tests.analytics.harness import FeedHarness

RATE = 50.0
"""Virtual operations per second on the one symbol."""
EVERY = 100
ORDERS = 200
WARMUP = 1500
HORIZONS = (1.0, 5.0, 30.0)
PATHS = 500
REPLAY = True
SYMBOL = "BTC/USD"
BUCKETS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)


def run_calibration(seed: int = 7) -> dict[str, list[tuple[float, float, float | None, float | None]]]:
    """Place the orders; return per order (placed_at, predicted rows, filled_at) for each model."""
    ex = Exchange(SimConfig(seed=seed, market=False, symbols=(SYMBOL,)))
    h = FeedHarness(ex, SYMBOL)
    eng = ex.book(SYMBOL)
    inst = ex.instruments[SYMBOL]
    rng = random.Random(seed)
    step = 0
    h.pump(0.0)
    open_: dict[str, dict[str, object]] = {}
    rows: list[dict[str, object]] = []

    def advance(n: int) -> None:
        nonlocal step
        for _ in range(n):
            step += 1
            ex.step(1)
            h.pump(step / RATE)
            done = [oid for oid in open_ if oid not in eng.orders]
            for oid in done:
                open_.pop(oid)["filled_at"] = step / RATE

    advance(WARMUP)
    for i in range(ORDERS):
        side = BID if rng.random() < 0.5 else ASK
        levels = eng.sides[side].top(5)
        price = levels[rng.randrange(len(levels))].price
        lots = inst.qty_min * rng.choice((1, 10, 100))
        oid = f"CAL-{i}"
        ex.apply(SYMBOL, lambda e, oid=oid, side=side, lots=lots, price=price: e.submit(
            oid, side, lots, price=price, owner="calibration"))  # fmt: skip
        now = step / RATE
        h.pump(now)
        h.tracker.track(oid, now)
        h.l2est.place(oid, "buy" if side == BID else "sell", price, lots, book_shows_it=True)
        l3 = estimate_own(h.tracker, oid, now, horizons=HORIZONS, seed=i, paths=PATHS, replay=REPLAY)
        l2 = h.l2est.estimate(oid, now, horizons=HORIZONS, seed=i, paths=PATHS)
        assert l3 is not None and l2 is not None
        assert l3.model.startswith("l3-exact") and l2.model.startswith("l2-power")
        row: dict[str, object] = {"at": now, "l3": l3.p_fill, "l2": l2.p_fill, "filled_at": None}
        rows.append(row)
        open_[oid] = row
        advance(EVERY)
    advance(int(max(HORIZONS) * RATE))
    end = step / RATE
    out: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
    for j, horizon in enumerate(HORIZONS):
        for model in ("l3", "l2"):
            pairs = []
            for r in rows:
                at = float(r["at"])  # type: ignore[arg-type]
                if at + horizon > end:
                    continue
                filled_at = r["filled_at"]
                hit = filled_at is not None and float(filled_at) - at <= horizon  # type: ignore[arg-type]
                pairs.append((horizon, float(r[model][j]), 1.0 if hit else 0.0, None))  # type: ignore[index]
            out[f"{model}@{horizon:g}"] = pairs
    return out


def _report(pairs: list[tuple[float, float, float | None, float | None]]) -> dict[str, object]:
    p = np.array([x[1] for x in pairs])
    y = np.array([x[2] for x in pairs], dtype=float)
    buckets = []
    for lo, hi in itertools.pairwise(BUCKETS):
        m = (p >= lo) & (p < hi)
        if m.any():
            buckets.append((lo, min(hi, 1.0), int(m.sum()), float(p[m].mean()), float(y[m].mean())))
    return {
        "n": len(pairs),
        "brier": float(np.mean((p - y) ** 2)),
        "climatology": float(np.mean((y.mean() - y) ** 2)),
        "mean_pred": float(p.mean()),
        "observed": float(y.mean()),
        "buckets": buckets,
    }


def test_fill_probability_is_calibrated_on_the_embedded_exchange() -> None:
    results = run_calibration()
    lines = []
    for key, pairs in results.items():
        rep = _report(pairs)
        lines.append(
            f"{key:>7}: n={rep['n']} brier={rep['brier']:.4f} climatology={rep['climatology']:.4f} "
            f"mean_pred={rep['mean_pred']:.3f} observed={rep['observed']:.3f}"
        )
        for lo, hi, n, mp, ob in rep["buckets"]:  # type: ignore[attr-defined]
            lines.append(f"           [{lo:.1f},{hi:.1f}) n={n:3d} predicted={mp:.3f} observed={ob:.3f}")
        brier, clim = float(rep["brier"]), float(rep["climatology"])  # type: ignore[arg-type]
        bias = float(rep["mean_pred"]) - float(rep["observed"])  # type: ignore[arg-type]
        if key == "l3@1":
            assert abs(bias) <= 0.06, (key, bias)
            assert brier <= clim - 0.02, (key, brier, clim)
            for lo, _hi, n, mp, ob in rep["buckets"]:  # type: ignore[attr-defined]
                if n >= 20:
                    assert abs(mp - ob) <= 0.16, (key, lo, n, mp, ob)
        elif key == "l3@5":
            assert abs(bias) <= 0.06, (key, bias)
            assert brier <= clim + 0.01, (key, brier, clim)
        elif key == "l3@30":
            assert brier <= clim + 0.01 and bias <= 0.10, (key, brier, clim, bias)
        elif key == "l2@1":
            assert brier < 0.25 and brier <= clim, (key, brier, clim)
        elif key == "l2@5":
            assert brier <= clim + 0.03, (key, brier, clim)
        else:
            assert brier < 0.25, (key, brier)
    print("\n" + "\n".join(lines))
