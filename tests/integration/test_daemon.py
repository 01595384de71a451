"""``trailpulse run`` against the real broker: end to end, SIGTERM, poison input, a corrupt state store."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.state.changelog_store import ChangelogStore
from consumers.state.directory_store import StateStore
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import iter_log_files
from insights.baseline import baseline_fields
from insights.config import EngineConfig
from insights.decode import Decoder
from insights.engine import Engine
from insights.events import insight_event, shared_event_id
from insights.transition import InsightTransition
from tests.kafka_broker import KafkaBroker, consume_all, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka

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


def replayed(messages: list[bytes], config: EngineConfig) -> tuple[Engine, list[InsightTransition]]:
    """The engine after ``messages`` fed as replay feeds it (large batches, no ``finish``), and its output."""
    engine, decoder = Engine(config), Decoder()
    out: list[InsightTransition] = []
    records: list[object] = []
    for i, m in enumerate(messages):
        records.extend(decoder.decode(m).records)
        if len(records) >= 20_000 or i == len(messages) - 1:
            out.extend(engine.process(records))  # type: ignore[arg-type]
            records = []
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

    def __init__(self, tmp: Path, bootstrap: str, *args: str, env: dict[str, str] | None = None) -> None:
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


def test_end_to_end_sigterm_and_restart(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("daemon-in"), unique_topic("daemon-out"), unique_topic("group")
    create_topic(bootstrap, source, partitions=2)
    messages = trace_messages(TRACE)
    produce(bootstrap, source, messages, partition=0)  # one partition in trace order, as replay reads it
    state_dir = tmp_path / "state"
    args = (
        "--input-topic",
        source,
        "--output-topic",
        output,
        "--group-id",
        group,
        "--state-dir",
        str(state_dir),
    )
    daemon = Daemon(tmp_path, bootstrap, *args)
    try:
        ends = until_committed(daemon, bootstrap, group, source)
        code, took = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0 and took < 30
    assert committed(bootstrap, group, source) == ends == {(source, 0): len(messages), (source, 1): 0}
    state = StateStore(state_dir).load()
    assert state is not None and {tp: o for tp, o in state.offsets.items() if o} == {
        (source, 0): len(messages)
    }

    got = output_ids(bootstrap, output)
    want = reference_ids(messages, EngineConfig())
    assert want["Start"], "the trace has anomalies after warm-up"
    assert got["Start"] == want["Start"]
    assert got["End"] == want["End"]

    # A restart with no new input restores the state, emits nothing and commits the same offsets.
    again = Daemon(tmp_path, bootstrap, *args)
    try:
        wait_for(
            "assignment", lambda: any(e["event"] == "partitions_assigned" for e in again.events()), again
        )
        port = next(e["health_port"] for e in again.events() if e["event"] == "started")
        for path in ("/healthz", "/readyz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                assert response.status == 200
        time.sleep(2)
        code, _ = again.stop()
    finally:
        again.kill()
    assert code == 0
    assert any(e["event"] == "state_restored" for e in again.events())
    assert len(consume_all(bootstrap, output)) == len(got["Start"]) + len(got["End"])
    assert committed(bootstrap, group, source) == ends


def big_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=BIG, client_id="tests-big")


def test_poison_messages_are_dead_lettered(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    source, output, dead = unique_topic("poison-in"), unique_topic("poison-out"), unique_topic("poison-dlq")
    group = unique_topic("group")
    create_topic(bootstrap, source, configs={"max.message.bytes": str(BIG)})
    good = trace_messages(SMALL)
    poison = [
        b"\x00\x01junk\xff",
        b"X" * (2 << 20),
        b'{"Records": 5}',
        b'{"eventTime": 5, "eventSource": [], "eventName": {}, "awsRegion": 1}',
    ]
    messages = list(good)
    for i, p in enumerate(poison):
        messages.insert((i + 1) * len(good) // (len(poison) + 1), p)
    producer = big_producer(bootstrap)
    try:
        for m in messages:
            producer.send(source, m)
        producer.flush(timeout=60)
    finally:
        producer.close()
    args = ("--input-topic", source, "--output-topic", output, "--dead-letter-topic", dead)
    state = str(tmp_path / "state")
    env = {"TRAILPULSE_ENGINE_WARMUP_MINUTES": "360"}
    daemon = Daemon(tmp_path, bootstrap, *args, "--group-id", group, "--state-dir", state, env=env)
    try:
        until_committed(daemon, bootstrap, group, source, timeout_s=90)
        assert daemon.proc.poll() is None, "the daemon keeps running"
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    rejects = consume_all(bootstrap, dead)
    reasons = [dict(r.headers)["trailpulse.reason"].decode() for r in rejects]
    assert len(rejects) == len(poison), reasons
    assert all(dict(r.headers)["trailpulse.source"].startswith(f"{source}:0:".encode()) for r in rejects)
    assert rejects[0].value == poison[0]
    assert reasons[2] == "bad_envelope" or reasons[2] == "wrong_type", reasons
    stopped = next(e for e in daemon.events() if e["event"] == "stopped")
    counts = stopped["counts"]
    assert isinstance(counts, dict)
    assert sum(v for k, v in counts.items() if k.startswith("rejected.")) == len(poison)
    want = reference_ids(good, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    assert want["Start"], "the small trace has anomalies after warm-up"
    assert output_ids(bootstrap, output)["Start"] == want["Start"]


def test_corrupt_state_exits_with_a_clear_error(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "state.msgpack").write_bytes(b"garbage, not a state")
    source = unique_topic("corrupt-in")
    args = ["--input-topic", source, "--output-topic", "x", "--state-dir", str(state_dir)]

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TRAILPULSE), "run", "--bootstrap-servers", kafka_broker.bootstrap, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = start()
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("trailpulse run:")]
    assert len(lines) == 1 and "corrupt" in lines[0] and "state.msgpack" in lines[0], done.stderr
    # An engine snapshot that does not decode is refused the same way.
    (state_dir / "state.msgpack").write_bytes(
        msgspec.msgpack.encode({"version": 1, "offsets": {}, "engine": b"x"})
    )
    done = start()
    assert done.returncode == 2 and "trailpulse run:" in done.stderr, done.stderr


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("file-secret\n")
    env = {
        **os.environ,
        "TRAILPULSE_KAFKA_SASL_PLAIN_PASSWORD": "env-secret",
        "TRAILPULSE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "TRAILPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "TRAILPULSE_RUN_POLL_MAX_RECORDS": "500",
    }
    config = tmp_path / "run.toml"
    config.write_text(f'[kafka]\nsasl_plain_username = "tp"\nssl_password_file = "{secret_file}"\n')
    args = ["run", "--check-config", "--config", str(config), "--input-topic", "a", "--output-topic", "b"]
    done = subprocess.run([str(TRAILPULSE), *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "env-secret" not in done.stdout and "file-secret" not in done.stdout
    effective = json.loads(done.stdout)
    assert effective["kafka"]["sasl_plain_password"] == "***"
    assert effective["kafka"]["ssl_password"] == "***"
    assert effective["kafka"]["sasl_mechanism"] == "SCRAM-SHA-512"
    assert effective["run"]["poll_max_records"] == 500


def test_pattern_subscription_rebalance_checkpoints(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """A topic that starts matching the pattern rebalances: revoke checkpoints, assign resumes."""
    bootstrap = kafka_broker.bootstrap
    prefix = unique_topic("pattern")
    first, second, output, group = (
        f"{prefix}-a",
        f"{prefix}-b",
        unique_topic("pattern-out"),
        unique_topic("g"),
    )
    messages = trace_messages(dataclasses.replace(SMALL, days=0.2))
    half = len(messages) // 2
    create_topic(bootstrap, first)
    produce(bootstrap, first, messages[:half])
    # No interval checkpoint during the test: only the revoke's checkpoint can commit before SIGTERM.
    env = {"TRAILPULSE_KAFKA_METADATA_MAX_AGE_MS": "500", "TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "600"}
    args = ("--input-pattern", f"^{prefix}-.*", "--output-topic", output, "--group-id", group)
    daemon = Daemon(tmp_path, bootstrap, *args, "--state-dir", str(tmp_path / "state"), env=env)
    try:
        wait_for(
            "assignment", lambda: any(e["event"] == "partitions_assigned" for e in daemon.events()), daemon
        )
        time.sleep(3)  # consumes the first topic
        create_topic(bootstrap, second)
        produce(bootstrap, second, messages[half:])
        wait_for("revoke checkpoint", lambda: committed(bootstrap, group, first)[(first, 0)] > 0, daemon)

        def caught_up_on_second() -> bool:
            caught = [e for e in daemon.events() if e["event"] == "caught_up"]
            return bool(caught) and f"{second}:0" in caught[-1]["offsets"]  # type: ignore[operator]

        wait_for("second topic consumed", caught_up_on_second, daemon)
        code, took = daemon.stop()
    finally:
        daemon.kill()
    want = {(second, 0): len(messages) - half}
    assert committed(bootstrap, group, first) == {(first, 0): half}
    assert committed(bootstrap, group, second) == want
    assert code == 0 and took < 30
    names = [e["event"] for e in daemon.events()]
    assert "partitions_revoked" in names and names.count("partitions_assigned") >= 2, names
    state = StateStore(tmp_path / "state").load()
    assert state is not None and state.offsets == {(first, 0): half, **want}


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


def test_kill_9_at_random_points_loses_nothing_and_sends_nothing_twice(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """Several ``kill -9`` during one stream, each at a random point between checkpoints: every
    expected insight is out once, and the restored baselines equal those of an uninterrupted run."""
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("kill-in"), unique_topic("kill-out"), unique_topic("group")
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    create_topic(bootstrap, source)
    messages = trace_messages(TRACE)
    produce(bootstrap, source, messages)
    total = len(messages)
    args = ("--input-topic", source, "--output-topic", output, "--group-id", group)
    args += ("--state-dir", str(tmp_path / "state"))
    # Small polls and frequent checkpoints spread the stream over many checkpoints to kill between.
    env = {"TRAILPULSE_RUN_POLL_MAX_RECORDS": "20", "TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "0.5"}
    kills = 3
    killed_at: list[tuple[int, int]] = []  # (checkpointed offset, offset the daemon had reached)
    for k in range(kills):
        target = total * (k + 1) // (kills + 1) + rng.randrange(total // (4 * kills))
        daemon = Daemon(tmp_path, bootstrap, *args, env=env)
        try:
            wait_for(
                f"a checkpoint past {target}",
                lambda d=daemon, t=target: last_checkpoint(d, f"{source}:0") >= t,  # type: ignore[misc]
                daemon,
                timeout_s=120,
            )
            time.sleep(rng.uniform(0.0, 0.5))  # somewhere between two checkpoints
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(timeout=10)
        finally:
            daemon.kill()
        killed_at.append(
            (last_checkpoint(daemon, f"{source}:0"), committed(bootstrap, group, source)[(source, 0)])
        )
    mid_stream = [c for c, _ in killed_at if c < total]
    assert len(mid_stream) == kills, f"seed {seed}: kills at {killed_at} of {total}"

    final = Daemon(tmp_path, bootstrap, *args, env=env)
    try:
        until_committed(final, bootstrap, group, source, timeout_s=120)
        code, _ = final.stop()
    finally:
        final.kill()
    assert code == 0

    sent = sent_event_ids(bootstrap, output)
    repeated = [i for i, n in Counter(sent).items() if n > 1]
    assert not repeated, f"seed {seed}: sent twice: {repeated}"
    want = reference_ids(messages, EngineConfig())
    assert want["Start"], "the trace has anomalies after warm-up"
    assert set(sent) == want["Start"] | want["End"], f"seed {seed}"

    state = StateStore(tmp_path / "state").load()
    assert state is not None and state.offsets == {(source, 0): total}
    restored = Engine.restore(state.engine, EngineConfig())
    assert baselines(restored) == baselines(replayed(messages, EngineConfig())[0])


def test_broker_restart_mid_stream_is_ridden_out(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """The broker goes away and comes back while the daemon works, with its state on a compacted
    topic: the daemon keeps running, catches up, and its output is complete and has no repeats."""
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("bounce-in"), unique_topic("bounce-out"), unique_topic("group")
    state_topic = unique_topic("bounce-state")
    create_topic(bootstrap, source)
    messages = trace_messages(SMALL)
    half = len(messages) // 2
    produce(bootstrap, source, messages[:half])
    args = ("--input-topic", source, "--output-topic", output, "--group-id", group)
    args += ("--state-store", "kafka", "--state-topic", state_topic)
    env = {
        "TRAILPULSE_ENGINE_WARMUP_MINUTES": "360",
        "TRAILPULSE_RUN_POLL_MAX_RECORDS": "20",
        "TRAILPULSE_KAFKA_RECONNECT_BACKOFF_MAX_MS": "1000",
    }
    daemon = Daemon(tmp_path, bootstrap, *args, env=env)
    try:
        wait_for("a first checkpoint", lambda: last_checkpoint(daemon, f"{source}:0") > 0, daemon)
        kafka_broker.restart()
        produce(bootstrap, source, messages[half:])
        until_committed(daemon, bootstrap, group, source, timeout_s=180)
        code, took = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0 and took < 30
    sent = sent_event_ids(bootstrap, output)
    assert len(sent) == len(set(sent))
    want = reference_ids(messages, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    assert want["Start"], "the small trace has anomalies after warm-up"
    assert set(sent) == want["Start"] | want["End"]
    store = ChangelogStore({"bootstrap_servers": bootstrap}, state_topic, group)
    try:
        state = store.load()
    finally:
        store.close()
    assert state is not None and state.offsets == {(source, 0): len(messages)}


def test_confluent_kafka_client_gives_the_same_insights(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """``client = "confluent-kafka"``: the same daemon on librdkafka, the same output as the engine."""
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("cfk-in"), unique_topic("cfk-out"), unique_topic("group")
    create_topic(bootstrap, source)
    messages = trace_messages(SMALL)
    produce(bootstrap, source, messages)
    args = ("--client", "confluent-kafka", "--input-topic", source, "--output-topic", output)
    args += ("--group-id", group, "--state-dir", str(tmp_path / "state"))
    daemon = Daemon(tmp_path, bootstrap, *args, env={"TRAILPULSE_ENGINE_WARMUP_MINUTES": "360"})
    try:
        until_committed(daemon, bootstrap, group, source)
        code, took = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0 and took < 30
    sent = sent_event_ids(bootstrap, output)
    want = reference_ids(messages, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    assert want["Start"] and sorted(sent) == sorted(want["Start"] | want["End"])
