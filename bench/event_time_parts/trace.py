"""The two deliveries of one trace: the same records, as log files and on a topic of their own.

Each delivery is one ``trailpulse generate`` process (the command users run, so its arrival model is
what is measured): it writes the log files (``--out``) and then sends the same trace to a new topic
with ``--partitions`` partitions, as fast as it can, before any daemon starts, so the whole topic is
a backlog. ``--partition-skew-minutes`` sets some account-regions' partitions hours behind others.
Which records a trace holds depends on the seed and the late options alone, not on ``--delivery``;
:func:`event_ids` reads the files back so the bench can check that instead of assuming it.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import msgspec

from bench.throughput.fill import Fill, end_offsets
from bench.throughput.insight_reads import TRAILPULSE
from consumers.synth.kafka_envelopes import ENVELOPES
from tests.kafka_broker import create_topic, unique_topic

# the two deliveries: in order by period (late records as many, as far) and as CloudTrail delivers
DELIVERIES = {
    "in-order": ["--delivery", "period", "--late-fraction", "0.02", "--max-late", "30"],
    "realistic": ["--delivery", "realistic"],
}
SUMMARY = re.compile(r"(\d+) messages \((.*?)\), (\d+) records arriving (.*?) behind eventTime, ([\d.]+) MB")


@dataclass(frozen=True)
class TraceSpec:
    """What ``trailpulse generate`` is given for both deliveries."""

    seed: int
    days: float
    accounts: int
    regions: int
    partitions: int
    skew_minutes: float

    def argv(self) -> list[str]:
        return [
            *("--seed", str(self.seed), "--days", str(self.days)),
            *("--accounts", str(self.accounts), "--regions", str(self.regions)),
            *("--partition-skew-minutes", str(self.skew_minutes)),
        ]


@dataclass(frozen=True)
class Delivered:
    """One delivery: its files and its topic (as a :class:`Fill`, what the Kafka bench's runs read)."""

    name: str
    fill: Fill
    lags: str  # generate's percentiles of the records' arrival behind their eventTime


def deliver(bootstrap: str, workdir: Path, spec: TraceSpec, name: str, timeout_s: float) -> Delivered:
    """Writes delivery ``name`` of the trace to ``WORKDIR/files-NAME`` and to a new topic."""
    out = workdir / f"files-{name}"
    topic = unique_topic(f"event-time-{name}")
    create_topic(bootstrap, topic, spec.partitions, {"retention.bytes": "-1", "retention.ms": "-1"})
    argv = [str(TRAILPULSE), "generate", "--out", str(out), "--overwrite", *spec.argv(), *DELIVERIES[name]]
    argv += ["--bootstrap-servers", bootstrap, "--topic", topic]
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    seconds = time.perf_counter() - began
    found = SUMMARY.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"trailpulse generate exited with {done.returncode}:\n{done.stderr[-3000:]}")
    total, mix, records, lags, megabytes = found.groups()
    messages = {k: int(v) for k, v in (part.split("=") for part in mix.split())}
    ends = end_offsets(bootstrap, topic)
    if sum(ends.values()) != int(total):
        raise RuntimeError(f"end offsets {ends} do not add up to the {total} messages sent")
    value_bytes = round(float(megabytes) * 1e6)
    # replay reads only the log files: labels.json beside them is not CloudTrail input
    files = str(out / "AWSLogs")
    fill = Fill(topic, ENVELOPES, int(records), messages, value_bytes, seconds, ends, None, files)
    return Delivered(name, fill, lags)


class _Record(msgspec.Struct):
    eventID: str


class _LogFile(msgspec.Struct):
    Records: list[_Record]


def event_ids(files_dir: str | Path) -> Counter[str]:
    """Every record's eventID in the log files under ``files_dir``, with how often it is delivered."""
    decoder = msgspec.json.Decoder(_LogFile)
    counts: Counter[str] = Counter()
    for path in sorted(Path(files_dir).rglob("*.json.gz")):
        counts.update(record.eventID for record in decoder.decode(gzip.decompress(path.read_bytes())).Records)
    return counts


def same_records(a: Counter[str], b: Counter[str]) -> str | None:
    """``None`` if both deliveries hold the same multiset of eventIDs, else what differs.

    >>> same_records(Counter(["x", "y", "y"]), Counter(["y", "x", "y"])) is None
    True
    >>> same_records(Counter(["x", "y"]), Counter(["x", "x"]))
    '1 record(s) only in the first, 1 only in the second'
    """
    if a == b:
        return None
    return f"{(a - b).total():,} record(s) only in the first, {(b - a).total():,} only in the second"
