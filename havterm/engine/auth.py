"""Kraken REST request signing (``API-Sign``), pure and without I/O (PROTOCOL.md §6.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign_request(uri_path: str, post_data: bytes | str, nonce: int | str, secret_b64: str) -> str:
    """Return the ``API-Sign`` header for one private REST call.

    ``API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + post_data)))``.
    ``post_data`` must be exactly the body sent (it contains the nonce too).
    Raises ``ValueError`` if ``secret_b64`` is not valid base64.
    """
    body = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
    try:
        key = base64.b64decode(secret_b64, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("API secret is not valid base64") from exc
    digest = hashlib.sha256(str(nonce).encode("ascii") + body).digest()
    mac = hmac.new(key, uri_path.encode("utf-8") + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")
