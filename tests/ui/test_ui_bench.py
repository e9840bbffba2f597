"""``havterm bench ui`` end to end, briefly: its last line is one JSON object with the agreed keys."""

from __future__ import annotations

import json

import pytest

from havterm.bench.ui_bench import run_ui_bench

KEYS = {
    "fps",
    "ingest_msgs_per_s",
    "keystroke_p50_ms",
    "keystroke_p99_ms",
    "backlog_growing",
    "cpu_cores",
    "peak_rss_mb",
}


@pytest.mark.parametrize("screen", ["ladder", "grid"])
def test_ui_bench_prints_one_json_object_last(capsys: pytest.CaptureFixture[str], screen: str) -> None:
    assert run_ui_bench(rate=300, symbols=3, duration=2.0, screen=screen) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert set(result) >= KEYS
    assert result["fps"] > 5 and result["ingest_msgs_per_s"] > 50 and result["keystroke_p50_ms"] > 0
    assert result["frame_errors"] == 0 and result["screen"] == screen
