"""The engine must stay usable without the UI stack: no textual, no rich."""

from __future__ import annotations

import json
import subprocess
import sys


def test_engine_imports_no_ui_modules() -> None:
    code = (
        "import json, sys, havterm.engine, havterm.engine.codec, havterm.engine.book, "
        "havterm.engine.l3, havterm.engine.verify, havterm.engine.replay; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_verify_command_imports_no_ui_modules() -> None:
    code = (
        "import json, sys; from havterm.cli import build_parser; build_parser(); "
        "import havterm.verify_cli; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
