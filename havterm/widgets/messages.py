"""Textual messages for discrete events (never one per WebSocket frame)."""

from __future__ import annotations

from textual.message import Message


class ConnectionChanged(Message):
    """The client's connection phase changed."""

    def __init__(self, old: str, new: str, cause: str) -> None:
        super().__init__()
        self.old = old
        self.new = new
        self.cause = cause


class IntegrityChanged(Message):
    """A symbol's book changed integrity state (synced, resyncing, stale, disabled)."""

    def __init__(self, symbol: str, state: str, reason: str) -> None:
        super().__init__()
        self.symbol = symbol
        self.state = state
        self.reason = reason


class Notice(Message):
    """Any other discrete engine event, as one line of text."""

    def __init__(self, text: str, severity: str = "information") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class AlertFired(Message):
    """An alert rule fired (the toast; history and notifiers are handled off the UI thread)."""

    def __init__(self, name: str, symbol: str, message: str) -> None:
        super().__init__()
        self.name = name
        self.symbol = symbol
        self.message = message
