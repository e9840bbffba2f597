"""Alert delivery: UI hooks, history, bell, desktop (notify-send, else OSC 9/777) and command hooks.

``AlertDispatcher.dispatch(alert)`` never blocks and never raises: listeners
(the UI's toast) and the history append run in the caller's thread and are
cheap; every notifier that can be slow (a process, a terminal write) runs on
a small thread pool with a timeout. A notifier that fails, hangs or is
missing is reported once through ``on_error`` (called from a worker thread:
a Textual app wraps it in ``call_from_thread``) and stays quiet after that.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TextIO

from havterm.alerts_config import AlertHistory
from havterm.engine.alerts import FiredAlert

Listener = Callable[[FiredAlert], None]

DEFAULT_TIMEOUT_S = 5.0
"""How long a notifier process may run before it is killed and reported as hanging."""


def _clean(text: str, limit: int = 200) -> str:
    # Control characters would end an OSC sequence early or inject other escapes.
    out = "".join(ch if ch.isprintable() else " " for ch in text)
    return out[:limit]


def osc_sequence(title: str, body: str, flavour: str) -> str:
    """A terminal notification: OSC 9 (iTerm2, kitty, WezTerm, Windows Terminal) or 777 (VTE, foot, urxvt)."""
    if flavour == "777":
        return f"\x1b]777;notify;{_clean(title).replace(';', ',')};{_clean(body).replace(';', ',')}\x07"
    return f"\x1b]9;{_clean(title)}: {_clean(body)}\x07"


def osc_flavour(env: dict[str, str] | None = None) -> str:
    """Which OSC a terminal is likely to understand: ``777`` for VTE/foot/urxvt, else ``9``."""
    e = os.environ if env is None else env
    term = e.get("TERM", "")
    if e.get("VTE_VERSION") or term.startswith(("foot", "rxvt")):
        return "777"
    return "9"


class AlertDispatcher:
    """Fans one fired alert out to listeners, the history file and the rule's notifiers.

    ``bell`` and ``terminal`` are how the bell and OSC sequences reach the
    terminal: a Textual app passes its own (``app.bell``, a driver write);
    headless, they default to writing to ``stream`` (stderr). ``desktop_cmd``
    is looked up on PATH once; None means "no desktop notifier, use OSC".
    """

    def __init__(
        self,
        *,
        history: AlertHistory | None = None,
        on_error: Callable[[str], None] | None = None,
        bell: Callable[[], None] | None = None,
        terminal: Callable[[str], None] | None = None,
        stream: TextIO | None = None,
        desktop_cmd: str | None = "notify-send",
        osc: str = "auto",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_pending: int = 64,
        workers: int = 4,
    ) -> None:
        self.history = history
        self.on_error = on_error
        self._stream = stream
        self._bell = bell
        self._terminal = terminal
        self.desktop_path = shutil.which(desktop_cmd) if desktop_cmd else None
        self.osc = osc_flavour() if osc == "auto" else osc
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="havterm-notify")
        self._lock = threading.Lock()
        self._pending = 0
        self._reported: set[str] = set()
        self.reports: list[str] = []
        self._listeners: list[Listener] = []
        self._closed = False

    # ------------------------------------------------------------------ hook points

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(alert)`` for every alert, in the dispatching thread (the UI's toast goes here)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, alert: FiredAlert) -> None:
        """Deliver one alert everywhere it should go; returns at once."""
        for cb in list(self._listeners):
            try:
                cb(alert)
            except Exception as exc:  # a broken listener must not stop the others or the caller
                self.report(f"listener:{getattr(cb, '__qualname__', cb)}", f"alert listener failed: {exc!r}")
        if self.history is not None:
            try:
                self.history.append(alert)
            except OSError as exc:
                self.report(
                    "history", f"cannot append to alert history {self.history.path}: {exc.strerror or exc}"
                )
        for channel in alert.notify:
            if channel == "bell":
                self._submit(f"bell:{alert.name}", self._ring)
            elif channel == "desktop":
                self._submit(f"desktop:{alert.name}", partial(self._desktop, alert))
            elif channel == "command" and alert.command:
                self._submit(f"command:{alert.name}", partial(self._command, alert))

    def report(self, key: str, message: str) -> None:
        """Report a notifier problem once per ``key``; later ones are dropped."""
        with self._lock:
            if key in self._reported:
                return
            self._reported.add(key)
            self.reports.append(message)
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # the error channel itself failing has nowhere left to go
                pass

    def _submit(self, key: str, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                return
            if self._pending >= self.max_pending:
                full = True
            else:
                full = False
                self._pending += 1
        if full:
            self.report(
                "backlog", f"notifications are backing up ({self.max_pending} pending); dropping some"
            )
            return

        def run() -> None:
            try:
                fn()
            except Exception as exc:  # any notifier bug is a report, never a crash
                self.report(key, f"notifier {key} failed: {exc!r}")
            finally:
                with self._lock:
                    self._pending -= 1

        try:
            self._pool.submit(run)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._pending -= 1

    @property
    def pending(self) -> int:
        """Notifier jobs queued or running."""
        with self._lock:
            return self._pending

    def close(self, wait: bool = False) -> None:
        """Stop taking notifications; ``wait`` lets running ones finish (each is bounded by the timeout)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    # ------------------------------------------------------------------ notifiers

    def _write_terminal(self, text: str) -> None:
        if self._terminal is not None:
            self._terminal(text)
            return
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(text)
        stream.flush()

    def _ring(self) -> None:
        if self._bell is not None:
            self._bell()
        else:
            self._write_terminal("\a")

    def _desktop(self, alert: FiredAlert) -> None:
        title = f"havterm: {alert.name}"
        if self.desktop_path is not None:
            argv = [self.desktop_path, "--app-name=havterm", title, alert.message]
            err = self._run(argv, None, alert)
            if err is None:
                return
            self.report(f"desktop:{alert.name}", f"desktop notification failed ({err}); using OSC {self.osc}")
        else:
            self.report("desktop-missing", f"notify-send not found; desktop notifications use OSC {self.osc}")
        self._write_terminal(osc_sequence(title, alert.message, self.osc))

    def _command(self, alert: FiredAlert) -> None:
        assert alert.command is not None
        try:
            argv = shlex.split(alert.command)
        except ValueError as exc:
            self.report(f"command:{alert.name}", f"command hook of {alert.name!r}: bad command line: {exc}")
            return
        if not argv:
            return
        payload = json.dumps(alert.to_dict()).encode() + b"\n"
        err = self._run(argv, payload, alert)
        if err is not None:
            self.report(f"command:{alert.name}", f"command hook of {alert.name!r} {err}")

    def _run(self, argv: list[str], stdin: bytes | None, alert: FiredAlert) -> str | None:
        """Run a notifier process with a deadline; None when it succeeded, else what went wrong."""
        env = dict(os.environ)
        env.update(
            HAVTERM_ALERT_NAME=alert.name,
            HAVTERM_ALERT_SYMBOL=alert.symbol,
            HAVTERM_ALERT_KIND=alert.kind,
            HAVTERM_ALERT_MESSAGE=alert.message,
        )
        try:
            # A new session, so a hung hook and anything it started are killed together.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            return f"not found: {argv[0]}"
        except OSError as exc:
            return f"cannot start {argv[0]}: {exc.strerror or exc}"
        try:
            _, err = proc.communicate(stdin, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
            for pipe in (proc.stdin, proc.stderr):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
            return f"timed out after {self.timeout_s:g} s (killed)"
        if proc.returncode != 0:
            last = (err or b"").decode(errors="replace").strip().splitlines()
            tail = f": {last[-1][:200]}" if last else ""
            return f"exited with {proc.returncode}{tail}"
        return None
