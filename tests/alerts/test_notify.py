"""Notifiers that fail, hang or are missing are reported once and never block the caller; hooks get JSON."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from havterm.alerts_config import AlertHistory
from havterm.engine.alerts import FiredAlert
from havterm.notify import AlertDispatcher, osc_flavour, osc_sequence

BLOCK_BOUND_S = 0.1
"""dispatch() must return within this even when every notifier is broken (it only queues work)."""


def alert(name: str = "btc", notify: tuple[str, ...] = (), command: str | None = None) -> FiredAlert:
    return FiredAlert(
        name,
        "BTC/USD",
        "price_above",
        "100",
        "101",
        "BTC/USD last 101 is above 100",
        1.0,
        1_795_000_000.0,
        notify=notify,
        command=command,
    )


def script(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return p


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture
def made() -> Iterator[list[AlertDispatcher]]:
    out: list[AlertDispatcher] = []
    yield out
    for d in out:
        d.close(wait=False)


def dispatcher(made: list[AlertDispatcher], **kw: object) -> tuple[AlertDispatcher, list[str], list[str]]:
    errors: list[str] = []
    written: list[str] = []
    kw.setdefault("terminal", written.append)
    d = AlertDispatcher(on_error=errors.append, **kw)  # type: ignore[arg-type]
    made.append(d)
    return d, errors, written


def timed_dispatch(d: AlertDispatcher, a: FiredAlert) -> float:
    t0 = time.monotonic()
    d.dispatch(a)
    return time.monotonic() - t0


def test_command_hook_gets_the_alert_as_json(tmp_path: Path, made: list[AlertDispatcher]) -> None:
    out = tmp_path / "got.json"
    hook = script(
        tmp_path,
        "hook",
        f'cat > "{out}.tmp"; echo "$HAVTERM_ALERT_NAME" >> "{out}.tmp"; mv "{out}.tmp" "{out}"',
    )
    d, errors, _ = dispatcher(made)
    d.dispatch(alert(notify=("command",), command=str(hook)))
    wait_for(out.exists)
    body, name = out.read_text().splitlines()
    assert json.loads(body) == {
        "t": 1_795_000_000.0,
        "name": "btc",
        "symbol": "BTC/USD",
        "kind": "price_above",
        "level": "100",
        "value": "101",
        "message": "BTC/USD last 101 is above 100",
    }
    assert name == "btc"
    assert errors == []


def test_failing_hook_reported_once(tmp_path: Path, made: list[AlertDispatcher]) -> None:
    hook = script(tmp_path, "fail", 'echo "disk on fire" >&2; exit 3')
    d, errors, _ = dispatcher(made)
    for _ in range(3):
        assert timed_dispatch(d, alert(notify=("command",), command=str(hook))) < BLOCK_BOUND_S
    wait_for(lambda: d.pending == 0)
    assert errors == ["command hook of 'btc' exited with 3: disk on fire"]


def test_hanging_hook_is_killed_reported_once_and_never_blocks(
    tmp_path: Path, made: list[AlertDispatcher]
) -> None:
    pidfile = tmp_path / "pid"
    hook = script(tmp_path, "hang", f'echo $$ > "{pidfile}"; sleep 30')
    d, errors, _ = dispatcher(made, timeout_s=0.5)
    t0 = time.monotonic()
    for _ in range(2):
        assert timed_dispatch(d, alert(notify=("command",), command=str(hook))) < BLOCK_BOUND_S
    wait_for(lambda: d.pending == 0)
    assert time.monotonic() - t0 < 5.0  # both ran side by side and were killed at 0.5 s
    assert errors == ["command hook of 'btc' timed out after 0.5 s (killed)"]
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_hook_reported_once(made: list[AlertDispatcher]) -> None:
    d, errors, _ = dispatcher(made)
    for _ in range(2):
        assert (
            timed_dispatch(d, alert(notify=("command",), command="/nonexistent/havterm-hook --x"))
            < BLOCK_BOUND_S
        )
    wait_for(lambda: d.pending == 0)
    assert errors == ["command hook of 'btc' not found: /nonexistent/havterm-hook"]


def test_missing_notify_send_falls_back_to_osc(made: list[AlertDispatcher]) -> None:
    d, errors, written = dispatcher(made, desktop_cmd="havterm-no-such-notify-send", osc="777")
    for _ in range(2):
        d.dispatch(alert(notify=("desktop",)))
    wait_for(lambda: d.pending == 0)
    assert written == ["\x1b]777;notify;havterm: btc;BTC/USD last 101 is above 100\x07"] * 2
    assert errors == ["notify-send not found; desktop notifications use OSC 777"]


def test_failing_notify_send_falls_back_to_osc(tmp_path: Path, made: list[AlertDispatcher]) -> None:
    args = tmp_path / "args"
    fake = script(tmp_path, "notify-send", f'printf "%s\\n" "$@" > "{args}"; echo "no dbus" >&2; exit 1')
    d, errors, written = dispatcher(made, desktop_cmd=str(fake), osc="9")
    for _ in range(2):
        d.dispatch(alert(notify=("desktop",)))
    wait_for(lambda: d.pending == 0)
    assert args.read_text().splitlines() == [
        "--app-name=havterm",
        "havterm: btc",
        "BTC/USD last 101 is above 100",
    ]
    assert written == ["\x1b]9;havterm: btc: BTC/USD last 101 is above 100\x07"] * 2
    assert errors == ["desktop notification failed (exited with 1: no dbus); using OSC 9"]


def test_hanging_notify_send_does_not_block(tmp_path: Path, made: list[AlertDispatcher]) -> None:
    fake = script(tmp_path, "notify-send", "sleep 30")
    d, errors, written = dispatcher(made, desktop_cmd=str(fake), osc="9", timeout_s=0.3)
    assert timed_dispatch(d, alert(notify=("desktop", "bell"))) < BLOCK_BOUND_S
    wait_for(lambda: d.pending == 0)
    assert "\a" in written
    assert errors == ["desktop notification failed (timed out after 0.3 s (killed)); using OSC 9"]


def test_bell_listeners_and_history(tmp_path: Path, made: list[AlertDispatcher]) -> None:
    rang: list[int] = []
    seen: list[str] = []
    hist = AlertHistory(tmp_path / "h.jsonl")
    d, errors, _ = dispatcher(made, bell=lambda: rang.append(1), history=hist)

    def broken(a: FiredAlert) -> None:
        raise RuntimeError("toast failed")

    d.add_listener(broken)
    d.add_listener(lambda a: seen.append(a.name))
    for _ in range(2):
        d.dispatch(alert(notify=("bell",)))
    wait_for(lambda: len(rang) == 2)
    assert seen == ["btc", "btc"]
    assert [a.name for a in hist.read()] == ["btc", "btc"]
    assert len(errors) == 1 and errors[0].startswith("alert listener failed: RuntimeError('toast failed')")


def test_unwritable_history_reported_once(tmp_path: Path, made: list[AlertDispatcher]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    d, errors, _ = dispatcher(made, history=AlertHistory(blocker / "sub" / "h.jsonl"))
    d.dispatch(alert())
    d.dispatch(alert())
    assert len(errors) == 1 and errors[0].startswith("cannot append to alert history")


def test_closed_dispatcher_and_osc_helpers(made: list[AlertDispatcher]) -> None:
    d, errors, written = dispatcher(made)
    d.close()
    d.dispatch(alert(notify=("bell",)))
    assert written == [] and errors == []
    assert osc_sequence("a;b", "c\x07d", "777") == "\x1b]777;notify;a,b;c d\x07"
    assert osc_flavour({"TERM": "xterm-256color", "VTE_VERSION": "7600"}) == "777"
    assert osc_flavour({"TERM": "foot"}) == "777"
    assert osc_flavour({"TERM": "xterm-kitty"}) == "9"
