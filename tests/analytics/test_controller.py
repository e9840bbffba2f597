"""The dashboard's analytics controller on a real client against the embedded exchange.

What the ladder's queue read-out, the depth screen's cost markers and the
alert engine's fill-probability input show, checked against the exchange's own
queues and the engine's functions: with level3 (exact) and without (L2 estimate).
"""

from __future__ import annotations

from decimal import Decimal

from havterm.analytics_controller import AnalyticsController
from havterm.engine.alerts import AlertEngine
from havterm.engine.analytics import execution_cost, execution_cost_l3
from havterm.engine.book import BookState
from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.credentials import Credentials
from havterm.engine.fillprob import RaceJob
from havterm.engine.fixed import format_units
from havterm.sim import Exchange, SimConfig
from havterm.trading_controller import TradingController
from havterm.widgets.views import QueueLine
from tests.alerts.helpers import rule
from tests.analytics.test_loopback import truth
from tests.waiting import wait_for

SYMBOL = "BTC/USD"


def amount(lots: int, qp: int) -> str:
    d = Decimal(lots).scaleb(-qp)
    return f"{d.normalize():f}" if d else "0"


def client_for(ex: Exchange, l3: bool, depth: int = 10) -> KrakenClient:
    ep = ex.endpoints
    return KrakenClient(ClientConfig(
        symbols=[SYMBOL], url=ep["ws"], auth_url=ep["ws_auth"], l3_url=ep["ws_l3"], rest_url=ep["rest"],
        credentials=Credentials(ep["api_key"], ep["api_secret"]), l3=l3, channels=("book", "trade"),
        private=("executions",), backoff_base_s=0.05, backoff_cap_s=0.3, depth=depth,
    ))  # fmt: skip


def dashboard_side(
    ex: Exchange, l3: bool, depth: int = 10
) -> tuple[KrakenClient, TradingController, AnalyticsController]:
    """The client, order entry and analytics wired as the bridge wires them."""
    client = client_for(ex, l3, depth)
    trading = TradingController(client)
    analytics = AnalyticsController(client, trading.open_limit_orders)
    trading.analytics = analytics
    return client, trading, analytics


