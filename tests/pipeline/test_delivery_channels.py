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
