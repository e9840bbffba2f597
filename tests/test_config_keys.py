"""Key bindings in config.toml: a key that two actions would share at once is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from havterm.config import KEYS, ConfigError, key_clash, load_config
from havterm.ui_cli import build_ui_parser, run_app


def write(tmp_path: Path, keys: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(f"[keys]\n{keys}\n")
    return p


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('"ladder.buy" = "q"', "key 'q' for ladder.buy is already bound to app.quit"),
        ('"ladder.buy" = "x,s"', "key 's' for ladder.buy is already bound to ladder.sell"),
        ('"app.quit" = "b"', "key 'b' for app.quit is already bound to ladder.buy"),
        ('"orders.amend" = "C"', "key 'C' for orders.amend is already bound to orders.cancel_all"),
    ],
)
def test_a_clash_is_one_line_naming_both_actions_and_the_key(tmp_path: Path, keys: str, message: str) -> None:
    p = write(tmp_path, keys)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    text = str(exc.value)
    assert text == f"{p}: {message} (give one of them another key)"
    assert "\n" not in text


@pytest.mark.parametrize(
    "keys",
    [
        '"ladder.buy" = "x"',
        '"ladder.buy" = "s"\n"ladder.sell" = "b"',  # a swap
        '"grid.add" = "b"',  # another screen's key: never active at the same time
        '"orders.close" = "escape,o"',  # the defaults' own overlap (o opens and closes the panel)
        '"app.quit" = "ctrl+q"',
    ],
)
def test_no_clash_is_accepted(tmp_path: Path, keys: str) -> None:
    cfg = load_config(write(tmp_path, keys))
    assert cfg.keys


def test_the_defaults_do_not_clash() -> None:
    assert key_clash({}) is None
    assert key_clash({bid: spec.keys for bid, spec in KEYS.items()}) is None


def test_the_cli_exits_2_with_the_clash_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = write(tmp_path, '"ladder.buy" = "q"')
    assert run_app(build_ui_parser().parse_args(["--config", str(p)])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ladder.buy" in err and "app.quit" in err and "'q'" in err
    assert "Traceback" not in err
