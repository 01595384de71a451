"""A real Apache Kafka broker for tests, and small kafka-python helpers to use it.

``KafkaBroker`` runs ``scripts/kafka.sh`` (the same script as CI and users): a single-node KRaft broker on
127.0.0.1 with free ports, its configuration, data and logs in the broker's work directory
(``server.log`` there tells what the broker did). The broker is told this process's id, so it stops by
itself should the test run die without stopping it.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.producer.future import RecordMetadata

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "scripts" / "kafka.sh"


class KafkaBroker:
    """One broker, started and stopped by ``scripts/kafka.sh`` in ``workdir``.

    ``restart()`` keeps the address and the data, as a broker that went down and came back.
    """

    def __init__(self, workdir: str | os.PathLike[str], *, owner_pid: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.owner_pid = os.getpid() if owner_pid is None else owner_pid
        self._bootstrap: str | None = None

    def _run(self, command: str) -> str:
        env = dict(os.environ, KAFKA_OWNER_PID=str(self.owner_pid))
        done = subprocess.run(
            ["bash", str(KAFKA_SH), command, str(self.workdir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/kafka.sh {command} {self.workdir} failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> str:
        """Starts the broker (or finds it running) and returns its bootstrap address, host:port."""
        self._bootstrap = self._run("start")
        return self._bootstrap

    def stop(self) -> None:
        """Stops the broker: a clean shutdown, killed after 30 s. Does nothing if it is not running."""
        self._run("stop")

    def restart(self) -> str:
        """Stops the broker and starts it again on the same ports, with the same data."""
        bootstrap = self._run("restart")
        if self._bootstrap is not None and bootstrap != self._bootstrap:
            raise RuntimeError(f"the broker came back on {bootstrap}, not {self._bootstrap}")
        self._bootstrap = bootstrap
        return bootstrap

    @property
    def bootstrap(self) -> str:
        if self._bootstrap is None:
            raise RuntimeError("the broker is not started")
        return self._bootstrap

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test uses: ``prefix`` (made a legal topic name) and a random suffix.

    >>> unique_topic("test_x[a b]").startswith("test_x-a-b-")
    True
    """
    clean = re.sub(r"[^a-zA-Z0-9._-]+", "-", prefix).strip("-")[:200] or "topic"
    return f"{clean}-{uuid.uuid4().hex[:12]}"


def create_topic(
    bootstrap: str, name: str, partitions: int = 1, configs: dict[str, str] | None = None
) -> None:
    """Creates a topic (one replica) and waits until every partition has a leader."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tests-admin")
    try:
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs or {}}},
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    key: bytes | None = None,
    partition: int | None = None,
) -> list[RecordMetadata]:
    """Sends ``values`` in order (acks=all), waits until the broker has them all, returns their metadata."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="tests-producer")
    try:
        futures = [producer.send(topic, value=v, key=key, partition=partition) for v in values]
        producer.flush(timeout=60)
        return [f.get(timeout=60) for f in futures]
    finally:
        producer.close(timeout=10)


def consume_all(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Every record the topic holds when called, by partition then offset.

    No consumer group, nothing committed. Returns as soon as each partition is read to its end offset;
    raises TimeoutError after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="tests-consume-all",
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} has no partitions in the metadata")
            time.sleep(0.1)
            partitions = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[ConsumerRecord] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"read {len(records)} records of {topic} in {timeout_s} s, not all")
            for batch in consumer.poll(timeout_ms=int(min(left, 1.0) * 1000)).values():
                records.extend(batch)
        records.sort(key=lambda r: (r.partition, r.offset))
        return records
    finally:
        consumer.close()