async def test_level3_queue_lines_costs_and_fill_probability_match_the_exchange() -> None:
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as ex:
        ex.step(300)
        client, trading, analytics = dashboard_side(ex, l3=True)
        eng = ex.book(SYMBOL)
        async with client:
            st = client.state.symbol(SYMBOL)
            await wait_for(
                lambda: trading.trader.ready and st.l3 is not None and st.l3_state is BookState.SYNCED,
                10,
                "level3 and trading",
            )
            pp, qp = ex.instruments[SYMBOL].price_precision, ex.instruments[SYMBOL].qty_precision
            best = eng.best_bid()
            assert best is not None
            mine = best.price - 6  # a few ticks down: it rests for a while, behind a queue
            line = await trading.place(SYMBOL, "buy", "0.01", format_units(mine, pp), "limit")
            assert "sent" in line, line
            oid = line.rsplit("(", 1)[1].rstrip(")")
            # Some flow, so the fill probability has something to replay.
            for _ in range(25):
                ex.step(1, symbol=SYMBOL)
                await ex.drain()
                if truth(eng, oid) is None:
                    break
            want = truth(eng, oid)
            assert want is not None, "filled too soon for this test; pick another seed"

            def shown() -> str:
                lines = analytics.own_lines(SYMBOL)
                return lines[0].queue if lines else ""

            n, ahead, behind, _ = want
            plural = "" if n == 1 else "s"
            front = "first in line" if n == 0 else f"after {n} order{plural} · {amount(ahead, qp)} ahead"
            text = f"{front} · {amount(behind, qp)} behind"
            await wait_for(lambda: shown() == text, 5, f"the queue read-out {text!r} (shown {shown()!r})")
            # The fill probability arrives from the worker thread; the ladder tag and alerts get it.
            await wait_for(
                lambda: (analytics.refresh(), analytics.own_lines(SYMBOL)[0].p30)[1] is not None,
                10,
                "a fill-probability estimate",
            )
            own = analytics.own_lines(SYMBOL)[0]
            assert own.head == f"BUY 0.01 @ {format_units(mine, pp)}"
            assert own.fill.startswith("P5s ") and "l3-exact/" in own.fill
            p30 = own.p30
            assert p30 is not None and 0.0 <= p30 <= 1.0
            inputs = trading.alert_inputs([SYMBOL])
            assert inputs.fill_probabilities[oid].value == p30
            assert inputs.queue_positions[oid].value == float(n)
            # The fill-probability alert kind fires on exactly that input (issue 8's last missing feed).
            engine = AlertEngine([rule("fill_probability_at_least", 0, order_id=oid)])
            fired = engine.evaluate(client.state, 1.0, inputs, wall=1.0)
            assert [a.kind for a in fired] == ["fill_probability_at_least"] and oid in fired[0].message
            tag = trading.own_by_price(SYMBOL, pp)[format_units(mine, pp)]
            assert tag == f"B 0.01 #{n} {round(p30 * 100)}%"
            # Execution cost: the engine's level3 walk, our own order excluded (we cannot take it).
            l3 = st.l3
            assert l3 is not None
            buy, sell = analytics.costs(SYMBOL, 50_000_000)
            want_buy = execution_cost_l3(l3, "buy", 50_000_000, {oid})
            want_sell = execution_cost_l3(l3, "sell", 50_000_000, {oid})
            assert buy is not None and sell is not None
            assert (buy.source, buy.filled, buy.worst_ticks, buy.levels, buy.orders) == (
                "l3",
                want_buy.filled_lots,
                want_buy.worst_price_ticks,
                want_buy.levels_consumed,
                want_buy.orders_consumed,
            )
            assert sell.vwap == f"{want_sell.vwap:.{pp + 2}f}"
            assert sell.slippage_mid_bps == f"{want_sell.slippage_bps_vs_mid:.2f}"
            # A new order one tick below ours would queue behind every order at that price.
            below = mine - 1
            level = eng.sides[0].levels.get(eng.sides[0].key(below))
            hyp = analytics.hypothetical_line(SYMBOL, "buy", format_units(below, pp), Decimal("0.01"))
            assert hyp is not None and hyp.order_id is None
            count = len(level.orders) if level is not None else 0
            assert hyp.queue.startswith(f"joins behind {count} order{'' if count == 1 else 's'} · ")
            assert hyp.level.startswith("this level, last ")
            assert analytics.trackers[SYMBOL].is_placed(oid) and not analytics.trackers[SYMBOL].is_placed("X")
            await trading.cancel(oid)
            await wait_for(lambda: analytics.own_lines(SYMBOL) == [], 5, "the cancelled order gone")
            assert not analytics.trackers[SYMBOL].is_placed(oid)
            await trading.close()


