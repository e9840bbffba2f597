"""``havterm keys set|show|delete``: the Kraken API key in the OS keyring, never echoed."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from havterm import credentials_store as store
from havterm.engine.credentials import Credentials, CredentialsError


def add_keys_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``keys`` and its three actions on the ``havterm`` subparsers."""
    keys: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="store, show or delete the Kraken API key (OS keyring)",
        description=(
            f"Keep the Kraken API key and secret in the OS keyring (service {store.SERVICE!r}). "
            f"{store.ENV_KEY} and {store.ENV_SECRET} in the environment take precedence."
        ),
    )
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    actions.add_parser("set", help="ask for the key and secret (hidden input) and store them")
    actions.add_parser("show", help="print the key, redacted, and where it comes from")
    actions.add_parser("delete", help="remove the key and secret from the keyring")
    keys.set_defaults(func=run_keys)
    return keys


def run_keys(args: argparse.Namespace) -> int:
    """Run one ``keys`` action; errors are one line on stderr with exit code 2."""
    try:
        if args.keys_command == "set":
            return _set()
        if args.keys_command == "show":
            return _show()
        if args.keys_command == "delete":
            removed = store.delete_credentials()
            print("deleted the Kraken API key from the keyring" if removed else "no key in the keyring")
            return 0
    except CredentialsError as exc:
        print(f"havterm: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        print("havterm: cancelled; nothing stored", file=sys.stderr)
        return 130
    print(f"havterm: error: unknown keys action {args.keys_command!r}", file=sys.stderr)
    return 2


def _set() -> int:
    store.check_keyring()  # say so before the user types a secret that could not be stored
    key = getpass.getpass("Kraken API key: ").strip()
    secret = getpass.getpass("Kraken API secret: ").strip()
    creds = Credentials(key, secret)  # checks the secret is base64 without ever printing it
    store.save_credentials(creds)
    print(f"stored {creds.redacted_key} in the OS keyring (service {store.SERVICE!r})")
    return 0


def _show() -> int:
    found = store.find_credentials()
    if found is None:
        print(f"no Kraken API key: run `havterm keys set`, or set {store.ENV_KEY} and {store.ENV_SECRET}")
        return 1
    print(f"{found.credentials.redacted_key} (from the {found.source}; secret hidden)")
    return 0
