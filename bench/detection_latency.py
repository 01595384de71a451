#!/usr/bin/env python
"""Detection latency of ``trailpulse run`` on a real broker: from a spike's records being written to
the input topic to its Start Insight arriving on the output topic.

The run, all against one broker (started here in ``--workdir`` unless ``--bootstrap-servers``):

1. ``trailpulse run`` starts with a fresh group and state (``warmup_minutes`` = ``--warmup-hours``).
2. History: ``--history-hours`` of steady traffic on ``--apis`` write APIs (Poisson rates from 1 to 20
   calls a minute, a gentle daily swing), dated in the past and sent as fast as possible in S3-body
   messages, so the daemon learns baselines. It then goes on, second by second, up to the present and
   on in real time for ``--live-minutes`` (one raw record per message, as EventBridge or a Lambda
   forwarder delivers them): the watermark keeps moving as in production.
3. Spikes: after ``--settle-s`` of live traffic, one spike every ``--spike-every-s`` on a different API,
   ``--spikes`` of them: ``max(40, 8 x rate)`` calls stamped with the current second, written at once.
   Latency = Start received on the output topic - the moment the spike's first record was sent.
4. Drops: the ``--drops`` busiest other APIs fall silent for 6 minutes; their Starts (decided only on
   closed minutes) and the spikes' Ends are measured too, from the first silent second and from the
   spike: both wait for the watermark, ``allowed_lateness_minutes`` (10) past the minutes they judge,
   plus ``drop_minutes`` (2) or ``end_quiet_minutes`` (3) of evidence.

A Start on an API that was neither spiked nor dropped is reported as a false Start. Goals (issue
acceptance): Start latency p50 <= 5 s and p99 <= 15 s over >= 20 spikes.

Run: ``.venv/bin/python bench/detection_latency.py [--workdir DIR] [--live-minutes 20]``. The last line
printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency.traffic import Plan, live, make_apis, send_history  # noqa: E402
from tests.kafka_broker import KafkaBroker, create_topic, unique_topic  # noqa: E402

TRAILPULSE = Path(sys.executable).parent / "trailpulse"


class OutputWatcher(threading.Thread):
    """Reads the output topic as it is written and notes when each Insight record arrived."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        self.topic = topic
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.stop_flag = threading.Event()

    def run(self) -> None:
        tp = TopicPartition(self.topic, 0)
        self.consumer.assign([tp])
        self.consumer.seek_to_beginning(tp)
        while not self.stop_flag.is_set():
            for records in self.consumer.poll(timeout_ms=100).values():
                now = time.time()
                self.received.extend((now, json.loads(r.value)) for r in records)
        self.consumer.close()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def key_of(event: dict[str, Any]) -> tuple[str, str, str, str]:
    details = event["insightDetails"]
    return (event["recipientAccountId"], event["awsRegion"], details["eventSource"], details["eventName"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", help="broker and daemon files (default: a temporary directory)")
    parser.add_argument("--bootstrap-servers", help="use this broker instead of starting one")
    parser.add_argument("--apis", type=int, default=40)
    parser.add_argument("--history-hours", type=float, default=30.0)
    parser.add_argument("--warmup-hours", type=float, default=24.0)
    parser.add_argument("--live-minutes", type=float, default=20.0)
    parser.add_argument("--settle-s", type=int, default=60)
    parser.add_argument("--spikes", type=int, default=24)
    parser.add_argument("--spike-every-s", type=int, default=5)
    parser.add_argument("--drops", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tp-latency-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    broker = None
    if args.bootstrap_servers:
        bootstrap = args.bootstrap_servers
    else:
        broker = KafkaBroker(workdir / "kafka")
        bootstrap = broker.start()
    daemon = None
    try:
        source, output = unique_topic("latency-in"), unique_topic("latency-out")
        create_topic(bootstrap, source)
        create_topic(bootstrap, output)
        watcher = OutputWatcher(bootstrap, output)
        watcher.start()
        env = {
            **os.environ,
            "TRAILPULSE_ENGINE_WARMUP_MINUTES": str(int(args.warmup_hours * 60)),
            "TRAILPULSE_RUN_HEALTH_PORT": "-1",
        }
        log_path = workdir / "daemon.log"
        group = unique_topic("latency-group")
        command = [str(TRAILPULSE), "run", "--bootstrap-servers", bootstrap, "--input-topic", source]
        command += ["--output-topic", output, "--group-id", group, "--state-dir", str(workdir / group)]
        with open(log_path, "wb") as log:
            daemon = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

        apis = make_apis(args.apis, rng)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=0, max_request_size=8 << 20
        )
        now_minute = int(time.time() // 60)
        first = now_minute - int(args.history_hours * 60)
        began = time.monotonic()
        history = send_history(producer, source, apis, first, now_minute, rng)
        took = time.monotonic() - began
        print(f"history: {history:,} records over {args.history_hours} h sent in {took:.0f} s")

        live_start = now_minute * 60
        live_end = int(time.time() + args.live_minutes * 60)
        spike_from = int(time.time()) + args.settle_s
        order = rng.permutation(len(apis)).tolist()
        spiked = [apis[i] for i in order[: args.spikes]]
        rest = sorted((apis[i] for i in order[args.spikes :]), key=lambda a: -a.rate)
        plan = Plan()
        drop_from = spike_from + args.spikes * args.spike_every_s + 60
        for api in rest[: args.drops]:
            plan.silent[api.key] = (drop_from, drop_from + 360)
            plan.drops[api.key] = float(drop_from)
        plan_spikes = {spike_from + i * args.spike_every_s: api for i, api in enumerate(spiked)}
        print(
            f"live {args.live_minutes} min, {len(spiked)} spikes after {args.settle_s} s, {args.drops} drops"
        )
        live_sent = live(producer, source, apis, live_start, live_end, plan_spikes, plan, rng)
        producer.close()
        time.sleep(5)
        watcher.stop_flag.set()
        watcher.join(timeout=10)
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
        if broker is not None:
            broker.stop()

    received_file = workdir / "received.jsonl"
    with open(received_file, "w") as out:
        for received, event in watcher.received:
            out.write(json.dumps({"received": received, "event": event}) + "\n")
    starts: dict[tuple[str, str, str, str], tuple[float, dict[str, Any]]] = {}
    ends: dict[tuple[str, str, str, str], tuple[float, dict[str, Any]]] = {}
    for received, event in watcher.received:
        state = event["insightDetails"]["state"]
        bucket = starts if state == "Start" else ends
        bucket.setdefault(key_of(event), (received, event))
    start_latency, missed = [], []
    for key, sent_at in plan.spikes.items():
        got = starts.get(key)
        if got is None:
            missed.append(key)
        else:
            start_latency.append(got[0] - sent_at)
    end_latency = [ends[k][0] - plan.spikes[k] for k in plan.spikes if k in ends]
    drop_latency = [starts[k][0] - t for k, t in plan.drops.items() if k in starts]
    false_starts = [k for k in starts if k not in plan.spikes and k not in plan.drops]
    summary = {
        "spikes": len(plan.spikes),
        "spike_starts": len(start_latency),
        "start_latency_p50_s": round(percentile(start_latency, 50), 2),
        "start_latency_p99_s": round(percentile(start_latency, 99), 2),
        "start_latency_max_s": round(max(start_latency, default=float("nan")), 2),
        "end_latency_p50_s": round(percentile(end_latency, 50), 1),
        "ends": len(end_latency),
        "drops": len(plan.drops),
        "drop_starts": len(drop_latency),
        "drop_latency_p50_s": round(percentile(drop_latency, 50), 1),
        "false_starts": len(false_starts),
        "history_records": history,
        "live_records": live_sent,
        "goal_met": len(start_latency) >= 20
        and percentile(start_latency, 50) <= 5
        and percentile(start_latency, 99) <= 15,
    }
    print(f"spikes: {len(start_latency)}/{len(plan.spikes)} started; missed: {missed}")
    print(f"Start latency (s): p50 {summary['start_latency_p50_s']}, p99 {summary['start_latency_p99_s']}")
    print(f"End latency after the spike (s): p50 {summary['end_latency_p50_s']} over {len(end_latency)}")
    print(f"drop Start latency after the first silent second (s): {[round(x, 1) for x in drop_latency]}")
    print(f"false Starts: {false_starts}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