async def test_a_new_order_past_the_level3_window_queues_behind_the_l2_level() -> None:
    # Level3 sees 10 price levels; the ladder shows 25 from L2. Below level3's last bid the level3
    # book is blind (the level looks empty), so the cursor's read-out must take the L2 sizes.
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as ex:
        ex.step(300)
        client, trading, analytics = dashboard_side(ex, l3=True, depth=25)
        async with client:
            st = client.state.symbol(SYMBOL)
            await wait_for(
                lambda: st.l3 is not None
                and st.l3_state is BookState.SYNCED
                and st.book is not None
                and len(st.book.bids()) > 15
                and SYMBOL in analytics.trackers,
                10,
                "level3 and a 25-level book",
            )
            book, l3 = st.book, st.l3
            assert book is not None and l3 is not None
            pp, qp = book.price_precision, book.qty_precision
            tracker = analytics.trackers[SYMBOL]
            inside = l3.aggregated("buy")[-1][0]
            price, level = book.bids()[14]  # fifteenth bid: past level3's ten
            assert price < inside and not tracker.in_window("buy", price) and tracker.in_window("buy", inside)
            better = sum(lots for p, lots in book.bids() if p > price)
            hyp = analytics.hypothetical_line(SYMBOL, "buy", format_units(price, pp), Decimal("0.01"))
            assert hyp is not None
            assert hyp.queue == (
                f"L2 (past level3): {amount(level, qp)} ahead at this price,"
                f" {amount(better, qp)} at better prices"
            )
            job = analytics._inputs(("hyp", SYMBOL, "buy", price, 1_000_000), 1.0)
            assert job is not None and (job.ahead, job.model) == (level + better, "l2-join-back")
            # Inside the window the level3 queue (orders and lots) is still the answer.
            hyp_in = analytics.hypothetical_line(SYMBOL, "buy", format_units(inside, pp), Decimal("0.01"))
            assert hyp_in is not None and hyp_in.queue.startswith("joins behind ")
            assert "order" in hyp_in.queue and "L2" not in hyp_in.queue
            # A market order larger than level3's ten ask levels is costed on the deeper L2 book.
            size = sum(lots for _, lots in l3.aggregated("sell")) + 1
            small, _ = analytics.costs(SYMBOL, 1)
            big, _ = analytics.costs(SYMBOL, size)
            want = execution_cost(book, "buy", size)
            assert small is not None and small.source == "l3"
            assert big is not None and (big.source, big.filled, big.worst_ticks, big.levels) == (
                "l2",
                want.filled_lots,
                want.worst_price_ticks,
                want.levels_consumed,
            )
            assert big.filled == size > sum(lots for _, lots in l3.aggregated("sell"))
            # An own order out there: level3 cannot place it; the L2 level (ours in it) bounds the queue.
            await wait_for(lambda: trading.trader.ready, 10, "trading")
            # Deep (the 23rd of 25 bids), so that the flow stepped below leaves it out of level3's sight.
            price = book.bids()[22][0]
            line = await trading.place(SYMBOL, "buy", "0.01", format_units(price, pp), "limit")
            assert "sent" in line, line
            oid = line.rsplit("(", 1)[1].rstrip(")")

            def own() -> str:
                mine = [x for x in analytics.own_lines(SYMBOL) if x.order_id == oid]
                return mine[0].queue if mine else ""

            await wait_for(lambda: own().startswith("L2 (past level3): "), 5, "the own line from L2")
            seen = analytics._l2_queue(SYMBOL, "buy", price)
            assert seen is not None
            assert own() == (
                f"L2 (past level3): at most {amount(seen[0] - 1_000_000, qp)} ahead at this price,"
                f" {amount(seen[1], qp)} at better prices"
            )
            # Its P(fill) races that bound (everything at the level but us, plus better prices):
            # an answer that errs low, never high, and says it is not an exact queue.
            job = analytics._inputs(("own", oid), 1.0)
            assert job is not None and isinstance(job, RaceJob)
            assert (job.ahead, job.lots, job.model, job.exact_queue) == (
                seen[0] - 1_000_000 + seen[1],
                1_000_000,
                "l2-at-most",
                False,
            )
            for _ in range(25):  # some flow to race against; the book's top moves, ours stays deep
                ex.step(1, symbol=SYMBOL)
                await ex.drain()

            def p30() -> float | None:
                analytics.refresh()
                mine = [x for x in analytics.own_lines(SYMBOL) if x.order_id == oid]
                return mine[0].p30 if mine else None

            await wait_for(lambda: p30() is not None, 10, "a fill probability past the level3 window")
            line_now = next(x for x in analytics.own_lines(SYMBOL) if x.order_id == oid)
            assert not tracker.is_placed(oid), "the order came into level3's sight; pick a deeper level"
            assert "l2-at-most/" in line_now.fill and "/high" not in line_now.fill, line_now.fill
            assert analytics.fill_probabilities()[oid] == (SYMBOL, line_now.p30)
            await trading.close()


