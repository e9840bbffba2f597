"""The README's runnable example works offline, as the README promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "watch_books.py"


def test_watch_books_example_runs_offline() -> None:
    res = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(ln.startswith("BTC/USD: ") and " @ " in ln and "spread" in ln for ln in lines)
    assert "'books': {'BTC/USD': 'synced', 'ETH/USD': 'synced'}" in res.stdout
