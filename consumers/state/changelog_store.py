"""The daemon's state in a compacted Kafka topic (a changelog), for containers that keep no disk.

Why it is built this way:

* A snapshot can be hundreds of MB and Kafka refuses records over ``max.message.bytes`` (about 1 MB by
  default), so the snapshot is sent in chunks of 512 KiB, keyed ``<group_id>/<generation>/<index>``.
* Chunks cannot tell which of them make a whole state. A manifest, keyed ``<group_id>/manifest``, names
  the generation, its chunk count, size and SHA-256, and the input offsets. It is sent only once every
  chunk is acknowledged, so the latest manifest describes chunks that are all in the topic: a crash
  before it leaves the previous manifest, still whole; a crash after it, the new one.
* Each save takes a generation above every one seen, so the chunks of a write that crashed halfway are
  never mixed into a later one; the SHA-256 catches any other damage.
* Compaction keeps the latest record of each key: the manifest and the current chunks stay for good.
  Once the new manifest is acknowledged the older chunks get tombstones (value ``None``), which let
  compaction free them; chunks a crash left behind get theirs at the next save. ``cleanup.policy=delete``
  would drop the state after ``retention.ms``, so a topic with it is refused.
* Everything goes to partition 0, where the order is total: chunks before their manifest, the latest
  manifest last. Consumer groups may share the topic; their keys differ by prefix.
* ``load`` reads the partition from its beginning to its end offset with no consumer group: a state is
  read once, at start, and compaction keeps that read to about one generation per group plus the part
  of the log not cleaned yet (the active segment, and up to ``min.cleanable.dirty.ratio`` of the rest).

As with the directory store, the state belongs to one consumer group and one process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from consumers.kafka.options import split_options
from consumers.kafka.protocol import KafkaClientError, RecordWriter, topic_tools
from consumers.state.directory_store import State, StateStoreError, decode_offsets, encode_offsets

MANIFEST_VERSION = 2
CHUNK_BYTES = 512 * 1024
PARTITION = 0
MAX_REPLICATION = 3
TIMEOUT_S = 120.0
CHUNK_SUFFIX = re.compile(r"(\d+)/(\d+)", re.ASCII)

ChunkId = tuple[int, int]  # (generation, index)
Tool = TypeVar("Tool")


class Manifest(msgspec.Struct, frozen=True):
    """The record that makes a generation the current state."""

    version: int
    generation: int
    chunks: int
    size: int
    sha256: str
    offsets: dict[str, int]
    outputs_since: float
    # The chunks hold the engine snapshot followed by the alert outbox; this many bytes are the outbox
    # (0 in manifests written before alert sinks existed).
    outbox_size: int = 0


def chunk_key(group_id: str, generation: int, index: int) -> str:
    return f"{group_id}/{generation}/{index}"


def manifest_key(group_id: str) -> str:
    return f"{group_id}/manifest"


class _Scan:
    """One group's records, fed in offset order: the latest manifest and the chunks it may need."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.prefix = f"{group_id}/"
        self.manifest: Manifest | None = None
        self.manifest_error: str | None = None  # why the latest manifest record is unreadable
        self.values: dict[ChunkId, bytes] = {}  # only generations not older than the manifest's
        self.live: set[ChunkId] = set()  # chunks whose latest record is not a tombstone
        self.top_generation = 0

    def add(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        name = key.decode("utf-8", "replace") if key else ""
        if not name.startswith(self.prefix):
            return
        suffix = name[len(self.prefix) :]
        if suffix == "manifest":
            self._add_manifest(value, offset)
        elif match := CHUNK_SUFFIX.fullmatch(suffix):
            chunk = (int(match[1]), int(match[2]))
            self.top_generation = max(self.top_generation, chunk[0])
            if value is None:
                self.live.discard(chunk)
                self.values.pop(chunk, None)
            else:
                self.live.add(chunk)
                if self.manifest is None or chunk[0] >= self.manifest.generation:
                    self.values[chunk] = value

    def _add_manifest(self, value: bytes | None, offset: int) -> None:
        self.manifest, self.manifest_error = None, None
        if value is None:  # a tombstone someone wrote to reset this group's state
            return
        try:
            manifest = msgspec.msgpack.decode(value, type=Manifest)
            if manifest.version != MANIFEST_VERSION:
                raise ValueError(f"unsupported version {manifest.version}")
            decode_offsets(manifest.offsets)
        except (msgspec.DecodeError, ValueError) as exc:
            self.manifest_error = f"the manifest at offset {offset} is unreadable: {exc}"
            return
        self.manifest = manifest
        self.top_generation = max(self.top_generation, manifest.generation)
        self.values = {chunk: v for chunk, v in self.values.items() if chunk[0] >= manifest.generation}

    def state(self, location: str) -> State | None:
        if self.manifest_error is not None:
            raise StateStoreError(f"{location}: {self.manifest_error}")
        manifest = self.manifest
        if manifest is None:
            return None
        ids = [(manifest.generation, index) for index in range(manifest.chunks)]
        missing = [chunk for chunk in ids if chunk not in self.values]
        if missing:
            raise StateStoreError(
                f"{location}: generation {manifest.generation} lacks {len(missing)} of its "
                f"{manifest.chunks} chunks (the first: {chunk_key(self.group_id, *missing[0])})"
            )
        blob = b"".join(self.values[chunk] for chunk in ids)
        if len(blob) != manifest.size or hashlib.sha256(blob).hexdigest() != manifest.sha256:
            raise StateStoreError(
                f"{location}: generation {manifest.generation} is corrupt: its chunks do not match "
                "the manifest's size and SHA-256"
            )
        split = len(blob) - manifest.outbox_size
        return State(decode_offsets(manifest.offsets), blob[:split], manifest.outputs_since, blob[split:])


class ChangelogStore:
    """A :class:`~consumers.state.directory_store.Store` on a compacted topic; keys prefixed by ``group_id``.

    ``options`` use kafka-python's names (:mod:`consumers.kafka.options`); ``client`` picks the Kafka
    client whose topic tools (:func:`consumers.kafka.protocol.topic_tools`) do the reading and writing.
    The topic is created on first use if missing: compacted, one partition, ``min(3, brokers)`` replicas
    and ``min.insync.replicas`` one less, so that an acknowledged save is on two brokers once there are
    several. Create the topic beforehand for other settings.
    """

    def __init__(
        self,
        options: Mapping[str, Any],
        topic: str,
        group_id: str,
        *,
        client: str = "kafka-python",
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self.timeout_s = timeout_s
        split_options(options)  # an unknown option is refused now, not at the first save
        self._options = dict(options)
        self._tools = topic_tools(client)
        self._writer: RecordWriter | None = None
        self._topic_checked = False
        self._live: set[ChunkId] | None = None  # this group's chunks not yet tombstoned; None: not read
        self._top_generation = 0

    @property
    def location(self) -> str:
        return f"Kafka topic {self.topic} (keys {self.group_id}/...)"

    def load(self) -> State | None:
        """The state of the latest manifest, checked against it; also learns which chunks to clean."""
        return self._scan().state(self.location)

    def save(self, state: State) -> None:
        """Chunks, then (all acknowledged) the manifest, then tombstones for every other chunk.

        A first save without a load reads the topic first: the new generation must be above all there.
        A tombstone the broker refuses is sent again at the next save; any other failure raises.
        """
        live = self._scan().live if self._live is None else self._live
        self._top_generation += 1
        generation = self._top_generation
        blob = state.engine + state.outbox
        pieces = [blob[start : start + CHUNK_BYTES] for start in range(0, len(blob), CHUNK_BYTES)]
        written = {(generation, index) for index in range(len(pieces))}
        self._live = live | written  # should a send below fail, the next save tombstones what it left
        chunks = [(chunk_key(self.group_id, generation, i), piece) for i, piece in enumerate(pieces)]
        digest = hashlib.sha256(blob).hexdigest()
        manifest = Manifest(
            MANIFEST_VERSION,
            generation,
            len(pieces),
            len(blob),
            digest,
            encode_offsets(state.offsets),
            state.outputs_since,
            len(state.outbox),
        )
        manifest_record = (manifest_key(self.group_id), msgspec.msgpack.encode(manifest))
        for what, records in (("a chunk", chunks), ("the manifest", [manifest_record])):
            failure = next((error for error in self._send(records) if error), None)
            if failure is not None:
                raise StateStoreError(f"{self.location}: {what} was not written: {failure}")
        stale = sorted(self._live - written)
        errors = self._send([(chunk_key(self.group_id, *chunk), None) for chunk in stale])
        self._live = written | {chunk for chunk, error in zip(stale, errors, strict=True) if error}

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _connect(self, make: Callable[[Mapping[str, Any]], Tool]) -> Tool:
        try:
            return make(self._options)
        except KafkaClientError as exc:
            raise StateStoreError(f"cannot connect to {self.location}: {exc}") from exc

    def _send(self, records: Sequence[tuple[str, bytes | None]]) -> list[str | None]:
        """Sends ``records`` to partition 0 (acks=all) and waits: per record, why it failed, or None."""
        if self._writer is None:
            self._writer = self._connect(self._tools.writer)
        errors: list[str | None] = [None] * len(records)

        def failed(index: int) -> Callable[[str], None]:
            return lambda error: errors.__setitem__(index, error)

        try:
            for index, (key, value) in enumerate(records):
                self._writer.send(
                    self.topic, key.encode(), value, partition=PARTITION, on_failure=failed(index)
                )
            self._writer.flush(self.timeout_s)
        except KafkaClientError as exc:
            raise StateStoreError(f"cannot write to {self.location}: {exc}") from exc
        return errors

    def _scan(self) -> _Scan:
        """This group's records, read from the beginning of partition 0 to its end offset."""
        self._ensure_topic()
        scan = _Scan(self.group_id)
        reader = self._connect(self._tools.reader)
        try:
            for record in reader.read_partition(self.topic, PARTITION, self.timeout_s):
                scan.add(record.key, record.value, record.offset)
        except KafkaClientError as exc:
            raise StateStoreError(f"cannot read {self.location}: {exc}") from exc
        finally:
            reader.close()
        self._live, self._top_generation = scan.live, scan.top_generation
        return scan

    def _ensure_topic(self) -> None:
        """Creates the topic if missing; refuses one whose cleanup policy may delete the state."""
        if self._topic_checked:
            return
        admin = self._connect(self._tools.admin)
        try:
            if not admin.topic_exists(self.topic):  # created as the class docstring says
                replicas = max(1, min(MAX_REPLICATION, admin.live_brokers()))
                configs = {"cleanup.policy": "compact", "min.insync.replicas": str(max(1, replicas - 1))}
                admin.create_topic(self.topic, 1, replicas, configs)  # created meanwhile: checked below
            policy = admin.topic_config(self.topic, "cleanup.policy")
        except KafkaClientError as exc:
            raise StateStoreError(f"cannot create or check {self.location}: {exc}") from exc
        finally:
            admin.close()
        if policy is None or set(policy.split(",")) != {"compact"}:
            raise StateStoreError(
                f"{self.location}: cleanup.policy is {policy!r}; the state store needs 'compact' alone "
                "(with 'delete' the state would be deleted after retention.ms)"
            )
        self._topic_checked = True