async def test_without_level3_the_queue_is_an_l2_estimate() -> None:
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as ex:
        ex.step(300)
        client, trading, analytics = dashboard_side(ex, l3=False)
        eng = ex.book(SYMBOL)
        async with client:
            st = client.state.symbol(SYMBOL)
            await wait_for(lambda: trading.trader.ready and st.book_state is BookState.SYNCED, 10, "ready")
            analytics.focus(SYMBOL)
            pp, qp = ex.instruments[SYMBOL].price_precision, ex.instruments[SYMBOL].qty_precision
            bid = eng.best_bid()
            assert bid is not None
            price = bid.price - 10  # deep enough to rest through the 30 steps below
            level_before = st.book.bids(50)
            lots_there = dict(level_before).get(price, 0)
            line = await trading.place(SYMBOL, "buy", "0.01", format_units(price, pp), "limit")
            oid = line.rsplit("(", 1)[1].rstrip(")")
            await wait_for(lambda: trading.open_limit_orders() != [], 5, "the order open")
            lines = analytics.own_lines(SYMBOL)
            assert len(lines) == 1 and lines[0].order_id == oid
            # Placed behind everything the public level showed (and, conservatively, our own lots).
            assert lines[0].queue in (
                f"≈{amount(lots_there, qp)} ahead (L2 estimate)",
                f"≈{amount(lots_there + 1_000_000, qp)} ahead (L2 estimate)",
            )
            for _ in range(30):
                ex.step(1, symbol=SYMBOL)
                await ex.drain()
            # Estimates need a second of measured flow; the first one is "measuring", then the real one.
            await wait_for(
                lambda: (analytics.refresh(), analytics.own_lines(SYMBOL)[0].p30)[1] is not None,
                10,
                "an L2 estimate",
            )
            assert "l2-power" in analytics.own_lines(SYMBOL)[0].fill
            hyp = analytics.hypothetical_line(SYMBOL, "buy", format_units(price, pp), Decimal("0.01"))
            assert hyp is not None and hyp.queue.startswith("L2: ") and "(all of the level)" in hyp.queue
            # The depth screen's cost comes from the L2 book here.
            book = st.book
            assert book is not None
            buy, _ = analytics.costs(SYMBOL, 10_000_000)
            want = execution_cost(book, "buy", 10_000_000)
            assert buy is not None and buy.source == "l2" and buy.worst_ticks == want.worst_price_ticks
            await trading.cancel(oid)
            await trading.close()


async def test_an_own_order_past_every_window_does_not_starve_the_other_estimates() -> None:
    # A sell far above the asks is out of sight of level3 and of the L2 book: nothing can be raced
    # for it. It used to be retried on every frame, so no other estimate ever got its turn.
    async with Exchange(SimConfig(seed=7, market=False, symbols=(SYMBOL,))) as ex:
        ex.step(300)
        client, trading, analytics = dashboard_side(ex, l3=True)
        eng = ex.book(SYMBOL)
        async with client:
            st = client.state.symbol(SYMBOL)
            await wait_for(
                lambda: trading.trader.ready and st.l3 is not None and st.l3_state is BookState.SYNCED,
                10,
                "level3 and trading",
            )
            pp = ex.instruments[SYMBOL].price_precision
            ask, bid = eng.best_ask(), eng.best_bid()
            assert ask is not None and bid is not None
            far = await trading.place(SYMBOL, "sell", "0.01", format_units(ask.price + 5_000, pp), "limit")
            near = await trading.place(SYMBOL, "buy", "0.01", format_units(bid.price - 6, pp), "limit")
            far_id, near_id = (x.rsplit("(", 1)[1].rstrip(")") for x in (far, near))
            await wait_for(lambda: len(analytics.own_lines(SYMBOL)) == 2, 5, "both orders open")
            for _ in range(40):  # flow on both sides, so the near order has something to race
                ex.step(1, symbol=SYMBOL)
                await ex.drain()

            def line(oid: str) -> QueueLine | None:
                analytics.refresh()
                return next((x for x in analytics.own_lines(SYMBOL) if x.order_id == oid), None)

            await wait_for(lambda: (x := line(near_id)) is not None and x.p30 is not None, 10, "an estimate")
            got = line(near_id)
            assert got is not None and "l3-exact/" in got.fill, got.fill
            far_line = line(far_id)
            assert far_line is not None and far_line.p30 is None
            assert far_line.queue == "beyond the book's window: its queue is unknown"
            assert far_line.fill == "P(fill) n/a: the books show nothing at this price"
            await trading.close()
