"""Credentials: the environment first, then the keyring; ``havterm keys`` set/show/delete; clear failures."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from havterm import credentials_store as store
from havterm.engine.credentials import CredentialsError
from havterm.keys_cli import add_keys_parser, run_keys

KEY = "KEYABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnop"
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend, as a test stand-in for the OS one."""

    priority = 1

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


class LockedKeyring(MemoryKeyring):
    """A backend whose collection is locked (as a locked GNOME keyring is)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(store.ENV_KEY, raising=False)
    monkeypatch.delenv(store.ENV_SECRET, raising=False)
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.fixture
def memory() -> MemoryKeyring:
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    return kr


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="havterm")
    add_keys_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_keys_from_the_environment_win_over_the_keyring(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.set_password(store.SERVICE, store.KEY_USER, "OTHERKEY")
    memory.set_password(store.SERVICE, store.SECRET_USER, "AAAA")
    monkeypatch.setenv(store.ENV_KEY, KEY)
    monkeypatch.setenv(store.ENV_SECRET, SECRET)
    found = store.find_credentials()
    assert found is not None and found.source == "environment"
    assert found.credentials.api_key == KEY and found.credentials.secret() == SECRET
    assert store.load_credentials().api_key == KEY


def test_half_set_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.ENV_KEY, KEY)
    with pytest.raises(CredentialsError, match="KRAKEN_API_SECRET is not set"):
        store.find_credentials()


def test_keys_set_show_delete_through_a_fake_keyring(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([KEY, SECRET])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("havterm.keys_cli.getpass.getpass", fake_getpass)
    args = parse("keys", "set")
    assert args.func is run_keys
    assert run_keys(args) == 0
    assert prompts == ["Kraken API key: ", "Kraken API secret: "]  # both hidden (getpass)
    assert memory.items == {(store.SERVICE, store.KEY_USER): KEY, (store.SERVICE, store.SECRET_USER): SECRET}

    found = store.find_credentials()
    assert found is not None and found.source == "keyring" and found.credentials.secret() == SECRET

    assert run_keys(parse("keys", "show")) == 0
    out = capsys.readouterr().out
    assert "KEYA…" in out and "from the keyring" in out
    assert KEY not in out and SECRET not in out and KEY[:8] not in out

    assert run_keys(parse("keys", "delete")) == 0
    assert memory.items == {}
    assert store.find_credentials() is None
    assert run_keys(parse("keys", "show")) == 1
    assert "havterm keys set" in capsys.readouterr().out
    with pytest.raises(CredentialsError, match="KRAKEN_API_KEY"):
        store.load_credentials()


def test_bad_secret_is_refused_without_echoing_it(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "not-base64 secret!!"
    answers = iter([KEY, bad])
    monkeypatch.setattr("havterm.keys_cli.getpass.getpass", lambda prompt="": next(answers))
    assert run_keys(parse("keys", "set")) == 2
    captured = capsys.readouterr()
    assert "base64" in captured.err and bad not in captured.err + captured.out
    assert memory.items == {}


@pytest.mark.parametrize(
    ("backend", "says"),
    [(fail.Keyring(), "no OS keyring backend"), (LockedKeyring(), "the OS keyring is locked")],  # type: ignore[no-untyped-call]
)
def test_no_or_locked_keyring_names_the_env_alternative(
    backend: keyring.backend.KeyringBackend,
    says: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_prompt(prompt: str = "") -> str:
        raise AssertionError("asked for a secret that could not be stored")

    monkeypatch.setattr("havterm.keys_cli.getpass.getpass", no_prompt)
    keyring.set_keyring(backend)
    with pytest.raises(store.KeyringUnavailable) as err:
        store.load_credentials()
    text = str(err.value)
    assert says in text and "KRAKEN_API_KEY" in text and "KRAKEN_API_SECRET" in text
    assert "\n" not in text
    assert run_keys(parse("keys", "show")) == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and says in line and "KRAKEN_API_KEY" in line
    assert run_keys(parse("keys", "set")) == 2  # refused before any prompt
    assert says in capsys.readouterr().err


def test_env_still_works_without_a_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    monkeypatch.setenv(store.ENV_KEY, KEY)
    monkeypatch.setenv(store.ENV_SECRET, SECRET)
    assert store.load_credentials().api_key == KEY
