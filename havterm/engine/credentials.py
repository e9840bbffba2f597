"""API credentials that never show themselves: redacted in repr, str, logs and exceptions."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


class CredentialsError(ValueError):
    """Credentials are missing or malformed; the message never contains the secret."""


@dataclass(frozen=True)
class Credentials:
    """A Kraken API key and its base64 secret.

    ``repr``/``str`` show only a short prefix of the key; the secret is not part
    of the dataclass repr or comparison and is reachable only through
    ``secret()``, for signing.
    """

    api_key: str
    _secret: str = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.api_key or not self._secret:
            raise CredentialsError("API key and secret are both required")
        try:
            base64.b64decode(self._secret, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsError("the API secret is not valid base64 (copy it again from Kraken)") from None

    def secret(self) -> str:
        """The base64 secret, for signing only."""
        return self._secret

    @property
    def redacted_key(self) -> str:
        """The key with all but its first 4 characters hidden."""
        return self.api_key[:4] + "…" + "*" * 8

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.redacted_key!r}, secret=<redacted>)"

    __str__ = __repr__
