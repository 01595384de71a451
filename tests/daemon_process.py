"""``trailpulse run`` as a subprocess against the real broker, and what the daemon tests check it with:
generated traces as messages, the engine's own output for them, the group's committed offsets."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.runtime.decode_pool import decode_messages
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import iter_log_files
from insights.baseline import baseline_fields
from insights.config import EngineConfig
from insights.engine import Engine
from insights.events import insight_event, shared_event_id
from insights.transition import InsightTransition
from tests.kafka_broker import consume_all

TRAILPULSE = Path(sys.executable).parent / "trailpulse"
TRACE = GenerateOptions(seed=5, days=2.5, api_factor=0.3, warmup_minutes=1800, anomalies_per_kind=1)
SMALL = GenerateOptions(seed=7, days=1.0, api_factor=0.15, warmup_minutes=360, anomalies_per_kind=1)
BIG = 4 << 20


def trace_messages(options: GenerateOptions) -> list[bytes]:
    """The trace's files as messages: most gzipped, some plain, some split into raw single records."""
    messages: list[bytes] = []
    for i, log in enumerate(iter_log_files(options)):
        if i % 50 == 2:
            messages.extend(log.records)
        elif i % 10 == 1:
            messages.append(log.body())
        else:
            messages.append(zlib.compress(log.body(), 1, wbits=31))
    return messages


REPLAY_MESSAGES = 5_000  # messages per engine batch of replayed()


def replayed(messages: list[bytes], config: EngineConfig) -> tuple[Engine, list[InsightTransition]]:
    """The engine after ``messages`` fed as replay feeds it (decoded as the daemon decodes them, each
    with its delivery channel, in large batches, no ``finish``), and its output."""
    engine = Engine(config)
    out: list[InsightTransition] = []
    for start in range(0, len(messages), REPLAY_MESSAGES):
        decoded = decode_messages(messages[start : start + REPLAY_MESSAGES], None, config.analyse_data_events)
        out.extend(engine.process_classified([decoded.batch]))
    return engine, out


def reference_ids(messages: list[bytes], config: EngineConfig) -> dict[str, set[str]]:
    """The eventIDs of what the engine gives for ``messages`` (see :func:`replayed`), by state."""
    out: dict[str, set[str]] = {"Start": set(), "End": set()}
    for t in replayed(messages, config)[1]:
        out[t.state].add(str(insight_event(t)["eventID"]))
        assert str(insight_event(t)["sharedEventID"]) == shared_event_id(t)
    return out


def output_ids(bootstrap: str, topic: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"Start": set(), "End": set()}
    for r in consume_all(bootstrap, topic):
        event = json.loads(r.value)
        assert r.key == event["sharedEventID"].encode()
        out[event["insightDetails"]["state"]].add(event["eventID"])
    return out


class Daemon:
    """``trailpulse run`` as a subprocess, JSON logs to a file."""

    def __init__(
        self,
        tmp: Path,
        bootstrap: str,
        *args: str,
        env: dict[str, str] | None = None,
        own_group: bool = False,
    ) -> None:
        """``own_group``: in a process group of its own (the group's id is the daemon's pid), as a
        service manager starts it, so that a test can signal the whole group."""
        self.log_path = tmp / f"daemon-{time.monotonic_ns()}.log"
        full_env = {
            **os.environ,
            "TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "1",
            "TRAILPULSE_RUN_HEALTH_PORT": "0",
            **(env or {}),
        }
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(TRAILPULSE), "run", "--bootstrap-servers", bootstrap, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=own_group,
            )

    def events(self) -> list[dict[str, object]]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stop(self, timeout_s: float = 30.0) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout_s)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(what: str, done: Callable[[], bool], daemon: Daemon, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if daemon.proc.poll() is not None:
            pytest.fail(
                f"daemon exited ({daemon.proc.returncode}) waiting for {what}:\n{daemon.log_path.read_text()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{daemon.log_path.read_text()[-3000:]}")
        time.sleep(0.3)


def until_committed(
    daemon: Daemon, bootstrap: str, group: str, source: str, timeout_s: float = 120.0
) -> dict[tuple[str, int], int]:
    """Wait until the group has committed every offset ``source`` holds now; those end offsets."""
    ends = end_offsets(bootstrap, source)
    wait_for(
        "all input committed",
        lambda: committed(bootstrap, group, source) == ends,
        daemon,
        timeout_s=timeout_s,
    )
    return ends


def to_the_end(daemon: Daemon, bootstrap: str, group: str, source: str, timeout_s: float = 180.0) -> None:
    """Let ``daemon`` run until the group has committed all of ``source``, then stop it; it must exit 0."""
    try:
        until_committed(daemon, bootstrap, group, source, timeout_s=timeout_s)
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0


def kill_after_checkpoint(
    daemon: Daemon, covered: Callable[[Daemon], int], target: int, rng: random.Random
) -> None:
    """SIGKILL ``daemon`` at a random moment once a checkpoint ``covered`` at least ``target``
    messages, somewhere between two checkpoints (the run's interval is short)."""
    try:
        wait_for(f"a checkpoint past {target}", lambda: covered(daemon) >= target, daemon, timeout_s=120)
        time.sleep(rng.uniform(0.0, 0.5))
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=10)
    finally:
        daemon.kill()


def checkpointed(daemon: Daemon) -> int:
    """Messages the daemon's last checkpoint covers, all partitions together."""
    marks = [e["offsets"] for e in daemon.events() if e["event"] == "checkpoint"]
    return sum(marks[-1].values()) if marks else 0  # type: ignore[attr-defined]


def sent_once(bootstrap: str, topic: str, seed: int) -> set[str]:
    """The eventIDs on the output ``topic``, asserting that none was sent twice."""
    sent = sent_event_ids(bootstrap, topic)
    repeated = [i for i, n in Counter(sent).items() if n > 1]
    assert not repeated, f"seed {seed}: sent twice: {repeated}"
    return set(sent)


def committed(bootstrap: str, group: str, topic: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets on ``topic`` (0 where none), read without joining the group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id="tests-committed")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {(tp.topic, tp.partition): consumer.committed(tp) or 0 for tp in tps}
    finally:
        consumer.close(autocommit=False)


def end_offsets(bootstrap: str, topic: str) -> dict[tuple[str, int], int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="tests-ends")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {(tp.topic, tp.partition): o for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def big_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=BIG, client_id="tests-big")


def baselines(engine: Engine) -> dict[tuple[str, ...], dict[str, list[float]]]:
    """Every tracked key's baseline columns, by key (slots depend on arrival order, keys do not)."""
    names = list(baseline_fields(engine.config.ring))
    cols = engine.track.baseline.cols
    return {
        key: {name: cols[name][slot].tolist() for name in names}
        for slot, key in enumerate(engine.track.keys.table.keys)
        if key is not None
    }


def sent_event_ids(bootstrap: str, topic: str) -> list[str]:
    """Every eventID on the output topic, repeats included."""
    return [json.loads(r.value)["eventID"] for r in consume_all(bootstrap, topic)]


def last_checkpoint(daemon: Daemon, tp: str) -> int:
    marks = [e["offsets"] for e in daemon.events() if e["event"] == "checkpoint"]
    return int(marks[-1].get(tp, 0)) if marks else 0  # type: ignore[attr-defined]
