"""Where the Kraken API key comes from: KRAKEN_API_KEY/KRAKEN_API_SECRET first, else the OS keyring.

The secret is handed on only inside a ``Credentials`` (whose repr is
redacted); it is never logged, and no error message here contains it, or the
keyring backend's own text (which could be long or name paths).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import keyring
import keyring.errors
from keyring.backends import fail

from havterm.engine.credentials import Credentials, CredentialsError

SERVICE = "havterm"
KEY_USER = "kraken_api_key"
SECRET_USER = "kraken_api_secret"
ENV_KEY = "KRAKEN_API_KEY"
ENV_SECRET = "KRAKEN_API_SECRET"
_ENV_HINT = f"set {ENV_KEY} and {ENV_SECRET} in the environment instead"


class KeyringUnavailable(CredentialsError):
    """No keyring backend, or a locked one; the message is one line and names the env variables."""


@dataclass(frozen=True)
class Found:
    """Credentials and where they came from: ``"environment"`` or ``"keyring"``."""

    credentials: Credentials
    source: str


def _backend_error(exc: BaseException | None = None) -> KeyringUnavailable:
    if isinstance(exc, keyring.errors.KeyringLocked):
        what = "the OS keyring is locked"
    elif exc is None or isinstance(exc, keyring.errors.NoKeyringError):
        what = "no OS keyring backend is available"
    else:
        what = f"the OS keyring failed ({type(exc).__name__})"
    return KeyringUnavailable(f"{what}; {_ENV_HINT}")


def _backend() -> keyring.backend.KeyringBackend:
    kr = keyring.get_keyring()
    if isinstance(kr, fail.Keyring):
        raise _backend_error()
    return kr


def check_keyring() -> None:
    """Raise ``KeyringUnavailable`` now if there is no usable keyring (before asking for a secret)."""
    try:
        _backend().get_password(SERVICE, KEY_USER)  # a locked keyring shows itself on a read
    except keyring.errors.KeyringError as exc:
        raise _backend_error(exc) from None


def from_env(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from the environment, ``None`` if neither variable is set."""
    env = os.environ if environ is None else environ
    key, secret = env.get(ENV_KEY, "").strip(), env.get(ENV_SECRET, "").strip()
    if not key and not secret:
        return None
    if not key or not secret:
        missing = ENV_KEY if not key else ENV_SECRET
        raise CredentialsError(f"{missing} is not set; set both {ENV_KEY} and {ENV_SECRET}")
    return Credentials(key, secret)


def from_keyring() -> Credentials | None:
    """Credentials from the OS keyring, ``None`` if none are stored; ``KeyringUnavailable`` if it fails."""
    kr = _backend()
    try:
        key = kr.get_password(SERVICE, KEY_USER)
        secret = kr.get_password(SERVICE, SECRET_USER)
    except keyring.errors.KeyringError as exc:
        raise _backend_error(exc) from None
    if not key or not secret:
        return None
    return Credentials(key, secret)


def find_credentials(environ: Mapping[str, str] | None = None) -> Found | None:
    """The environment wins over the keyring; ``None`` when neither has credentials."""
    creds = from_env(environ)
    if creds is not None:
        return Found(creds, "environment")
    creds = from_keyring()
    return Found(creds, "keyring") if creds is not None else None


def load_credentials(environ: Mapping[str, str] | None = None) -> Credentials:
    """Credentials for trading, or a one-line ``CredentialsError`` that says how to provide them."""
    found = find_credentials(environ)
    if found is None:
        raise CredentialsError(
            f"no Kraken API key: run `havterm keys set`, or set {ENV_KEY} and {ENV_SECRET}"
        )
    return found.credentials


def save_credentials(creds: Credentials) -> None:
    """Store the key and secret in the OS keyring (service ``havterm``)."""
    kr = _backend()
    try:
        kr.set_password(SERVICE, KEY_USER, creds.api_key)
        kr.set_password(SERVICE, SECRET_USER, creds.secret())
    except keyring.errors.KeyringError as exc:
        raise _backend_error(exc) from None


def delete_credentials() -> bool:
    """Remove both entries from the keyring; False if there was nothing to remove."""
    kr = _backend()
    removed = False
    for user in (KEY_USER, SECRET_USER):
        try:
            kr.delete_password(SERVICE, user)
            removed = True
        except keyring.errors.PasswordDeleteError:
            pass  # not stored: nothing to remove
        except keyring.errors.KeyringError as exc:
            raise _backend_error(exc) from None
    return removed
