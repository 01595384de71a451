#!/usr/bin/env python
"""(a) of ``bench/kafka_throughput.py``: a bare kafka-python ``KafkaConsumer`` that only counts messages.

It uses the daemon's consumer options (``auto_offset_reset=earliest``, no auto-commit, a fresh group,
``subscribe``), its poll timeout and ``max_records``, and stops once every partition is read to the
given end offsets: what no consumer built on kafka-python can beat. A script of its own, started by
``runs.run_bare``, so that its start-up is kafka-python's import only. Prints a ``started`` JSON line
once the consumer is built, and a ``done`` line with the messages, polls and seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group-id", required=True)
    p.add_argument("--ends", required=True, help='JSON {"topic:partition": end offset}')
    p.add_argument("--max-records", type=int, required=True)
    p.add_argument("--poll-timeout", type=float, required=True, help="seconds")
    p.add_argument("--kafka-options", default="{}", help="JSON: more KafkaConsumer options")
    args = p.parse_args(argv)

    from kafka import KafkaConsumer

    ends = {int(tp.rsplit(":", 1)[1]): int(o) for tp, o in json.loads(args.ends).items()}
    began, cpu = time.perf_counter(), time.process_time()
    options = {"client_id": "bench-bare", "auto_offset_reset": "earliest", **json.loads(args.kafka_options)}
    consumer = KafkaConsumer(
        **options,
        bootstrap_servers=args.bootstrap_servers.split(","),
        group_id=args.group_id,
        enable_auto_commit=False,
    )
    print(json.dumps({"event": "started"}), flush=True)
    consumer.subscribe(topics=[args.topic])
    pending = {p for p, end in ends.items() if end > 0}
    messages = polls = 0
    timeout_ms = int(args.poll_timeout * 1000)
    while pending:
        polled = consumer.poll(timeout_ms=timeout_ms, max_records=args.max_records)
        polls += 1
        for tp, batch in polled.items():
            messages += len(batch)
            if batch[-1].offset + 1 >= ends[tp.partition]:
                pending.discard(tp.partition)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    done = {"event": "done", "messages": messages, "polls": polls, "seconds": seconds, "cpu_seconds": cpu}
    print(json.dumps(done), flush=True)
    consumer.close(autocommit=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
