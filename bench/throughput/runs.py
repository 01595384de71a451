"""The two timed reads of the topic: (a) the bare kafka-python consumer, (b) ``trailpulse run``.

Each runs in a fresh process, timed from its spawn and from its ``started`` line; both are measured
from outside (their output lines and exit), with the daemon's own settings passed in :class:`Setup`.
After the timing, what (b) did with the records is read: its final ``checkpoint`` line and the Insight
events on its output topic (a new one per run), in :attr:`Run.outcome`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.throughput.child import Child, Doc
from bench.throughput.fill import Fill
from bench.throughput.insight_reads import TRAILPULSE, read_topic
from bench.throughput.operated import Operated, Scraper
from bench.throughput.outcome import Outcome, from_checkpoint
from tests.kafka_broker import create_topic, unique_topic

BARE_CONSUMER = Path(__file__).resolve().parent / "bare_consumer.py"
# the engine's settings come from --config alone, the same file replay reads: not from the environment
ENGINE_ENV = ("TRAILPULSE_ENGINE_", "TRAILPULSE_DETECTOR_")


@dataclass
class Setup:
    """What every run shares: the broker, the client options given to both (a) and (b), the limits."""

    bootstrap: str
    workdir: Path
    data_dir: Path | None  # the broker's log.dirs, when this bench started it
    broker_pid: int | None
    kafka_options: dict[str, Any]
    daemon_env: dict[str, str]
    timeout_s: float
    poll_timeout_s: float  # the daemon's: (a) polls as it does, (b) ends with one empty poll this long
    poll_max_records: int  # the daemon's ``poll_max_records``, which (a) uses too
    engine_config: Path | None = None  # a TOML file for both ``trailpulse run`` and ``replay``

    def broker_cpu(self) -> float | None:
        """CPU seconds the broker's JVM has used so far (all its threads), if it runs here."""
        if self.broker_pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.broker_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reached(offsets: dict[str, int], ends: dict[str, int]) -> bool:
    """Whether the daemon's next offsets (``topic:partition`` -> offset) are at the end offsets."""
    return all(offsets.get(tp, 0) >= end for tp, end in ends.items())


@dataclass
class Run:
    """One timed read of the topic. ``seconds`` from the spawn, ``loop_seconds`` from ``started``."""

    name: str
    records: int
    seconds: float
    loop_seconds: float
    cpu_seconds: float
    raw_seconds: float | None = None  # (b): from the spawn to the final checkpoint's line
    extra: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None  # (b): what it did with the records

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def loop_rate(self) -> float:
        return self.records / self.loop_seconds if self.loop_seconds > 0 else 0.0


def run_bare(setup: Setup, fill: Fill) -> Run:
    """(a): the bare consumer's process over the topic, to the end offsets of the fill."""
    bootstrap, timeout_s = setup.bootstrap, setup.timeout_s
    argv = [
        sys.executable,
        str(BARE_CONSUMER),
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        fill.topic,
        "--group-id",
        f"bench-a-{uuid.uuid4().hex[:12]}",
        "--ends",
        json.dumps(fill.ends),
        "--max-records",
        str(setup.poll_max_records),
        "--poll-timeout",
        str(setup.poll_timeout_s),
        "--kafka-options",
        json.dumps(setup.kafka_options),
    ]
    broker_cpu = setup.broker_cpu()
    child = Child(argv)
    try:
        started, _ = child.wait_for("started", lambda d: d.get("event") == "started", timeout_s)
        done, doc = child.wait_for("done", lambda d: d.get("event") == "done", timeout_s)
    except BaseException:
        child.kill()
        raise
    broker_cpu = None if broker_cpu is None else round((setup.broker_cpu() or 0.0) - broker_cpu, 2)
    status, cpu = child.finish()
    if status != 0:
        raise RuntimeError(f"the bare consumer exited with {status}:\n{child.tail()}")
    if doc["messages"] != fill.total_messages:
        raise RuntimeError(f"the bare consumer read {doc['messages']} messages of {fill.total_messages}")
    return Run(
        "a bare consumer",
        fill.records,
        done - child.spawned,
        done - started,
        cpu,
        extra={"polls": doc["polls"], "broker_cpu_s": broker_cpu},
    )


