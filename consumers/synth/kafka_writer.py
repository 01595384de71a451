"""``trailpulse generate --bootstrap-servers … --topic …``: the generated trace, written to Kafka.

Each log file goes out in one envelope (DESIGN §1), picked per file from ``--envelopes`` by a hash of
its (seeded) path, so the same options give the same mix: ``raw`` and ``eventbridge`` send one message
per record, ``cloudwatch`` one per event minute of a file, ``s3``/``s3gz``/``jsonl`` one per file.
Messages of all envelopes go out merged in the order they would reach a real topic
(:mod:`consumers.synth.kafka_arrival`); the key is ``account/region``, so one account and region
keep that order within a partition. Pacing and the backlog: :mod:`consumers.synth.kafka_pacing`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from consumers.kafka.protocol import KafkaClientError, RecordWriter, topic_tools
from consumers.synth.kafka_arrival import ArrivalModel, arrivals
from consumers.synth.kafka_envelopes import ENVELOPES, MAX_MESSAGE_BYTES
from consumers.synth.kafka_pacing import Pacer
from consumers.synth.options import iso_to_minute
from consumers.synth.s3_delivery import GeneratedFile


@dataclass
class LagHistogram:
    """Records per whole second behind their eventTime, for the summary's percentiles."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    def add(self, lags: np.ndarray) -> None:
        """Count records ``lags`` seconds behind (rounded down; never negative by construction)."""
        seen = np.bincount(np.maximum(lags, 0).astype(np.int64))
        if seen.size > self.counts.size:
            self.counts = np.pad(self.counts, (0, seen.size - self.counts.size))
        self.counts[: seen.size] += seen

    def quantile_minutes(self, q: float) -> float:
        """The ``q`` quantile of the lags, in minutes (0 when nothing was counted).

        >>> h = LagHistogram(); h.add(np.array([6.5, 60.0, 600.0, 6000.0]))
        >>> h.quantile_minutes(0.5), h.quantile_minutes(1.0)
        (1.0, 100.0)
        """
        total = int(self.counts.sum())
        if not total:
            return 0.0
        rank = max(1, int(np.ceil(q * total)))
        return float(np.searchsorted(np.cumsum(self.counts), rank)) / 60

    def summary(self) -> str:
        """``"p50 X min, p99 Y min, max Z min"`` behind eventTime."""
        parts = (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
        return ", ".join(f"{name} {self.quantile_minutes(q):.1f} min" for name, q in parts)


@dataclass
class SendStats:
    """What was sent: messages per envelope, records, value bytes, lags, and failed deliveries."""

    messages: dict[str, int] = field(default_factory=dict)
    records: int = 0
    bytes: int = 0
    backlog: int = 0  # messages sent unpaced, as the backlog
    lags: LagHistogram = field(default_factory=LagHistogram)
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
    model: ArrivalModel | None = None,
    gzip_level: int = 3,
) -> SendStats:
    """Send the files (in delivery order) whose delivery minute is in ``[span[0], span[1])``, their
    messages in order of arrival (:func:`~consumers.synth.kafka_arrival.arrivals`), then wait for
    every send."""
    stats = SendStats()
    pacer = pacer or Pacer()
    for message in arrivals(files, envelopes, model or ArrivalModel(), gzip_level, span):
        stats.backlog += pacer.in_backlog(message.at)
        pacer.wait(message.records, message.at)
        producer.send(topic, message.key, message.value, on_failure=stats.failure)
        stats.bytes += len(message.value)
        stats.records += message.records
        stats.messages[message.envelope] = stats.messages.get(message.envelope, 0) + 1
        stats.lags.add(message.lags)
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
        "--backlog-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="send the messages arriving within H hours of the first one at once, then pace the rest"
        " with --rate or --speedup, as to a topic that already holds a backlog (default %(default)s)",
    )
    g.add_argument(
        "--partition-skew-minutes",
        type=float,
        default=0.0,
        metavar="N",
        help="make each account/region's producer, and so its partition, run a fixed 0..N minutes"
        " behind, drawn per key from --seed, as slow upstream pipelines would; every message of"
        " that key arrives that much later (default %(default)s: none)",
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
    if args.backlog_hours < 0 or args.partition_skew_minutes < 0:
        raise ValueError("--backlog-hours and --partition-skew-minutes must not be negative")
    return envelopes, first, end


def run_kafka(args: argparse.Namespace, files: Iterable[GeneratedFile], model: ArrivalModel) -> int:
    """Send ``files`` as the flags and ``model`` say; prints a one-line summary to stderr."""
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
        pacer = Pacer(args.rate, args.speedup, backlog_s=args.backlog_hours * 3600)
        span = (first, end)
        stats = send_files(files, producer, args.topic, envelopes, span=span, pacer=pacer, model=model)
    except KafkaClientError as exc:
        print(f"trailpulse generate: sending to Kafka failed: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close()
    took = time.perf_counter() - began
    mix = " ".join(f"{k}={v}" for k, v in sorted(stats.messages.items()))
    backlog = f", {stats.backlog} as backlog" if args.backlog_hours else ""
    print(
        f"trailpulse generate: {sum(stats.messages.values())} messages ({mix}{backlog}), {stats.records}"
        f" records arriving {stats.lags.summary()} behind eventTime, {stats.bytes / 1e6:.1f} MB,"
        f" {took:.1f} s ({stats.records / max(took, 1e-9):.0f} records/s) -> {args.topic}"
        + (f"; {stats.failed} FAILED: {stats.first_error}" if stats.failed else ""),
        file=sys.stderr,
    )
    return 1 if stats.failed else 0
