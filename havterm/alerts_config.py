"""Alert rules in TOML (line-numbered errors, comment-keeping saves) and the alert history file.

Schema: one ``[[rules]]`` table per rule, in the config file
(``platformdirs.user_config_dir("havterm")/config.toml``) or in any file given
with ``--rules``::

    [[rules]]
    name = "btc 100k"          # required, unique
    symbol = "BTC/USD"         # required; "*" = every watched symbol
    kind = "price_above"       # required, see below
    level = 100000             # required except for own_order_filled (default 1)
    cooldown_s = 300           # optional, seconds quiet after firing (default 60)
    hysteresis = 50            # optional, in the unit of level (default per kind)
    notify = ["bell", "desktop", "command"]   # optional; the UI always toasts and records history
    command = "/usr/local/bin/on-alert"      # run with the alert as JSON on stdin
    enabled = true             # optional

Kinds and the unit of ``level``:

=============================  ==========================================================
``price_above/price_below``     price; ``source`` = last (default), mid, bid, ask;
                                ``cross = true`` waits for the price to be on the other side first
``move_pct``                    percent within ``window_s`` (default 60): 1 = up 1 %, -1 = down 1 %
``spread_above_bps``            spread in basis points of the mid
``imbalance_above/_below``      (bid - ask) / (bid + ask) size over ``depth`` levels (default 10), -1..1
``pressure_above/_below``       distance-weighted imbalance (as the analytics pane), -1..1
``trade_size_at_least``         trade size in base units; ``side`` = both, buy, sell
``large_order``                 resting size at one price level, base units, top ``depth`` levels;
                                ``event`` = both, appear, vanish; ``side`` = both, bid, ask
``book_not_synced_for``         seconds the L2 book has not been checksum-synced
``market_stale_for``            seconds without any market data for the symbol
``own_order_filled``            filled fraction 0..1 (default 1 = fully filled); ``order_id`` optional
``queue_position_at_most``      orders ahead of ours at its level; ``order_id`` optional
``fill_probability_at_least``   0..1; ``order_id`` optional
``rate_counter_above``          trading rate counter in percent of Kraken's threshold
``funding_above/_below``        a Futures perpetual's funding rate in percent per hour (Kraken's
                                ``relative_funding_rate`` x 100): 0.01 = 0.01 % per hour
=============================  ==========================================================

A rule whose ``kind`` this version does not know is kept (and written back
unchanged) but not evaluated, with a warning; a known kind with a bad or
missing field is an error naming the file and line. History is one JSON
object per line in ``platformdirs.user_data_dir("havterm")/alerts.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs

from havterm.engine.alerts import KINDS, FiredAlert, Rule, RuleError, decimal_value

CONFIG_NAME = "config.toml"
HISTORY_NAME = "alerts.jsonl"
HISTORY_MAX_BYTES = 5_000_000
"""Past this the history file is rotated once to ``alerts.jsonl.1``, so it never grows without bound."""

_KEYS = {f.name for f in fields(Rule) if not f.name.startswith("_")}
_REQUIRED = ("name", "symbol", "kind")
_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]")
_TABLE = re.compile(r"^\s*\[")


class RulesError(Exception):
    """A rules file that cannot be used; the message is one line naming the file and line."""


def config_path() -> Path:
    """The config file the rules live in (``~/.config/havterm/config.toml`` on Linux)."""
    return Path(platformdirs.user_config_dir("havterm")) / CONFIG_NAME


def history_path() -> Path:
    """The alert history file (``~/.local/share/havterm/alerts.jsonl`` on Linux)."""
    return Path(platformdirs.user_data_dir("havterm")) / HISTORY_NAME


@dataclass
class RuleFile:
    """What a rules file holds: the rules we understand, and how many tables we kept but cannot evaluate."""

    path: Path
    rules: list[Rule] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading


def _rule_lines(text: str) -> list[tuple[int, int]]:
    """For each ``[[rules]]`` header in order, its (first line, last line) span, 1-based."""
    lines = text.splitlines()
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines, 1):
        if _TABLE.match(line):
            if start is not None:
                spans.append((start, i - 1))
                start = None
            if _HEADER.match(line):
                start = i
    if start is not None:
        spans.append((start, len(lines)))
    return spans


def _key_line(text: str, span: tuple[int, int] | None, key: str) -> int | None:
    if span is None:
        return None
    lines = text.splitlines()
    pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(span[0], span[1] + 1):
        if pat.match(lines[i - 1]):
            return i
    return span[0]


def rule_from_table(t: dict[str, Any]) -> Rule:
    """One ``[[rules]]`` table to a ``Rule``; ``RuleError`` says which field is wrong."""
    for k in _REQUIRED:
        if k not in t:
            raise RuleError(f"missing {k}", k)
    unknown = sorted(set(t) - _KEYS)
    if unknown:
        raise RuleError(f"unknown field(s) {', '.join(unknown)}", unknown[0])
    kw: dict[str, Any] = {}
    for k, v in t.items():
        try:
            if k in ("name", "symbol", "kind", "source", "side", "event", "order_id", "command"):
                if not isinstance(v, str):
                    raise RuleError(f"{k} must be a string")
                kw[k] = v
            elif k in ("level", "hysteresis"):
                kw[k] = decimal_value(v, k)
            elif k in ("cooldown_s", "window_s"):
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise RuleError(f"{k} must be a number of seconds")
                kw[k] = float(v)
            elif k == "depth":
                if isinstance(v, bool) or not isinstance(v, int):
                    raise RuleError("depth must be a whole number of levels")
                kw[k] = v
            elif k in ("cross", "enabled"):
                if not isinstance(v, bool):
                    raise RuleError(f"{k} must be true or false")
                kw[k] = v
            elif k == "notify":
                if isinstance(v, str):
                    v = [v]
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise RuleError('notify must be a list like ["bell", "desktop"]')
                kw[k] = tuple(v)
        except RuleError as exc:
            raise RuleError(str(exc), k) from None
    if "level" not in kw:
        if t["kind"] == "own_order_filled":
            kw["level"] = Decimal(1)
        else:
            raise RuleError("missing level", "kind")
    try:
        return Rule(**kw)
    except RuleError as exc:
        msg = str(exc)
        key = "notify" if "notif" in msg else next((k for k in sorted(_KEYS) if msg.startswith(k)), "level")
        raise RuleError(msg, key) from None


def parse_rules(text: str, path: Path | str = "<rules>") -> RuleFile:
    """Parse the rules in ``text``; raises ``RulesError`` (one line with file:line) on anything unusable."""
    p = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)"; lift the line to the front.
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{p}:{m.group(1)}" if m else f"{p}"
        raise RulesError(f"{where}: invalid TOML: {str(exc).split(' (at line')[0]}") from None
    out = RuleFile(path=p)
    raw = data.get("rules", [])
    if not isinstance(raw, list):
        raise RulesError(f"{p}:{_first_line(text, 'rules')}: rules must be [[rules]] tables")
    spans = _rule_lines(text)
    # Spans line up with the tables only when every rule is written as a [[rules]] header.
    aligned = len(spans) == len(raw)
    names: dict[str, int] = {}
    for i, t in enumerate(raw):
        span = spans[i] if aligned else None
        line = span[0] if span else _first_line(text, "rules")
        if not isinstance(t, dict):
            raise RulesError(f"{p}:{line}: rules[{i}] must be a table")
        label = f"rule {t.get('name')!r}" if isinstance(t.get("name"), str) else f"rules[{i}]"
        kind = t.get("kind")
        if isinstance(kind, str) and kind not in KINDS:
            out.unknown.append(t)
            out.warnings.append(f"{p}:{line}: {label}: unknown kind {kind!r} (kept, not evaluated)")
            continue
        try:
            rule = rule_from_table(t)
        except RuleError as exc:
            key = exc.args[1] if len(exc.args) > 1 else None
            kline = _key_line(text, span, key) if key else None
            raise RulesError(f"{p}:{kline or line}: {label}: {exc.args[0]}") from None
        if rule.name in names:
            raise RulesError(
                f"{p}:{line}: {label}: the name is already used by the rule on line {names[rule.name]}"
            )
        names[rule.name] = line
        out.rules.append(rule)
    return out


def _first_line(text: str, key: str) -> int:
    pat = re.compile(rf"^\s*(\[\[?\s*)?{re.escape(key)}\b")
    for i, line in enumerate(text.splitlines(), 1):
        if pat.match(line):
            return i
    return 1


def load_rules(path: Path | str | None = None) -> RuleFile:
    """Rules from ``path`` or the config file; a missing default config file means no rules."""
    explicit = path is not None
    p = Path(path) if path is not None else config_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise RulesError(f"{p}: no such file") from None
        return RuleFile(path=p)
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{p}: cannot read: {exc}") from None
    return parse_rules(text, p)


# ---------------------------------------------------------------------------- writing


def rule_to_table(rule: Rule) -> dict[str, Any]:
    """The fields of ``rule`` that differ from the defaults, as TOML values (Decimals as int or float)."""
    defaults = Rule(name="x", symbol="X/Y", kind=rule.kind, level=rule.level)
    out: dict[str, Any] = {"name": rule.name, "symbol": rule.symbol, "kind": rule.kind}
    out["level"] = _num(rule.level)
    for f in fields(Rule):
        k = f.name
        if k.startswith("_") or k in out:
            continue
        v = getattr(rule, k)
        if v == getattr(defaults, k):
            continue
        if isinstance(v, Decimal):
            v = _num(v)
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, float) and v.is_integer():
            v = int(v)
        out[k] = v
    return out


def _num(d: Decimal) -> int | float | str:
    # TOML has no decimal type: integers stay exact, a float whose shortest repr is the same number is
    # written as a float, and anything finer (more digits than a double holds) as a string we read back.
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    return f if Decimal(repr(f)) == d else str(d)


def _plain(v: Any) -> Any:
    unwrap = getattr(v, "unwrap", None)
    return unwrap() if callable(unwrap) else v


def render_rules(text: str, rules: Sequence[Rule]) -> str:
    """``text`` with its known rules replaced by ``rules``; comments, other tables and unknown kinds kept.

    A rule is matched to an existing table by name and edited in place (only
    the keys that changed), so its comments stay; tables of rules that are no
    longer present are removed; new rules are appended.
    """
    import tomlkit
    from tomlkit.items import AoT, Table

    doc = tomlkit.parse(text)
    wanted = {r.name: r for r in rules}
    done: set[str] = set()
    aot = doc.get("rules")
    if aot is not None and not isinstance(aot, AoT):
        raise RulesError("rules must be written as [[rules]] tables to be saved")
    if aot is not None:
        i = 0
        while i < len(aot):
            t: Table = aot[i]
            kind = _plain(t.get("kind"))
            name = _plain(t.get("name"))
            if not isinstance(kind, str) or kind not in KINDS or not isinstance(name, str):
                i += 1  # a rule we do not understand: leave it exactly as the user wrote it
                continue
            rule = wanted.get(name)
            if rule is None or name in done:
                del aot[i]
                continue
            new = rule_to_table(rule)
            for k in list(t.keys()):
                if k in _KEYS and k not in new:
                    del t[k]
            for k, v in new.items():
                # Rewriting an equal value would drop its trailing comment and its spelling (1e5, 0.50).
                if k in t and _same(_plain(t[k]), v):
                    continue
                t[k] = v
            done.add(name)
            i += 1
    for r in rules:
        if r.name in done:
            continue
        table = tomlkit.table()
        for k, v in rule_to_table(r).items():
            table[k] = v
        if aot is None:
            aot = tomlkit.aot()
            doc["rules"] = aot
            aot = doc["rules"]
        aot.append(table)
        done.add(r.name)
    return tomlkit.dumps(doc)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, int | float) and not isinstance(old, bool) and isinstance(new, int | float):
        return Decimal(str(old)) == Decimal(str(new))
    return bool(old == new)


def save_rules(rules: Iterable[Rule], path: Path | str | None = None) -> Path:
    """Write ``rules`` into ``path`` (default: the config file), atomically, keeping everything else."""
    p = Path(path) if path is not None else config_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    out = render_rules(text, list(rules))
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(out, encoding="utf-8")
    os.replace(tmp, p)
    return p


# ---------------------------------------------------------------------------- history


class AlertHistory:
    """Fired alerts as JSON lines in the data directory; appends survive restarts and crashes."""

    def __init__(self, path: Path | str | None = None, max_bytes: int = HISTORY_MAX_BYTES) -> None:
        self.path = Path(path) if path is not None else history_path()
        self.max_bytes = max_bytes

    def append(self, alert: FiredAlert) -> None:
        """Add one alert (a single ``write`` of one line, so a crash leaves at most one partial line)."""
        self.append_many((alert,))

    def append_many(self, alerts: Iterable[FiredAlert]) -> None:
        """Add alerts in order."""
        data = "".join(json.dumps(a.to_dict(), separators=(",", ":")) + "\n" for a in alerts)
        if not data:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.path.stat().st_size > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except FileNotFoundError:
            pass
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(data)

    def read(self, limit: int | None = None) -> list[FiredAlert]:
        """The alerts in the file, oldest first (the last ``limit`` only); damaged lines are skipped."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out: list[FiredAlert] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                out.append(FiredAlert.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash, or edited by hand
        return out[-limit:] if limit is not None else out
