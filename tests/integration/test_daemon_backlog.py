"""``trailpulse run`` on a backlog whose six partitions are hours apart in event time (see
:mod:`tests.backlog_traffic`): read from the start, with a restart and with a rebalance half way, it
gives the Insight events the engine gives for the same records fed as replay feeds them, each once,
and drops next to nothing as late."""

from __future__ import annotations

import dataclasses
import functools
import signal
from collections import Counter
from pathlib import Path

import pytest

from consumers.state.directory_store import StateStore
from consumers.synth.options import GenerateOptions
from insights.config import EngineConfig
from tests.backlog_traffic import Backlog, Reference, build_backlog, reference
from tests.daemon_process import (
    Daemon,
    checkpointed,
    committed,
    output_ids,
    sent_event_ids,
    to_the_end,
    wait_for,
)
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka

# About 220 k records over 1.9 days, twelve account-regions; partitions start 36 minutes apart,
# three hours from first to last. Six hours of warm-up leave insights in a trace this short.
OPTIONS = GenerateOptions(
    seed=11,
    days=1.9,
    api_factor=0.3,
    warmup_minutes=360,
    anomalies_per_kind=1,
    delivery="realistic",
    accounts=4,
    regions=3,
    max_late_minutes=10,
)
PARTITIONS, SKEW_MINUTES = 6, 36.0
CONFIG = dataclasses.replace(EngineConfig(), warmup_minutes=360)
ENV = {"TRAILPULSE_ENGINE_WARMUP_MINUTES": "360"}
MAX_LATE_SHARE = 0.001


@functools.cache
def backlog_and_reference() -> tuple[Backlog, Reference]:
    backlog = build_backlog(OPTIONS, PARTITIONS, SKEW_MINUTES)
    return backlog, reference(backlog, CONFIG)


def produced_backlog(bootstrap: str, prefix: str) -> tuple[str, Backlog, Reference]:
    """A new topic holding the backlog; the backlog and the engine's reference output for it."""
    backlog, want = backlog_and_reference()
    assert backlog.records >= 200_000
    assert max(backlog.first_minute) - min(backlog.first_minute) >= 150, backlog.first_minute
    assert want.ids["Start"], "the backlog has insights after warm-up"
    source = unique_topic(prefix)
    create_topic(bootstrap, source, partitions=PARTITIONS)
    for p, values in enumerate(backlog.partitions):
        produce(bootstrap, source, values, partition=p)
    return source, backlog, want


def run_args(source: str, output: str, group: str, state: Path) -> tuple[str, ...]:
    return ("--input-topic", source, "--output-topic", output, "--group-id", group, "--state-dir", str(state))


def late_of_last_checkpoint(daemon: Daemon) -> int:
    checkpoints = [e for e in daemon.events() if e["event"] == "checkpoint"]
    assert checkpoints, daemon.log_path.read_text()[-3000:]
    return int(checkpoints[-1]["skipped"].get("late", 0))  # type: ignore[attr-defined]


def assert_complete_once(bootstrap: str, output: str, want: Reference) -> None:
    sent = sent_event_ids(bootstrap, output)
    assert not [i for i, n in Counter(sent).items() if n > 1], "an insight was sent twice"
    got = output_ids(bootstrap, output)
    assert got == want.ids


def assert_state_at_end(state: Path, source: str, backlog: Backlog) -> None:
    stored = StateStore(state).load()
    assert stored is not None and stored.offsets == backlog.ends(source)


