"""``havterm verify``: print the verification report of recorded files."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from havterm.engine.replay import RecordingError
from havterm.engine.verify import verify_file


def run_verify(files: Sequence[str], precision: Mapping[str, tuple[int, int]], depth: int | None) -> int:
    """Verify each file; exit 0 if all match, 1 on a mismatch, 2 on an unreadable file."""
    worst = 0
    for path in files:
        try:
            report = verify_file(path, precision, depth)
        except RecordingError as exc:
            print(f"havterm verify: error: {exc}", file=sys.stderr)
            worst = 2
            continue
        if not report.symbols:
            why = (
                f"; first bad frame at {report.bad_frames[0][0]}: {report.bad_frames[0][1]}"
                if report.bad_frames
                else ""
            )
            print(f"havterm verify: error: {path}: no book or level3 messages found{why}", file=sys.stderr)
            worst = 2
            continue
        for rep in report.symbols.values():
            print(f"{path}: {rep.symbol} {rep.channel}: verified {rep.verified}/{rep.total} checksums")
            m = rep.first_mismatch
            if m is not None:
                print(
                    f"{path}:{m.location}: {m.symbol} {rep.channel}: first mismatch: "
                    f"expected {m.expected}, computed {m.computed} ({m.reason})"
                )
                worst = max(worst, 1)
        if report.bad_frames:
            loc, reason = report.bad_frames[0]
            print(f"{path}: {len(report.bad_frames)} undecodable frame(s); first at {loc}: {reason}")
    return worst
