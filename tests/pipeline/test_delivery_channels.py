"""One partition carrying an account-region's records by two delivery paths at once.

An EventBridge rule forwards each call within seconds, while an S3-to-Kafka pipe forwards the same
account-region's log files when CloudTrail delivers them, here 40 minutes after their period: more
than ``allowed_lateness_minutes`` behind the events. Each channel keeps its own clock, so no log
file record is late once the files' channel has been seen; the same messages read as one
undifferentiated stream lose every file.

Only the first file can lose records: until a channel has delivered, nothing says it exists, and
the minutes the events closed meanwhile stay closed (at most ``FILE_DELAY - lateness`` minutes, once
per partition, channel and account-region, at the start of a backlog).
"""

from __future__ import annotations

import msgspec

from consumers.runtime.decode_pool import decode_messages
from consumers.synth.kafka_envelopes import encode
from consumers.synth.s3_delivery import GeneratedFile
from insights.config import EngineConfig
from insights.decode import Decoder
from insights.engine import Engine
from insights.events import insight_event
from tests.builders import ACCOUNT, HOUR, REGION, START, record

PERIOD, FILE_DELAY, PER_MINUTE, POLL = 5, 40, 3, 25
CONFIG = EngineConfig()


def _arrivals() -> list[tuple[int, bytes]]:
    """(arrival second, message value): even periods by EventBridge, odd ones as S3 log files."""
    messages: list[tuple[int, bytes]] = []
    for period in range(4 * HOUR // PERIOD):
        first = START + period * PERIOD
        records = [
            (minute, msgspec.json.encode(record(minute, second=i * 7)))
            for minute in range(first, first + PERIOD)
            for i in range(PER_MINUTE)
        ]
        delivered = first + PERIOD + FILE_DELAY
        log = GeneratedFile(f"p{period}", ACCOUNT, REGION, delivered, [r for _, r in records])
        if period % 2 == 0:
            values = encode(log, "eventbridge")
            messages += [(minute * 60 + 5, value) for (minute, _), value in zip(records, values, strict=True)]
        else:
            messages += [(log.delivery_minute * 60, value) for value in encode(log, "s3")]
    return sorted(messages, key=lambda m: m[0])


def test_log_files_behind_the_events_of_their_partition_are_late_only_before_their_first() -> None:
    values = [value for _, value in _arrivals()]
    engine = Engine(CONFIG)
    for start in range(0, len(values), POLL):
        decoded = decode_messages(values[start : start + POLL], None, False)
        assert set(decoded.batch.channels) <= {"events", "files"}
        engine.process_classified([decoded.batch], "topic:0")
    engine.finish()
    late = engine.normaliser.skipped["late"]
    assert late <= (FILE_DELAY + 1 - CONFIG.allowed_lateness_minutes) * PER_MINUTE
    assert engine.normaliser.analysed == 4 * HOUR * PER_MINUTE - late


def test_the_same_messages_on_one_clock_lose_the_files() -> None:
    """The control: without the channel, every log file is later than the lateness allows."""
    decoder = Decoder()
    engine = Engine(CONFIG)
    values = [value for _, value in _arrivals()]
    for start in range(0, len(values), POLL):
        records = [r for value in values[start : start + POLL] for r in decoder.decode(value).records]
        engine.process(records, "topic:0")
    engine.finish()
    assert engine.normaliser.skipped["late"] > HOUR * PER_MINUTE


def _spike_arrivals(end: int, spike: int, files: bool) -> list[tuple[int, bytes]]:
    """Steady calls until ``end``, a spike at minute ``spike``: every record by EventBridge, or (with
    files) each odd period's records as a log file FILE_DELAY minutes after it, as above."""
    messages: list[tuple[int, bytes]] = []
    for period in range((end - START) // PERIOD):
        first = START + period * PERIOD
        minutes = range(first, first + PERIOD)
        records = [msgspec.json.encode(record(m, second=i * 7)) for m in minutes for i in range(PER_MINUTE)]
        log = GeneratedFile(f"p{period}", ACCOUNT, REGION, first + PERIOD + FILE_DELAY, records)
        if period % 2 == 0 or not files:
            messages += [(first * 60 + 5, value) for value in encode(log, "eventbridge")]
        else:
            messages += [(log.delivery_minute * 60, value) for value in encode(log, "s3")]
    spiking = [msgspec.json.encode(record(spike, second=i % 60)) for i in range(60)]
    spike_log = GeneratedFile("spike", ACCOUNT, REGION, spike, spiking)
    messages += [(spike * 60 + 30, value) for value in encode(spike_log, "eventbridge")]
    return sorted(messages, key=lambda m: m[0])


def _early_event_ids(messages: list[tuple[int, bytes]], end: int) -> list[str]:
    """Insight eventIDs of a daemon-like read of the messages that arrived before minute ``end``,
    open minutes left open."""
    engine = Engine(EngineConfig(warmup_minutes=2 * HOUR, window_minutes=24 * HOUR))
    values = [value for at, value in messages if at < end * 60]
    out = []
    for start in range(0, len(values), POLL):
        decoded = decode_messages(values[start : start + POLL], None, False)
        out += engine.process_classified([decoded.batch], "topic:0")
    return [insight_event(t)["eventID"] for t in out]


def test_log_files_lagging_their_events_do_not_hold_back_an_early_start() -> None:
    """A spike ten minutes before the end of what has arrived: the files' channel is FILE_DELAY
    minutes behind, so the frontier is too, but the account-region has reached the spike on its
    events, and the spike starts early as it does when every record comes by EventBridge."""
    end = START + 4 * HOUR
    spike = end - 10
    events_only = _early_event_ids(_spike_arrivals(end, spike, files=False), end)
    assert len(events_only) == 1  # the spike's early Start, nothing else
    with_files = _early_event_ids(_spike_arrivals(end, spike, files=True), end)
    assert with_files == events_only
