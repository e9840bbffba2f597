"""The Textual app: modes for the five screens, app-wide keys, and the hand-off to the bridge."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

from textual.app import App, ScreenStackError, SystemCommand
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen

from havterm.bridge import Bridge, Source
from havterm.config import UiConfig
from havterm.screens import BaseScreen, bindings
from havterm.screens.depth import DepthScreen
from havterm.screens.flow import FlowScreen
from havterm.screens.grid import GridScreen
from havterm.screens.help import HelpScreen
from havterm.screens.ladder import LadderScreen
from havterm.screens.watcher import WatcherScreen
from havterm.widgets.messages import AlertFired, ConnectionChanged, IntegrityChanged, Notice
from havterm.widgets.status import StatusBar

log = logging.getLogger("havterm.ui")

SCREENS = ("ladder", "depth", "flow", "grid", "watcher")


class HavtermApp(App[int]):
    """The dashboard. The bridge pulls engine state at the frame rate; screens draw views."""

    TITLE = "havterm"
    # Toasts sit above the status bar (Textual's default covers it: the clock and latency vanished
    # under every fill), one line of padding less, so they hide less of the queue read-out.
    CSS = """
    Screen { background: #0b0f14; }
    ToastRack { margin-bottom: 2; }
    Toast { padding: 0 1; }
    """
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar = bindings(
        "app.ladder",
        "app.depth",
        "app.flow",
        "app.grid",
        "app.watcher",
        "app.help",
        "app.next_symbol",
        "app.prev_symbol",
        "app.orders",
        "app.quit",
    )
    MODES: ClassVar = {
        "ladder": LadderScreen,
        "depth": DepthScreen,
        "flow": FlowScreen,
        "grid": GridScreen,
        "watcher": WatcherScreen,
    }
    symbol: reactive[str] = reactive("")

    def __init__(
        self,
        source: Source,
        config: UiConfig | None = None,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        freeze_gc: bool = False,
    ) -> None:
        self.config = config or UiConfig()
        super().__init__()
        self.source = source
        self.clock = clock
        self.bridge = Bridge(self, source, fps=self.config.fps, client=client, monotonic=monotonic)
        self.bridge.frame_hook = self.on_frame
        self.set_reactive(HavtermApp.symbol, source.symbols[0] if source.symbols else "")
        self._start: asyncio.Task[None] | None = None
        self._stopped = False
        self._freeze_gc = freeze_gc
        self._dropped = False
        self.phase_history: list[tuple[str, str, str]] = []
        self.frame_errors: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    async def on_mount(self) -> None:
        self.set_keymap(self.config.keys)
        await self.switch_mode("ladder")
        # Start the client in the background so the first frame paints at once.
        self._start = asyncio.create_task(self._start_bridge())

    async def _start_bridge(self) -> None:
        await self.bridge.start()
        if self._freeze_gc:
            # Full collections walk every object alive, and the app's widgets, styles and the
            # engine's tables all are: measured pauses of 60-90 ms, the worst keystroke delays.
            # Freezing what exists after start-up leaves the collector only the churn.
            gc.collect()
            gc.freeze()

    async def on_unmount(self) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop the bridge (client and demo exchange) once."""
        if self._stopped:
            return
        self._stopped = True
        if self._start is not None:
            await asyncio.gather(self._start, return_exceptions=True)
        await self.bridge.stop()

    def on_frame(self, now: float) -> None:
        """Called by the bridge's timer: repaint the visible screen and its status bar."""
        try:
            screen = self.screen
            if getattr(screen, "LIVE_BELOW", False):  # the order ticket: the ladder shows above it, live
                screen = self.screen_stack[-2]
        except ScreenStackError:
            return  # shutting down
        if not isinstance(screen, BaseScreen) or self._stopped:
            return
        if not self.symbol:
            # A replay names its symbols only as they appear: show the first one.
            syms = self.bridge.symbols()
            if syms:
                self.action_select_symbol(syms[0])
                return
        try:
            screen.frame(self.bridge, now)
            conn = self.bridge.conn_view()
            clock = time.strftime("%H:%M:%S UTC", time.gmtime(self.clock()))
            screen.query_one(StatusBar).show(conn, clock)
        except NoMatches:
            return  # the screen is still composing; the next frame will draw it
        except Exception as exc:
            # A drawing bug must not end the session: log it, say it once, keep the feed going.
            log.exception("frame failed")
            if not self.frame_errors:
                self.notify(f"drawing error: {type(exc).__name__}: {exc}", severity="error", timeout=8)
            self.frame_errors.append(f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ discrete events

    def on_connection_changed(self, msg: ConnectionChanged) -> None:
        # Only drops and recoveries deserve a toast; the status bar shows every phase anyway.
        self.phase_history.append((msg.old, msg.new, msg.cause))
        if msg.new in ("disconnected", "closed"):
            if not self._dropped:
                self._dropped = True
                self.notify(f"connection lost: {msg.cause or msg.new}", severity="warning", timeout=4)
        elif msg.new == "subscribed" and self._dropped:
            self._dropped = False
            self.notify("reconnected", timeout=3)

    def on_integrity_changed(self, msg: IntegrityChanged) -> None:
        severity: Literal["information", "warning"] = "information" if msg.state == "synced" else "warning"
        reason = f": {msg.reason}" if msg.reason else ""
        self.notify(f"{msg.symbol} book {msg.state}{reason}", severity=severity, timeout=4)

    def on_alert_fired(self, msg: AlertFired) -> None:
        """Every alert is a toast (history and notifiers are the bridge's, off this thread)."""
        self.notify(msg.message, title=f"alert: {msg.name}", severity="warning", timeout=8)

    def on_notice(self, msg: Notice) -> None:
        sev: Literal["information", "warning", "error"] = (
            "warning" if msg.severity == "warning" else "error" if msg.severity == "error" else "information"
        )
        self.notify(msg.text, severity=sev, timeout=6)

    # ------------------------------------------------------------------ actions

    async def action_show_screen(self, name: str) -> None:
        """Switch to one of the five screens."""
        if name in SCREENS and self.current_mode != name:
            await self.switch_mode(name)
            self.bridge.frame()

    def action_orders(self) -> None:
        """Open the orders panel (open and recent orders, balances; cancel and amend)."""
        from havterm.screens.orders import OrdersScreen

        if not isinstance(self.screen, OrdersScreen):
            self.push_screen(OrdersScreen())

    def action_help(self) -> None:
        """Show every key binding."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.config.keys))

    def action_cycle_symbol(self, step: int) -> None:
        """Select the next (or previous) subscribed symbol."""
        syms = self.bridge.symbols()
        if not syms:
            return
        i = syms.index(self.symbol) if self.symbol in syms else -step
        self.action_select_symbol(syms[(i + step) % len(syms)])

    def action_select_symbol(self, symbol: str) -> None:
        """Make ``symbol`` the one the ladder, depth and flow screens show."""
        self.symbol = symbol
        self.bridge.focused = symbol
        self.bridge.frame()

    def action_add_symbol(self, symbol: str) -> None:
        """Subscribe another symbol."""
        self.bridge.add_symbol(symbol)
        self.notify(f"subscribing {symbol}", timeout=2)

    def action_remove_symbol(self, symbol: str) -> None:
        """Unsubscribe a symbol (the last one stays)."""
        syms = self.bridge.symbols()
        if len(syms) <= 1:
            self.notify("cannot remove the last symbol", severity="warning", timeout=3)
            return
        self.bridge.remove_symbol(symbol)
        if self.symbol == symbol:
            rest = [s for s in syms if s != symbol]
            self.action_select_symbol(rest[0])
        self.notify(f"removed {symbol}", timeout=2)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: screens, symbols and adding a symbol, besides Textual's own."""
        yield from super().get_system_commands(screen)
        for i, name in enumerate(SCREENS, 1):
            yield SystemCommand(f"Show {name} ({i})", f"Switch to the {name} screen", self._go(name))
        for sym in self.bridge.symbols():
            yield SystemCommand(
                f"Select {sym}",
                f"Show {sym} on the ladder, depth and flow screens",
                lambda s=sym: self.action_select_symbol(s),
            )
        yield SystemCommand("Add symbol…", "Subscribe another symbol", self._add_symbol)
        yield SystemCommand("Key bindings", "Show every key and its binding id", self.action_help)

    def _go(self, name: str) -> Callable[[], Any]:
        async def go() -> None:
            await self.action_show_screen(name)

        return go

    def _add_symbol(self) -> None:
        from havterm.screens.grid import SymbolPrompt

        def done(symbol: str | None) -> None:
            if symbol:
                self.action_add_symbol(symbol)

        self.push_screen(SymbolPrompt(), done)
