"""Numbers on screen: significant digits in plain notation, never in exponent form."""

from __future__ import annotations

import pytest

from havterm.analytics_controller import _rate
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
