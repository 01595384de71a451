"""The in-memory Kafka double itself: markers, rebalances, reads beside the group, a broker away."""

from __future__ import annotations

import pytest

from consumers.kafka.memory import ABORT, EOF, AbortError, MemoryCluster
from consumers.kafka.protocol import KafkaClientError, TopicPartitionKey


class Handler:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[TopicPartitionKey]]] = []

    def on_assigned(self, partitions: list[TopicPartitionKey]) -> None:
        self.calls.append(("assigned", partitions))

    def on_revoked(self, partitions: list[TopicPartitionKey]) -> None:
        self.calls.append(("revoked", partitions))


def values(records: object) -> list[bytes | None]:
    return [r.value for r in records]  # type: ignore[attr-defined]


def test_eof_holds_this_consumer_and_a_later_one_goes_past_it() -> None:
    cluster = MemoryCluster()
    cluster.produce("in", [b"a", EOF, b"b", EOF])
    consumer = cluster.consumer("g")
    exhausted: list[bool] = []
    consumer.on_exhausted = lambda: exhausted.append(True)
    consumer.subscribe(["in"], None, Handler())
    assert values(consumer.poll(0.1, 10)) == [b"a"]
    assert consumer.poll(0.1, 10) == [] and consumer.poll(0.1, 10) == []
    assert exhausted == [True]  # called once
    consumer.commit({("in", 0): 1})

    later = cluster.consumer("g")
    later.subscribe(["in"], None, Handler())
    assert values(later.poll(0.1, 10)) == [b"b"] and not later.exhausted
    assert later.poll(0.1, 10) == [] and later.exhausted


def test_abort_raises_once_at_its_place() -> None:
    cluster = MemoryCluster()
    cluster.produce("in", [b"a", b"b", ABORT, b"c"])
    consumer = cluster.consumer("g")
    consumer.subscribe(["in"], None, Handler())
    assert values(consumer.poll(0.1, 2)) == [b"a", b"b"]
    with pytest.raises(AbortError, match="in:0:2"):
        consumer.poll(0.1, 2)
    restarted = cluster.consumer("g")
    restarted.subscribe(["in"], None, Handler())
    assert values(restarted.poll(0.1, 10)) == [b"a", b"b", b"c"]  # nothing committed: from the earliest


def test_rebalances_revoke_everything_then_assign_at_the_committed_offsets() -> None:
    cluster = MemoryCluster()
    cluster.create_topic("in-a", partitions=2)
    cluster.produce("in-a", [b"a0", b"a1"], partition=1)
    cluster.committed["g"] = {("in-a", 1): 1}
    consumer, handler = cluster.consumer("g"), Handler()
    consumer.subscribe([], "^in-", handler)
    assert values(consumer.poll(0.1, 10)) == [b"a1"]
    cluster.produce("in-b", [b"b0"])  # a new topic matching the pattern
    assert values(consumer.poll(0.1, 10)) == [b"a1", b"b0"]  # a1 again: its read was not committed
    consumer.rebalance([("in-b", 0)])
    consumer.poll(0.1, 10)
    assert handler.calls == [
        ("assigned", [("in-a", 0), ("in-a", 1)]),
        ("revoked", [("in-a", 0), ("in-a", 1)]),
        ("assigned", [("in-a", 0), ("in-a", 1), ("in-b", 0)]),
        ("revoked", [("in-a", 0), ("in-a", 1), ("in-b", 0)]),
        ("assigned", [("in-b", 0)]),
    ]
    assert consumer.assignment() == {("in-b", 0)}
    with pytest.raises(KafkaClientError, match="not assigned"):
        consumer.seek(("in-a", 0), 0)


def test_reads_beside_the_group_by_time_and_end_offsets() -> None:
    now = [100.0]
    cluster = MemoryCluster(clock=lambda: now[0])
    cluster.produce("out", [b"old"])
    now[0] = 200.0
    cluster.produce("out", [b"new"])
    cluster.create_topic("in-x", partitions=2)
    consumer = cluster.consumer("g")
    assert [m.value for m in consumer.read_since("out", 150.0)] == [b"new"]
    assert consumer.read_since("missing", 0.0) == []
    assert consumer.end_offsets([], "^in-") == {("in-x", 0): 0, ("in-x", 1): 0}
    assert consumer.end_offsets(["out"], None) == {("out", 0): 2}


def test_a_producer_whose_broker_is_away_keeps_its_sends_until_it_is_back() -> None:
    cluster = MemoryCluster()
    cluster.create_topic("out", partitions=3)
    producer = cluster.producer()
    producer.away = True
    producer.send("out", b"v", b"key", [("h", b"1")])
    assert not producer.flush(1.0) and cluster.records("out") == []
    producer.away = False
    assert producer.flush(1.0)
    [record] = cluster.records("out")
    assert (record.value, record.key, record.headers) == (b"v", b"key", [("h", b"1")])
    producer.send("out", b"w", b"key", [])
    assert {r.partition for r in cluster.records("out")} == {record.partition}  # same key, same partition
