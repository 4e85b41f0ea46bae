"""The Ed25519 check on its own: what Discord signs, and the 5-minute rule."""

import pytest

from newsletter.interactions.signature import InvalidRequest, signature_check
from tests.stubs.discord_apps import Signer

BODY = b'{"type":1}'


def _check(signer, headers, body=BODY, now=None, key=None):
    signature_check(
        public_key=key or signer.public_key,
        signature=headers["X-Signature-Ed25519"],
        timestamp=headers["X-Signature-Timestamp"],
        body=body,
        now=now,
    )


def test_a_fresh_signature_over_timestamp_and_body_passes():
    signer = Signer()
    _check(signer, signer.headers(BODY, timestamp=1_000_000), now=1_000_000 + 299)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"type":2}'}, "bad signature"),
        ({"now": 1_000_000 + 301}, "stale timestamp"),
        ({"now": 1_000_000 - 301}, "stale timestamp"),
        ({"key": "00" * 32}, "bad signature"),
        ({"key": "not hex"}, "bad signature"),
    ],
)
def test_anything_else_is_refused(change, reason):
    signer = Signer()
    headers = signer.headers(BODY, timestamp=1_000_000)
    with pytest.raises(InvalidRequest, match=reason):
        _check(signer, headers, **{"now": 1_000_000, **change})


@pytest.mark.parametrize("broken", ["", "zz", "00" * 64])
def test_a_malformed_signature_is_refused(broken):
    signer = Signer()
    headers = {**signer.headers(BODY), "X-Signature-Ed25519": broken}
    with pytest.raises(InvalidRequest):
        _check(signer, headers)
