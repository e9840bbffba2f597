"""Alert rules over market state: pure evaluation with time passed in, cooldown and hysteresis per rule.

``AlertEngine.evaluate(state, now)`` reads a ``MarketState`` (and, for the
trading and analytics kinds, a plain ``AlertInputs``) and returns the alerts
that fire at ``now``. Nothing here reads a clock, does I/O or imports a UI
library; ``now`` is the same monotonic clock the client stamps
``SymbolState.last_update_at`` with, and ``wall`` (epoch seconds) is only
copied into the alerts for display and history.

Firing model, the same for every kind:

* a *level* kind (price, spread, imbalance, pressure, funding rate, queue
  position, fill probability, rate counter) fires when its value reaches the level while the
  rule is *armed*; firing disarms it, and it re-arms only once the value has
  gone back past the level by the rule's ``hysteresis``. A price hovering on
  a level therefore fires once, not on every wiggle;
* a *duration* kind (book not synced, market stale) fires once the condition
  has held for ``level`` seconds and re-arms when the condition ends;
* an *event* kind (trade size, large order, own fill, a move of X %) fires on
  new events only;
* every kind also has ``cooldown_s``: after firing, a rule stays quiet on
  that symbol for that long whatever happens (events in the meantime are
  dropped; a level condition still true when the cooldown ends fires then).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from havterm.engine.analytics import imbalance_ratio, pressure_value
from havterm.engine.book import BookState, L2Book
from havterm.engine.futures import is_futures_symbol
from havterm.engine.state import MarketState, SymbolState

__all__ = [
    "FED_KINDS",
    "KINDS",
    "AlertEngine",
    "AlertInputs",
    "FiredAlert",
    "OrderGauge",
    "OwnFill",
    "Rule",
    "RuleError",
    "RuleKind",
]


class RuleError(ValueError):
    """A rule that cannot be evaluated; the message is one line for the user."""


class RuleKind(enum.Enum):
    """Every rule kind, by the name used in config files."""

    PRICE_ABOVE = "price_above"
    PRICE_BELOW = "price_below"
    MOVE_PCT = "move_pct"
    SPREAD_ABOVE_BPS = "spread_above_bps"
    IMBALANCE_ABOVE = "imbalance_above"
    IMBALANCE_BELOW = "imbalance_below"
    PRESSURE_ABOVE = "pressure_above"
    PRESSURE_BELOW = "pressure_below"
    TRADE_SIZE_AT_LEAST = "trade_size_at_least"
    LARGE_ORDER = "large_order"
    BOOK_NOT_SYNCED_FOR = "book_not_synced_for"
    MARKET_STALE_FOR = "market_stale_for"
    OWN_ORDER_FILLED = "own_order_filled"
    QUEUE_POSITION_AT_MOST = "queue_position_at_most"
    FILL_PROBABILITY_AT_LEAST = "fill_probability_at_least"
    RATE_COUNTER_ABOVE = "rate_counter_above"
    FUNDING_ABOVE = "funding_above"
    FUNDING_BELOW = "funding_below"


KINDS: frozenset[str] = frozenset(k.value for k in RuleKind)
"""The kind names this version understands (others are kept, not evaluated, by the config layer)."""

PRICE_SOURCES = ("last", "mid", "bid", "ask")
NOTIFIERS = ("bell", "desktop", "command")

# Defaults of ``hysteresis`` when a rule gives none, in the rule's own unit. Chosen so that the
# ordinary jitter of the quantity does not re-arm a rule: 0.1 % of a price level, a tenth of a
# spread level, 0.05 of an imbalance or pressure ratio, one queue place, 5 points of percentage,
# and 0.0005 percentage points of an hourly funding rate (a tenth of a typical 0.005 % rate).
_PRICE_HYST_FRACTION = Decimal("0.001")
_FUNDING_HYST = Decimal("0.0005")


def _hysteresis_default(kind: RuleKind, level: Decimal) -> Decimal:
    if kind in (RuleKind.PRICE_ABOVE, RuleKind.PRICE_BELOW):
        return abs(level) * _PRICE_HYST_FRACTION
    if kind is RuleKind.SPREAD_ABOVE_BPS:
        return abs(level) / 10
    if kind in (
        RuleKind.IMBALANCE_ABOVE,
        RuleKind.IMBALANCE_BELOW,
        RuleKind.PRESSURE_ABOVE,
        RuleKind.PRESSURE_BELOW,
        RuleKind.FILL_PROBABILITY_AT_LEAST,
    ):
        return Decimal("0.05")
    if kind is RuleKind.QUEUE_POSITION_AT_MOST:
        return Decimal(1)
    if kind is RuleKind.RATE_COUNTER_ABOVE:
        return Decimal(5)
    if kind is RuleKind.LARGE_ORDER:
        return Decimal("0.2")  # a large level must shrink below 80 % of the size to count as gone
    if kind in (RuleKind.FUNDING_ABOVE, RuleKind.FUNDING_BELOW):
        return _FUNDING_HYST
    return Decimal(0)


def decimal_value(value: object, what: str) -> Decimal:
    """A TOML number or numeric string as an exact Decimal (floats through their shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise RuleError(f"{what} must be a number")
    try:
        d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise RuleError(f"{what} must be a number, got {value!r}") from None
    if not d.is_finite():
        raise RuleError(f"{what} must be a finite number")
    return d


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule. Frozen and hashable: the engine keys its per-rule state by the rule itself.

    ``symbol`` may be ``"*"`` for every symbol the state holds. Fields a kind
    does not use are ignored. Units of ``level`` per kind are in the README
    section of the alerts (and ``havterm.alerts_config``'s docstring).
    """

    name: str
    symbol: str
    kind: str
    level: Decimal = Decimal(0)
    cooldown_s: float = 60.0
    hysteresis: Decimal | None = None
    window_s: float = 60.0
    depth: int = 10
    source: str = "last"
    side: str = "both"
    event: str = "both"
    order_id: str | None = None
    cross: bool = False
    enabled: bool = True
    notify: tuple[str, ...] = ()
    command: str | None = None
    # Float copies made once, so that evaluating a level rule 20 times a second costs no Decimal work.
    _flevel: float = field(init=False, repr=False, compare=False, hash=False, default=0.0)
    _fhyst: float = field(init=False, repr=False, compare=False, hash=False, default=0.0)
    _dhyst: Decimal = field(init=False, repr=False, compare=False, hash=False, default=Decimal(0))

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise RuleError("name must be a non-empty string")
        if not isinstance(self.symbol, str) or not (
            self.symbol == "*" or "/" in self.symbol or is_futures_symbol(self.symbol)
        ):
            raise RuleError(
                f'symbol must look like "BTC/USD" or "PF_XBTUSD" (or "*" for all), got {self.symbol!r}'
            )
        if self.kind not in KINDS:
            raise RuleError(f"unknown kind {self.kind!r}")
        kind = RuleKind(self.kind)
        lv = self.level
        if kind in (RuleKind.PRICE_ABOVE, RuleKind.PRICE_BELOW, RuleKind.TRADE_SIZE_AT_LEAST) and lv <= 0:
            raise RuleError("level must be above 0")
        if kind is RuleKind.LARGE_ORDER and lv <= 0:
            raise RuleError("level (the size, in base units) must be above 0")
        if kind is RuleKind.MOVE_PCT and lv == 0:
            raise RuleError("level must be a non-zero percentage (1 = up 1 %, -1 = down 1 %)")
        if kind is RuleKind.SPREAD_ABOVE_BPS and lv < 0:
            raise RuleError("level (basis points) must be 0 or more")
        if kind in (
            RuleKind.IMBALANCE_ABOVE,
            RuleKind.IMBALANCE_BELOW,
            RuleKind.PRESSURE_ABOVE,
            RuleKind.PRESSURE_BELOW,
        ) and not (-1 <= lv <= 1):
            raise RuleError("level must be a ratio from -1 to 1")
        if kind in (RuleKind.BOOK_NOT_SYNCED_FOR, RuleKind.MARKET_STALE_FOR) and lv <= 0:
            raise RuleError("level (seconds) must be above 0")
        if kind in (RuleKind.OWN_ORDER_FILLED, RuleKind.FILL_PROBABILITY_AT_LEAST) and not (0 <= lv <= 1):
            raise RuleError("level must be a fraction from 0 to 1")
        if kind is RuleKind.QUEUE_POSITION_AT_MOST and lv < 0:
            raise RuleError("level (orders ahead) must be 0 or more")
        if kind is RuleKind.RATE_COUNTER_ABOVE and lv < 0:
            raise RuleError("level (percent of Kraken's threshold) must be 0 or more")
        if self.cooldown_s < 0:
            raise RuleError("cooldown_s must be 0 or more")
        if self.hysteresis is not None and self.hysteresis < 0:
            raise RuleError("hysteresis must be 0 or more")
        if self.window_s <= 0:
            raise RuleError("window_s must be above 0")
        if not 1 <= self.depth <= 1000:
            raise RuleError("depth must be from 1 to 1000 levels")
        if self.source not in PRICE_SOURCES:
            raise RuleError(f"source must be one of {', '.join(PRICE_SOURCES)}")
        if self.side not in ("both", "bid", "ask", "buy", "sell"):
            raise RuleError("side must be both, bid, ask, buy or sell")
        if self.event not in ("both", "appear", "vanish"):
            raise RuleError("event must be both, appear or vanish")
        bad = [n for n in self.notify if n not in NOTIFIERS]
        if bad:
            raise RuleError(f"unknown notifier(s) {', '.join(bad)}; choose from {', '.join(NOTIFIERS)}")
        if "command" in self.notify and not self.command:
            raise RuleError('notify has "command" but the rule has no command')
        hyst = self.hysteresis if self.hysteresis is not None else _hysteresis_default(kind, lv)
        object.__setattr__(self, "_flevel", float(lv))
        object.__setattr__(self, "_fhyst", float(hyst))
        object.__setattr__(self, "_dhyst", hyst)

    @property
    def rule_kind(self) -> RuleKind:
        """The kind as an enum."""
        return RuleKind(self.kind)

    @property
    def effective_hysteresis(self) -> Decimal:
        """``hysteresis`` or the kind's default."""
        return self._dhyst


@dataclass(frozen=True, slots=True)
class OwnFill:
    """One fill of one of our orders, as the trading layer reports it (fed through ``AlertInputs``)."""

    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    order_qty: Decimal
    fill_id: str = ""

    @property
    def fraction(self) -> float:
        """How much of the order is filled, 0 to 1."""
        return float(self.cum_qty / self.order_qty) if self.order_qty > 0 else 1.0


@dataclass(frozen=True, slots=True)
class OrderGauge:
    """A per-order number the trading/analytics layers compute: a queue position or a fill probability."""

    symbol: str
    value: float


@dataclass(slots=True)
class AlertInputs:
    """Everything the market state does not hold, as plain data.

    ``fills`` are the fills since the previous ``evaluate`` (repeats are
    recognised by ``(order_id, fill_id)`` and ignored); the mappings are the
    current values, keyed by order id (``queue_positions``: orders ahead of
    ours at its level, 0 = first in line; ``fill_probabilities``: 0 to 1) or
    by symbol (``rate_counters``: the trading rate counter in percent of
    Kraken's threshold).
    """

    fills: Sequence[OwnFill] = ()
    queue_positions: Mapping[str, OrderGauge] = field(default_factory=dict)
    fill_probabilities: Mapping[str, OrderGauge] = field(default_factory=dict)
    rate_counters: Mapping[str, float] = field(default_factory=dict)

    def symbols(self) -> set[str]:
        """Every symbol the inputs mention (for ``symbol = "*"`` rules)."""
        out = {f.symbol for f in self.fills}
        out.update(g.symbol for g in self.queue_positions.values())
        out.update(g.symbol for g in self.fill_probabilities.values())
        out.update(self.rate_counters)
        return out


_NO_INPUTS = AlertInputs()


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """One alert that fired: what, where, the value that made it fire, and when."""

    name: str
    symbol: str
    kind: str
    level: str
    value: str
    message: str
    at: float
    wall: float
    notify: tuple[str, ...] = ()
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (history lines, ``havterm watch --json``, the command hook's stdin)."""
        return {
            "t": round(self.wall, 6),
            "name": self.name,
            "symbol": self.symbol,
            "kind": self.kind,
            "level": self.level,
            "value": self.value,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FiredAlert:
        """Back from ``to_dict`` (history reader); raises KeyError/TypeError/ValueError on junk."""
        wall = float(d["t"])
        return cls(
            name=str(d["name"]),
            symbol=str(d["symbol"]),
            kind=str(d["kind"]),
            level=str(d["level"]),
            value=str(d["value"]),
            message=str(d["message"]),
            at=wall,
            wall=wall,
        )


class _RuleState:
    """Per (rule, symbol) memory: armed flag, last firing, and kind-specific data."""

    __slots__ = ("armed", "data", "last_fired", "since")

    def __init__(self, armed: bool) -> None:
        self.armed = armed
        self.last_fired: float | None = None
        self.since: float | None = None
        self.data: Any = None


# A check returns (value text, message) when its condition fires, else None.
_Check = Callable[[Rule, _RuleState, str, SymbolState | None, float, AlertInputs], tuple[str, str] | None]

FED_KINDS = frozenset(
    {"own_order_filled", "queue_position_at_most", "fill_probability_at_least", "rate_counter_above"}
)
"""Kinds whose values come from ``AlertInputs`` (the trading and analytics layers), not the market state."""


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.2f}"


def _price(st: SymbolState | None, source: str) -> Decimal | None:
    if st is None:
        return None
    if source == "last":
        return st.last_price
    book = st.book
    if book is None or st.book_state is not BookState.SYNCED:
        return None
    if source == "mid":
        return book.mid()
    top = book.best_bid() if source == "bid" else book.best_ask()
    return None if top is None else book.price(top[0])


def _synced_book(st: SymbolState | None) -> L2Book | None:
    if st is None or st.book is None or st.book_state is not BookState.SYNCED:
        return None
    return st.book


class AlertEngine:
    """Evaluates a set of rules; keeps each rule's armed state, cooldown and history between calls."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._rules: list[Rule] = []
        self._state: dict[Rule, dict[str, _RuleState]] = {}
        self._checks: dict[RuleKind, _Check] = {
            RuleKind.PRICE_ABOVE: self._check_price,
            RuleKind.PRICE_BELOW: self._check_price,
            RuleKind.MOVE_PCT: self._check_move,
            RuleKind.SPREAD_ABOVE_BPS: self._check_spread,
            RuleKind.IMBALANCE_ABOVE: self._check_imbalance,
            RuleKind.IMBALANCE_BELOW: self._check_imbalance,
            RuleKind.PRESSURE_ABOVE: self._check_pressure,
            RuleKind.PRESSURE_BELOW: self._check_pressure,
            RuleKind.TRADE_SIZE_AT_LEAST: self._check_trade_size,
            RuleKind.LARGE_ORDER: self._check_large_order,
            RuleKind.BOOK_NOT_SYNCED_FOR: self._check_not_synced,
            RuleKind.MARKET_STALE_FOR: self._check_stale,
            RuleKind.OWN_ORDER_FILLED: self._check_own_fill,
            RuleKind.QUEUE_POSITION_AT_MOST: self._check_queue,
            RuleKind.FILL_PROBABILITY_AT_LEAST: self._check_fill_prob,
            RuleKind.RATE_COUNTER_ABOVE: self._check_rate,
            RuleKind.FUNDING_ABOVE: self._check_funding,
            RuleKind.FUNDING_BELOW: self._check_funding,
        }
        self._active: list[tuple[Rule, _Check, dict[str, _RuleState]]] = []
        self.set_rules(rules)

    # ------------------------------------------------------------------ rule set

    @property
    def rules(self) -> list[Rule]:
        """The rules, in order (a copy)."""
        return list(self._rules)

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules; an unchanged rule keeps its armed state and cooldown."""
        self._rules = list(rules)
        names = [r.name for r in self._rules]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise RuleError(f"two rules are named {dup!r}")
        # Per-rule state is looked up here, once, by the rule's value (hashing a rule costs a few
        # microseconds); evaluate() then only indexes the per-symbol dict.
        old = self._state
        self._state = {r: old.get(r, {}) for r in self._rules}
        self._active = [(r, self._checks[r.rule_kind], self._state[r]) for r in self._rules if r.enabled]

    def reset(self) -> None:
        """Forget every rule's armed state, cooldown and history."""
        for per_symbol in self._state.values():
            per_symbol.clear()

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        state: MarketState,
        now: float,
        inputs: AlertInputs | None = None,
        wall: float | None = None,
    ) -> list[FiredAlert]:
        """The alerts that fire at ``now`` (monotonic seconds); ``wall`` (epoch) defaults to ``now``."""
        inp = inputs if inputs is not None else _NO_INPUTS
        out: list[FiredAlert] = []
        symbols = state.symbols
        market_symbols: list[str] | None = None
        fed_symbols: list[str] | None = None
        for rule, check, states in self._active:
            if rule.symbol == "*":
                # Market kinds apply to the symbols the state holds; the trading kinds also to any
                # symbol the inputs mention (an order on a symbol not on screen still fills).
                if rule.kind in FED_KINDS:
                    if fed_symbols is None:
                        fed_symbols = sorted(set(symbols) | inp.symbols())
                    targets: Sequence[str] = fed_symbols
                else:
                    if market_symbols is None:
                        market_symbols = sorted(symbols)
                    targets = market_symbols
            else:
                targets = (rule.symbol,)
            for sym in targets:
                rs = states.get(sym)
                if rs is None:
                    rs = states[sym] = _RuleState(armed=not rule.cross)
                hit = check(rule, rs, sym, symbols.get(sym), now, inp)
                if hit is not None:
                    rs.last_fired = now
                    out.append(
                        FiredAlert(
                            name=rule.name,
                            symbol=sym,
                            kind=rule.kind,
                            level=str(rule.level),
                            value=hit[0],
                            message=hit[1],
                            at=now,
                            wall=now if wall is None else wall,
                            notify=rule.notify,
                            command=rule.command,
                        )
                    )
        return out

    # ------------------------------------------------------------------ shared logic

    @staticmethod
    def _cooling(rule: Rule, rs: _RuleState, now: float) -> bool:
        return rs.last_fired is not None and now - rs.last_fired < rule.cooldown_s

    def _level(
        self, rule: Rule, rs: _RuleState, now: float, value: float | Decimal | None, above: bool
    ) -> bool:
        """Armed + reached + not cooling = fire; re-arm once back past the level by the hysteresis."""
        if value is None:
            return False
        level = rule.level
        if not isinstance(value, Decimal):
            fl = rule._flevel
            hyst = rule._fhyst
            reached = value >= fl if above else value <= fl
            back = value < fl - hyst if above else value > fl + hyst
        else:
            dh = rule._dhyst
            reached = value >= level if above else value <= level
            back = value < level - dh if above else value > level + dh
        if not rs.armed:
            if back:
                rs.armed = True
            return False
        if reached and not self._cooling(rule, rs, now):
            rs.armed = False
            return True
        return False

    def _duration(self, rule: Rule, rs: _RuleState, now: float, since: float | None) -> float | None:
        """``since`` is when the condition began (None = not holding); fire once it lasted ``level`` s."""
        if since is None:
            rs.armed = True
            return None
        held = now - since
        if rs.armed and held >= float(rule.level) and not self._cooling(rule, rs, now):
            rs.armed = False
            return held
        return None

    # ------------------------------------------------------------------ kinds

    def _check_price(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        price = _price(st, rule.source)
        above = rule.kind == "price_above"
        if not self._level(rule, rs, now, price, above):
            return None
        word = "above" if above else "below"
        return str(price), f"{sym} {rule.source} {price} is {word} {rule.level}"

    def _check_move(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        p = _price(st, rule.source)
        if p is None:
            return None
        price = float(p)
        if price <= 0:
            return None
        data = rs.data
        if data is None:
            # Monotonic deques of (t, price): the window's min (for up moves) and max (for down moves).
            data = rs.data = (deque(), deque())
        lows: deque[tuple[float, float]] = data[0]
        highs: deque[tuple[float, float]] = data[1]
        horizon = now - rule.window_s
        while lows and lows[0][0] < horizon:
            lows.popleft()
        while highs and highs[0][0] < horizon:
            highs.popleft()
        while lows and lows[-1][1] >= price:
            lows.pop()
        lows.append((now, price))
        while highs and highs[-1][1] <= price:
            highs.pop()
        highs.append((now, price))
        pct = float(rule.level)
        ref = lows[0][1] if pct > 0 else highs[0][1]
        move = (price / ref - 1.0) * 100.0
        if (move >= pct if pct > 0 else move <= pct) and not self._cooling(rule, rs, now):
            # Start the window again from here: the next alert needs another full move.
            lows.clear()
            highs.clear()
            lows.append((now, price))
            highs.append((now, price))
            return (
                f"{move:.4f}",
                f"{sym} moved {move:+.2f} % within {rule.window_s:g} s (from {ref:g} to {p})",
            )
        return None

    def _check_spread(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        book = _synced_book(st)
        bps: float | None = None
        if book is not None:
            bb, ba = book.best_bid(), book.best_ask()
            if bb is not None and ba is not None and bb[0] + ba[0] > 0:
                bps = (ba[0] - bb[0]) * 20000.0 / (ba[0] + bb[0])
        if not self._level(rule, rs, now, bps, True):
            return None
        assert bps is not None
        return f"{bps:.2f}", f"{sym} spread {bps:.2f} bps is above {rule.level} bps"

    def _check_imbalance(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        book = _synced_book(st)
        ratio = imbalance_ratio(book, rule.depth) if book is not None else None
        above = rule.kind == "imbalance_above"
        if not self._level(rule, rs, now, ratio, above):
            return None
        assert ratio is not None
        word = "above" if above else "below"
        return f"{ratio:.4f}", f"{sym} imbalance {ratio:+.3f} over {rule.depth} levels is {word} {rule.level}"

    def _check_pressure(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        book = _synced_book(st)
        value = pressure_value(book, rule.depth) if book is not None else None
        above = rule.kind == "pressure_above"
        if not self._level(rule, rs, now, value, above):
            return None
        assert value is not None
        word = "above" if above else "below"
        return f"{value:.4f}", f"{sym} book pressure {value:+.3f} is {word} {rule.level}"

    def _check_funding(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        # Percent per funding period, exactly: Kraken's relative rate times 100 (a Spot symbol has none).
        ticker = st.futures if st is not None else None
        rel = ticker.relative_funding if ticker is not None else None
        pct = None if rel is None else rel * 100
        above = rule.kind == "funding_above"
        if not self._level(rule, rs, now, pct, above):
            return None
        assert pct is not None
        word = "above" if above else "below"
        shown = f"{pct.normalize():f}"
        return shown, f"{sym} funding {shown} % per hour is {word} {rule.level} %"

    def _check_trade_size(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        if st is None or not st.trades:
            return None
        trades = st.trades
        marker = rs.data
        newest = trades[-1]
        rs.data = newest
        if marker is None:
            return None  # the tape as first seen (a snapshot of old trades) is history, not news
        if newest is marker:
            return None
        side = {"bid": "buy", "ask": "sell"}.get(rule.side, rule.side)
        best = None
        count = 0
        for tr in reversed(trades):
            if tr is marker:
                break
            if tr.qty >= rule.level and (side == "both" or tr.side == side):
                count += 1
                if best is None or tr.qty > best.qty:
                    best = tr
        if best is None or self._cooling(rule, rs, now):
            return None
        more = f" (+{count - 1} more)" if count > 1 else ""
        return str(best.qty), f"{sym} {best.side} trade {best.qty} @ {best.price} >= {rule.level}{more}"

    def _check_large_order(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        book = _synced_book(st)
        if book is None:
            return None  # keep what we knew; a resync must not read as every order vanishing
        qp = book.qty_precision
        data = rs.data
        if data is None or data[0] != qp:
            lots = int(rule.level.scaleb(qp).to_integral_value())
            low = int((rule.level * (1 - rule.effective_hysteresis)).scaleb(qp).to_integral_value())
            data = rs.data = [qp, max(lots, 1), max(low, 1), None]
        lots, low, prev = data[1], data[2], data[3]
        cur: dict[tuple[str, int], int] = {}
        bounds: dict[str, int] = {}
        for side, levels in (("bid", book.bids(rule.depth)), ("ask", book.asks(rule.depth))):
            if rule.side not in ("both", side, "buy" if side == "bid" else "sell"):
                continue
            if levels:
                bounds[side] = levels[-1][0]
            for ticks, q in levels:
                # A level already known as large stays large until it drops below the hysteresis floor.
                if q >= lots or (prev is not None and q >= low and (side, ticks) in prev):
                    cur[(side, ticks)] = q
        data[3] = cur
        if prev is None:
            prev = {}
        events: list[str] = []
        if rule.event in ("both", "appear"):
            for (side, ticks), q in cur.items():
                if (side, ticks) not in prev:
                    events.append(f"{side} {book.format_qty(q)} @ {book.format_price(ticks)} appeared")
        if rule.event in ("both", "vanish"):
            for (side, ticks), q in prev.items():
                if (side, ticks) in cur:
                    continue
                edge = bounds.get(side)
                # Gone from inside the watched range = vanished; past its edge it only scrolled out.
                inside = edge is not None and (ticks >= edge if side == "bid" else ticks <= edge)
                if inside:
                    events.append(f"{side} {book.format_qty(q)} @ {book.format_price(ticks)} vanished")
        if not events or self._cooling(rule, rs, now):
            return None
        return str(len(events)), f"{sym} large order: " + "; ".join(events[:3]) + (
            f" (+{len(events) - 3} more)" if len(events) > 3 else ""
        )

    def _check_not_synced(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        synced = st is not None and st.synced
        if synced:
            rs.since = None
        elif rs.since is None:
            rs.since = now
        held = self._duration(rule, rs, now, rs.since)
        if held is None:
            return None
        why = (
            "no state"
            if st is None
            else st.book_state.value + (f": {st.book_reason}" if st.book_reason else "")
        )
        return f"{held:.1f}", f"{sym} book not synced for {held:.1f} s ({why})"

    def _check_stale(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        last = st.last_update_at if st is not None else None
        if last is not None:
            rs.since = None
            since = last
        else:
            # Nothing ever arrived: count from the first time we looked.
            if rs.since is None:
                rs.since = now
            since = rs.since
        if now - since < rule._flevel:
            rs.armed = True
            return None
        held = self._duration(rule, rs, now, since)
        if held is None:
            return None
        health = st.health.value if st is not None else "no data"
        return f"{held:.1f}", f"{sym} no market data for {held:.1f} s ({health})"

    def _check_own_fill(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        if not inp.fills:
            return None
        seen = rs.data
        if seen is None:
            seen = rs.data = (set(), deque())
        seen_set: set[tuple[str, str]] = seen[0]
        order: deque[tuple[str, str]] = seen[1]
        frac_needed = float(rule.level) if rule.level > 0 else 0.0
        hits: list[OwnFill] = []
        for f in inp.fills:
            if f.symbol != sym or (rule.order_id is not None and f.order_id != rule.order_id):
                continue
            key = (f.order_id, f.fill_id)
            if key in seen_set:
                continue
            if f.fraction + 1e-12 < frac_needed:
                continue
            # Remember a bounded number of fills: enough to ignore a re-sent batch.
            seen_set.add(key)
            order.append(key)
            if len(order) > 4096:
                seen_set.discard(order.popleft())
            hits.append(f)
        if not hits or self._cooling(rule, rs, now):
            return None
        f = hits[-1]
        state = "filled" if f.fraction >= 1 else f"{f.fraction * 100:.0f} % filled"
        more = f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""
        return (
            f"{f.fraction:.4f}",
            f"{sym} own {f.side} order {f.order_id} {state}: {f.qty} @ {f.price}{more}",
        )

    def _gauge(
        self, rule: Rule, sym: str, gauges: Mapping[str, OrderGauge], best_low: bool
    ) -> tuple[str, float] | None:
        best: tuple[str, float] | None = None
        for oid, g in gauges.items():
            if g.symbol != sym or (rule.order_id is not None and oid != rule.order_id):
                continue
            if best is None or (g.value < best[1] if best_low else g.value > best[1]):
                best = (oid, g.value)
        return best

    def _check_queue(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        g = self._gauge(rule, sym, inp.queue_positions, True)
        if not self._level(rule, rs, now, None if g is None else g[1], False):
            return None
        assert g is not None
        return _fmt(g[1]), f"{sym} order {g[0]} queue position {_fmt(g[1])} (at most {rule.level})"

    def _check_fill_prob(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        g = self._gauge(rule, sym, inp.fill_probabilities, False)
        if not self._level(rule, rs, now, None if g is None else g[1], True):
            return None
        assert g is not None
        return f"{g[1]:.4f}", f"{sym} order {g[0]} fill probability {g[1]:.0%} (at least {rule.level})"

    def _check_rate(
        self, rule: Rule, rs: _RuleState, sym: str, st: SymbolState | None, now: float, inp: AlertInputs
    ) -> tuple[str, str] | None:
        v = inp.rate_counters.get(sym)
        if not self._level(rule, rs, now, v, True):
            return None
        assert v is not None
        return f"{v:.1f}", f"{sym} trading rate counter {v:.1f} % is above {rule.level} %"
