"""Order flow for one symbol: book events, large orders, icebergs, spoof candidates, trades by price."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from havterm.engine.analytics import aggregate
from havterm.engine.book import L2Book
from havterm.engine.book import _Side as _BookSide
from havterm.engine.events import BookMessage, L3Order, Level, Level3Message, Trade, TradeMessage
from havterm.engine.fixed import rescale
from havterm.engine.integrity import BookState
from havterm.engine.l3 import L3Book, _L3Side
from havterm.engine.prints import maker_prints
from havterm.engine.queue import Dynamics, QueueTracker

LARGE_MULT: Final = 10
"""Adaptive "large": this many times the median size of one book change (see ``OrderFlowTracker``)."""
SAMPLES: Final = 1024
"""Sizes kept for the adaptive median (the most recent ones)."""
WARMUP: Final = 64
"""Sizes needed before the adaptive threshold exists; until then nothing is "large"."""
REFRESH: Final = 512
"""New sizes between re-sorts of the sample: the median moves slowly, so it is not kept per message."""
PRUNE_EVERY: Final = 4096
"""Trade messages between sweeps of the per-price dictionaries for entries older than every window."""
TAPE_CAP: Final = 200_000
"""Most trade records kept for trades-by-price, whatever ``profile_s`` says (bounded memory)."""


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class LevelAdded:
    """A new price level in the book's window (a level that only scrolled in from below is not one)."""

    kind: ClassVar[str] = "added"
    t: float
    side: str
    price_ticks: int
    lots: int


@dataclass(frozen=True, slots=True)
class LevelRemoved:
    """A level the exchange deleted; ``lots`` is what it held. Truncation out of the window is not one."""

    kind: ClassVar[str] = "removed"
    t: float
    side: str
    price_ticks: int
    lots: int


@dataclass(frozen=True, slots=True)
class BestChanged:
    """The best bid (``side="buy"``) or ask moved; None when the side was or became empty."""

    kind: ClassVar[str] = "best"
    t: float
    side: str
    old_ticks: int | None
    new_ticks: int | None


@dataclass(frozen=True, slots=True)
class LargeOrderAppeared:
    """An order of at least the large threshold joined the book.

    ``source="l3"``: one order (``order_id`` set). ``source="l2"``: a level
    grew by ``lots`` in one message (no id: L2 cannot see orders).
    """

    kind: ClassVar[str] = "large"
    t: float
    side: str
    price_ticks: int
    lots: int
    order_id: str | None
    source: str


@dataclass(frozen=True, slots=True)
class LargeOrderVanished:
    """A large order left the book (filled, cancelled or moved); ``lots`` is what was left of it.

    From L2 (``source="l2"``): a level shrank by ``lots`` in one message.
    """

    kind: ClassVar[str] = "vanished"
    t: float
    side: str
    price_ticks: int
    lots: int
    order_id: str | None
    source: str


@dataclass(frozen=True, slots=True)
class IcebergRefill:
    """An order at a price was filled and a new one was added there within ``refill_s``, repeatedly.

    ``refills`` counts the refills of this run (at least ``min_refills``),
    ``refilled_lots`` sums their sizes, ``lots`` is this refill's size.
    """

    kind: ClassVar[str] = "iceberg"
    t: float
    side: str
    price_ticks: int
    refills: int
    refilled_lots: int
    lots: int


@dataclass(frozen=True, slots=True)
class SpoofCandidate:
    """A large order cancelled within ``spoof_s`` of being added with no trade at its price meanwhile.

    ``t`` is when it was cancelled and ``added_t`` when it was added; the
    event is emitted ``grace_s`` after ``t``, once no late trade print can
    still turn the cancel into a fill.
    """

    kind: ClassVar[str] = "spoof"
    t: float
    side: str
    price_ticks: int
    lots: int
    order_id: str
    added_t: float

    @property
    def lifetime_s(self) -> float:
        """Seconds the order rested."""
        return self.t - self.added_t


OrderFlowEvent = (
    LevelAdded
    | LevelRemoved
    | BestChanged
    | LargeOrderAppeared
    | LargeOrderVanished
    | IcebergRefill
    | SpoofCandidate
)
"""Every event ``OrderFlowTracker.events`` returns."""

# Events are kept as plain tuples ``(code, *fields)`` and become objects only when asked for:
# a tuple of ints, floats and strs costs a fraction of a frozen dataclass and is not tracked by
# the garbage collector. The code indexes this table.
_CLASSES: Final = (
    LevelAdded,
    LevelRemoved,
    BestChanged,
    LargeOrderAppeared,
    LargeOrderVanished,
    IcebergRefill,
    SpoofCandidate,
)
_ADDED, _REMOVED, _BEST, _APPEARED, _VANISHED, _ICEBERG, _SPOOF = range(7)


# ---------------------------------------------------------------------------- query results


@dataclass(frozen=True, slots=True)
class LevelRates:
    """Adds, cancels and fills at one L3 level over ``elapsed_s`` (from ``QueueTracker.dynamics``).

    ``*_lots`` are exact sums and ``adds``/``cancels``/``fills`` order counts;
    the rates are lots per second.
    """

    side: str
    price_ticks: int
    elapsed_s: float
    add_lots: int
    cancel_lots: int
    fill_lots: int
    adds: int
    cancels: int
    fills: int

    @property
    def add_rate(self) -> float:
        """Lots added per second."""
        return self.add_lots / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cancel_rate(self) -> float:
        """Lots cancelled per second."""
        return self.cancel_lots / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def fill_rate(self) -> float:
        """Lots filled (traded) per second."""
        return self.fill_lots / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PriceTrades:
    """Traded lots at one price (or price bucket) over the profile window.

    ``bought_lots``: taker buys, which lift resting asks (maker side sell).
    ``sold_lots``: taker sells, which hit resting bids (maker side buy).
    """

    price_ticks: int
    bought_lots: int
    sold_lots: int


