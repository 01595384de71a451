"""``trailpulse generate --bootstrap-servers … --topic …``: the generated trace, written to Kafka.

Each log file goes out in one envelope (DESIGN §1), picked per file from ``--envelopes`` by a hash of
its (seeded) path, so the same options give the same mix: ``raw`` and ``eventbridge`` send one message
per record, ``s3``/``s3gz``/``cloudwatch``/``jsonl`` one message per file. The key is ``account/region``,
so one account and region keep their order within a partition. ``--rate`` caps records per second
(token bucket); ``--speedup`` replays delivery time that many times faster than real time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consumers.kafka.protocol import KafkaClientError, RecordWriter, topic_tools
from consumers.synth.kafka_envelopes import ENVELOPES, MAX_MESSAGE_BYTES, messages_for, pick_envelope
from consumers.synth.options import iso_to_minute
from consumers.synth.s3_delivery import GeneratedFile


class Pacer:
    """Waits before each send: a token bucket of ``rate`` records/s, or delivery time sped up."""

    def __init__(
        self, rate: float | None = None, speedup: float | None = None, burst_s: float = 0.05
    ) -> None:
        self.rate, self.speedup = rate, speedup
        self.burst = max(1.0, (rate or 0.0) * burst_s)
        self.tokens = self.burst
        self.last = time.monotonic()
        self.origin: tuple[float, int] | None = None  # (wall time, delivery minute) of the first send

    def wait(self, records: int, delivery_minute: int) -> None:
        now = time.monotonic()
        if self.rate:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate) - records
            self.last = now
            if self.tokens < 0:
                time.sleep(-self.tokens / self.rate)
        elif self.speedup:
            if self.origin is None:
                self.origin = (now, delivery_minute)
            due = self.origin[0] + (delivery_minute - self.origin[1]) * 60.0 / self.speedup
            if due > now:
                time.sleep(due - now)


@dataclass
class SendStats:
    """What was sent: messages per envelope, records, value bytes, and failed deliveries."""

    messages: dict[str, int] = field(default_factory=dict)
    records: int = 0
    bytes: int = 0
    failed: int = 0
    first_error: str = ""

    def failure(self, error: str) -> None:
        self.failed += 1
        self.first_error = self.first_error or error


def send_files(
    files: Iterable[GeneratedFile],
    producer: RecordWriter,
    topic: str,
    envelopes: tuple[str, ...] = ENVELOPES,
    *,
    span: tuple[int | None, int | None] = (None, None),
    pacer: Pacer | None = None,
    gzip_level: int = 3,
) -> SendStats:
    """Send the files whose delivery minute is in ``[span[0], span[1])``, then wait for every send."""
    stats = SendStats()
    pacer = pacer or Pacer()
    first, end = span
    for log in files:
        if first is not None and log.delivery_minute < first:
            continue
        if end is not None and log.delivery_minute >= end:
            break  # files come in delivery order
        envelope = pick_envelope(log, envelopes)
        key = f"{log.account}/{log.region}".encode()
        for n, values in messages_for(log, envelope, gzip_level):
            cost = 1 if len(values) == n else n  # records per message
            for value in values:
                pacer.wait(cost, log.delivery_minute)
                producer.send(topic, key, value, on_failure=stats.failure)
                stats.bytes += len(value)
            stats.messages[envelope] = stats.messages.get(envelope, 0) + len(values)
        stats.records += len(log.records)
    producer.flush(None)
    return stats


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The Kafka options of ``trailpulse generate`` (names as kafka-python's, DESIGN §3)."""
    g = p.add_argument_group("Kafka output (with --bootstrap-servers, --out is optional)")
    g.add_argument("--bootstrap-servers", help="host:port[,host:port...]; write the trace to Kafka")
    g.add_argument("--topic", help="topic to write to (required with --bootstrap-servers)")
    g.add_argument(
        "--envelopes",
        default=",".join(ENVELOPES),
        help="message formats to mix, comma-separated, any of %(default)s (default: all of them)",
    )
    pace = g.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="records per second (default: as fast as possible)")
    pace.add_argument(
        "--speedup", type=float, help="send X times faster than real time (1440: a day a minute)"
    )
    g.add_argument(
        "--from", dest="span_from", metavar="ISO", help="send only files delivered from this minute on"
    )
    g.add_argument("--to", dest="span_to", metavar="ISO", help="send only files delivered before this minute")
    g.add_argument(
        "--compression-type", choices=("gzip", "snappy", "lz4", "zstd"), help="default: uncompressed"
    )
    g.add_argument("--linger-ms", type=int, default=20, help="wait to fill a batch, ms (default %(default)s)")
    g.add_argument(
        "--batch-size", type=int, default=512 * 1024, help="bytes per partition batch (default %(default)s)"
    )
    g.add_argument(
        "--security-protocol",
        default="PLAINTEXT",
        help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (default %(default)s)",
    )
    g.add_argument("--sasl-mechanism", help="e.g. PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    g.add_argument("--sasl-plain-username", help="SASL user name")
    g.add_argument("--sasl-plain-password-file", help="file holding the SASL password (never logged)")
    g.add_argument("--ssl-cafile", help="CA certificate file (PEM) to verify the brokers with")


def producer_config(args: argparse.Namespace) -> dict[str, Any]:
    """The writer's options (kafka-python names, as ``[kafka]``) from the parsed flags."""
    config: dict[str, Any] = {
        "bootstrap_servers": args.bootstrap_servers.split(","),
        "client_id": "trailpulse-generate",
        "acks": "all",
        "linger_ms": args.linger_ms,
        "batch_size": args.batch_size,
        "max_request_size": 2 * MAX_MESSAGE_BYTES,
        "compression_type": args.compression_type,
        "security_protocol": args.security_protocol,
    }
    for name in ("sasl_mechanism", "sasl_plain_username", "ssl_cafile"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    if args.sasl_plain_password_file:
        with open(args.sasl_plain_password_file, encoding="utf-8") as f:
            config["sasl_plain_password"] = f.read().rstrip("\r\n")
    return config


def parse_envelopes(text: str) -> tuple[str, ...]:
    """``"raw,s3"`` -> ``("raw", "s3")``; raises ``ValueError`` for an unknown or empty list."""
    chosen = tuple(e.strip() for e in text.split(",") if e.strip())
    unknown = [e for e in chosen if e not in ENVELOPES]
    if unknown or not chosen:
        raise ValueError(f"--envelopes must be a comma-separated subset of {','.join(ENVELOPES)}")
    return chosen


def parse_flags(args: argparse.Namespace) -> tuple[tuple[str, ...], int | None, int | None]:
    """Envelopes and delivery span from the flags; raises ``ValueError`` for bad ones."""
    envelopes = parse_envelopes(args.envelopes)
    first, end = (None if t is None else iso_to_minute(t) for t in (args.span_from, args.span_to))
    if first is not None and end is not None and first >= end:
        raise ValueError("--from must be before --to")
    if (args.rate is not None and args.rate <= 0) or (args.speedup is not None and args.speedup <= 0):
        raise ValueError("--rate and --speedup must be positive")
    return envelopes, first, end


def run_kafka(args: argparse.Namespace, files: Iterable[GeneratedFile]) -> int:
    """Send ``files`` as the flags say; prints a one-line summary to stderr."""
    try:
        envelopes, first, end = parse_flags(args)
        config = producer_config(args)
    except (ValueError, OSError) as exc:
        print(f"trailpulse generate: {exc}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    try:
        producer = topic_tools("kafka-python").writer(config)
    except KafkaClientError as exc:
        print(f"trailpulse generate: cannot connect to Kafka: {exc}", file=sys.stderr)
        return 1
    try:
        pacer = Pacer(args.rate, args.speedup)
        stats = send_files(files, producer, args.topic, envelopes, span=(first, end), pacer=pacer)
    except KafkaClientError as exc:
        print(f"trailpulse generate: sending to Kafka failed: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close()
    took = time.perf_counter() - began
    mix = " ".join(f"{k}={v}" for k, v in sorted(stats.messages.items()))
    print(
        f"trailpulse generate: {sum(stats.messages.values())} messages ({mix}), {stats.records} records, "
        f"{stats.bytes / 1e6:.1f} MB, {took:.1f} s ({stats.records / max(took, 1e-9):.0f} records/s) "
        f"-> {args.topic}" + (f"; {stats.failed} FAILED: {stats.first_error}" if stats.failed else ""),
        file=sys.stderr,
    )
    return 1 if stats.failed else 0
