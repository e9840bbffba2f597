"""User settings for the dashboard: a typed TOML file in the platform config dir, and the keymap.

Every key binding has a stable id (``ladder.group_coarser``); ``[keys]`` in
the config file maps ids to Textual key names, so users remap keys without
knowing our action names. A broken file is reported in one line, never as a
traceback.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

CONFIG_NAME = "config.toml"


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One bindable command: its default keys, the action it runs and its footer label."""

    keys: str
    action: str
    description: str
    show: bool = True


KEYS: dict[str, KeySpec] = {
    # App-wide.
    "app.ladder": KeySpec("1", "show_screen('ladder')", "Ladder"),
    "app.depth": KeySpec("2", "show_screen('depth')", "Depth"),
    "app.flow": KeySpec("3", "show_screen('flow')", "Flow"),
    "app.grid": KeySpec("4", "show_screen('grid')", "Grid"),
    "app.watcher": KeySpec("5", "show_screen('watcher')", "Watch"),
    "app.help": KeySpec("question_mark,f1", "help", "Help"),
    "app.next_symbol": KeySpec("n", "cycle_symbol(1)", "Next sym"),
    "app.prev_symbol": KeySpec("p", "cycle_symbol(-1)", "Prev sym", show=False),
    "app.orders": KeySpec("o", "orders", "Orders"),
    "app.quit": KeySpec("q,ctrl+c", "quit", "Quit"),
    # Ladder.
    "ladder.cursor_up": KeySpec("up,k", "cursor(-1)", "Up", show=False),
    "ladder.cursor_down": KeySpec("down,j", "cursor(1)", "Down", show=False),
    "ladder.page_up": KeySpec("pageup", "cursor(-10)", "Page up", show=False),
    "ladder.page_down": KeySpec("pagedown", "cursor(10)", "Page down", show=False),
    "ladder.center": KeySpec("c,home", "center", "Center"),
    "ladder.group_coarser": KeySpec("plus,equals_sign", "group(1)", "Group +"),
    "ladder.group_finer": KeySpec("minus,underscore", "group(-1)", "Group -"),
    "ladder.buy": KeySpec("b", "ticket('buy')", "Buy"),
    "ladder.sell": KeySpec("s", "ticket('sell')", "Sell"),
    # Depth.
    "depth.wider": KeySpec("right_square_bracket", "range(2.0)", "Range +"),
    "depth.narrower": KeySpec("left_square_bracket", "range(0.5)", "Range -"),
    "depth.size_up": KeySpec("full_stop", "size(2.0)", "Size ×2"),
    "depth.size_down": KeySpec("comma", "size(0.5)", "Size ÷2"),
    # Grid.
    "grid.up": KeySpec("up,k", "move(-1)", "Up", show=False),
    "grid.down": KeySpec("down,j", "move(1)", "Down", show=False),
    "grid.open": KeySpec("enter", "open", "Open"),
    "grid.add": KeySpec("a", "add", "Add symbol"),
    "grid.remove": KeySpec("d,delete", "remove", "Remove"),
    # Dialogs.
    "prompt.cancel": KeySpec("escape", "cancel", "Cancel"),
    "rule_form.cancel": KeySpec("escape", "cancel", "Cancel"),
    "amend.cancel": KeySpec("escape", "cancel", "Cancel"),
    "amend.send": KeySpec("y", "send", "Send", show=False),
    # The order ticket and the orders panel.
    "ticket.send": KeySpec("y", "send", "Send", show=False),
    "ticket.cancel": KeySpec("escape", "cancel", "Cancel"),
    "orders.close": KeySpec("escape,o", "close", "Close"),
    "orders.cancel": KeySpec("c", "cancel_order", "Cancel order"),
    "orders.amend": KeySpec("a", "amend_order", "Amend"),
    "orders.cancel_all": KeySpec("C", "cancel_all", "Cancel all"),
    # Watcher (alert rules).
    "watcher.add": KeySpec("a", "add_rule", "Add rule"),
    "watcher.edit": KeySpec("e", "edit_rule", "Edit"),
    "watcher.toggle": KeySpec("space", "toggle_rule", "On/off"),
    "watcher.delete": KeySpec("x,delete", "delete_rule", "Delete"),
}
"""Every bindable command by stable id."""


def _is_futures(symbol: str) -> bool:
    """A Kraken Futures product id (``PF_XBTUSD``): the engine's test, without importing the engine."""
    return symbol.upper().startswith(("PF_", "PI_", "FI_", "FF_", "PV_"))


