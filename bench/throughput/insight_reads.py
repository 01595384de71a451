"""Where the :class:`~bench.throughput.outcome.Outcome` figures come from, read after the timing.

* the daemon's output topic, read back whole with the project's own
  :class:`~consumers.kafka.protocol.PartitionReader` (outside any group);
* ``trailpulse replay`` of the files the topic was filled from, as a subprocess with the same engine
  settings as the daemon (both the defaults, or both the same ``--config`` file) and ``--leave-open``
  (the minutes still open at the end stay open, as the caught-up daemon leaves them): its summary
  line on stderr and its Insight events on ``--output``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.throughput.fill import Fill, end_offsets
from bench.throughput.outcome import Outcome, from_replay_summary
from consumers.kafka.protocol import topic_tools

TRAILPULSE = Path(sys.executable).parent / "trailpulse"
IDLE_TIMEOUT_S = 30.0


def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    """Every value of every partition of ``topic``, up to the end offsets as of the call."""
    partitions = sorted(int(tp.rsplit(":", 1)[1]) for tp in end_offsets(bootstrap, topic))
    reader = topic_tools("kafka-python").reader(
        {"bootstrap_servers": bootstrap.split(","), "client_id": "bench-insights"}
    )
    try:
        return [
            record.value
            for partition in partitions
            for record in reader.read_partition(topic, partition, IDLE_TIMEOUT_S)
            if record.value is not None
        ]
    finally:
        reader.close()


def run_replay(fill: Fill, workdir: Path, config: Path | None, timeout_s: float) -> tuple[Outcome, float]:
    """``trailpulse replay`` of the fill's files: its figures, events and wall seconds."""
    events = workdir / f"replay-{fill.topic}.jsonl"
    argv = [str(TRAILPULSE), "replay", fill.files_dir, "--leave-open", "--output", str(events)]
    if config is not None:
        argv += ["--config", str(config)]
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    seconds = time.perf_counter() - began
    summary = [line for line in done.stderr.splitlines() if line.startswith("replay: ")]
    if done.returncode != 0 or not summary:
        raise RuntimeError(f"trailpulse replay exited with {done.returncode}:\n{done.stderr[-3000:]}")
    outcome = from_replay_summary(summary[-1], "replay of the same files")
    with events.open("rb") as lines:
        outcome.take_events(line for line in lines if line.strip())
    events.unlink()
    return outcome, seconds
