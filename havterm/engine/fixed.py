"""Exact fixed-point numbers: wire tokens to integer ticks and lots, and back.

Kraken sends prices and quantities as JSON numbers that carry the pair's
precision (``63381.0``, ``0.00005100``). A binary float loses the trailing
zeros and, for large quantities with eight decimals, the digits themselves, so
the checksum breaks. Here a number is an exact ``(units, scale)`` pair meaning
``units / 10**scale``; inside a book it becomes a plain ``int`` of ticks (price)
or lots (quantity) at the instrument's precision. ``str(ticks)`` is then exactly
Kraken's checksum token (the digits with the point and leading zeros removed).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

POW10: tuple[int, ...] = tuple(10**i for i in range(64))
"""Powers of ten, looked up instead of computed on the hot path."""

MAX_SCALE = 30
"""More digits than any Kraken number has; guards against ``1e-999`` and ``1e999999999``."""


class PrecisionError(ValueError):
    """A number has more significant decimals than the precision allows."""


def parse_decimal_text(text: str | bytes) -> tuple[int, int]:
    """Parse a JSON number token (or a numeric string) into ``(units, scale)``.

    Exact for every token: ``"63381.0"`` gives ``(633810, 1)`` and
    ``"1e-08"`` gives ``(1, 8)``. Raises ``ValueError`` on anything that is not
    a finite decimal number. O(len(text)).
    """
    if isinstance(text, bytes):
        text = text.decode("ascii")
    whole, dot, frac = text.partition(".")
    if "e" not in text and "E" not in text and whole.lstrip("-").isdigit():
        if not dot:
            return int(whole), 0
        if frac.isdigit():
            return int(whole + frac), len(frac)
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return decimal_to_units(d)


def decimal_to_units(d: Decimal) -> tuple[int, int]:
    """Turn a finite ``Decimal`` into ``(units, scale)`` with ``scale >= 0``."""
    sign, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {d}")
    units = int("".join(map(str, digits)) or "0")
    if sign:
        units = -units
    if exponent >= 0:
        if exponent > MAX_SCALE:
            raise ValueError(f"too large: {d}")
        return units * 10**exponent, 0
    scale = -exponent
    if scale > MAX_SCALE:
        raise ValueError(f"too many decimals: {d}")
    return units, scale


def rescale(units: int, scale: int, precision: int) -> int:
    """Express ``units / 10**scale`` as an integer count of ``10**-precision``.

    Exact or raises ``PrecisionError``: ``rescale(5100, 8, 8) == 5100``,
    ``rescale(566, 3, 4) == 5660``; ``rescale(5661, 4, 3)`` raises.
    """
    if scale == precision:
        return units
    if scale < precision:
        return units * POW10[precision - scale]
    div = POW10[scale - precision]
    q, r = divmod(units, div)
    if r:
        raise PrecisionError(f"{format_units(units, scale)} has more than {precision} decimals")
    return q


def format_units(units: int, precision: int) -> str:
    """Format an integer count of ``10**-precision`` as decimal text.

    ``format_units(633810, 1) == "63381.0"``; keeps trailing zeros, as Kraken does.
    """
    if precision == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    s = str(abs(units)).rjust(precision + 1, "0")
    return f"{sign}{s[:-precision]}.{s[-precision:]}"


def to_decimal(units: int, scale: int) -> Decimal:
    """The exact ``Decimal`` for ``units / 10**scale``, trailing zeros kept."""
    return Decimal(units).scaleb(-scale)


def from_decimal(value: Decimal | str | int, precision: int) -> int:
    """Convert a user-supplied value to integer units at ``precision``, exactly."""
    if isinstance(value, int):
        return value * POW10[precision]
    units, scale = decimal_to_units(Decimal(value))
    return rescale(units, scale, precision)
