"""The config file and the dashboard's command line: errors are one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from havterm.config import KEYS, ConfigError, load_config
from havterm.ui_cli import build_ui_parser, run_app


def test_missing_default_config_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("havterm.config.config_path", lambda: tmp_path / "none.toml")
    cfg = load_config()
    assert cfg.fps == 20 and cfg.depth == 100 and cfg.keys == {}


def test_config_is_read(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[ui]\nfps = 30\ndepth = 25\nsymbols = ["ETH/USD"]\n[keys]\n"app.quit" = "ctrl+q"\n')
    cfg = load_config(p)
    assert (cfg.fps, cfg.depth, cfg.symbols, cfg.keys) == (30.0, 25, ["ETH/USD"], {"app.quit": "ctrl+q"})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[ui\n", "invalid TOML"),
        ("[ui]\nfps = 500\n", "ui.fps"),
        ("[ui]\ndepth = 7\n", "ui.depth"),
        ("[ui]\ncolour = 1\n", "unknown setting ui.colour"),
        ('[keys]\n"no.such" = "x"\n', "unknown binding id 'no.such'"),
        ("[other]\n", "unknown section"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_binding_ids_are_stable_and_dotted() -> None:
    assert all("." in bid and bid == bid.lower() for bid in KEYS)
    assert {"app.ladder", "app.depth", "app.flow", "app.grid", "app.watcher", "app.help"} <= set(KEYS)


def test_run_app_reports_bad_config_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[ui]\nfps = 0\n")
    assert run_app(build_ui_parser().parse_args(["--config", str(p)])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config error" in err and "Traceback" not in err


def test_run_app_rejects_bad_symbols_and_fps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "none.toml"
    cfg.write_text("")
    assert run_app(build_ui_parser().parse_args(["--config", str(cfg), "BTCUSD"])) == 2
    assert "not a symbol" in capsys.readouterr().err
    assert run_app(build_ui_parser().parse_args(["--config", str(cfg), "--fps", "0"])) == 2
    assert "--fps" in capsys.readouterr().err


def test_help_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(build_ui_parser().parse_args(["--help-keys"])) == 0
    assert "ladder.group_coarser" in capsys.readouterr().out


def test_help_documents_demo() -> None:
    text = build_ui_parser().format_help()
    for flag in ("--demo", "--url", "--auth-url", "--l3-url", "--rest-url", "--depth", "--fps"):
        assert flag in text
