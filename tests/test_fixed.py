"""Exact fixed-point conversions: every case is a value, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from havterm.engine.fixed import (
    PrecisionError,
    format_units,
    from_decimal,
    parse_decimal_text,
    rescale,
    to_decimal,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("63381.0", (633810, 1)),
        ("0.00005100", (5100, 8)),
        ("0.00000000", (0, 8)),
        ("4", (4, 0)),
        ("1e-08", (1, 8)),
        ("5.494e-6", (5494, 9)),
        ("1E+2", (100, 0)),
        ("-0.5", (-5, 1)),
        (b"45285.2", (452852, 1)),
    ],
)
def test_parse_decimal_text(text: str, expected: tuple[int, int]) -> None:
    assert parse_decimal_text(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "NaN", "Infinity", "1e-999", "--1", "0x10"])
def test_parse_decimal_text_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal_text(text)


def test_rescale_and_format() -> None:
    assert rescale(566, 3, 4) == 5660
    assert rescale(40, 1, 8) == 400000000
    assert rescale(5100, 8, 6) == 51
    with pytest.raises(PrecisionError):
        rescale(5661, 4, 3)
    assert format_units(633810, 1) == "63381.0"
    assert format_units(5100, 8) == "0.00005100"
    assert format_units(-5, 2) == "-0.05"
    assert format_units(7, 0) == "7"
    assert from_decimal(Decimal("26500.4"), 1) == 265004
    assert from_decimal("0.5", 8) == 50000000
    assert to_decimal(5100, 8) == Decimal("0.00005100")
    assert str(to_decimal(5100, 8)) == "0.00005100"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**9), max_value=10**9))
def test_round_trip_is_exact(d: Decimal) -> None:
    units, scale = parse_decimal_text(format(d, "f"))
    assert to_decimal(units, scale) == d
    assert Decimal(format_units(rescale(units, scale, 8), 8)) == d
