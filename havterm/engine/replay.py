"""Read recorded Kraken frames from the file formats havterm meets, keeping exact text.

Supported, detected from the content:

- JSON lines with one v2 message per line (crossbook captures, ``havterm
  verify`` input);
- havterm's own recording format: JSON lines ``{"ts_ns": int, "src": str,
  "frame": <the frame, embedded verbatim>}``, or ``"text"`` for a non-JSON
  frame (written by ``havterm record``);
- a JSON document ``{"init": ..., "updates": [...]}`` (python-kraken-sdk
  fixtures) or ``{"message": ...}`` (the docs' worked examples).

Frames are yielded as bytes cut from the file, so numbers keep their digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One frame and where it came from (``location`` is e.g. ``line 12``)."""

    frame: bytes
    location: str
    ts_ns: int | None = None
    src: str | None = None


class RecordingError(ValueError):
    """A file that is not a recording havterm can read."""


class _RecordLine(msgspec.Struct):
    ts_ns: int | None = None
    src: str | None = None
    frame: msgspec.Raw = msgspec.Raw()
    text: str | None = None


class _Document(msgspec.Struct):
    init: msgspec.Raw = msgspec.Raw()
    updates: list[msgspec.Raw] = []
    message: msgspec.Raw = msgspec.Raw()


_line_decoder = msgspec.json.Decoder(_RecordLine)
_doc_decoder = msgspec.json.Decoder(_Document)
_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def read_frames(path: str | Path) -> Iterator[RecordedFrame]:
    """Yield every frame of a recording in order.

    Raises ``RecordingError`` (one line, naming the file) if the file cannot
    be read or is not in a known format; a single bad line inside a JSON-lines
    file is yielded as-is so that the decoder reports it as a bad frame.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RecordingError(f"{p}: cannot read: {exc.strerror or exc}") from None
    stripped = data.lstrip()
    if not stripped:
        raise RecordingError(f"{p}: empty file")
    if stripped[:1] == b"{" and b"\n{" not in stripped.rstrip():
        yield from _document_frames(p, stripped)
        return
    if stripped[:1] not in (b"{", b"["):
        raise RecordingError(f"{p}: not a JSON-lines recording (first byte {stripped[:1]!r})")
    yield from _line_frames(data)


def _document_frames(p: Path, data: bytes) -> Iterator[RecordedFrame]:
    try:
        doc = _doc_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise RecordingError(f"{p}: not valid JSON: {exc}") from None
    if doc.message:
        yield RecordedFrame(bytes(doc.message), "message")
        return
    if doc.init:
        init = bytes(doc.init)
        if init.lstrip()[:1] == b"[":
            for i, raw in enumerate(_list_decoder.decode(init)):
                yield RecordedFrame(bytes(raw), f"init[{i}]")
        else:
            yield RecordedFrame(init, "init")
        for i, raw in enumerate(doc.updates):
            yield RecordedFrame(bytes(raw), f"updates[{i}]")
        return
    # A single message on one line is still a one-line JSON-lines file.
    yield RecordedFrame(data.strip(), "line 1")


def _line_frames(data: bytes) -> Iterator[RecordedFrame]:
    for n, line in enumerate(data.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(b'{"ts_ns"'):
            try:
                rec = _line_decoder.decode(line)
            except msgspec.DecodeError:
                yield RecordedFrame(line, f"line {n}")
                continue
            frame = bytes(rec.frame) if rec.frame else (rec.text or "").encode()
            yield RecordedFrame(frame, f"line {n}", rec.ts_ns, rec.src)
        else:
            yield RecordedFrame(line, f"line {n}")
