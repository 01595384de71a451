"""Standard Webhooks signatures (https://www.standardwebhooks.com): how a receiver knows a webhook
came from us, unaltered, and recently.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, signed with HMAC-SHA256 under a
shared secret shown as ``whsec_<base64>``. Every configured secret signs, and the signatures go
space-separated in one header, so rotating a secret means configuring the new and the old one
together until every receiver has the new one. The timestamp is part of what is signed, so a
receiver that rejects stale timestamps cannot be fed a captured request later. The message id
should stay the same across retries of one message (receivers dedup on it): the Insight's
``eventID`` is a good one.

The spec's reference vector (libraries/go/webhook_test.go of standard-webhooks/standard-webhooks):

>>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
>>> body = b'{"test": 2432232314}'
>>> headers = signature_headers([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
>>> headers["webhook-signature"]
'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
>>> verify([secret], headers, body, now=1614265330 + 60)
True
>>> tampered, stale = body + b" ", 1614265330 + 301
>>> verify([secret], headers, tampered, now=1614265330), verify([secret], headers, body, now=stale)
(False, False)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_source
from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SECRET_PREFIX",
    "decode_secret",
    "new_secret",
    "sign",
    "signature_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
#: The spec's bounds on a symmetric key: at least 24 bytes (192 bits), at most 64 (512 bits).
_MIN_KEY_BYTES, _MAX_KEY_BYTES = 24, 64
#: How far a receiver lets ``webhook-timestamp`` stray from its clock, either way (the reference
#: libraries' five minutes).
DEFAULT_TOLERANCE_S = 300
_VERSION = "v1"


def decode_secret(secret: str) -> bytes:
    """The key inside ``whsec_<base64>``; ``ValueError`` (which never quotes the secret) otherwise.

    Config loading calls it too, so a mistyped secret stops the daemon at start, not at the first
    alert.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret must look like {SECRET_PREFIX}<base64>")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a webhook secret must be {SECRET_PREFIX} and valid base64") from None
    if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
        raise ValueError(f"a webhook secret must hold {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes")
    return key


def new_secret(n_bytes: int = 32) -> str:
    """A fresh random secret in ``whsec_<base64>`` form, to give a receiver.

    >>> s = new_secret(); s.startswith("whsec_") and len(decode_secret(s)) == 32
    True
    """
    if not _MIN_KEY_BYTES <= n_bytes <= _MAX_KEY_BYTES:
        raise ValueError(f"a webhook secret holds {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes")
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(n_bytes)).decode("ascii")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64 HMAC-SHA256>``, of ``{message_id}.{timestamp}.{body}``."""
    digest = _digest(decode_secret(secret), message_id, timestamp, body)
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three ``webhook-*`` headers for ``body``, signed by every secret in ``secrets``.

    ``message_id`` must be non-empty and free of ``.`` and whitespace (the spec: the signed
    content is ``.``-delimited, and headers are space-delimited).
    """
    if not secrets:
        raise ValueError("signing needs at least one secret")
    if not message_id or any(c == "." or c.isspace() for c in message_id):
        raise ValueError("a webhook id must be non-empty, without '.' or whitespace")
    signatures = " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signatures,
    }


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether ``headers`` carry a valid ``v1`` signature of ``body`` by one of ``secrets``, with a
    timestamp within ``tolerance_s`` of ``now`` (Unix seconds) either way.

    Header names are matched case-insensitively (HTTP's rule); signatures of other versions are
    skipped; comparisons take constant time. A malformed secret is a configuration error and raises
    ``ValueError``; anything malformed in the request is just ``False``.
    """
    keys = [decode_secret(secret) for secret in secrets]
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "")
    if not message_id or not stamp.isascii() or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = [base64.b64encode(_digest(key, message_id, timestamp, body)) for key in keys]
    for candidate in offered.split(" "):
        version, _, signature = candidate.partition(",")
        if version != _VERSION:
            continue
        given = signature.encode("utf-8", "replace")
        if any(hmac.compare_digest(given, e) for e in expected):
            return True
    return False


def _digest(key: bytes, message_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{message_id}.{int(timestamp)}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()
