"""Is this request from Discord? Ed25519 over timestamp + raw body, at most 5 minutes old."""

from __future__ import annotations

import time

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

MAX_AGE_SECONDS = 300


class InvalidRequest(Exception):
    """Not signed by the application's key, or signed too long ago: answered with 401."""


def signature_check(
    *, public_key: str, signature: str, timestamp: str, body: bytes, now: float | None = None
) -> None:
    """Raise InvalidRequest unless `signature` signs `timestamp + body` and is fresh.

    The timestamp is inside what is signed, so a captured body sent again with another
    timestamp fails the signature, and sent again with its own fails the age check after
    5 minutes (within them, the endpoint's interaction-id check answers it once).
    """
    if not signature or not timestamp:
        raise InvalidRequest("missing signature")
    try:
        key = VerifyKey(bytes.fromhex(public_key))
        key.verify(timestamp.encode() + body, bytes.fromhex(signature))
    except (ValueError, TypeError, BadSignatureError) as exc:
        raise InvalidRequest("bad signature") from exc
    try:
        signed_at = int(timestamp)
    except ValueError as exc:
        raise InvalidRequest("bad timestamp") from exc
    now = time.time() if now is None else now
    if abs(now - signed_at) > MAX_AGE_SECONDS:
        raise InvalidRequest("stale timestamp")
