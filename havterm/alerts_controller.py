"""The dashboard's alert state: rules from the config file, evaluation per frame, history, edits.

UI-free (no textual, no rich): the bridge owns one and turns what fires into
Textual messages. Everything that touches the disk (the history append, the
notifiers, saving rules) runs on a worker thread, never on the UI thread.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from havterm.alerts_config import (
    AlertHistory,
    RuleFile,
    RulesError,
    load_rules,
    rule_from_table,
    save_rules,
)
from havterm.engine.alerts import KINDS, AlertEngine, AlertInputs, FiredAlert, Rule, RuleError
from havterm.engine.state import MarketState
from havterm.notify import AlertDispatcher

__all__ = ["KINDS", "AlertsController", "Rule", "RuleError", "describe", "validate"]
"""The watcher screen talks to alerts only through this module (screens never import the engine)."""

log = logging.getLogger("havterm.alerts")

RECENT = 200
"""Fired alerts kept in memory for the watcher screen (the file keeps them all)."""


class AlertsController:
    """Rules, their evaluation and their history, for one dashboard."""

    def __init__(
        self,
        rules_path: Path | str | None = None,
        history_path: Path | str | None = None,
        on_error: Callable[[str], None] | None = None,
        bell: Callable[[], None] | None = None,
        terminal: Callable[[str], None] | None = None,
    ) -> None:
        self.on_error = on_error or (lambda msg: log.warning("%s", msg))
        self.rules_path = Path(rules_path) if rules_path is not None else None
        self.error: str | None = None
        try:
            loaded = load_rules(self.rules_path)
        except RulesError as exc:
            self.error = str(exc)
            loaded = RuleFile(path=self.rules_path or Path("config.toml"))
        self.file = loaded
        for warning in loaded.warnings:
            self.on_error(warning)
        self.engine = AlertEngine(loaded.rules)
        self.history = AlertHistory(history_path)
        self.recent: deque[FiredAlert] = deque(maxlen=RECENT)
        try:
            self.recent.extend(reversed(self.history.read(limit=RECENT)))
        except OSError as exc:
            self.on_error(f"cannot read alert history {self.history.path}: {exc.strerror or exc}")
        self.fired_count: dict[str, int] = {}
        self.last_fired: dict[str, float] = {}
        self.version = 0
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="havterm-alerts")
        self.dispatcher = AlertDispatcher(
            history=self.history, on_error=self.on_error, bell=bell, terminal=terminal
        )

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self, state: MarketState, now: float, wall: float, inputs: AlertInputs | None = None
    ) -> list[FiredAlert]:
        """Run every rule; record and dispatch (off this thread) what fired."""
        fired = self.engine.evaluate(state, now, inputs, wall=wall)
        for alert in fired:
            self.recent.appendleft(alert)
            self.fired_count[alert.name] = self.fired_count.get(alert.name, 0) + 1
            self.last_fired[alert.name] = alert.wall
            self._io.submit(self._dispatch, alert)
        if fired:
            self.version += 1
        return fired

    def _dispatch(self, alert: FiredAlert) -> None:
        try:
            self.dispatcher.dispatch(alert)
        except Exception as exc:  # the dispatcher reports its own failures; this is the last line
            self.on_error(f"alert dispatch failed: {exc!r}")

    # ------------------------------------------------------------------ rules

    @property
    def rules(self) -> list[Rule]:
        """The rules in file order."""
        return self.engine.rules

    def upsert(self, table: dict[str, Any], old_name: str | None = None) -> Rule:
        """Add a rule (or replace ``old_name``) from a TOML-like table; raises ``RuleError``."""
        rule = rule_from_table(table)
        rules = self.rules
        names = [r.name for r in rules]
        if old_name is not None and old_name in names:
            rules[names.index(old_name)] = rule
        elif rule.name in names:
            raise RuleError(f"a rule named {rule.name!r} exists already")
        else:
            rules.append(rule)
        self._set(rules)
        return rule

    def toggle(self, name: str) -> Rule | None:
        """Enable or disable a rule."""
        rules = self.rules
        for i, r in enumerate(rules):
            if r.name == name:
                rules[i] = replace(r, enabled=not r.enabled)
                self._set(rules)
                return rules[i]
        return None

    def delete(self, name: str) -> bool:
        """Remove a rule."""
        rules = [r for r in self.rules if r.name != name]
        if len(rules) == len(self.rules):
            return False
        self._set(rules)
        return True

    def _set(self, rules: Iterable[Rule]) -> None:
        self.engine.set_rules(rules)
        self.version += 1
        snapshot = self.engine.rules
        self._io.submit(self._save, snapshot)

    def _save(self, rules: list[Rule]) -> None:
        try:
            save_rules(rules, self.rules_path)
        except (OSError, RulesError) as exc:
            self.on_error(f"cannot save alert rules: {exc}")

    def flush(self, timeout: float = 5.0) -> None:
        """Wait for queued disk work (history, saves); for tests and shutdown."""
        self._io.submit(lambda: None).result(timeout=timeout)

    def close(self) -> None:
        """Finish queued work and stop the notifiers."""
        self._io.shutdown(wait=True)
        self.dispatcher.close(wait=False)


def validate(table: dict[str, Any]) -> str | None:
    """What is wrong with a rule table, in one line; None when it makes a valid rule."""
    try:
        rule_from_table(table)
    except RuleError as exc:
        return str(exc)
    return None


def describe(rule: Rule) -> str:
    """A rule's condition in a few words, for the rules table."""
    words = rule.kind.replace("_", " ")
    extra = f" in {rule.window_s:g}s" if rule.kind == "move_pct" else ""
    return f"{words} {rule.level}{extra}"
