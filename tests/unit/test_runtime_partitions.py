"""Partitions read far apart in event time on the in-memory Kafka: no record is late, the insights
are the engine's for the same records in event order, and a partition far ahead is paused."""

from __future__ import annotations

import functools

import msgspec

from consumers.kafka.memory import EOF
from insights.config import EngineConfig
from insights.engine import Engine
from insights.events import insight_event
from insights.record import CloudTrailRecord
from tests.builders import HOUR, api, merge, poisson_counts, steady_with, stream
from tests.runtime_harness import ENGINE, MINUTES, SOURCE, Harness

ACCOUNTS = ("111111111111", "222222222222", "333333333333")


@functools.cache
def per_account() -> tuple[dict[int, list[CloudTrailRecord]], ...]:
    """Five hours of each account's traffic, one account a partition, with a spike each."""
    out = []
    for i, account in enumerate(ACCOUNTS):
        spike = (200 + 20 * i, 203 + 20 * i)
        out.append(
            merge(
                stream(
                    {
                        api("PutObject", source="s3.amazonaws.com", account=account): poisson_counts(
                            4.0, MINUTES, i
                        )
                    }
                ),
                stream(
                    {api("RunInstances", account=account): steady_with(3.0, MINUTES, 10 + i, {spike: 60})}
                ),
            )
        )
    return tuple(out)


def _messages(records: dict[int, list[CloudTrailRecord]]) -> list[bytes]:
    return [msgspec.json.encode({"Records": records[m]}) for m in sorted(records)]


def _engine_ids(config: EngineConfig) -> set[str]:
    """The eventIDs of the engine fed every account's records in event order (no ``finish``)."""
    engine, merged = Engine(config), _merged()
    return {str(insight_event(t)["eventID"]) for m in sorted(merged) for t in engine.process(merged[m])}


def _merged() -> dict[int, list[CloudTrailRecord]]:
    merged: dict[int, list[CloudTrailRecord]] = {}
    for records in per_account():
        for minute, rs in records.items():
            merged.setdefault(minute, []).extend(rs)
    return merged


def test_partitions_hours_apart_lose_nothing_and_give_the_engines_insights() -> None:
    """The in-memory consumer reads partition 0 to its end before it delivers anything of the
    others (as a consumer fetching one partition's backlog first would): partition 0 runs five
    hours ahead, yet nothing closes until the others, which have records, have delivered."""
    harness = Harness()
    harness.cluster.create_topic(SOURCE, partitions=len(ACCOUNTS))
    for partition, records in enumerate(per_account()):
        harness.cluster.produce(SOURCE, [*_messages(records), EOF], partition=partition)
    started = harness.start(poll_max_records=25)
    started.run_to_eof()
    skipped = started.daemon.engine.normaliser.skipped
    assert skipped["late"] == 0
    sent = set(harness.sent_event_ids())
    assert len(sent) >= 2 * len(ACCOUNTS)
    assert sent == _engine_ids(ENGINE)


def test_a_partition_far_ahead_of_the_closed_minutes_is_paused_until_the_others_catch_up() -> None:
    harness = Harness()
    harness.cluster.create_topic(SOURCE, partitions=2)
    records = per_account()
    harness.cluster.produce(SOURCE, [*_messages(records[0]), EOF], partition=0)
    harness.cluster.produce(SOURCE, [*_messages(records[1])[: 2 * HOUR], EOF], partition=1)
    started = harness.start(poll_max_records=10, align_minutes=1)
    paused_seen: set[tuple[str, int]] = set()
    while not started.consumer.exhausted:
        started.daemon.turn()
        paused_seen |= started.consumer.paused
    assert (SOURCE, 0) in paused_seen
    assert started.daemon.engine.normaliser.skipped["late"] == 0
