"""The integrity bookkeeping L2 and L3 books share: state, checksum verdicts and counters."""

from __future__ import annotations

import enum


class BookState(enum.Enum):
    """Whether a book can be trusted; only ``SYNCED`` may be shown as live."""

    AWAITING_SNAPSHOT = "awaiting"
    SYNCED = "synced"
    RESYNCING = "resyncing"
    STALE = "stale"
    DISABLED = "disabled"


class VerifiedBook:
    """Base of ``L2Book`` and ``L3Book``: judges each message's checksum and keeps count."""

    __slots__ = (
        "checksum_mismatches",
        "checksums_verified",
        "computed_checksum",
        "consecutive_mismatches",
        "expected_checksum",
        "last_error",
        "state",
        "timestamp",
        "version",
    )

    def __init__(self) -> None:
        self.state = BookState.AWAITING_SNAPSHOT
        self.checksums_verified = 0
        self.checksum_mismatches = 0
        self.consecutive_mismatches = 0
        self.expected_checksum = 0
        self.computed_checksum = 0
        self.last_error: str | None = None
        self.version = 0
        self.timestamp: str | None = None

    def _judge(self, expected: int, computed: int, crossed: bool, timestamp: str | None) -> bool:
        """Record one message's verdict; a crossed book fails even when the checksum matches."""
        self.computed_checksum = computed
        self.expected_checksum = expected
        self.timestamp = timestamp
        self.version += 1
        if computed != expected:
            return self._fail(expected, f"checksum mismatch: expected {expected}, computed {computed}")
        if crossed:
            return self._fail(expected, "crossed book")
        self.checksums_verified += 1
        if self.consecutive_mismatches:
            self.consecutive_mismatches = 0
            self.last_error = None
        return True

    def _fail(self, expected: int, reason: str) -> bool:
        """Move to RESYNCING: updates are ignored until the next snapshot."""
        self.expected_checksum = expected
        self.checksum_mismatches += 1
        self.consecutive_mismatches += 1
        self.last_error = reason
        self.state = BookState.RESYNCING
        self.version += 1
        return False
