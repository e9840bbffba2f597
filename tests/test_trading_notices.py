"""Fill toasts from the executions stream, without a network: what each fill says, and what is never said."""

from __future__ import annotations

from decimal import Decimal

from havterm.engine.client import ClientConfig, KrakenClient
from havterm.engine.credentials import Credentials
from havterm.engine.events import ExecutionReport, ExecutionsMessage
from havterm.trading_controller import TradingController

D = Decimal


def controller() -> tuple[TradingController, list[str]]:
    # A client never started: the executions messages are fed to it by hand.
    client = KrakenClient(
        ClientConfig(symbols=["BTC/USD"], credentials=Credentials("k", "c2VjcmV0"), private=("executions",))
    )
    told: list[str] = []
    trading = TradingController(client)
    trading.on_notice = told.append
    return trading, told


def feed(trading: TradingController, snapshot: bool, seq: int, *reports: ExecutionReport) -> None:
    trading.client._dispatch([ExecutionsMessage(snapshot, seq, reports)])


NEW = ExecutionReport(
    "O1",
    "new",
    "new",
    symbol="BTC/USD",
    side="buy",
    order_type="limit",
    order_qty=D("0.05"),
    limit_price=D("63000.5"),
    cum_qty=D(0),
)


def trade(exec_id: str, qty: str, cum: str, status: str, price: str = "63000.5") -> ExecutionReport:
    return ExecutionReport(
        "O1",
        "trade",
        status,
        exec_id=exec_id,
        symbol="BTC/USD",
        side="buy",
        last_qty=D(qty),
        last_price=D(price),
        cum_qty=D(cum),
        cum_cost=None,
    )


def test_two_fills_in_one_message_are_a_partial_then_the_complete_line() -> None:
    trading, told = controller()
    feed(trading, True, 1)  # the snapshot at connect: nothing open, nothing said
    feed(trading, False, 2, NEW)
    feed(trading, False, 3, trade("E1", "0.01", "0.01", "partially_filled"))
    feed(
        trading,
        False,
        4,
        trade("E2", "0.02", "0.03", "partially_filled", "63000.6"),
        trade("E3", "0.02", "0.05", "filled", "63000.7"),
    )
    assert told[:3] == [
        "BUY 0.01 of 0.05 BTC/USD filled @ 63000.5",
        "BUY 0.03 of 0.05 BTC/USD filled @ 63000.6",
        "BUY 0.05 BTC/USD filled @ 63000.7 (avg 63000.62)",
    ]
    assert len(told) == 3
    # The same fills again (a repeated report), and a later snapshot repeating them: never said twice.
    feed(trading, False, 5, trade("E3", "0.02", "0.05", "filled", "63000.7"))
    feed(trading, True, 6, NEW, trade("E1", "0.01", "0.01", "partially_filled"))
    assert len(told) == 3


def test_fills_in_a_snapshot_are_not_said() -> None:
    trading, told = controller()
    feed(trading, True, 1, NEW, trade("E1", "0.01", "0.01", "partially_filled"))
    assert told == [] and trading.trader.orders.get("O1") is not None
    assert trading.trader.orders.get("O1").cum_qty == D("0.01")  # type: ignore[union-attr]


def test_an_average_on_a_tick_keeps_the_prices_decimals() -> None:
    trading, told = controller()
    feed(trading, True, 1)
    feed(trading, False, 2, NEW)
    feed(trading, False, 3, trade("E1", "0.05", "0.05", "filled", "63000.0"))
    assert told == ["BUY 0.05 BTC/USD filled @ 63000.0 (avg 63000.0)"]  # not "(avg 63000)"
