"""``trailpulse replay --workers 2`` stopped by a signal to its whole process group (Ctrl-C in a
terminal, ``kill -- -PGID``) or by SIGKILL: it ends promptly, says so in one line, and leaves no
decode worker running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from consumers.synth.options import GenerateOptions
from consumers.synth.write_files import generate_to_dir
from tests.processes import alive, decode_workers, group_members, wait_until

TRAILPULSE = Path(sys.executable).parent / "trailpulse"
# About 600 k records: replay takes seconds with two workers, long enough to be interrupted.
TRACE = GenerateOptions(seed=3, days=2.0, scale=2.0, anomalies=False)


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trace")
    generate_to_dir(out, TRACE)
    (out / "labels.json").unlink()  # not a log file: replay would name it as rejected
    return out


def start_replay(trace: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Replay in a process group of its own, once its two decode workers run; and the workers."""
    replay = subprocess.Popen(
        [str(TRAILPULSE), "replay", "--workers", "2", str(trace)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    if not wait_until(lambda: len(decode_workers(replay.pid)) == 2 or replay.poll() is not None, 30):
        replay.kill()
    if replay.poll() is not None:
        pytest.fail(f"replay ended ({replay.returncode}) before its workers ran: {replay.communicate()[1]!r}")
    return replay, decode_workers(replay.pid)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_process_group_stops_replay_in_one_line(trace: Path, signum: int) -> None:
    replay, _ = start_replay(trace)
    try:
        os.killpg(replay.pid, signum)
        _, err = replay.communicate(timeout=15)
    finally:
        replay.kill()
    name = signal.Signals(signum).name
    assert err.decode().splitlines() == [f"trailpulse replay: stopped by {name}; the output is incomplete"]
    assert replay.returncode == 128 + signum
    assert wait_until(lambda: not group_members(replay.pid), timeout_s=5), group_members(replay.pid)


def test_decode_workers_exit_when_replay_is_killed(trace: Path) -> None:
    replay, workers = start_replay(trace)
    replay.kill()
    replay.wait(timeout=5)
    assert wait_until(lambda: not alive(workers), timeout_s=5), alive(workers)