def run_daemon(
    setup: Setup,
    fill: Fill,
    state_dir: Path,
    prefix: list[str] | None = None,
    operated: Operated | None = None,
) -> tuple[Run, Doc]:
    """``trailpulse run`` (or ``prefix`` + its arguments) over the topic, to the final checkpoint;
    then its outcome, with the events of its output topic (one of its own). ``operated``: (c), with
    every alert sink, the dead-letter topic and the metrics scraped (see ``operated``)."""
    bootstrap, timeout_s = setup.bootstrap, setup.timeout_s
    shutil.rmtree(state_dir, ignore_errors=True)
    output_topic = unique_topic(f"{fill.topic}-insights")
    create_topic(bootstrap, output_topic, 1)
    args = [
        "run",
        "--bootstrap-servers",
        bootstrap,
        "--input-topic",
        fill.topic,
        "--output-topic",
        output_topic,
        "--group-id",
        f"bench-b-{uuid.uuid4().hex[:12]}",
        "--state-dir",
        str(state_dir),
    ]
    if operated is not None:  # its configuration file carries the engine settings too
        dead_letters = unique_topic(f"{fill.topic}-rejects")
        create_topic(bootstrap, dead_letters, 1)
        args += operated.args(dead_letters)
    elif setup.engine_config:
        args += ["--config", str(setup.engine_config)]
    argv = [*(prefix or [str(TRAILPULSE)]), *args]
    env = {
        f"TRAILPULSE_KAFKA_{k.upper()}": v if isinstance(v, str) else json.dumps(v)
        for k, v in setup.kafka_options.items()
    }
    broker_cpu = setup.broker_cpu()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENGINE_ENV)}
    own = {
        "TRAILPULSE_RUN_HEALTH_PORT": "-1",
        **env,
        **setup.daemon_env,
        **(operated.env if operated else {}),
    }
    child = Child(argv, env={**inherited, **own})
    scraper: Scraper | None = None

    def event(name: str) -> Callable[[Doc], bool]:
        return lambda d: d.get("event") == name

    def at_end(name: str) -> Callable[[Doc], bool]:
        return lambda d: d.get("event") == name and reached(d.get("offsets", {}), fill.ends)

    try:
        started, started_doc = child.wait_for("started", event("started"), timeout_s)
        if operated is not None:
            scraper = Scraper(int(started_doc["health_port"]))
        caught_up, doc = child.wait_for("caught_up at the end offsets", at_end("caught_up"), timeout_s)
        broker_cpu = None if broker_cpu is None else round((setup.broker_cpu() or 0.0) - broker_cpu, 2)
        # a periodic checkpoint may have taken the last records before the empty poll: then SIGTERM
        # finds nothing to checkpoint, and the state is complete once the daemon stops
        clean = any(at_end("checkpoint")(d) for d in child.seen)
        child.proc.send_signal(signal.SIGTERM)
        checkpointed, last = child.wait_for(
            "final checkpoint", lambda d: at_end("checkpoint")(d) or d.get("event") == "stopped", 120
        )
        if last.get("event") != "stopped":
            child.wait_for("stopped", event("stopped"), 120)
        elif not clean:
            raise RuntimeError(f"trailpulse run stopped without a checkpoint at {fill.ends}")
    except BaseException:
        child.kill()
        raise
    finally:
        if scraper is not None:
            scraper.stop()
    status, cpu = child.finish()
    if status != 0:
        raise RuntimeError(f"trailpulse run exited with {status}:\n{child.tail()}")
    counts = doc.get("counts", {})
    if counts.get("records") != fill.records:
        print(f"warning: the daemon counted {counts.get('records')} records of {fill.records}")
    final = [d for d in child.seen if at_end("checkpoint")(d)][-1]  # the last: the state's figures
    outcome = from_checkpoint(final, f"(b) trailpulse run -> {output_topic}")
    outcome.take_events(read_topic(bootstrap, output_topic))
    done = caught_up - setup.poll_timeout_s  # the empty poll that reveals the end lasts the whole timeout
    if operated is not None and scraper is not None:
        operations = {
            "scrapes": scraper.scrapes,
            "scrape_failures": scraper.failures,
            "samples_per_scrape": scraper.samples_last,
            "alerts_delivered": operated.delivered(),
        }
    else:
        operations = {}
    run = Run(
        "c operated" if operated is not None else "b trailpulse run",
        fill.records,
        done - child.spawned,
        done - started,
        cpu,
        raw_seconds=checkpointed - child.spawned,
        extra={
            "caught_up_s": round(caught_up - child.spawned, 3),
            "final_checkpoint_s": round(checkpointed - caught_up, 3),
            "startup_s": round(started - child.spawned, 3),
            "broker_cpu_s": broker_cpu,
            "insights": {k: v for k, v in counts.items() if k.startswith("insights.")},
            "rejected": sum(v for k, v in counts.items() if k.startswith("rejected.")),
            **operations,
        },
        outcome=outcome,
    )
    return run, doc