@dataclass(frozen=True, slots=True)
class OrderFlowSummary:
    """What the UI draws: recent events, per-level rates, trades by price and detector counts.

    ``rates`` holds the top ``levels`` L3 levels of each side (bids best
    first, then asks best first); empty without level3. ``trades`` is sorted
    by price, highest first. ``icebergs`` counts refill runs that reached
    ``min_refills``, ``spoofs`` spoof candidates, both since the start.
    ``large_lots`` is the threshold in force (None while the adaptive one
    warms up).
    """

    symbol: str
    t: float
    version: int
    events: tuple[OrderFlowEvent, ...]
    rates: tuple[LevelRates, ...]
    trades: tuple[PriceTrades, ...]
    large_lots: int | None
    icebergs: int
    spoofs: int
    truncated: int


# ---------------------------------------------------------------------------- the tracker


class _Shadow:
    """What we last saw of one L2 side: sizes by the book's signed key, the far edge, the best price."""

    __slots__ = ("best", "edge", "qty")

    def __init__(self) -> None:
        self.qty: dict[int, int] = {}
        # The worst key held after the previous message when the side held its whole depth (so more
        # lies beyond it), else None: a new level beyond it has scrolled in rather than been added.
        self.edge: int | None = None
        self.best: int | None = None  # best price in ticks


_SYNCED: Final = BookState.SYNCED
_STALE: Final = BookState.STALE


# A resting large order: (added at or None when seen in a snapshot, side, price ticks, lots now).
_Large = tuple[float | None, str, int, int]


