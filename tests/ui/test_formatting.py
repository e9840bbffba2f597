"""Numbers on screen: significant digits in plain notation, never in exponent form."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest

from havterm.analytics_controller import _rate
from havterm.screens.orders import order_notes
from havterm.widgets.views import fmt_sig, plural


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5.61e-05, "0.0000561"),
        (0.0178, "0.0178"),
        (28350.0, "28400"),
        (1.0, "1"),
        (0.1, "0.1"),
        (123.456, "123"),
        (999.9, "1000"),
        (-0.0123, "-0.0123"),
        (0.0, "0"),
    ],
)
def test_fmt_sig_is_plain(value: float, text: str) -> None:
    assert fmt_sig(value) == text


def test_rates_read_as_amounts_per_second() -> None:
    assert _rate(5610.0, 8) == "0.0000561/s"  # 5,610 lots of 1e-8 a second
    assert _rate(1_780_000.0, 8) == "0.0178/s"
    assert _rate(0.4, 8) == "0/s"


def test_counts_agree_with_their_nouns() -> None:
    assert (plural(1, "level"), plural(0, "order"), plural(3, "rule")) == ("1 level", "0 orders", "3 rules")


def test_the_review_says_what_an_order_is_worth_and_whether_it_trades_at_once() -> None:
    bid, ask = Decimal("62999.0"), Decimal("62999.5")
    notes = partial(order_notes, bid=bid, ask=ask, quote="USD")
    assert notes("buy", Decimal("0.01"), Decimal("62990.0"), "limit") == "\n≈ 629.90 USD"
    assert notes("buy", Decimal("0.01"), Decimal("63000"), "limit") == (
        "\n≈ 630.00 USD\ncrosses the book: fills at once against the ask 62999.5"
    )
    assert notes("buy", Decimal("0.01"), Decimal("63000"), "post-only") == (
        "\n≈ 630.00 USD\npost-only would take the ask 62999.5: refused"
    )
    # A typo a digit short: it would sell at once, far below the market.
    assert notes("sell", Decimal("0.01"), Decimal("6294"), "limit") == (
        "\n≈ 62.94 USD\ncrosses the book: fills at once against the bid 62999.0"
        "\n90 % below the mid 62999.25"
    )
    assert notes("buy", Decimal("0.01"), None, "market") == "\n≈ 630.00 USD"  # priced at the ask
    assert order_notes("buy", Decimal("0.01"), Decimal("63000"), "limit", None, None, "USD") == (
        "\n≈ 630.00 USD"
    )