def test_backlog_partitions_hours_apart(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """Twice, with a fresh group and state: the same eventIDs as the reference, next to nothing late."""
    bootstrap = kafka_broker.bootstrap
    source, backlog, want = produced_backlog(bootstrap, "backlog-in")
    runs = []
    for run in range(2):
        output, group, state = unique_topic("backlog-out"), unique_topic("g"), tmp_path / f"state-{run}"
        daemon = Daemon(tmp_path, bootstrap, *run_args(source, output, group, state), env=ENV)
        to_the_end(daemon, bootstrap, group, source)
        late = late_of_last_checkpoint(daemon)
        assert late <= MAX_LATE_SHARE * backlog.records, f"run {run}: {late} late (replay: {want.late})"
        assert_complete_once(bootstrap, output, want)
        assert_state_at_end(state, source, backlog)
        runs.append(output_ids(bootstrap, output))
    assert runs[0] == runs[1]


def test_backlog_restart_half_way(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """SIGTERM once a quarter of the backlog is checkpointed, then a restart on the same group and state.

    The daemon is frozen (SIGSTOP) the moment the test sees that checkpoint and gets SIGTERM before it
    runs again, so it cannot read the rest of the backlog between the two: on a fast run the time the
    test took to notice was once enough to finish it, and the restart then had nothing to do."""
    bootstrap = kafka_broker.bootstrap
    source, backlog, want = produced_backlog(bootstrap, "backlog-restart-in")
    output, group, state = unique_topic("backlog-restart-out"), unique_topic("g"), tmp_path / "state"
    args = run_args(source, output, group, state)
    quarter = sum(len(p) for p in backlog.partitions) // 4
    first = Daemon(tmp_path, bootstrap, *args, env=ENV)
    try:
        wait_for("a quarter checkpointed", lambda: checkpointed(first) >= quarter, first, timeout_s=180)
        first.proc.send_signal(signal.SIGSTOP)
        first.proc.send_signal(signal.SIGTERM)
        first.proc.send_signal(signal.SIGCONT)
        code = first.proc.wait(timeout=30)
    finally:
        first.kill()
    assert code == 0
    stopped_at = committed(bootstrap, group, source)
    assert quarter <= sum(stopped_at.values()) < sum(backlog.ends(source).values()), stopped_at
    second = Daemon(tmp_path, bootstrap, *args, env=ENV)
    to_the_end(second, bootstrap, group, source)
    late = late_of_last_checkpoint(second)
    assert late <= MAX_LATE_SHARE * backlog.records, f"{late} late (replay: {want.late})"
    assert_complete_once(bootstrap, output, want)
    assert_state_at_end(state, source, backlog)


def test_backlog_rebalance_half_way(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """A topic that starts matching the input pattern half way: every partition is revoked (a
    checkpoint) and assigned again within the one process, which keeps their clocks meanwhile.

    One process per group and state is what the daemon supports (a second process in the group would
    hold some partitions with a state covering all keys), so the rebalance is the one a pattern
    subscription sees, as in ``test_daemon.py``."""
    bootstrap = kafka_broker.bootstrap
    prefix = unique_topic("backlog-pattern")
    source, backlog, want = produced_backlog(bootstrap, prefix)
    output, group, state = unique_topic("backlog-pattern-out"), unique_topic("g"), tmp_path / "state"
    env = {**ENV, "TRAILPULSE_KAFKA_METADATA_MAX_AGE_MS": "500"}
    args = ("--input-pattern", f"^{prefix}.*", "--output-topic", output, "--group-id", group)
    daemon = Daemon(tmp_path, bootstrap, *args, "--state-dir", str(state), env=env)
    half = sum(len(p) for p in backlog.partitions) // 2
    try:
        wait_for("half checkpointed", lambda: checkpointed(daemon) >= half, daemon, timeout_s=180)
        create_topic(bootstrap, f"{prefix}-joins")
        wait_for(
            "a rebalance", lambda: any(e["event"] == "partitions_revoked" for e in daemon.events()), daemon
        )
        revoked_at = committed(bootstrap, group, source)
    except BaseException:
        daemon.kill()
        raise
    to_the_end(daemon, bootstrap, group, source)
    assert sum(revoked_at.values()) < sum(backlog.ends(source).values()), "rebalanced after the end"
    late = late_of_last_checkpoint(daemon)
    assert late <= MAX_LATE_SHARE * backlog.records, f"{late} late (replay: {want.late})"
    assert_complete_once(bootstrap, output, want)
    stored = StateStore(state).load()
    assert stored is not None and {tp: o for tp, o in stored.offsets.items() if tp[0] == source} == (
        backlog.ends(source)
    )