class OrderFlowTracker:
    """Order-flow events, L3 detectors, per-level rates and trades by price for one symbol.

    Feed it after the books have applied each message, in arrival order:
    ``on_book`` after ``L2Book.apply``, ``on_l3`` after ``L3Book.apply``
    (optional) and ``on_trades`` with each non-snapshot ``TradeMessage``'s
    trades. Time is always passed in. Per message it does a few dict
    operations per changed level or order and stores events as plain tuples;
    objects, sorting and rates are made at query time (``events``,
    ``snapshot``).

    The application feeds the book channel in batches instead: ``consume``
    takes the book's journal (``L2Book.enable_journal``) once per UI frame and
    gives the same events as ``on_book`` (and, without level3, as
    ``on_trades``), with nothing run per message; level3 and, with level3, the
    trades still come per message. Within one frame the batch's L2 events are
    then stored after that frame's level3 events (each kind stays in time
    order).

    Level events (``LevelAdded``, ``LevelRemoved``, ``BestChanged``) come
    from ``on_book`` or ``consume``; a message's level events come asks first,
    then bids, then the best changes of asks and bids (the order in which the
    book applies it). A level that enters the window from below (the side held
    its full depth and the new level lies beyond the old far edge: the book
    scrolled after a delete) is not "added", and levels the book truncated
    away are not "removed"; both are only counted (``truncated``).

    Large orders: with level3, each order added with at least ``large_lots``
    (``LargeOrderAppeared``) is followed until it leaves (``LargeOrderVanished``).
    Without level3, a level that grows or shrinks by at least ``large_lots`` in
    one message stands for one order appearing or vanishing. The threshold is
    ``large`` lots when given; otherwise ``large_mult`` (10) times the median
    size of the last 1024 book changes: the lots of each order added (L3), or
    each level's size change (L2, where one change is usually one order). The
    median is of *changes*, not of resting levels, so it measures a typical
    order; ten times a typical order is rare in heavy-tailed flows (0.6 %
    of adds in the embedded exchange's market) yet catches walls. It is
    re-sorted once per 512 new sizes (1024 ints, microseconds), never per
    message; until 64 sizes were seen nothing is large.

    Icebergs (level3): a *fill* at a price is an order leaving the book there
    (delete) within ``grace_s`` of a trade print at that price against that
    side, in either order. An add at the same side and price within
    ``refill_s`` after a fill is a *refill* (one per fill). Consecutive refills
    form a run, which a fill left unrefilled for ``refill_s`` ends; from the
    ``min_refills``-th refill on each one emits ``IcebergRefill``. An
    exchange refills an iceberg's tip in the same matching step, so the add
    follows at once: ``refill_s`` is short (0.25 s) and three refills are
    required, because at a busy touch other traders join right after fills
    too. (The embedded exchange has no icebergs; over 6000 operations these
    defaults flag one run there; 1 s and two refills flag 31.) The delete and
    the new tip may come in one level3 message before the print: such an add
    waits for the print (``grace_s``) before it counts.

    Spoof candidates (level3): a large order cancelled (deleted or moved to
    another price) within ``spoof_s`` of being added, with no trade print at
    its price against its side from its add until ``grace_s`` after the
    cancel. Any print at that price counts, even one that took another order
    in the queue: a spoofer's order sits where it does not trade, so this
    stays on the safe side and needs no per-order trade attribution.

    Per-level rates compose with ``QueueTracker`` (its trade-versus-cancel
    classification against the tape): pass the application's own tracker as
    ``queue`` and feed it *before* this one, or leave it None and this
    tracker makes and feeds a private one on the first level3 message.

    Trades by price keep, per price, the lots bought and sold by takers over
    ``profile_s`` (at most ``TAPE_CAP`` records), exactly.

    Public counters: ``version`` (rises with every event), ``icebergs`` (runs
    that reached ``min_refills``), ``spoofs``, ``truncated`` (levels that
    left the L2 window by truncation) and ``entered`` (levels that scrolled
    in). Cost: about 200 interpreter opcodes per book or level3 message and
    300 per trade message in the embedded exchange's flow, where most book
    messages carry an event (``benchmarks/analytics_cost.py`` prints it).
    """

    def __init__(
        self,
        symbol: str,
        *,
        large: int | None = None,
        large_mult: int = LARGE_MULT,
        window_s: float = 60.0,
        profile_s: float = 600.0,
        spoof_s: float = 5.0,
        refill_s: float = 0.25,
        min_refills: int = 3,
        grace_s: float = 2.0,
        max_events: int = 256,
        queue: QueueTracker | None = None,
    ) -> None:
        if large is not None and large <= 0:
            raise ValueError("large must be positive lots")
        self.symbol = symbol
        self.large = large
        self.large_mult = large_mult
        self.window_s = window_s
        self.profile_s = profile_s
        self.spoof_s = spoof_s
        self.refill_s = refill_s
        self.min_refills = min_refills
        self.grace_s = grace_s
        self.queue = queue
        self._feed_queue = queue is None  # a private QueueTracker is made (and fed) on the first level3
        self.version = 0  # rises with every event
        self.icebergs = 0
        self.spoofs = 0
        self.truncated = 0
        self.entered = 0
        self._events: deque[tuple[Any, ...]] = deque(maxlen=max_events)
        # Large threshold.
        self._samples: deque[int] = deque(maxlen=SAMPLES)  # the sizes the median was taken of
        self._fresh: list[int] = []  # sizes since then
        self._due = WARMUP
        self._thr: int | None = large
        # L2.
        self._b = _Shadow()
        self._a = _Shadow()
        self._l2: L2Book | None = None  # the book the shadow mirrors; None until a snapshot
        # The journal path (``consume``) keeps no sizes (the journal carries old and new), only each
        # side's keys in the window, best first, as of the last message consumed: the far edge and
        # truncation are read from them. None until a snapshot (or the first batch) gives a start.
        self._jbook: L2Book | None = None
        self._jkeys_b: list[int] | None = None
        self._jkeys_a: list[int] = []
        self._jbest_b: int | None = None  # best prices (ticks) as of the last message consumed
        self._jbest_a: int | None = None
        self._jnow = 0.0  # the newest arrival time consumed
        self._direct = False  # on_trades was called: trades come that way, not from the journal
        self._pp: int | None = None  # precisions of the books fed (the tape is converted with them)
        self._qp = 0
        # L3. Per-price state is keyed by the book's signed key: +ticks for asks, -ticks for bids.
        self._l3_on = False
        self._l3: L3Book | None = None
        self._edge_b: int | None = None  # level3 far edges, as _Shadow.edge
        self._edge_a: int | None = None
        self._large: dict[str, _Large] = {}
        self._gone: dict[int, float] = {}  # an order left the level then, no print matched it yet
        self._lone: dict[int, float] = {}  # a print at the level then, no delete matched it yet
        self._fill: dict[int, float] = {}  # last fill (leave + print) not yet refilled
        self._ice: dict[int, tuple[int, int, float]] = {}  # run: (refills, refilled lots, last refill time)
        self._maybe: dict[
            int, tuple[float, float, str, int, int]
        ] = {}  # (deleted at, added at, side, ticks, lots)
        self._pend: deque[tuple[float, str, str, int, int, float, float, int]] = deque()
        self._countdown = PRUNE_EVERY  # trade messages until the next sweep of per-price state
        # Trades: last print time per signed key, and the profile.
        self._print: dict[int, float] = {}
        self._tape: deque[tuple[float, int, int, int]] = deque()  # (t, price ticks, bought, sold)
        self._trim_at = 0.0  # the time after which the oldest record leaves the profile
        self._bought: dict[int, int] = {}
        self._sold: dict[int, int] = {}

    # ------------------------------------------------------------------ threshold

    @property
    def large_lots(self) -> int | None:
        """The large threshold in force: ``large`` if given, else the adaptive one (None while warming up)."""
        return self._thr

    def _recompute(self) -> None:
        self._samples.extend(self._fresh)
        self._fresh.clear()
        s = sorted(self._samples)
        self._due = REFRESH
        if self.large is None and s:
            self._thr = max(1, s[len(s) // 2] * self.large_mult)

    def _emit(self, rec: tuple[Any, ...]) -> None:
        self._events.append(rec)
        self.version += 1

    # ------------------------------------------------------------------ L2

    def on_book(self, msg: BookMessage, book: L2Book, now: float) -> None:
        """Take one book message that ``book`` has just applied."""
        # One test for everything unusual (each costs on every message): a snapshot, another book
        # object, a book waiting for its snapshot, a precision change, or never started.
        if (
            msg.snapshot
            or book is not self._l2
            or book.state is not _SYNCED
            or book.price_precision != self._pp
        ):
            if msg.symbol != self.symbol:
                return
            if book.state is not _SYNCED and book.state is not _STALE:
                self._l2 = None  # the book waits for a snapshot; so do we
                return
            if msg.snapshot or book is not self._l2 or book.price_precision != self._pp:
                self._l2_reset(book)
                return
            # A book marked stale (quiet) still applies updates correctly: carry on.
        # Only the sides the message names can change (their best price included). Asks before
        # bids and both sides' level events before either best change: the order in which the book
        # applies a message and so the order ``consume`` meets its changes in the journal (the
        # adaptive threshold depends on the order of its samples, the event list on both).
        ma = self._l2_side(msg.asks, book._asks, self._a, "sell", now) if msg.asks else False
        mb = self._l2_side(msg.bids, book._bids, self._b, "buy", now) if msg.bids else False
        if ma:
            self._l2_moved(book._asks, self._a, "sell", now, book.depth)
        if mb:
            self._l2_moved(book._bids, self._b, "buy", now, book.depth)

    def _l2_side(self, levels: tuple[Level, ...], bs: _BookSide, sh: _Shadow, side: str, now: float) -> bool:
        """Diff one side's levels of the message against the shadow (the hot path of ``on_book``).

        Most changes are a size change at a level that stays: that path is kept to a few dict
        operations; levels coming or going and, without level3, the size samples go to helpers.
        Returns True when a level came or went (``_l2_moved`` is then due).
        """
        qty = bs.qty
        shadow = sh.qty
        sign = bs.sign
        pp = self._pp
        moved = False
        for lv in levels:
            ps = lv.price_scale
            t = lv.price_units if ps == pp else rescale(lv.price_units, ps, pp or 0)
            k = t * sign
            old = shadow.get(k, 0)
            new = qty.get(k, 0)
            if old == new:
                continue
            if new:
                shadow[k] = new
                if old:
                    if not self._l3_on:
                        self._l2_size(side, t, old, new, now)
                    continue
            else:
                del shadow[k]
            moved = True
            self._l2_level(side, t, k, old, new, lv.qty_units, sh, now)
        return moved

    def _l2_level(
        self, side: str, t: int, k: int, old: int, new: int, sent: int, sh: _Shadow, now: float
    ) -> None:
        """A level came (``old`` 0) or went (``new`` 0): an event, unless the window only scrolled."""
        if not old:
            edge = sh.edge
            if edge is not None and k > edge:
                self.entered += 1  # scrolled in from below the window: not new liquidity
                return
            self._emit((_ADDED, now, side, t, new))
        else:
            if sent:
                self.truncated += 1  # set, then cut off by the depth: not a delete
                return
            self._emit((_REMOVED, now, side, t, old))
        if not self._l3_on:
            self._l2_size(side, t, old, new, now)

    def _l2_size(self, side: str, t: int, old: int, new: int, now: float) -> None:
        """Without level3 a level's size change stands for one order: sampled, and maybe a large one."""
        d = new - old if new > old else old - new
        fresh = self._fresh
        fresh.append(d)
        if len(fresh) >= self._due:
            self._recompute()
        thr = self._thr
        if thr is not None and d >= thr:
            self._emit((_APPEARED if new > old else _VANISHED, now, side, t, d, None, "l2"))

    def _l2_moved(self, bs: _BookSide, sh: _Shadow, side: str, now: float, depth: int) -> None:
        """After levels came or went: truncation, the new far edge and the best price."""
        keys = bs.keys
        shadow = sh.qty
        if len(shadow) != len(keys):
            # The book truncated levels the message did not name: they left the window, not the book.
            gone = shadow.keys() - bs.qty.keys()
            for k in gone:
                del shadow[k]
            self.truncated += len(gone)
        sh.edge = keys[-1] if len(keys) >= depth else None
        best = keys[0] * bs.sign if keys else None
        if best != sh.best:
            self._emit((_BEST, now, side, sh.best, best))
            sh.best = best

    def consume(self, entries: Sequence[Any], book: L2Book) -> None:
        """Take a batch of ``book``'s journal (``L2Book.enable_journal``), in arrival order.

        The application's way to feed the L2 side: once per UI frame instead of ``on_book`` and
        ``on_trades`` per message. The book has already worked out each level's old and new size
        while applying, so no shadow of the sizes is kept; the batch gives the same level events,
        best changes, L2 large orders, threshold samples and trades by price as per-message
        feeding, with the float markers (``MarketEngine``'s arrival times) as event times.

        Only each side's window of keys is kept (a list of at most ``depth`` ints, replayed
        through the batch's changes and cut to the depth at each message's end): it gives the far
        edge (a level beyond it entered by scrolling; not "added") and the truncations, which the
        journal does not record. ``TradeMessage`` entries feed trades by price unless ``on_trades``
        is being called directly (a level3 session, where prints must meet the level3 messages in
        arrival order): then the journal's are skipped, so no trade counts twice.

        Where this differs from ``on_book`` (the journal has one entry per level *operation*, and
        truncation only shows at the message's end); all three are rare and need two operations
        on one level, or one more insert than the window has room for, in a single message:

        - a level named twice in one message gives an event per operation (``on_book`` sees the
          net change only);
        - a level set and cut off by the depth in the same message is seen set, then truncated
          (``on_book`` never sees it; one that came from beyond the far edge is, exactly, nothing);
        - the message whose checksum failed still gives its events (the book applied it; the
          batch cannot tell which message failed); the next snapshot starts over quietly.

        A tracker given a book it has not followed (its first batch, or a new book after a
        resubscribe) starts at the first snapshot in the batch, or else quietly at the book as
        it stands at the end of the batch (``[now, BookMessage(symbol, True, (), (), 0)]``, a
        snapshot without levels, says so explicitly). A precision change (wire precision
        widened) starts over quietly at the end of the batch too.
        """
        depth = book.depth
        keys_b = self._jkeys_b
        keys_a = self._jkeys_a
        live = keys_b is not None and book is self._jbook and book.price_precision == self._pp
        if not live:
            keys_b = None
        best_b, best_a = self._jbest_b, self._jbest_a
        # Far edges as signed keys (a new level with a key beyond one has scrolled in), or None
        # while the side does not hold its whole depth.
        edge_b = keys_b[-1] if keys_b is not None and len(keys_b) >= depth else None
        edge_a = keys_a[-1] if len(keys_a) >= depth else None
        sample = not self._l3_on  # with level3 an order's lots are sampled there, not here
        trades = not self._direct
        fresh = self._fresh
        room = self._due - len(fresh)  # samples until the threshold is recomputed
        thr = self._thr
        events = self._events
        emitted = entered = truncated = 0
        moved_b = moved_a = False
        now = self._jnow
        # The hot loop: one pass, one type test per entry; the bid and ask branches are written
        # out rather than shared through locals (packing and unpacking them costs more).
        for e in entries:
            te = type(e)
            if te is float:
                # A message boundary (the next message's arrival time). The end of a message that
                # moved a level: truncation to the depth, the far edge and the best price, asks
                # first as ``on_book`` does. Size changes alone touch none of them.
                if moved_a:
                    moved_a = False
                    if len(keys_a) > depth:
                        cut, scrolled = self._cut(keys_a, depth, edge_a)
                        truncated += cut
                        entered -= scrolled
                    edge_a = keys_a[-1] if len(keys_a) >= depth else None
                    b = keys_a[0] if keys_a else None
                    if b != best_a:
                        events.append((_BEST, now, "sell", best_a, b))
                        emitted += 1
                        best_a = b
                if moved_b:
                    moved_b = False
                    assert keys_b is not None
                    if len(keys_b) > depth:
                        cut, scrolled = self._cut(keys_b, depth, edge_b)
                        truncated += cut
                        entered -= scrolled
                    edge_b = keys_b[-1] if len(keys_b) >= depth else None
                    b = -keys_b[0] if keys_b else None
                    if b != best_b:
                        events.append((_BEST, now, "buy", best_b, b))
                        emitted += 1
                        best_b = b
                now = e
                continue
            if te is tuple:
                if keys_b is None:
                    continue  # no start yet: changes before the first snapshot
                k, old, new = e
                if old and new:
                    # A size change at a level that stays: without level3, one threshold sample.
                    if sample:
                        d = new - old if new > old else old - new
                        fresh.append(d)
                        room -= 1
                        if not room:
                            self._recompute()
                            thr, room = self._thr, self._due
                        if thr is not None and d >= thr:
                            side, t = ("buy", -k) if k < 0 else ("sell", k)
                            events.append(
                                (_APPEARED if new > old else _VANISHED, now, side, t, d, None, "l2")
                            )
                            emitted += 1
                    continue
                if k < 0:
                    moved_b = True
                    if new:
                        insort(keys_b, k)
                        if edge_b is not None and k > edge_b:
                            entered += 1  # scrolled in from beyond the window: not new liquidity
                            continue
                        events.append((_ADDED, now, "buy", -k, new))
                    else:
                        i = bisect_left(keys_b, k)
                        if i < len(keys_b) and keys_b[i] == k:
                            del keys_b[i]
                        events.append((_REMOVED, now, "buy", -k, old))
                else:
                    moved_a = True
                    if new:
                        insort(keys_a, k)
                        if edge_a is not None and k > edge_a:
                            entered += 1
                            continue
                        events.append((_ADDED, now, "sell", k, new))
                    else:
                        i = bisect_left(keys_a, k)
                        if i < len(keys_a) and keys_a[i] == k:
                            del keys_a[i]
                        events.append((_REMOVED, now, "sell", k, old))
                emitted += 1
                if sample:
                    d = new or old
                    fresh.append(d)
                    room -= 1
                    if not room:
                        self._recompute()
                        thr, room = self._thr, self._due
                    if thr is not None and d >= thr:
                        side, t = ("buy", -k) if k < 0 else ("sell", k)
                        events.append((_APPEARED if new else _VANISHED, now, side, t, d, None, "l2"))
                        emitted += 1
            elif te is TradeMessage:
                if trades and not e.snapshot:
                    self._take_trades(e.trades, now)
            elif te is BookMessage and e.symbol == self.symbol:
                # A snapshot: start again from its levels (the book at batch end may be later).
                # One with no levels at all stands for "the book as it stands" (a consumer that
                # starts mid-stream); it is meant to be a batch's last entry.
                moved_a = moved_b = False
                self._precision(book.price_precision, book.qty_precision)
                if e.bids or e.asks:
                    keys_b = self._snapshot_keys(e.bids, -1, depth)
                    keys_a = self._snapshot_keys(e.asks, 1, depth)
                else:
                    keys_b, keys_a = list(book._bids.keys), list(book._asks.keys)
                edge_b = keys_b[-1] if len(keys_b) >= depth else None
                edge_a = keys_a[-1] if len(keys_a) >= depth else None
                best_b = -keys_b[0] if keys_b else None
                best_a = keys_a[0] if keys_a else None
        # The end of the batch is the end of its last message.
        if moved_a:
            if len(keys_a) > depth:
                cut, scrolled = self._cut(keys_a, depth, edge_a)
                truncated += cut
                entered -= scrolled
            b = keys_a[0] if keys_a else None
            if b != best_a:
                events.append((_BEST, now, "sell", best_a, b))
                emitted += 1
                best_a = b
        if moved_b and keys_b is not None:
            if len(keys_b) > depth:
                cut, scrolled = self._cut(keys_b, depth, edge_b)
                truncated += cut
                entered -= scrolled
            b = -keys_b[0] if keys_b else None
            if b != best_b:
                events.append((_BEST, now, "buy", best_b, b))
                emitted += 1
                best_b = b
        # Most frames of a quiet book change nothing: write back only what did change.
        if emitted:
            self.version += emitted
        if entered:
            self.entered += entered
        if truncated:
            self.truncated += truncated
        self._jnow = now
        state = book.state
        if state is not _SYNCED and state is not _STALE:
            self._jkeys_b = None  # the book waits for a snapshot; so do we
            return
        if keys_b is None or keys_b != book._bids.keys or keys_a != book._asks.keys:
            # No start yet, a precision change, or (should never happen) a replay that disagrees
            # with the book: adopt the book as it stands, quietly, as after a snapshot.
            self._precision(book.price_precision, book.qty_precision)
            keys_b, keys_a = list(book._bids.keys), list(book._asks.keys)
            best_b = -keys_b[0] if keys_b else None
            best_a = keys_a[0] if keys_a else None
        self._jbook = book
        self._jkeys_b, self._jkeys_a = keys_b, keys_a
        self._jbest_b, self._jbest_a = best_b, best_a

    @staticmethod
    def _cut(keys: list[int], depth: int, edge: int | None) -> tuple[int, int]:
        """Truncate one side's window at a message's end: (levels truncated, scrolls undone).

        A level beyond the far edge the message found (``edge``) came in this same message (every
        level held before lies inside it); cut at once, it was never in any book the exchange
        showed and ``on_book`` never sees it: neither an entry nor a truncation.
        """
        cut = keys[depth:]
        del keys[depth:]
        if edge is None:
            return len(cut), 0
        scrolled = 0
        for k in cut:
            if k > edge:
                scrolled += 1
        return len(cut) - scrolled, scrolled

    def _snapshot_keys(self, levels: tuple[Level, ...], sign: int, depth: int) -> list[int]:
        """A snapshot's signed keys in the window, best first, at the tracker's precision."""
        pp = self._pp or 0
        keys = sorted(
            (lv.price_units if lv.price_scale == pp else rescale(lv.price_units, lv.price_scale, pp)) * sign
            for lv in levels
            if lv.qty_units
        )
        del keys[depth:]
        return keys

    def _l2_reset(self, book: L2Book) -> None:
        """Adopt the book as it stands (a snapshot, a resync or a precision change): no events."""
        self._precision(book.price_precision, book.qty_precision)
        for sh, bs in ((self._b, book._bids), (self._a, book._asks)):
            sh.qty = dict(bs.qty)
            sh.edge = bs.keys[-1] if len(bs.keys) >= book.depth else None
            sh.best = bs.keys[0] * bs.sign if bs.keys else None
        self._l2 = book

    def _precision(self, pp: int, qp: int) -> None:
        if (pp, qp) != (self._pp, self._qp):
            self._pp, self._qp = pp, qp

    # ------------------------------------------------------------------ L3

    def on_l3(self, msg: Level3Message, book: L3Book, now: float) -> None:
        """Take one level3 message that ``book`` has just applied (and a shared ``queue`` has taken)."""
        if self._feed_queue:
            if self.queue is None:
                self.queue = QueueTracker(self.symbol, windows=(self.window_s,), grace_s=self.grace_s)
            self.queue.on_l3(msg, book, now)
        if msg.snapshot or book is not self._l3 or book.state is not _SYNCED:
            if msg.symbol != self.symbol or book.state is not _SYNCED:
                return
            self._l3_reset(book)
            return
        if self._pend and self._pend[0][0] < now:
            self._settle(now)
        if msg.bids:
            self._l3_side(msg.bids, book._bids, "buy", now, book)
        if msg.asks:
            self._l3_side(msg.asks, book._asks, "sell", now, book)

    def _l3_side(self, orders: tuple[L3Order, ...], bs: _L3Side, side: str, now: float, book: L3Book) -> None:
        """The hot path: one pass over one side's order events.

        (A single method looping over both sides measured slower: most messages name one side,
        and the loop's tuple of sides costs more than the second call it saves.)
        """
        sign = bs.sign
        pp, qp = book.price_precision, book.qty_precision
        edge = self._edge_b if sign < 0 else self._edge_a
        large = self._large
        thr = self._thr
        fresh = self._fresh
        fills = self._fill
        gone = self._gone
        lone = self._lone
        grace = self.grace_s
        for o in orders:
            ps = o.price_scale
            t = o.price_units if ps == pp else rescale(o.price_units, ps, pp)
            oid = o.order_id
            ev = o.event
            q = (
                0
                if ev == "delete"
                else o.qty_units
                if o.qty_scale == qp
                else rescale(o.qty_units, o.qty_scale, qp)
            )
            if not q:
                k = t * sign
                lp = lone.pop(k, None) if lone else None
                if lp is not None and now - lp <= grace:
                    self._filled(k, now)  # the print came first
                else:
                    gone[k] = now  # a cancel, or a fill whose print is still to come
                if large and oid in large:
                    self._vanished(oid, now)
            elif ev == "add":
                if large and oid in large:
                    rec = large[oid]
                    if rec[1] == side and rec[2] == t:
                        continue  # re-entering the window: it was here all along
                    self._vanished(oid, now)  # moved: a cancel at its old price
                k = t * sign
                if edge is not None and k > edge:
                    continue  # scrolled in from below the window: not a new order
                fresh.append(q)
                if thr is not None and q >= thr:
                    large[oid] = (now, side, t, q)
                    self._emit((_APPEARED, now, side, t, q, oid, "l3"))
                if fills and k in fills:
                    self._refilled(k, side, t, q, fills.pop(k), now)
                elif gone:
                    g = gone.get(k)
                    if g is not None and now - g <= self.refill_s:
                        # Maybe a refill whose fill's print is still to come (the same level3
                        # message can carry the tip's delete and the new tip): on_trades decides.
                        self._maybe[k] = (g, now, side, t, q)
            elif large and oid in large:
                rec = large[oid]
                if rec[1] == side and rec[2] == t:
                    large[oid] = (rec[0], side, t, q)
                else:
                    self._vanished(oid, now)  # re-priced by a modify: it left its old price
        if len(fresh) >= self._due:
            self._recompute()
        keys = bs.keys
        e = keys[-1] if len(keys) >= book.depth else None
        if sign < 0:
            self._edge_b = e
        else:
            self._edge_a = e

    def _vanished(self, oid: str, now: float) -> None:
        """A followed large order left its price: an event, and maybe a spoof candidate to settle later."""
        added, side, price, lots = self._large.pop(oid)
        self._emit((_VANISHED, now, side, price, lots, oid, "l3"))
        if added is not None and now - added <= self.spoof_s:
            k = -price if side == "buy" else price
            self._pend.append((now + self.grace_s, oid, side, price, lots, added, now, k))

    def _settle(self, now: float) -> None:
        """Decide spoof candidates whose grace has passed: no print at their price since they were added."""
        pend = self._pend
        prints = self._print
        while pend and pend[0][0] < now:
            _, oid, side, price, lots, added, at, k = pend.popleft()
            # Settled before any input later than the deadline is taken, so the last print seen is
            # inside [added, deadline] exactly when the order's price traded during its life.
            lp = prints.get(k)
            if lp is None or lp < added:
                self._emit((_SPOOF, at, side, price, lots, oid, added))
                self.spoofs += 1

    def _filled(self, k: int, now: float) -> None:
        """An order at key ``k`` left the book with a print there: a fill, which a refill may follow."""
        fills = self._fill
        f = fills.get(k)
        if f is not None and now - f > self.refill_s:
            self._ice.pop(k, None)  # the previous fill went unrefilled: that run is over
        fills[k] = now

    def _refilled(self, k: int, side: str, price: int, lots: int, fill_t: float, at: float) -> None:
        """An add at ``at`` after the fill at ``fill_t``: a refill if soon enough, counted in a run."""
        if at - fill_t > self.refill_s:
            self._ice.pop(k, None)
            return
        run = self._ice.get(k)
        if run is None or at - run[2] > self.window_s:
            refills, total = 1, lots
        else:
            refills, total = run[0] + 1, run[1] + lots
        self._ice[k] = (refills, total, at)
        if refills >= self.min_refills:
            if refills == self.min_refills:
                self.icebergs += 1
            self._emit((_ICEBERG, at, side, price, refills, total, lots))

    def _l3_reset(self, book: L3Book) -> None:
        """After a level3 snapshot: follow the large orders resting now (their age unknown: never spoofs)."""
        self._l3_on = True
        self._l3 = book
        self._precision(book.price_precision, book.qty_precision)
        self._large.clear()
        thr = self._thr
        for bs in (book._bids, book._asks):
            e = bs.keys[-1] if len(bs.keys) >= book.depth else None
            if bs.sign < 0:
                self._edge_b = e
            else:
                self._edge_a = e
            if thr is None:
                continue
            side = "buy" if bs.sign < 0 else "sell"
            for k in bs.keys:
                for oid, lots in bs.levels[k].items():
                    if lots >= thr:
                        self._large[oid] = (None, side, k * bs.sign, lots)

    # ------------------------------------------------------------------ trades

    def on_trades(self, trades: Iterable[Trade], now: float) -> None:
        """Take public trades (``TradeMessage.trades``; skip snapshots, which repeat old trades).

        Once this is called, ``consume`` leaves the journal's trade messages alone.
        """
        self._direct = True
        self._take_trades(trades, now)

    def _take_trades(self, trades: Iterable[Trade], now: float) -> None:
        """Trades by price, and with level3 the prints the detectors match deletes with."""
        if self._feed_queue and self.queue is not None:
            self.queue.on_trades(trades, now)
        pp = self._pp
        if pp is None:
            return  # no book yet: no precision to count ticks and lots in
        if self._pend and self._pend[0][0] < now:
            self._settle(now)
        tape = self._tape
        prints = self._print
        bought = self._bought
        sold = self._sold
        l3 = self._l3_on
        # One row per maker side and price (converted once per message, shared with the other
        # trackers). Each print still matches one delete (prints at two prices in one message are
        # matched price by price, not print by print: their events, if any, may come in the other
        # order).
        for maker, tick, size, n, _ in maker_prints(trades, self.symbol, pp, self._qp):
            if maker == "sell":  # a taker buy lifted an ask
                k = tick
                bought[tick] = bought.get(tick, 0) + size
                tape.append((now, tick, size, 0))
            else:
                k = -tick
                sold[tick] = sold.get(tick, 0) + size
                tape.append((now, tick, 0, size))
            prints[k] = now
            if l3:
                for _ in range(n):
                    self._matched(k, now)
        if now > self._trim_at:
            self._trim(now)
        self._countdown -= 1
        if self._countdown <= 0:
            self._prune(now)

    def _matched(self, k: int, now: float) -> None:
        """A print at key ``k``: it makes at most one delete there a fill; each delete takes one print."""
        g = self._gone.pop(k, None) if self._gone else None
        if g is not None and now - g <= self.grace_s:
            m = self._maybe.pop(k, None) if self._maybe else None
            if m is not None and m[0] == g:
                # That delete was followed by an add before this print: the add refilled it.
                self._refilled(k, m[2], m[3], m[4], g, m[1])
            else:
                self._filled(k, now)
        else:
            self._lone[k] = now

    def _trim(self, now: float) -> None:
        """Drop trades older than ``profile_s`` (and beyond ``TAPE_CAP``) from the profile."""
        tape = self._tape
        edge = now - self.profile_s
        while tape and (tape[0][0] < edge or len(tape) > TAPE_CAP):
            _, price, b, s = tape.popleft()
            for d, x in ((self._bought, b), (self._sold, s)):
                if x:
                    left = d[price] - x
                    if left:
                        d[price] = left
                    else:
                        del d[price]
        # The oldest record left decides when the next trim is due; the cap is checked by _prune.
        self._trim_at = tape[0][0] + self.profile_s if tape else now

    def _prune(self, now: float) -> None:
        """Forget per-price state older than every window, and large orders the book no longer holds."""
        self._countdown = PRUNE_EVERY
        if len(self._tape) > TAPE_CAP:
            self._trim(now)
        edge = now - max(self.window_s, self.spoof_s + self.grace_s, self.refill_s + self.grace_s)
        for d in (self._gone, self._lone, self._fill, self._print):
            for k in [k for k, t in d.items() if t < edge]:
                del d[k]
        for k in [k for k, run in self._ice.items() if run[2] < edge]:
            del self._ice[k]
        for k in [k for k, m in self._maybe.items() if m[0] < edge]:
            del self._maybe[k]
        book = self._l3
        if book is not None:
            # Truncated out of the window (no delete will come): forget them; a re-entry is no news.
            for oid in [oid for oid in self._large if book.order(oid) is None]:
                del self._large[oid]

    # ------------------------------------------------------------------ queries

    def events(self, n: int | None = None) -> list[OrderFlowEvent]:
        """The most recent events, newest first (at most ``n``)."""
        out: list[OrderFlowEvent] = []
        for rec in reversed(self._events):
            if n is not None and len(out) >= n:
                break
            out.append(_CLASSES[rec[0]](*rec[1:]))
        return out

    def level_rates(self, side: str, price_ticks: int, now: float, window: float | None = None) -> LevelRates:
        """Adds, cancels and fills at one level over ``window`` (default ``window_s``); 0 without level3."""
        w = self.window_s if window is None else window
        if self.queue is None:
            d = Dynamics(w, 0.0, 0, 0, 0, 0, 0, 0)
        else:
            d = self.queue.dynamics(side, price_ticks, now, w)
        return LevelRates(
            side,
            price_ticks,
            d.elapsed_s,
            d.add_lots,
            d.cancel_lots,
            d.trade_lots,
            d.adds,
            d.cancels,
            d.trades,
        )

    def trades_by_level(self, now: float | None = None, group_ticks: int = 1) -> list[PriceTrades]:
        """Lots bought and sold by takers per price over ``profile_s``, highest price first.

        ``group_ticks`` > 1 buckets prices the way ``analytics.aggregate`` does
        for the side the trades took: sells (which hit bids) round down, buys
        (which lifted asks) round up, so a bucket never shows a better price
        than any of its trades.
        """
        if now is not None:
            self._trim(now)
        bought = sorted(self._bought.items())  # ascending: asks best first
        sold = sorted(self._sold.items(), reverse=True)  # descending: bids best first
        if group_ticks != 1:
            bought = aggregate(bought, "sell", group_ticks)
            sold = aggregate(sold, "buy", group_ticks)
        rows: dict[int, list[int]] = {}
        for p, lots in bought:
            rows.setdefault(p, [0, 0])[0] += lots
        for p, lots in sold:
            rows.setdefault(p, [0, 0])[1] += lots
        return [PriceTrades(p, b, s) for p, (b, s) in sorted(rows.items(), reverse=True)]

    def snapshot(
        self, now: float, *, events: int = 50, levels: int = 10, group_ticks: int = 1
    ) -> OrderFlowSummary:
        """A frozen summary for the UI; settles spoof candidates whose grace ended before ``now``."""
        if self._pend and self._pend[0][0] < now:
            self._settle(now)
        rates: list[LevelRates] = []
        book = self._l3
        if book is not None and self.queue is not None:
            for side in ("buy", "sell"):
                s = book._bids if side == "buy" else book._asks
                for k in s.keys[:levels]:
                    rates.append(self.level_rates(side, k * s.sign, now))
        return OrderFlowSummary(
            symbol=self.symbol,
            t=now,
            version=self.version,
            events=tuple(self.events(events)),
            rates=tuple(rates),
            trades=tuple(self.trades_by_level(now, group_ticks)),
            large_lots=self._thr,
            icebergs=self.icebergs,
            spoofs=self.spoofs,
            truncated=self.truncated,
        )
