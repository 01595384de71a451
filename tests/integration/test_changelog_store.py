"""The changelog state store against the real broker: round trips, crashes mid-save, damage, cleanup."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from consumers.state.changelog_store import CHUNK_BYTES, ChangelogStore, chunk_key, manifest_key
from consumers.state.directory_store import State, StateStoreError
from tests.kafka_broker import KafkaBroker, consume_all, create_topic

pytestmark = pytest.mark.kafka

GROUP = "trailpulse"
# The tests that take ``client`` run on both clients' topic tools; the others on the default.
BOTH_CLIENTS = pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])


def store(
    broker: KafkaBroker, topic: str, group_id: str = GROUP, client: str = "kafka-python"
) -> ChangelogStore:
    """A new store object, as a restarted daemon would make: it knows only what the topic holds."""
    return ChangelogStore({"bootstrap_servers": broker.bootstrap}, topic, group_id, client=client)


def save(
    broker: KafkaBroker, topic: str, state: State, group_id: str = GROUP, client: str = "kafka-python"
) -> None:
    writer = store(broker, topic, group_id, client)
    try:
        writer.save(state)
    finally:
        writer.close()


def send_raw(broker: KafkaBroker, topic: str, records: list[tuple[str, bytes | None]]) -> None:
    """Writes records to partition 0 behind the store's back (acks=all, waited for)."""
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", client_id="tests-raw")
    try:
        futures = [producer.send(topic, key=k.encode(), value=v, partition=0) for k, v in records]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close(timeout=10)


def latest_values(broker: KafkaBroker, topic: str) -> dict[str, bytes | None]:
    """What compaction would keep: each key's latest value (``None`` for a tombstone)."""
    return {r.key.decode(): r.value for r in consume_all(broker.bootstrap, topic)}


def big_state(size: int = 3 * 1024 * 1024 + 12345) -> State:
    return State({("cloudtrail", 0): 123_456, ("cloudtrail", 1): 7}, os.urandom(size))


@BOTH_CLIENTS
def test_empty_topic_is_created_compacted_and_loads_none(
    kafka_broker: KafkaBroker, topic: str, client: str
) -> None:
    assert store(kafka_broker, topic, client=client).load() is None
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap, client_id="tests-admin")
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, ["cleanup.policy"])
        configs = admin.describe_configs([resource], config_filter="all")["topic"][topic]
    finally:
        admin.close()
    assert configs["cleanup.policy"]["value"] == "compact"


