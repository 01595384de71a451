"""``trailpulse run`` against the real broker, recovering: ``kill -9`` at random points, a broker restart."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from consumers.state.changelog_store import ChangelogStore
from consumers.state.directory_store import StateStore
from insights.config import EngineConfig
from insights.engine import Engine
from tests.daemon_process import (
    SMALL,
    TRACE,
    Daemon,
    baselines,
    kill_after_checkpoint,
    last_checkpoint,
    reference_ids,
    replayed,
    sent_event_ids,
    sent_once,
    to_the_end,
    trace_messages,
    until_committed,
    wait_for,
)
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka


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
    total = len(messages)
    args = ("--input-topic", source, "--output-topic", output, "--group-id", group)
    args += ("--state-dir", str(tmp_path / "state"))
    # Small polls and frequent checkpoints spread the stream over many checkpoints to kill between.
    env = {"TRAILPULSE_RUN_POLL_MAX_RECORDS": "20", "TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "0.5"}
    kills = 3
    produced = 0
    killed_at: list[int] = []  # the checkpointed offset at each kill
    for k in range(kills):
        target = total * (k + 1) // (kills + 1) + rng.randrange(total // (4 * kills))
        # The stream grows in stretches that end well past each kill point: a fast daemon cannot reach
        # the end of the whole stream before it is killed, so every kill lands mid-stream.
        stretch_end = target + total // (2 * (kills + 1))
        produce(bootstrap, source, messages[produced:stretch_end])
        produced = stretch_end
        daemon = Daemon(tmp_path, bootstrap, *args, env=env)
        kill_after_checkpoint(daemon, lambda d: last_checkpoint(d, f"{source}:0"), target, rng)
        killed_at.append(last_checkpoint(daemon, f"{source}:0"))
    assert killed_at == sorted(killed_at) and killed_at[-1] < total, f"seed {seed}: kills at {killed_at}"
    produce(bootstrap, source, messages[produced:])

    to_the_end(Daemon(tmp_path, bootstrap, *args, env=env), bootstrap, group, source, timeout_s=120)
    sent = sent_once(bootstrap, output, seed)
    want = reference_ids(messages, EngineConfig())
    assert want["Start"], "the trace has anomalies after warm-up"
    assert sent == want["Start"] | want["End"], f"seed {seed}"

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
