"""``kill -9`` at random points while ``trailpulse run`` reads a backlog whose partitions are hours
apart in event time (see :mod:`tests.backlog_traffic`): nothing lost, nothing sent twice, and the
state ends at every partition's end offset."""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import pytest

from consumers.state.directory_store import StateStore
from consumers.synth.options import GenerateOptions
from insights.config import EngineConfig
from tests.backlog_traffic import build_backlog, reference
from tests.daemon_process import Daemon, checkpointed, committed, kill_after_checkpoint, sent_once, to_the_end
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka

# About 110 k records over a day; four partitions starting 45 minutes apart.
OPTIONS = GenerateOptions(
    seed=12,
    days=1.0,
    api_factor=0.3,
    warmup_minutes=360,
    anomalies_per_kind=1,
    delivery="realistic",
    accounts=4,
    regions=3,
    max_late_minutes=10,
)
PARTITIONS, SKEW_MINUTES = 4, 45.0


def test_kill_9_on_a_backlog_of_partitions_hours_apart(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    backlog = build_backlog(OPTIONS, PARTITIONS, SKEW_MINUTES)
    assert max(backlog.first_minute) - min(backlog.first_minute) >= 120, backlog.first_minute
    config = dataclasses.replace(EngineConfig(), warmup_minutes=360)
    want = reference(backlog, config)
    assert want.ids["Start"], "the backlog has insights after warm-up"
    source, output, group = unique_topic("kill-bl-in"), unique_topic("kill-bl-out"), unique_topic("g")
    create_topic(bootstrap, source, partitions=PARTITIONS)
    for p, values in enumerate(backlog.partitions):
        produce(bootstrap, source, values, partition=p)
    ends = backlog.ends(source)
    total = sum(ends.values())
    # A failing run prints its seed; TRAILPULSE_TEST_KILL_SEED replays its kill points.
    seed = int(os.environ.get("TRAILPULSE_TEST_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    state_dir = str(tmp_path / "state")
    args = ("--input-topic", source, "--output-topic", output, "--group-id", group, "--state-dir", state_dir)
    # Small polls and frequent checkpoints spread the backlog over many checkpoints to kill between.
    env = {
        "TRAILPULSE_ENGINE_WARMUP_MINUTES": "360",
        "TRAILPULSE_RUN_POLL_MAX_RECORDS": "50",
        "TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S": "0.5",
        # The killed member leaves the group when its session expires: soon, so restarts are quick.
        "TRAILPULSE_KAFKA_SESSION_TIMEOUT_MS": "6000",
    }
    kills = 3
    killed_at: list[int] = []
    for k in range(kills):
        target = total * (k + 1) // (kills + 1) + rng.randrange(total // (4 * kills))
        daemon = Daemon(tmp_path, bootstrap, *args, env=env)
        kill_after_checkpoint(daemon, checkpointed, target, rng)
        killed_at.append(sum(committed(bootstrap, group, source).values()))
    assert all(c < total for c in killed_at), f"seed {seed}: kills at {killed_at} of {total}"

    to_the_end(Daemon(tmp_path, bootstrap, *args, env=env), bootstrap, group, source, timeout_s=120)
    sent = sent_once(bootstrap, output, seed)
    assert sent == want.ids["Start"] | want.ids["End"], f"seed {seed}"
    state = StateStore(tmp_path / "state").load()
    assert state is not None and state.offsets == ends
    assert committed(bootstrap, group, source) == ends
