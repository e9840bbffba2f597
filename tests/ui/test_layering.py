"""The bridge is the only module that imports both the engine and Textual (DESIGN.md §1, §4)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "havterm"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_only_the_bridge_knows_engine_and_textual() -> None:
    both = []
    for path in PKG.rglob("*.py"):
        mods = _imports(path)
        textual = any(m == "textual" or m.startswith("textual.") for m in mods)
        engine = any(m.startswith("havterm.engine") for m in mods)
        if textual and engine:
            both.append(path.relative_to(PKG).as_posix())
    assert both == ["bridge.py"]


def test_widgets_and_screens_never_touch_the_engine_or_sockets() -> None:
    for sub in ("widgets", "screens"):
        for path in (PKG / sub).rglob("*.py"):
            mods = _imports(path)
            assert not any(m.startswith(("havterm.engine", "havterm.sim", "websockets")) for m in mods), path
