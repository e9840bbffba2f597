"""SVG snapshots of every screen over a frozen market (seeded exchange, frozen clocks, fixed size).

Regenerate after an intended change with ``pytest tests/ui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest

from havterm.engine.state import MarketState
from havterm.screens import Header

from .helpers import frozen_app, frozen_state, wait_for


@pytest.fixture(autouse=True)
def _fixed_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The help screen shows the config file's path: make it the same on every machine and run."""
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/trader/.config")


@cache
def _state() -> MarketState:
    return frozen_state()


def state() -> MarketState:
    """A private copy, so no test can change another's picture."""
    return copy.deepcopy(_state())


async def ready(pilot: Any) -> None:
    """Wait for the first frame, then draw one more so every panel is current."""
    app = pilot.app

    def drawn() -> bool:
        headers = app.screen.query(Header)
        return not headers or bool(headers.first().plain)

    await wait_for(pilot, drawn, what="a frame")
    app.bridge.frame()
    await pilot.pause()


def snap(
    snap_compare: Any, press: tuple[str, ...] = (), size: tuple[int, int] = (120, 40), st: Any = None
) -> bool:
    app = frozen_app(st or state())

    async def before(pilot: Any) -> None:
        await ready(pilot)
        for key in press:
            await pilot.press(key)
            await ready(pilot)

    return bool(snap_compare(app, terminal_size=size, run_before=before))


def test_ladder(snap_compare: Any) -> None:
    assert snap(snap_compare)


def test_ladder_grouped_with_cursor(snap_compare: Any) -> None:
    assert snap(snap_compare, ("plus", "plus", "plus", "down", "down", "down"))


def test_ladder_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, size=(80, 24))


def test_ladder_second_symbol(snap_compare: Any) -> None:
    assert snap(snap_compare, ("n",))


def test_depth(snap_compare: Any) -> None:
    assert snap(snap_compare, ("2",))


def test_depth_range_and_size(snap_compare: Any) -> None:
    assert snap(snap_compare, ("2", "left_square_bracket", "full_stop"))


def test_flow(snap_compare: Any) -> None:
    assert snap(snap_compare, ("3",))


def test_flow_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, ("3",), size=(80, 24))


def test_grid(snap_compare: Any) -> None:
    assert snap(snap_compare, ("4", "down"))


def test_watcher(snap_compare: Any) -> None:
    assert snap(snap_compare, ("5",))


def test_help(snap_compare: Any) -> None:
    assert snap(snap_compare, ("question_mark",))


def test_unreachable(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import havterm.widgets.status as status

    monkeypatch.setattr(status, "DOWN_GRACE_S", 0.0)
    st = state()
    st.phase = "disconnected"
    st.phase_cause = "cannot connect: Connect call failed ('127.0.0.1', 1)"
    st.reconnects = 3
    assert snap(snap_compare, st=st)
