#!/usr/bin/env python
"""Kafka throughput: ``trailpulse run`` against a bare kafka-python consumer, measured in one run.

A topic is filled with at least ``--records`` generated CloudTrail records (``trailpulse generate``'s
traffic, written by its own ``send_files`` in its seeded envelope mix, ``--envelopes``); then, on the
same broker and topic, each round measures:

* (a) a bare kafka-python ``KafkaConsumer`` in a fresh process: the daemon's consumer options
  (``auto_offset_reset=earliest``, no auto-commit, a fresh group, ``subscribe``), its poll timeout and
  ``max_records``; it only counts the messages of each poll and stops once every partition is read to
  the end offsets taken after the fill: what no consumer built on kafka-python can beat;
* (b) ``trailpulse run`` as a subprocess with a fresh group and state directory
  (``TRAILPULSE_RUN_HEALTH_PORT=-1``, everything else the daemon's defaults, ``checkpoint_interval_s``
  included), processing the topic to completion: a ``caught_up`` log line whose offsets are the end
  offsets (checked against the record count it reports), then SIGTERM and the final ``checkpoint``
  line (producer flushed, state persisted, offsets committed).

Both are timed from the spawn of the process and from their ``started`` line (for the daemon, its own
log line, written once its clients exist and its state is loaded; for (a) a line printed once the
``KafkaConsumer`` is built), which separates the interpreter's start-up and imports. (a) is done when
its last poll reaches the end offsets. The daemon only notices the end through an empty poll, which
lasts the whole ``POLL_TIMEOUT_S``: (b) is done at its ``caught_up`` line less that timeout. The final
checkpoint (SIGTERM sent on that line, then the poll under way finishes, then the checkpoint) is
reported apart, with the time from the spawn to its line ("to the final checkpoint"), since how long
SIGTERM waits for the poll under way (0 to ``POLL_TIMEOUT_S``) is the harness's doing; periodic
checkpoints during the run (``checkpoint_interval_s``) are in (b) anyway. records/s = CloudTrail
records in the topic / seconds (a message may carry one record or a whole log file, depending on its
envelope). ``--repeat N`` runs N rounds, (a) and (b) alternating which goes first; the best of each is
reported (the machine may be shared: only figures measured in the same run mean anything).
Goal (issue acceptance): b >= 0.8 * a.

Speed is only half of it: a daemon that skips most records as late does little work. So the fill
also writes the files it sends (as ``trailpulse generate --out`` would), ``trailpulse replay`` reads
them once per topic (a subprocess, the same engine settings: the defaults, or ``--config FILE`` given
to both), and every (b) prints, from its final ``checkpoint`` line, its records, skips by reason
(late, duplicate...) and rejects, and the Insight events read back from its output topic (a new one
per run), then whether they are the replay's (the same set of eventIDs) and both late shares. The
bench exits with 1, after printing everything, if a run's late share is above ``--max-late-share``
(0.1 %) or its insights differ from the replay's; ``--no-check`` only reports.

``--operated`` adds a third run per round, (c): the daemon as an operator runs it, every alert sink
posting to a local receiver, the dead-letter topic, ``/metrics`` with the per-API top-K scraped every
second (``bench/throughput/operated.py``); goal (issue 9): c >= 0.9 b, best of each.

``--envelopes`` takes one or more mixes (each ``all`` or a comma list of ``raw,s3,s3gz,eventbridge,
cloudwatch,jsonl``); each mix gets a topic of its own and its own figures. ``--breakdown`` adds a pass
of (b) under cProfile and prints where its time goes (own time by area: engine, daemon loop, Kafka
adapters, state store, kafka-python...; trailpulse's functions by inclusive time), ``--profile N``
cProfile's own table of that pass (top N functions by own time). Everything is measured from outside
the processes (their output lines, exit, CPU time and profile): no code of the project is wrapped or
patched. The parts live in ``bench/throughput/``.

Run: ``.venv/bin/python bench/kafka_throughput.py [--workdir DIR] [--records 1000000]
[--partitions 6] [--envelopes all raw] [--repeat 2] [--breakdown] [--no-check]`` (a broker is started in
``DIR/broker`` with ``scripts/kafka.sh`` and stopped at the end, unless ``--bootstrap-servers`` names
one; without ``--workdir`` a temporary directory is used and removed). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throughput.broker_session import broker_session  # noqa: E402
from bench.throughput.child import Doc  # noqa: E402
from bench.throughput.fill import FillSpec  # noqa: E402
from bench.throughput.outcome import MAX_LATE_SHARE  # noqa: E402
from bench.throughput.report import GOAL_RATIO  # noqa: E402
from bench.throughput.rounds import measure_mix  # noqa: E402
from bench.throughput.runs import Setup  # noqa: E402
from consumers.config.run_config import RunConfig  # noqa: E402
from consumers.runtime.daemon import POLL_TIMEOUT_S  # noqa: E402
from consumers.synth.kafka_envelopes import ENVELOPES  # noqa: E402
from consumers.synth.kafka_writer import parse_envelopes  # noqa: E402

MIN_RECORDS = 1_000_000  # the acceptance figure


def option_value(text: str) -> Any:
    """``KEY=VALUE`` values as kafka-python wants them: ints, floats, booleans, else strings."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_mix(text: str) -> tuple[str, ...]:
    return ENVELOPES if text == "all" else parse_envelopes(text)


