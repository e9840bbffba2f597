"""``havterm verify`` as a user runs it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import KRAKEN_DATA


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "havterm", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_verify_all_v2_captures() -> None:
    files = sorted(str(p) for p in KRAKEN_DATA.glob("*.jsonl"))
    res = run(*files)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "BTC/USD book: verified 2052/2052 checksums" in res.stdout
    assert "ETH/USD book: verified 1129/1129 checksums" in res.stdout
    assert "XRP/USD book: verified 1147/1147 checksums" in res.stdout
    assert "BTC/USD book: verified 301/301 checksums" in res.stdout
    assert res.stdout.count("verified") == len(files)


def test_verify_reports_first_mismatch_with_line(tmp_path: Path) -> None:
    lines = (KRAKEN_DATA / "v2_book25_BTCUSD_2026-08-02_crossbook.jsonl").read_text().splitlines()
    # line 6 is the first update: bump the checksum Kraken sent
    assert '"type":"update"' in lines[5]
    lines[5] = lines[5].replace('"checksum":', '"checksum":1', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    res = run(str(bad))
    assert res.returncode == 1
    first = [ln for ln in res.stdout.splitlines() if "first mismatch" in ln]
    assert len(first) == 1
    assert first[0].startswith(f"{bad}:line 6: BTC/USD book: first mismatch: expected 1")
    assert "computed " in first[0]


def test_verify_precision_flag(tmp_path: Path) -> None:
    path = str(KRAKEN_DATA / "v2_book10_BTCUSD_2023-07-30_pykrakensdk.json")
    assert run(path, "--precision", "BTC/USD=2,8").returncode == 1
    res = run(path, "--precision", "BTC/USD=1,8")
    assert res.returncode == 0
    assert "verified 510/510 checksums" in res.stdout


def test_unreadable_and_garbage_files_exit_2_with_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 not json at all")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    junk_lines = tmp_path / "junk.jsonl"
    junk_lines.write_text('{"a":1}\n{"b":2}\n')
    for path in (str(tmp_path / "missing.jsonl"), str(garbage), str(empty), str(junk_lines)):
        res = run(path)
        assert res.returncode == 2, (path, res.stdout, res.stderr)
        err = res.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("havterm verify: error:"), res.stderr
        assert "Traceback" not in res.stderr


def test_bad_precision_spec_is_one_line() -> None:
    res = run("x.jsonl", "--precision", "BTC/USD=one,8")
    assert res.returncode == 2
    assert "bad --precision" in res.stderr and "Traceback" not in res.stderr
