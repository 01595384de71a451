"""The Kafka side of ``trailpulse generate`` without a broker: pacing, envelopes, splitting, flags."""

from __future__ import annotations

import base64
import time
import zlib

import msgspec
import pytest

from consumers.cli import main
from consumers.kafka.protocol import FailureCallback
from consumers.synth import kafka_envelopes
from consumers.synth.kafka_envelopes import ENVELOPES, encode, messages_for
from consumers.synth.kafka_pacing import Pacer
from consumers.synth.kafka_writer import send_files
from consumers.synth.options import iso_to_minute
from consumers.synth.s3_delivery import GeneratedFile
from insights.decode import Decoder

RECORD = (
    b'{"eventTime":"2026-01-05T00:01:43Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances",'
    b'"awsRegion":"eu-west-1","recipientAccountId":"123456789012","eventID":"%d","pad":"%s"}'
)


def log_file(n: int, pad: int = 10, path: str = "p") -> GeneratedFile:
    return GeneratedFile(path, "123456789012", "eu-west-1", 100, [RECORD % (i, b"x" * pad) for i in range(n)])


def test_pacer_rate_and_speedup() -> None:
    began = time.monotonic()
    pacer = Pacer(rate=2000)
    for _ in range(20):
        pacer.wait(50, 0)  # 1000 records at 2000/s, a 100-record burst
    assert 0.4 <= time.monotonic() - began < 1.0
    began = time.monotonic()
    pacer = Pacer(speedup=3000)
    for minute in (0, 5, 10, 15, 20, 25):
        pacer.wait(1, minute * 60.0)  # 25 minutes of arrival time at 3000x: 0.5 s
    assert 0.5 <= time.monotonic() - began < 1.0


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_each_envelope_decodes(envelope: str) -> None:
    values = encode(log_file(7), envelope)
    assert len(values) == (7 if envelope in ("raw", "eventbridge") else 1)
    decoder = Decoder()
    ids = [r.eventID for v in values for r in decoder.decode(v).records]
    assert ids == [str(i) for i in range(7)] and decoder.records_decoded == 7


def test_cloudwatch_shape_and_some_base64() -> None:
    plain, b64 = 0, 0
    for i in range(30):
        value = encode(log_file(2, path=f"file-{i}"), "cloudwatch")[0]
        if value.startswith(b"H4sI"):
            b64, value = b64 + 1, base64.b64decode(value)
        else:
            plain += 1
        doc = msgspec.json.decode(zlib.decompress(value, wbits=31))
        assert doc["messageType"] == "DATA_MESSAGE" and doc["logEvents"][0]["timestamp"] == 1767571303000
    assert plain and b64


def test_large_files_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_envelopes, "MAX_MESSAGE_BYTES", 2000)
    parts = list(messages_for(log_file(40, pad=200), "s3", 3))
    assert len(parts) > 1 and all(len(v[0]) <= 2000 for _, v in parts)
    assert sum(n for n, _ in parts) == 40


class FakeProducer:
    """A :class:`~consumers.kafka.protocol.RecordWriter` that keeps what it is sent; every send fails
    if ``failure`` is given."""

    def __init__(self, failure: str | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.failure = failure

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        on_failure: FailureCallback | None = None,
    ) -> None:
        self.sent.append((topic, key, value))
        if self.failure is not None and on_failure is not None:
            on_failure(f"{self.failure} {len(self.sent)}")

    def flush(self, timeout_s: float | None) -> None:
        pass

    def close(self) -> None:
        pass


def test_span_and_keys() -> None:
    day = iso_to_minute("2026-01-05T00:00:00Z")  # RECORD's eventTime is 00:01:43
    files = [GeneratedFile(f"f{m}", "1", "r", day + m, [RECORD % (m, b"")]) for m in range(5, 50, 5)]
    producer = FakeProducer()
    stats = send_files(files, producer, "t", ("s3",), span=(day + 10, day + 25))
    ids = [r.eventID for _, _, value in producer.sent for r in Decoder().decode(value or b"").records]
    assert stats.records == 3 and ids == ["10", "15", "20"]  # s3 files arrive in delivery order
    assert {key for _, key, _ in producer.sent} == {b"1/r"}


def test_failed_sends_are_counted_and_the_first_is_named() -> None:
    files = [GeneratedFile(f"f{m}", "1", "r", m, [RECORD % (m, b"")]) for m in range(3)]
    stats = send_files(files, FakeProducer(failure="refused"), "t", ("raw",))
    assert (stats.failed, stats.first_error, stats.records) == (3, "refused 1", 3)


def test_flags_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--bootstrap-servers", "127.0.0.1:1"]) == 2
    assert "--topic is required" in capsys.readouterr().err
    assert main(["generate", "--days", "0.05"]) == 2
    argv = ["generate", "--bootstrap-servers", "127.0.0.1:1", "--topic", "t", "--envelopes", "raw,xml"]
    assert main(argv) == 2
    assert "--envelopes must be" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv[:5], "--rate", "10", "--speedup", "60"])