def measure(args: argparse.Namespace, setup: Setup) -> int:
    results: dict[str, Doc] = {}
    failures: list[str] = []
    for text in args.envelopes:
        envelopes = parse_mix(text)
        name = "all" if text == "all" else "-".join(envelopes)
        spec = FillSpec(args.records, envelopes, args.partitions, args.seed, args.days, args.compression_type)
        doc, failed = measure_mix(setup, spec, name, args)
        results[name] = doc
        failures += failed
    if args.records < MIN_RECORDS:
        print(f"warning: only {args.records:,} records (the issue asks for >= {MIN_RECORDS:,})")
    first = results[next(iter(results))]
    summary = {
        "bench": "kafka_throughput",
        "records": first["records"],
        "repeat": args.repeat,
        "partitions": args.partitions,
        "kafka_options": setup.kafka_options,
        "a_records_per_s": first["a_records_per_s"],
        "b_records_per_s": first["b_records_per_s"],
        "ratio": first["ratio"],
        "goal_ratio": GOAL_RATIO,
        "goal_met": first["goal_met"],
        **{k: first[k] for k in ("c_records_per_s", "operated_ratio", "operated_goal_met") if k in first},
        "max_late_share": args.max_late_share,
        "check_failures": failures,
        "mixes": results,
    }
    verdict = "only reported (--no-check)" if args.no_check else "FAILED" if failures else "passed"
    print(f"\ncheck (late share <= {100 * args.max_late_share:.3f} %, same insights as replay): {verdict}")
    for failure in failures:
        print(f"  {failure}")
    print(json.dumps(summary))
    return 1 if failures and not args.no_check else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, help="broker, state directories (default: a temporary one)")
    p.add_argument("--bootstrap-servers", help="use this broker instead of starting one")
    p.add_argument("--records", type=int, default=MIN_RECORDS, help="CloudTrail records at least")
    p.add_argument(
        "--partitions", type=int, default=2, help="of the topic, keyed by account/region (README: e.g. 6)"
    )
    p.add_argument(
        "--envelopes",
        nargs="+",
        default=["all"],
        help="one or more mixes, each 'all' or a comma list (e.g. --envelopes all raw); a topic each",
    )
    p.add_argument("--repeat", type=int, default=1, help="rounds of (a) and (b); best of each is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--days", type=float, help="trace length to draw files from (default: from --records)")
    p.add_argument("--compression-type", choices=("gzip", "snappy", "lz4", "zstd"))
    p.add_argument("--checkpoint-interval", type=float, help="the daemon's checkpoint_interval_s")
    p.add_argument("--config", type=Path, help="TOML settings for both trailpulse run and replay")
    p.add_argument(
        "--max-late-share",
        type=float,
        default=MAX_LATE_SHARE,
        help="a run skipping more of its records as late fails the check (default %(default)s)",
    )
    p.add_argument("--no-check", action="store_true", help="report late shares and insights, exit 0")
    p.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a kafka-python consumer option for both (a) and (b), e.g. max_partition_fetch_bytes=8388608",
    )
    p.add_argument(
        "--breakdown", action="store_true", help="add a pass of (b) under cProfile: where its time goes"
    )
    p.add_argument(
        "--operated",
        action="store_true",
        help="add (c): every alert sink, dead letters, /metrics scraped each second (goal c >= 0.9 b)",
    )
    p.add_argument("--profile", type=int, default=0, metavar="N", help="add a cProfile pass of (b): top N")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for each step")
    p.add_argument(
        "--keep-broker",
        action="store_true",
        help="leave the broker started in --workdir running (stop it with scripts/kafka.sh stop DIR)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1 or args.records < 1 or args.partitions < 1:
        p.error("--repeat, --records and --partitions must be positive")
    kafka_options: dict[str, Any] = {}
    for item in args.kafka_option:
        k, sep, v = item.partition("=")
        if not sep or not k:
            p.error(f"--kafka-option takes KEY=VALUE, not {item!r}")
        kafka_options[k.strip()] = option_value(v.strip())
    if args.keep_broker and args.workdir is None:
        p.error("--keep-broker needs --workdir")

    # SIGTERM unwinds like Ctrl-C: a run under way kills its child, the broker is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="trailpulse-kafka-bench-")) if temporary else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with broker_session(args.bootstrap_servers, workdir, keep=args.keep_broker) as broker:
            daemon_env = {}
            if args.checkpoint_interval is not None:
                daemon_env["TRAILPULSE_RUN_CHECKPOINT_INTERVAL_S"] = str(args.checkpoint_interval)
            setup = Setup(
                broker.bootstrap,
                workdir,
                broker.data_dir,
                broker.pid,
                kafka_options,
                daemon_env,
                args.timeout,
                poll_timeout_s=POLL_TIMEOUT_S,
                poll_max_records=RunConfig().poll_max_records,
                engine_config=args.config,
            )
            return measure(args, setup)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
