"""Rejected input: counted, logged (rate-limited), and sent to the dead-letter topic with why and whence."""

from __future__ import annotations

import pytest

from consumers.kafka.memory import EOF
from consumers.sinks.dead_letters import DeadLetter
from tests.runtime_harness import DEAD, SOURCE, Harness, expected_event_ids, traffic

POISON = [b"\x00\x01junk\xff", b'{"Records": 5}', b'{"eventTime": 5, "eventSource": []}']
AT = (10, 120, 260)  # where the poison goes in the input


def poisoned() -> list[bytes]:
    messages = list(traffic())
    for at, poison in zip(AT, POISON, strict=True):
        messages.insert(at, poison)
    return messages


def test_rejects_go_to_the_dead_letter_topic_with_reason_detail_and_source() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*poisoned(), EOF])
    started = harness.start()
    started.run_to_eof()

    letters = harness.cluster.records(DEAD)
    assert [r.value for r in letters] == POISON
    headers = [dict(r.headers) for r in letters]
    assert [h["trailpulse.source"] for h in headers] == [f"{SOURCE}:0:{at}".encode() for at in AT]
    assert [h["trailpulse.reason"] for h in headers] == [b"invalid_utf8", b"bad_envelope", b"wrong_type"]
    assert all(h["trailpulse.detail"] for h in headers)
    assert all(r.key is None for r in letters)
    counts = started.daemon.counts
    assert sum(n for k, n in counts.items() if k.startswith("rejected.")) == len(POISON)
    assert [e["source"] for e in harness.events("record_rejected")] == [f"{SOURCE}:0:{at}" for at in AT]
    assert harness.sent_event_ids() == expected_event_ids(traffic())  # the good records beside them count


def test_without_a_dead_letter_topic_rejects_are_counted_and_logged_only() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*poisoned(), EOF])
    started = harness.start(dead_letters=False)
    started.run_to_eof()
    assert DEAD not in harness.cluster.topics
    assert sum(n for k, n in started.daemon.counts.items() if k.startswith("rejected.")) == len(POISON)
    assert len(harness.events("record_rejected")) == len(POISON)


@pytest.mark.parametrize("detail", ["é" * 600, "x" * 5000])
def test_long_details_are_cut_to_1000_bytes(detail: str) -> None:
    headers = dict(DeadLetter(b"raw", "too_large", detail, "t:0:1").headers())
    assert len(headers["trailpulse.detail"]) == 1000
    assert headers["trailpulse.detail"] == detail.encode()[:1000]
