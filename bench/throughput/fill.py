"""The topic both reads measure: generated CloudTrail records, sent once and reused while intact.

The records are ``trailpulse generate``'s traffic, sent by its own ``send_files`` in its seeded
envelope mix, keyed by account/region (as the README recommends) over ``--partitions`` partitions.
Each file sent is also written, as ``trailpulse generate --out`` writes it (same layout, same gzip),
under ``WORKDIR/files-TOPIC``: ``trailpulse replay`` of that directory reads the very records of the
topic. A fill is remembered in ``WORKDIR/fills.json``: a later run with the same broker and the same
:class:`FillSpec` reuses the topic if its end offsets are still those it was filled to and its files
are still there.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from bench.throughput.child import Doc

RECORDS_PER_DAY = 150_000  # the default traffic gives ~176 k records a day; this leaves some margin


@dataclass(frozen=True)
class FillSpec:
    """What the topic holds: at least ``records`` records of the trace ``seed``/``days``."""

    records: int
    envelopes: tuple[str, ...]
    partitions: int
    seed: int
    days: float | None  # trace length to draw files from (None: from ``records``)
    compression: str | None


@dataclass
class Fill:
    topic: str
    envelopes: tuple[str, ...]
    records: int
    messages: dict[str, int]
    value_bytes: int
    seconds: float
    ends: dict[str, int]  # "topic:partition" -> end offset
    disk_bytes: int | None
    files_dir: str  # the files sent, as ``trailpulse generate --out`` writes them

    @property
    def total_messages(self) -> int:
        return sum(self.messages.values())


def end_offsets(bootstrap: str, topic: str, partitions: list[int] | None = None) -> dict[str, int]:
    """``topic:partition`` -> end offset, as the broker has them now (all partitions if not given)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, client_id="bench-ends")
    try:
        if partitions is None:
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        return {f"{tp.topic}:{tp.partition}": int(o) for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def fill_topic(bootstrap: str, topic: str, spec: FillSpec, data_dir: Path | None, files_dir: Path) -> Fill:
    """Sends the first log files of a generated trace holding >= ``spec.records`` records to ``topic``,
    and writes them under ``files_dir``."""
    from consumers.kafka.protocol import topic_tools
    from consumers.synth.kafka_envelopes import MAX_MESSAGE_BYTES
    from consumers.synth.kafka_writer import send_files
    from consumers.synth.options import GenerateOptions
    from consumers.synth.s3_delivery import GeneratedFile, iter_log_files
    from consumers.synth.write_files import gzip_bytes

    days = spec.days or max(1.0, spec.records / RECORDS_PER_DAY + 1.0)
    options = GenerateOptions(seed=spec.seed, days=days)

    def first_files() -> Iterator[GeneratedFile]:
        sent = 0
        for log in iter_log_files(options):
            if sent >= spec.records:
                return
            sent += len(log.records)
            path = files_dir / log.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip_bytes(log.body(), options.gzip_level))
            yield log

    producer = topic_tools("kafka-python").writer(
        {
            "bootstrap_servers": bootstrap.split(","),
            "client_id": "bench-fill",
            "linger_ms": 20,
            "batch_size": 512 * 1024,
            "max_request_size": 2 * MAX_MESSAGE_BYTES,
            "compression_type": spec.compression,
        }
    )  # the writer always sends with acks="all"
    began = time.perf_counter()
    try:
        stats = send_files(first_files(), producer, topic, spec.envelopes)
    finally:
        producer.close()
    seconds = time.perf_counter() - began
    if stats.failed:
        raise RuntimeError(f"{stats.failed} sends failed: {stats.first_error}")
    if stats.records < spec.records:
        raise RuntimeError(f"the trace holds only {stats.records:,} records: give a larger --days")
    ends = end_offsets(bootstrap, topic)
    if sum(ends.values()) != sum(stats.messages.values()):
        raise RuntimeError(f"end offsets {ends} do not add up to the {sum(stats.messages.values())} sent")
    disk = None
    if data_dir is not None:
        disk = sum(f.stat().st_size for f in data_dir.glob(f"{topic}-*/*.log"))
    files = str(files_dir)
    return Fill(topic, spec.envelopes, stats.records, stats.messages, stats.bytes, seconds, ends, disk, files)


def _still_intact(bootstrap: str, fill: Fill) -> bool:
    """Whether the topic of an earlier fill is still there with the same end offsets."""
    topic = next(iter(fill.ends)).rsplit(":", 1)[0]
    partitions = [int(tp.rsplit(":", 1)[1]) for tp in fill.ends]
    try:
        return end_offsets(bootstrap, topic, partitions) == fill.ends
    except Exception:  # the topic is gone (or the broker is another one): fill again
        return False


def filled(bootstrap: str, workdir: Path, data_dir: Path | None, spec: FillSpec, name: str) -> Fill:
    """A topic holding the records: one filled by an earlier run in ``workdir`` if it is intact."""
    from tests.kafka_broker import create_topic, unique_topic

    what = {"broker": bootstrap if data_dir is None else str(data_dir), **asdict(spec)}
    key = json.dumps(what, sort_keys=True)
    cache = workdir / "fills.json"
    fills: dict[str, Doc] = json.loads(cache.read_text()) if cache.exists() else {}
    if key in fills and set(fills[key]) == {f.name for f in fields(Fill)}:
        fill = Fill(**{**fills[key], "envelopes": tuple(fills[key]["envelopes"])})
        if Path(fill.files_dir).is_dir() and _still_intact(bootstrap, fill):
            print(f"reusing {fill.topic} ({fill.records:,} records, filled by an earlier run)")
            return fill
    topic = unique_topic(f"bench-{name}")
    # the test broker keeps at most 512 MiB per partition; 1 M records are ~1 GB of values
    create_topic(bootstrap, topic, spec.partitions, {"retention.bytes": "-1", "retention.ms": "-1"})
    print(f"filling {topic} with >= {spec.records:,} records, envelopes {','.join(spec.envelopes)} ...")
    files_dir = workdir / f"files-{topic}"
    shutil.rmtree(files_dir, ignore_errors=True)
    fill = fill_topic(bootstrap, topic, spec, data_dir, files_dir)
    fills[key] = asdict(fill)
    cache.write_text(json.dumps(fills, indent=1))
    return fill
