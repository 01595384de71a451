"""``trailpulse run`` stopped as service managers and terminals stop it: SIGTERM or SIGINT to its
whole process group (the decode workers get it too) ends it within 30 s with a final checkpoint;
SIGKILL of the main process leaves no decode worker behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from consumers.state.directory_store import StateStore
from tests.daemon_process import TRACE, Daemon, committed, last_checkpoint, trace_messages, wait_for
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic
from tests.processes import alive, decode_workers, group_members, wait_until

pytestmark = pytest.mark.kafka


def busy_daemon(broker: KafkaBroker, tmp_path: Path, workers: int) -> tuple[Daemon, str, str, int]:
    """A daemon in its own process group, part way through a backlog it takes small polls of, its
    decode workers running; with its input topic, group and the backlog's size."""
    bootstrap = broker.bootstrap
    source, group = unique_topic("shutdown-in"), unique_topic("group")
    create_topic(bootstrap, source)
    messages = trace_messages(TRACE)
    produce(bootstrap, source, messages)
    env = {"TRAILPULSE_RUN_DECODE_WORKERS": str(workers), "TRAILPULSE_RUN_POLL_MAX_RECORDS": "20"}
    args = ("--input-topic", source, "--output-topic", unique_topic("shutdown-out"), "--group-id", group)
    args += ("--state-dir", str(tmp_path / "state"))
    daemon = Daemon(tmp_path, bootstrap, *args, env=env, own_group=True)
    wait_for("a checkpoint", lambda: last_checkpoint(daemon, f"{source}:0") > 0, daemon)
    assert len(decode_workers(daemon.proc.pid)) == workers
    return daemon, source, group, len(messages)


@pytest.mark.parametrize(
    ("workers", "signum"), [(1, signal.SIGTERM), (2, signal.SIGTERM), (2, signal.SIGINT)]
)
def test_a_signal_to_the_process_group_stops_with_a_checkpoint(
    kafka_broker: KafkaBroker, tmp_path: Path, workers: int, signum: int
) -> None:
    """SIGTERM as systemd and Kubernetes send it, SIGINT as Ctrl-C in a terminal sends it."""
    daemon, source, group, total = busy_daemon(kafka_broker, tmp_path, workers)
    pgid = daemon.proc.pid
    try:
        started = time.monotonic()
        os.killpg(pgid, signum)
        code = daemon.proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        daemon.kill()
    assert code == 0 and took < 30, daemon.log_path.read_text()[-3000:]
    assert [e["event"] for e in daemon.events()][-1] == "stopped"
    # The final checkpoint: the state and the group's commit at the same offset, mid-backlog.
    state = StateStore(tmp_path / "state").load()
    assert state is not None
    reached = committed(kafka_broker.bootstrap, group, source)
    assert state.offsets == reached and 0 < reached[(source, 0)] < total, (reached, total)
    assert last_checkpoint(daemon, f"{source}:0") == reached[(source, 0)]
    assert wait_until(lambda: not group_members(pgid), timeout_s=5), group_members(pgid)


def test_decode_workers_exit_when_the_daemon_is_killed(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    daemon, *_ = busy_daemon(kafka_broker, tmp_path, workers=2)
    workers = decode_workers(daemon.proc.pid)
    try:
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=10)
    finally:
        daemon.kill()
    assert wait_until(lambda: not alive(workers), timeout_s=5), alive(workers)


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_a_signal_while_joining_a_group_a_killed_member_still_holds_stops_quickly(
    kafka_broker: KafkaBroker, tmp_path: Path, client: str
) -> None:
    """After a kill -9 the group keeps the dead member until its session expires, and a new
    member's join waits for that; a LeaveGroup sent meanwhile is answered only after the join. A
    daemon stopped then must not wait the client's whole request timeout (30 s) for that answer."""
    killed, source, group, _ = busy_daemon(kafka_broker, tmp_path, workers=1)
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait(timeout=10)
    args = ("--input-topic", source, "--output-topic", unique_topic("shutdown-out"), "--group-id", group)
    env = {"TRAILPULSE_RUN_CLIENT": client}
    joining = Daemon(tmp_path, kafka_broker.bootstrap, *args, "--state-dir", str(tmp_path / "state"), env=env)
    try:
        wait_for("its start", lambda: any(e["event"] == "started" for e in joining.events()), joining)
        time.sleep(2)
        code, took = joining.stop(timeout_s=60)
    finally:
        joining.kill()
    assigned = [e for e in joining.events() if e["event"] == "partitions_assigned" and e.get("partitions")]
    assert not assigned, "the join ended before the signal: this test did not see what it is about"
    assert code == 0 and took < 20, (took, joining.log_path.read_text()[-3000:])
    assert [e["event"] for e in joining.events()][-1] == "stopped"