def config_path() -> Path:
    """Where the config file lives (``~/.config/havterm/config.toml`` on Linux)."""
    return Path(platformdirs.user_config_dir("havterm")) / CONFIG_NAME


@dataclass(slots=True)
class UiConfig:
    """Dashboard settings; every field has a working default."""

    fps: float = 20.0
    """Frames per second of the view timer (1 to 60)."""
    depth: int = 100
    """Book depth to subscribe: 10, 25, 100, 500 or 1000."""
    symbols: list[str] = field(default_factory=lambda: ["BTC/USD"])
    """Symbols when none are given on the command line."""
    depth_range_bps: float = 0.0
    """Depth chart half-range around the mid, in basis points (0: fit the whole book)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id -> comma-separated Textual key names, overriding the defaults."""
    path: Path | None = None
    """The file this came from, if any."""


def _check(cond: bool, path: Path, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{path}: {msg}")


def load_config(path: Path | None = None) -> UiConfig:
    """Read the config file; a missing default file is fine, anything unusable is a ``ConfigError``."""
    explicit = path is not None
    p = path if path is not None else config_path()
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: no such file")
        return UiConfig()
    try:
        data: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    cfg = UiConfig(path=p)
    # [[rules]] belongs to the alert engine (havterm.alerts_config reads and writes it).
    unknown = set(data) - {"ui", "keys", "rules"}
    _check(
        not unknown, p, f"unknown section(s): {', '.join(sorted(unknown))} (expected [ui], [keys], [[rules]])"
    )
    ui = data.get("ui", {})
    _check(isinstance(ui, dict), p, "[ui] must be a table")
    for name, value in ui.items():
        if name == "fps":
            _check(
                isinstance(value, int | float) and 1 <= value <= 60, p, "ui.fps must be a number from 1 to 60"
            )
            cfg.fps = float(value)
        elif name == "depth":
            _check(value in (10, 25, 100, 500, 1000), p, "ui.depth must be one of 10, 25, 100, 500, 1000")
            cfg.depth = int(value)
        elif name == "symbols":
            _check(
                isinstance(value, list)
                and bool(value)
                and all(isinstance(s, str) and ("/" in s or _is_futures(s)) for s in value),
                p,
                'ui.symbols must be a list like ["BTC/USD", "ETH/USD", "PF_XBTUSD"]',
            )
            cfg.symbols = list(value)
        elif name == "depth_range_bps":
            _check(
                isinstance(value, int | float) and 0 <= value <= 5000, p, "ui.depth_range_bps must be 0-5000"
            )
            cfg.depth_range_bps = float(value)
        else:
            raise ConfigError(f"{p}: unknown setting ui.{name}")
    keys = data.get("keys", {})
    _check(isinstance(keys, dict), p, '[keys] must be a table of binding id = "key,key"')
    for bid, value in keys.items():
        _check(bid in KEYS, p, f"unknown binding id {bid!r} (see havterm --help-keys)")
        _check(isinstance(value, str) and value.strip() != "", p, f"keys.{bid} must be a non-empty string")
        cfg.keys[bid] = value.replace(" ", "")
    clash = key_clash(cfg.keys)
    if clash is not None:
        raise ConfigError(f"{p}: {clash}")
    return cfg


def _scope(bid: str) -> str:
    return bid.partition(".")[0]


def _key_sets(overrides: dict[str, str]) -> dict[str, set[str]]:
    return {bid: set((overrides.get(bid) or spec.keys).split(",")) for bid, spec in KEYS.items()}


def key_clash(overrides: dict[str, str]) -> str | None:
    """The first key that two actions active at once would share after ``overrides``; None if none.

    App-wide keys (``app.*``) are live on every screen, so they clash with every
    binding; the others only with bindings of the same screen or dialog. Overlaps
    that the defaults already have on purpose (``o`` opens and closes the orders
    panel) are not clashes.
    """
    default = _key_sets({})
    now = _key_sets(overrides)
    ids = list(KEYS)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if a not in overrides and b not in overrides:
                continue
            if _scope(a) != _scope(b) and "app" not in (_scope(a), _scope(b)):
                continue
            shared = (now[a] & now[b]) - (default[a] & default[b])
            if shared:
                mine, theirs = (a, b) if a in overrides else (b, a)
                key = sorted(shared)[0]
                return f"key {key!r} for {mine} is already bound to {theirs} (give one of them another key)"
    return None


def keys_help() -> str:
    """Every binding id with its default keys, for ``--help-keys`` and the help screen."""
    return "\n".join(f"{bid:<24} {spec.keys:<26} {spec.description}" for bid, spec in KEYS.items())
