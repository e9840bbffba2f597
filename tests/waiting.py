"""Awaiting a condition with a deadline: the tests' one way to wait (never a bare sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> float:
    """Await until ``predicate()`` is true (re-checked every 10 ms); return how long it took.

    Fails with the condition's description after ``timeout`` seconds.
    """
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start
