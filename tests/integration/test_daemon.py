"""``trailpulse run`` against the real broker: end to end with SIGTERM and restart, a corrupt state
store, ``--check-config``, a pattern subscription's rebalance."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import msgspec
import pytest

from consumers.state.directory_store import StateStore
from insights.config import EngineConfig
from tests.daemon_process import (
    SMALL,
    TRACE,
    TRAILPULSE,
    Daemon,
    committed,
    output_ids,
    reference_ids,
    trace_messages,
    until_committed,
    wait_for,
)
from tests.kafka_broker import KafkaBroker, consume_all, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka


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
            # The topic appears to the daemon while it is still being written: caught up means at its end.
            offsets = caught[-1]["offsets"] if caught else {}
            return offsets.get(f"{second}:0") == len(messages) - half  # type: ignore[union-attr,no-any-return]

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
