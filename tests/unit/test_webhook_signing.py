"""Standard Webhooks signatures: the spec's vector, round trips, rotation, and what must fail."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.alerts.signing import decode_secret, new_secret, sign, signature_headers, verify

# libraries/go/webhook_test.go (TestWebhookSign) of standard-webhooks/standard-webhooks.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OLD, NEW, OTHER = new_secret(), new_secret(), new_secret()
TS = 1_800_000_000
BODY = b'{"status":"firing"}'


def secret_of(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


def test_spec_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    headers = signature_headers([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert verify([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TS)


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    key = bytes(range(32))
    expected = hmac.new(key, b"msg_1." + str(TS).encode() + b"." + BODY, hashlib.sha256).digest()
    assert sign(secret_of(key), "msg_1", TS, BODY) == "v1," + base64.b64encode(expected).decode()


@settings(max_examples=100, deadline=None)
@given(
    key=st.binary(min_size=24, max_size=64),
    body=st.binary(max_size=2000),
    message_id=st.text(
        st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("_-"), min_size=1
    ),
    timestamp=st.integers(min_value=0, max_value=2**40),
    skew=st.integers(min_value=-300, max_value=300),
)
def test_any_body_and_secret_round_trip(
    key: bytes, body: bytes, message_id: str, timestamp: int, skew: int
) -> None:
    secret = secret_of(key)
    headers = signature_headers([secret], message_id, timestamp, body)
    assert verify([secret], headers, body, now=timestamp + skew)
    assert not verify([secret], headers, body + b"x", now=timestamp)
    assert not verify([OTHER], headers, body, now=timestamp)


def test_rotation_either_secret_verifies() -> None:
    both = signature_headers([NEW, OLD], "msg_1", TS, BODY)
    assert len(both["webhook-signature"].split(" ")) == 2
    assert verify([OLD], both, BODY, now=TS) and verify([NEW], both, BODY, now=TS)
    assert verify([NEW, OLD], both, BODY, now=TS)
    assert not verify([OTHER], both, BODY, now=TS)
    # A receiver holding both secrets accepts a sender that signs with only one of them.
    assert verify([NEW, OLD], signature_headers([OLD], "msg_1", TS, BODY), BODY, now=TS)


def test_tampering_fails() -> None:
    headers = signature_headers([NEW], "msg_1", TS, BODY)
    assert verify([NEW], headers, BODY, now=TS)
    assert not verify([NEW], headers, BODY.replace(b"firing", b"resolv"), now=TS)
    assert not verify([NEW], {**headers, "webhook-timestamp": str(TS + 1)}, BODY, now=TS)
    assert not verify([NEW], {**headers, "webhook-id": "msg_2"}, BODY, now=TS)
    signature = headers["webhook-signature"]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert not verify([NEW], {**headers, "webhook-signature": flipped}, BODY, now=TS)


def test_stale_or_future_timestamps_fail() -> None:
    headers = signature_headers([NEW], "msg_1", TS, BODY)
    assert verify([NEW], headers, BODY, now=TS + 300) and verify([NEW], headers, BODY, now=TS - 300)
    assert not verify([NEW], headers, BODY, now=TS + 301)
    assert not verify([NEW], headers, BODY, now=TS - 301)
    assert verify([NEW], headers, BODY, now=TS + 3600, tolerance_s=3600)


def test_malformed_requests_are_rejected_not_raised() -> None:
    headers = signature_headers([NEW], "msg_1", TS, BODY)
    assert verify([NEW], {k.upper(): v for k, v in headers.items()}, BODY, now=TS)  # HTTP names: any case
    for missing in headers:
        assert not verify([NEW], {k: v for k, v in headers.items() if k != missing}, BODY, now=TS)
    for stamp in ("", "-5", "1e9", "١٢٣", " 1800000000"):
        assert not verify([NEW], {**headers, "webhook-timestamp": stamp}, BODY, now=TS)
    v1 = headers["webhook-signature"]
    assert verify([NEW], {**headers, "webhook-signature": f"v2,{v1[3:]} junk v1,é {v1}"}, BODY, now=TS)
    assert not verify([NEW], {**headers, "webhook-signature": f"v2,{v1[3:]}"}, BODY, now=TS)


@pytest.mark.parametrize(
    "bad",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_not*base64!",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(bytes(65)).decode(),
        "whsec_",
    ],
)
def test_bad_secrets_raise_without_quoting_them(bad: str) -> None:
    for call in (
        lambda: decode_secret(bad),
        lambda: signature_headers([bad], "msg_1", TS, BODY),
        lambda: verify([bad], {}, BODY, now=TS),
    ):
        with pytest.raises(ValueError) as raised:
            call()
        assert bad not in str(raised.value) or bad == "whsec_"


def test_signing_refuses_what_the_scheme_cannot_carry() -> None:
    with pytest.raises(ValueError):
        signature_headers([], "msg_1", TS, BODY)
    for message_id in ("", "msg.1", "msg 1"):
        with pytest.raises(ValueError):
            signature_headers([NEW], message_id, TS, BODY)


def test_new_secrets_are_fresh_and_valid() -> None:
    assert len(decode_secret(NEW)) == 32 and NEW != OLD
    assert len(decode_secret(new_secret(64))) == 64
    with pytest.raises(ValueError):
        new_secret(16)