@BOTH_CLIENTS
def test_round_trip_small_and_large(kafka_broker: KafkaBroker, topic: str, client: str) -> None:
    small = State({("in", 0): 7, ("in:with:colons", 3): 0}, b"engine")
    save(kafka_broker, topic, small, client=client)
    assert store(kafka_broker, topic, client=client).load() == small

    large = big_state()
    save(kafka_broker, topic, large, client=client)
    assert store(kafka_broker, topic, client=client).load() == large
    chunks = [k for k in latest_values(kafka_broker, topic) if k.startswith(f"{GROUP}/2/")]
    assert len(chunks) == -(-len(large.engine) // CHUNK_BYTES) > 1


def test_latest_of_several_saves_wins(kafka_broker: KafkaBroker, topic: str) -> None:
    writer = store(kafka_broker, topic)
    try:
        assert writer.load() is None
        writer.save(State({("in", 0): 1}, b"first"))
        writer.save(State({("in", 0): 2}, b"second"))
    finally:
        writer.close()
    assert store(kafka_broker, topic).load() == State({("in", 0): 2}, b"second")


def test_groups_sharing_a_topic_keep_their_own_state(kafka_broker: KafkaBroker, topic: str) -> None:
    # "blue/1" is chosen so that its keys start with "blue/", as "blue"'s chunk keys do.
    states = {"blue": State({("a", 0): 1}, b"blue"), "blue/1": State({("b", 0): 2}, os.urandom(700_000))}
    for group_id, state in states.items():
        save(kafka_broker, topic, state, group_id)
    for group_id, state in states.items():
        assert store(kafka_broker, topic, group_id).load() == state
    assert store(kafka_broker, topic, "green").load() is None


@BOTH_CLIENTS
def test_crash_between_chunks_and_manifest_keeps_the_previous_state(
    kafka_broker: KafkaBroker, topic: str, client: str
) -> None:
    before = big_state(CHUNK_BYTES + 1)  # generation 1, two chunks
    save(kafka_broker, topic, before, client=client)
    orphans = [(chunk_key(GROUP, 2, i), os.urandom(1000)) for i in range(3)]
    send_raw(kafka_broker, topic, orphans)  # generation 2's chunks, then the crash: no manifest

    restarted = store(kafka_broker, topic, client=client)
    try:
        assert restarted.load() == before
        after = State({("cloudtrail", 0): 999}, b"after the crash")
        restarted.save(after)
    finally:
        restarted.close()
    assert store(kafka_broker, topic).load() == after
    latest = latest_values(kafka_broker, topic)
    assert latest[chunk_key(GROUP, 3, 0)] == b"after the crash"  # a generation above the orphans'
    for key in [chunk_key(GROUP, 1, 0), chunk_key(GROUP, 1, 1), *(key for key, _ in orphans)]:
        assert latest[key] is None, key


def test_old_generation_is_tombstoned_after_a_save(kafka_broker: KafkaBroker, topic: str) -> None:
    save(kafka_broker, topic, big_state(2 * CHUNK_BYTES + 5))
    save(kafka_broker, topic, State({}, b"small"))
    latest = latest_values(kafka_broker, topic)
    assert {key: latest[key] for key in latest if key != manifest_key(GROUP)} == {
        chunk_key(GROUP, 1, 0): None,
        chunk_key(GROUP, 1, 1): None,
        chunk_key(GROUP, 1, 2): None,
        chunk_key(GROUP, 2, 0): b"small",
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (chunk_key(GROUP, 1, 1), b"bad chunk", "generation 1 is corrupt"),
        (chunk_key(GROUP, 1, 1), None, "lacks 1 of its 2 chunks"),
        (manifest_key(GROUP), b"\xc1 not msgpack", "manifest at offset 3 is unreadable"),
    ],
)
def test_damaged_state_is_an_error(
    kafka_broker: KafkaBroker, topic: str, key: str, value: bytes | None, message: str
) -> None:
    save(kafka_broker, topic, big_state(CHUNK_BYTES + 1))  # offsets 0, 1: chunks; 2: manifest
    send_raw(kafka_broker, topic, [(key, value)])
    with pytest.raises(StateStoreError, match=message):
        store(kafka_broker, topic).load()


@BOTH_CLIENTS
@pytest.mark.parametrize("policy", ["delete", "compact,delete"])
def test_topic_that_may_delete_the_state_is_refused(
    kafka_broker: KafkaBroker, topic: str, policy: str, client: str
) -> None:
    create_topic(kafka_broker.bootstrap, topic, configs={"cleanup.policy": policy})
    with pytest.raises(StateStoreError, match=f"cleanup.policy is '{policy}'"):
        store(kafka_broker, topic, client=client).load()
    with pytest.raises(StateStoreError, match="needs 'compact' alone"):
        store(kafka_broker, topic, client=client).save(State({}, b"x"))


def test_either_client_reads_what_the_other_saved(kafka_broker: KafkaBroker, topic: str) -> None:
    """A deployment may switch ``[run] client``: the state in the topic stays readable."""
    first = big_state(CHUNK_BYTES + 1)
    save(kafka_broker, topic, first, client="kafka-python")
    assert store(kafka_broker, topic, client="confluent-kafka").load() == first
    second = State({("in", 0): 2}, b"second")
    save(kafka_broker, topic, second, client="confluent-kafka")
    assert store(kafka_broker, topic, client="kafka-python").load() == second
    assert latest_values(kafka_broker, topic)[chunk_key(GROUP, 1, 0)] is None  # the older chunks tombstoned
