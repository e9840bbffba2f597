"""``havterm tail``, ``record`` and ``replay`` as a user runs them, against ``havterm sim``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def _sim_process(*extra: str) -> Iterator[dict[str, str]]:
    """A ``havterm sim`` process (seed 5, 400 operations a second); yields its endpoints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "havterm", "sim", "--seed", "5", "--rate", "400", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.returncode == 0


@pytest.fixture
def sim() -> Iterator[dict[str, str]]:
    """A ``havterm sim`` with faults: checksums corrupted now and then, disconnects."""
    with _sim_process("--faults", "corrupt_checksum=0.02,disconnect_every=1.5,close_code=1006") as ep:
        yield ep


@pytest.fixture
def clean_sim() -> Iterator[dict[str, str]]:
    """A ``havterm sim`` without faults."""
    with _sim_process() as ep:
        yield ep


def havterm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "havterm", *args], capture_output=True, text=True, timeout=timeout
    )


def test_tail_stats_show_recoveries_against_a_faulty_sim(sim: dict[str, str]) -> None:
    res = havterm("tail", "BTC/USD", "ETH/USD", "--url", sim["ws"], "--duration", "4.5", "--stats")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(stats) >= {
        "messages",
        "checksums_verified",
        "checksum_mismatches",
        "resyncs",
        "reconnects",
        "books",
        "latency_ms",
    }
    assert stats["reconnects"] >= 2  # a disconnect every 1.5 s
    assert stats["checksum_mismatches"] >= 1 and stats["resyncs"] >= 1
    assert stats["checksums_verified"] > 100
    assert stats["messages"]["BookMessage"] > 100
    assert set(stats["books"]) == {"BTC/USD", "ETH/USD"}
    assert set(stats["latency_ms"]) == {"p50", "p90", "p99"}
    assert stats["latency_ms"]["p50"] is not None and stats["latency_ms"]["p50"] < 1000
    lines = res.stdout.splitlines()
    assert any(" book bid " in ln for ln in lines)
    assert any("session disconnected -> connecting" in ln for ln in lines)
    assert any("checksum mismatch" in ln for ln in lines)


def record(ws: str, out: Path) -> int:
    """Record two seconds of BTC/USD and XRP/USD books to ``out``; the number of frames."""
    args = ("BTC/USD", "XRP/USD", "--url", ws, "--depth", "25", "--duration", "2", "--out", str(out))
    res = havterm("record", *args)
    assert res.returncode == 0, res.stderr
    first = json.loads(out.read_text().splitlines()[0])
    assert set(first) >= {"ts_ns", "src"} and ("frame" in first or "text" in first)
    return int(res.stdout.split()[1])


def test_record_verify_replay_round_trip(clean_sim: dict[str, str], tmp_path: Path) -> None:
    # Without faults every book message verifies, in `verify` and in `replay` alike: replay must
    # count exactly the checksums verify found (how many depends on the machine's speed; the
    # agreement does not).
    out = tmp_path / "rec.jsonl"
    assert record(clean_sim["ws"], out) > 50
    ver = havterm("verify", str(out))
    assert ver.returncode == 0, ver.stdout + ver.stderr
    counts = re.findall(r"(\S+) book: verified (\d+)/(\d+) checksums", ver.stdout)
    assert {sym for sym, _, _ in counts} == {"BTC/USD", "XRP/USD"}
    assert all(ok == total and int(ok) > 0 for _, ok, total in counts), counts
    rep = havterm("replay", str(out), "--stats", "--quiet")
    stats = json.loads(rep.stdout.strip().splitlines()[-1])
    assert rep.returncode == 0
    assert stats["checksums_verified"] == sum(int(ok) for _, ok, _ in counts)
    assert stats["checksum_mismatches"] == 0


def test_record_verify_replay_with_corrupted_checksums(sim: dict[str, str], tmp_path: Path) -> None:
    # The sim corrupts checksums and drops the connection: verify must say where the first
    # mismatch is, and replay must meet the same one (after it, replay waits for a snapshot as
    # the client does, so it verifies fewer than verify, which carries on).
    out = tmp_path / "rec.jsonl"
    assert record(sim["ws"], out) > 50
    ver = havterm("verify", str(out))
    assert ver.returncode in (0, 1)
    assert "XRP/USD book: verified" in ver.stdout
    if ver.returncode == 1:
        assert "first mismatch" in ver.stdout
    rep = havterm("replay", str(out), "--stats", "--quiet")
    stats = json.loads(rep.stdout.strip().splitlines()[-1])
    assert stats["checksums_verified"] > 0
    assert (stats["checksum_mismatches"] > 0) == (ver.returncode == 1)
    assert rep.returncode == (1 if stats["checksum_mismatches"] else 0)


def test_tail_against_nothing_reports_plainly() -> None:
    res = havterm("tail", "BTC/USD", "--url", "ws://127.0.0.1:9/v2", "--duration", "1", "--stats")
    assert res.returncode == 0 and "Traceback" not in res.stderr
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert stats["phase"] in ("disconnected", "connecting")
    assert "cannot connect" in stats["last_error"]


def test_tail_rejects_bad_channels_in_one_line() -> None:
    res = havterm("tail", "BTC/USD", "--channels", "book,bogus")
    assert res.returncode == 2 and "unknown channel" in res.stderr and "Traceback" not in res.stderr


def test_replay_of_garbage_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_bytes(b"\x00\x01garbage")
    res = havterm("replay", str(bad))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_record_l3_with_env_credentials_then_verify(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "havterm", "sim", "--seed", "9", "--rate", "300"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ep = json.loads(proc.stdout.readline())
    try:
        out = tmp_path / "l3.jsonl"
        import os

        env = dict(os.environ, KRAKEN_API_KEY=ep["api_key"], KRAKEN_API_SECRET=ep["api_secret"])
        res = subprocess.run(
            [sys.executable, "-m", "havterm", "record", "BTC/USD", "--l3", "--url", ep["ws"],
             "--l3-url", ep["ws_l3"], "--rest-url", ep["rest"], "--duration", "2", "--out", str(out)],
            capture_output=True, text=True, timeout=60, env=env,
        )
        assert res.returncode == 0, res.stderr
        assert ep["api_secret"] not in res.stdout + res.stderr + out.read_text()
        ver = havterm("verify", str(out))
        assert ver.returncode == 0, ver.stdout
        assert "BTC/USD level3: verified" in ver.stdout and "BTC/USD book: verified" in ver.stdout
        srcs = {json.loads(line)["src"] for line in out.read_text().splitlines()}
        assert srcs == {"public", "l3"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_record_l3_without_credentials_is_one_line(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKEN_")}
    res = subprocess.run([sys.executable, "-m", "havterm", "record", "BTC/USD", "--l3", "--out",
                          str(tmp_path / "x.jsonl")], capture_output=True, text=True, timeout=30, env=env)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "havterm record: error: --l3: needs an API key: set KRAKEN_API_KEY and KRAKEN_API_SECRET"
    )


def test_tail_futures_symbols_use_the_futures_feed(sim: dict[str, str]) -> None:
    res = havterm("tail", "PF_XBTUSD", "--futures-url", sim["futures_ws"], "--duration", "2.5", "--stats")
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert stats["futures"]["books"] == {"PF_XBTUSD": "synced"}
    assert stats["futures"]["messages"]["FuturesBookDelta"] > 5
    assert any("PF_XBTUSD ticker mark" in ln and "funding" in ln for ln in res.stdout.splitlines())
