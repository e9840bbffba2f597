"""The exchange as one object: engines, synthetic market, feeds, servers, and the in-process API."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve

from havterm.sim.faults import FaultController, FaultSpec, parse_faults
from havterm.sim.feeds import SymbolFeed
from havterm.sim.ids import IdFactory
from havterm.sim.instruments import DEFAULT_SYMBOLS, Instrument, make_instrument
from havterm.sim.market import SyntheticFlow
from havterm.sim.matching import MatchingEngine, OpLog
from havterm.sim.rest import RestServer
from havterm.sim.server import Gateway
from havterm.sim.session import HEARTBEAT, Session
from havterm.sim.tokens import TokenStore
from havterm.sim.trading import Trading
from havterm.sim.wire import dumps, now_ns, raw

log = logging.getLogger("havterm.sim")

T = TypeVar("T")

SYSTEM_STATES = ("online", "maintenance", "cancel_only", "post_only")


@dataclass
class SimConfig:
    """How to run the exchange. Every field has a working default."""

    host: str = "127.0.0.1"
    """Interface to bind; loopback unless told otherwise."""
    port: int = 0
    """Public WS port; auth, level3 and REST take the next three. 0: all ephemeral."""
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    """Pairs to list, ``BASE/QUOTE``: the whole Spot listing, fixed for the exchange's life.

    Whoever configures the exchange (a test, ``havterm sim --symbols``) decides
    it; a client's subscription never adds to it (the demo keeps the default).
    """
    seed: int = 1
    """Seed for the synthetic flow, ids and fault dice: same seed, same market."""
    rate: float = 100.0
    """Synthetic engine operations per second, over all symbols together."""
    faults: str | FaultSpec = ""
    """Faults in force from the start (``--faults`` syntax)."""
    market: bool = True
    """Run the synthetic flow from the start (``False``: step it by hand)."""
    api_key: str | None = None
    """Accepted API key; generated when ``None``."""
    api_secret: str | None = field(default=None, repr=False)
    """Its base64 secret; generated when ``None``. Never logged."""
    balances: dict[str, str] | None = None
    """Starting balances of the test account (asset -> decimal text)."""
    tier: str = "intermediate"
    """Kraken rate-limit tier: starter, intermediate or pro."""


class Exchange:
    """A Kraken v2-compatible exchange on loopback.

    ``async with Exchange(SimConfig(seed=7, market=False)) as ex:`` starts the
    servers; ``ex.endpoints`` names them; ``ex.step(n)`` drives the market
    by hand; ``ex.faults`` breaks things.
    """

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        cfg = config or SimConfig()
        for k, v in overrides.items():
            setattr(cfg, k, v)
        self.config = cfg
        spec = cfg.faults if isinstance(cfg.faults, FaultSpec) else parse_faults(cfg.faults)
        self.faults = FaultController(spec)
        self.faults.on_change = self._faults_changed
        self.faults.disconnect = self.disconnect
        self.instruments: dict[str, Instrument] = {s: make_instrument(s) for s in cfg.symbols}
        self.engines: dict[str, MatchingEngine] = {s: MatchingEngine(s) for s in cfg.symbols}
        self.feeds: dict[str, SymbolFeed] = {
            s: SymbolFeed(self.instruments[s], self.engines[s]) for s in cfg.symbols
        }
        self.flows: dict[str, SyntheticFlow] = {}
        ts = now_ns()
        for i, s in enumerate(cfg.symbols):
            flow = SyntheticFlow(
                self.instruments[s], cfg.seed, IdFactory("O", cfg.seed * 1009 + i * 7919 + 1)
            )
            flow.seed_book(self.engines[s], ts)
            self.flows[s] = flow
        self.tokens = TokenStore(cfg.api_key, cfg.api_secret)
        self.trading = Trading(self)
        self.sessions: dict[int, Session] = {}
        self.system = "online"
        self.ops = 0
        self._cid_rng = random.Random(f"cid/{cfg.seed}")
        self._rr = 0  # round-robin position over symbols
        self._servers: list[Server] = []
        self._rest: RestServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._market_on = cfg.market
        self._rate = cfg.rate
        self._maint_handle: asyncio.TimerHandle | None = None
        self.endpoints: dict[str, Any] = {}
        self._started = False

    def __repr__(self) -> str:
        return f"Exchange(symbols={list(self.instruments)}, endpoints={self.endpoints.get('ws')!r})"

    # -- lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> Exchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> dict[str, Any]:
        """Bind the servers and start the market; returns :attr:`endpoints`."""
        host, port = self.config.host, self.config.port
        urls: dict[str, str] = {}
        for i, kind in enumerate(("public", "auth", "l3")):
            gw = Gateway(self, kind)
            srv = await serve(
                gw.handler,
                host,
                port + i if port else 0,
                ping_interval=30,
                ping_timeout=30,
                max_queue=256,
                compression=None,
            )
            self._servers.append(srv)
            p = srv.sockets[0].getsockname()[1]
            urls[kind] = f"ws://{_host_for_url(host)}:{p}/v2"
        self._rest = RestServer(self)
        rport = await self._rest.start(host, port + 3 if port else 0)
        self.endpoints = {
            "ws": urls["public"],
            "ws_auth": urls["auth"],
            "ws_l3": urls["l3"],
            "rest": f"http://{_host_for_url(host)}:{rport}",
            "api_key": self.tokens.primary.key,
            "api_secret": self.tokens.primary.secret,
        }
        from havterm.sim.futures import FuturesVenue

        self.futures = FuturesVenue(self.config.seed, rate=self._futures_rate())
        if not self._market_on:
            self.futures.paused = True
        self.endpoints["futures_ws"] = await self.futures.start(host, port + 4 if port else 0)
        self._tasks.append(asyncio.create_task(self._heartbeats(), name="sim-heartbeat"))
        self._tasks.append(asyncio.create_task(self._market_loop(), name="sim-market"))
        self._arm_maintenance()
        self._started = True
        return self.endpoints

    async def stop(self) -> None:
        """Close every connection and server; cancel timers."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        self.trading.shutdown()
        if getattr(self, "futures", None) is not None:
            await self.futures.stop()
        if self._maint_handle:
            self._maint_handle.cancel()
        for srv in self._servers:
            srv.close()
        for srv in self._servers:
            await srv.wait_closed()
        self._servers.clear()
        for s in list(self.sessions.values()):
            s.stop()
        if self._rest:
            await self._rest.stop()

    # -- the one path every book change takes ---------------------------------

    def apply(self, symbol: str, action: Callable[[MatchingEngine], T]) -> tuple[OpLog, T]:
        """Run ``action(engine)`` as one operation and publish what it changed."""
        eng = self.engines[symbol]
        eng.begin(now_ns())
        try:
            result = action(eng)
        finally:
            oplog = eng.end()
        self.ops += 1
        self.feeds[symbol].publish(oplog)
        self.trading.on_op(symbol, oplog)
        return oplog, result

    # -- market control ---------------------------------------------------------

    def step(self, n: int = 1, symbol: str | None = None) -> None:
        """Perform ``n`` synthetic operations now (round-robin over symbols unless given)."""
        syms = list(self.flows)
        for _ in range(n):
            if symbol is None:
                sym = syms[self._rr % len(syms)]
                self._rr += 1
            else:
                sym = symbol
            self.apply(sym, self.flows[sym].step)

    def pause_market(self) -> None:
        """Stop the background flow (the book stays as it is)."""
        self._market_on = False
        if getattr(self, "futures", None) is not None:
            self.futures.paused = True

    def resume_market(self) -> None:
        """Restart the background flow at the current rate."""
        self._market_on = True
        if getattr(self, "futures", None) is not None:
            self.futures.paused = False

    def run_market(self, rate: float | None = None) -> None:
        """Run the background flow, optionally at a new total rate (operations/s)."""
        if rate is not None:
            self._rate = float(rate)
        self._market_on = True
        if getattr(self, "futures", None) is not None:
            self.futures.rate = self._futures_rate()
            self.futures.paused = False

    def _futures_rate(self) -> float:
        """Futures operations per second over all products: a quarter of the Spot rate, at least 5.

        Each product then runs a few dozen operations a second in the demo, enough
        for a live book and tape without doubling the exchange's load.
        """
        return max(5.0, self._rate / 4)

    @property
    def rate(self) -> float:
        """Current synthetic rate, operations per second over all symbols."""
        return self._rate

    async def _market_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        due = 0.0
        burst_rng = random.Random(f"burst/{self.config.seed}")
        burst_until = 0.0
        while True:
            await asyncio.sleep(0.005)
            now = loop.time()
            dt, last = now - last, now
            # Nothing matches outside "online" (maintenance, cancel_only, post_only).
            if not self._market_on or self._rate <= 0 or self.system != "online":
                due = 0.0
                continue
            # Bursts: now and then the whole market runs four times faster for a while.
            if now >= burst_until and burst_rng.random() < dt * 0.05:
                burst_until = now + 0.5 + burst_rng.random() * 1.5
            mult = 4.0 if now < burst_until else 1.0
            due += self._rate * mult * min(dt, 0.25)
            n = int(due)
            if n:
                due -= n
                self.step(n)

    # -- connections --------------------------------------------------------------

    def open_session(self, kind: str, ws: ServerConnection) -> Session:
        """Register a new connection."""
        cid = self._cid_rng.getrandbits(64)
        while cid in self.sessions or cid == 0:
            cid = self._cid_rng.getrandbits(64)
        s = Session(cid, kind, ws, self.faults, cid ^ self.config.seed)
        self.sessions[cid] = s
        s.arm_disconnect()
        return s

    def close_session(self, s: Session) -> None:
        """Forget a closed connection everywhere."""
        self.sessions.pop(s.id, None)
        for feed in self.feeds.values():
            feed.remove(s.id)
        self.trading.on_close(s)
        self.tokens.release(s.id)
        self.faults.forget(s.id)
        s.stop()

    def disconnect(self, cid: int, code: int | None = 1001) -> None:
        """Drop connection ``cid`` now (1001 close frame, 1006 abort, ``None`` no frame)."""
        s = self.sessions.get(cid)
        if s is not None:
            s.disconnect(code)

    def _faults_changed(self, cid: int | None) -> None:
        targets = (
            self.sessions.values() if cid is None else [self.sessions[cid]] if cid in self.sessions else []
        )
        for s in list(targets):
            s.arm_disconnect()
        if cid is None:
            self._arm_maintenance()

    def _arm_maintenance(self) -> None:
        if self._maint_handle:
            self._maint_handle.cancel()
            self._maint_handle = None
        after = self.faults.global_spec.maintenance_after
        if after > 0:
            loop = asyncio.get_running_loop()
            self._maint_handle = loop.call_later(after, self.set_system, "maintenance")

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued frame has been handed to the sockets."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while any(s.pending() and not s.closed for s in self.sessions.values()):
            if loop.time() > end:
                raise TimeoutError("frames still queued")
            await asyncio.sleep(0.001)

    # -- status, instruments, heartbeats -------------------------------------------

    def set_system(self, state: str) -> None:
        """Change the engine status and tell every connection (``status`` channel)."""
        if state not in SYSTEM_STATES:
            raise ValueError(f"system state must be one of {SYSTEM_STATES}")
        self.system = state
        for s in list(self.sessions.values()):
            s.push(self.status_frame(s.id), "ctl")

    def status_frame(self, cid: int) -> str:
        """The ``status`` message, keys in the recorded wire order."""
        return dumps(
            {
                "channel": "status",
                "type": "update",
                "data": [
                    {"version": "2.0.10", "system": self.system, "api_version": "v2", "connection_id": cid}
                ],
            }
        )

    def instrument_frame(self) -> str:
        """The ``instrument`` snapshot for every listed pair and its assets."""
        assets: dict[str, dict[str, Any]] = {}
        pairs = []
        for inst in self.instruments.values():
            for a in (inst.base, inst.quote):
                if a not in assets:
                    fiat = a in ("USD", "EUR", "GBP")
                    assets[a] = {
                        "id": a,
                        "status": "enabled",
                        "precision": 4 if fiat else 10,
                        "precision_display": 2 if fiat else 5,
                        "borrowable": False,
                        "collateral_value": raw("1.0"),
                        "margin_rate": raw("0.0"),
                    }
            pairs.append(
                {
                    "symbol": inst.symbol,
                    "base": inst.base,
                    "quote": inst.quote,
                    "status": "online",
                    "qty_precision": inst.qty_precision,
                    "qty_increment": raw(inst.fmt_qty_increment()),
                    "price_precision": inst.price_precision,
                    "cost_precision": 5,
                    "marginable": False,
                    "has_index": True,
                    "cost_min": raw(inst.cost_min),
                    "tick_size": raw(inst.fmt_price_unit()),
                    "price_increment": raw(inst.fmt_price_unit()),
                    "qty_min": raw(_fmt_plain(inst.qty_min, inst.qty_precision)),
                }
            )
        return dumps(
            {
                "channel": "instrument",
                "type": "snapshot",
                "data": {"assets": list(assets.values()), "pairs": pairs},
            }
        )

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for s in list(self.sessions.values()):
                if s.subs and not s.closed:
                    s.push(HEARTBEAT, "data")

    # -- helpers for tests ---------------------------------------------------------

    def book(self, symbol: str) -> MatchingEngine:
        """The matching engine (the exchange's own book) of ``symbol``."""
        return self.engines[symbol]

    def connections(self, kind: str | None = None) -> list[int]:
        """Connection ids, oldest first, optionally of one endpoint kind."""
        return [cid for cid, s in self.sessions.items() if kind is None or s.kind == kind]

    def symbols(self) -> Iterable[str]:
        """Listed symbols."""
        return self.instruments.keys()

    def listing(self) -> list[str]:
        """Everything this exchange lists: its Spot pairs, then its Futures products (once started).

        The list is fixed by the configuration; subscribing to anything else is
        refused as Kraken refuses it, never answered with a made-up market.
        """
        futures = getattr(self, "futures", None)
        return [*self.instruments, *(futures.products if futures is not None else ())]


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _fmt_plain(units: int, precision: int) -> str:
    """Decimal text without needless trailing zeros (``0.0001``), as REST/instrument print it."""
    from havterm.engine.fixed import format_units

    s = format_units(units, precision)
    return s.rstrip("0").rstrip(".") if "." in s else s
