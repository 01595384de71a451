"""The settings of ``trailpulse run``: the ``[run]`` table and the ``[kafka]`` options.

``[kafka]`` takes kafka-python's option names and passes them through. The options people set
most (servers, security, SASL, TLS files) are described here; any other kafka-python option is
typed by kafka-python's own default (``check_crcs`` a boolean, ``request_timeout_ms`` an integer, a
name it leaves unset a string). Any ``[kafka]`` key with ``_file`` appended reads its value from that
file (for secrets).
"""

from __future__ import annotations

import re
from functools import cache, partial
from typing import Any

from consumers.config.schema import Setting
from consumers.kafka.protocol import CLIENTS
from insights.config import AT_LEAST_0, AT_LEAST_1, POSITIVE, Bounds

SECRET = re.compile(r"password|token|secret", re.IGNORECASE)
STATE_STORES = ("directory", "kafka")
FROM_FILE = "_file"
MAX_TOP_APIS = 200  # per-API series stay bounded whatever API names the input invents


_run = partial(Setting, "run")


RUN = {
    s.name: s
    for s in (
        _run(
            "client",
            str,
            "kafka-python",
            f"Kafka client library: {' or '.join(CLIENTS)}; confluent-kafka (librdkafka) consumes"
            " several times faster (pip install 'trailpulse[confluent]')",
            flag="--client",
        ),
        _run(
            "input_topics",
            list,
            [],
            "topics to consume (in a variable: comma-separated); this or input_pattern",
            flag="--input-topic",
        ),
        _run(
            "input_pattern",
            str,
            None,
            "consume every topic whose name matches this regular expression; this or input_topics",
            optional=True,
            flag="--input-pattern",
        ),
        _run("output_topic", str, "", "topic the Insight events go to (required)", flag="--output-topic"),
        _run(
            "dead_letter_topic",
            str,
            None,
            "topic rejected input records are copied to (unset: not kept)",
            optional=True,
            flag="--dead-letter-topic",
        ),
        _run(
            "reason_field",
            bool,
            False,
            'true: each Start record ends with a "trailpulse": {"reason": ...} key (the rule that fired,'
            " its window, calls observed and expected, the reference, the tail probability); false keeps"
            " AWS's exact shape",
        ),
        _run("group_id", str, "trailpulse", "consumer group; the state belongs to it", flag="--group-id"),
        _run(
            "state_store",
            str,
            "directory",
            "where the state is kept; kafka: a compacted topic, for containers without a disk",
            choices=STATE_STORES,
            flag="--state-store",
        ),
        _run(
            "state_dir",
            str,
            "trailpulse-state",
            "directory of the state (state_store directory)",
            flag="--state-dir",
        ),
        _run(
            "state_topic",
            str,
            "",
            "compacted topic of the state, created if missing (required with state_store kafka)",
            flag="--state-topic",
        ),
        _run("checkpoint_interval_s", float, 10.0, "seconds between checkpoints", POSITIVE),
        _run(
            "health_host",
            str,
            "127.0.0.1",
            "address /healthz and /readyz listen on (0.0.0.0: every interface, as a container needs)",
            flag="--health-host",
        ),
        _run(
            "health_port",
            int,
            8080,
            "port of /healthz, /readyz and /metrics (0: any free port; -1: no HTTP server)",
            Bounds(low=-1, high=65535),
            flag="--health-port",
        ),
        _run(
            "metrics_top_apis",
            int,
            0,
            "/metrics also has per-API series (calls, baseline, score) of this many APIs, the busiest"
            " of the last closed minute (0: none; 20 is a usual choice)",
            Bounds(low=0, high=MAX_TOP_APIS),
            flag="--metrics-top-apis",
        ),
        _run("poll_max_records", int, 2000, "records taken from Kafka in one poll at most", AT_LEAST_1),
        _run(
            "partition_wait_s",
            float,
            30.0,
            "seconds no minute closes while a newly assigned partition with a backlog has delivered"
            " nothing (its event time is unknown)",
            POSITIVE,
        ),
        _run(
            "partition_idle_s",
            float,
            15.0,
            "a partition that delivered nothing this long stops holding minutes open",
            POSITIVE,
        ),
        _run(
            "align_minutes",
            int,
            120,
            "a partition this far ahead of the closed minutes in event time is paused until the"
            " others catch up (at least source_idle_minutes + allowed_lateness_minutes + 2)",
            AT_LEAST_1,
        ),
        _run(
            "max_future_minutes",
            int,
            15,
            "records dated further ahead of the wall clock are dropped (counted as future)",
            AT_LEAST_0,
        ),
        _run(
            "decode_workers",
            int,
            1,
            "processes decoding records beside the main one (0: decode in the main process)",
            AT_LEAST_0,
        ),
    )
}


def _kafka(name: str, meaning: str, **more: Any) -> Setting:
    """An optional string ``[kafka]`` setting (kafka-python leaves these unset by default)."""
    return Setting("kafka", name, str, None, meaning, optional=True, **more)


KAFKA = {
    s.name: s
    for s in (
        Setting(
            "kafka",
            "bootstrap_servers",
            str,
            "localhost:9092",
            "brokers to connect to first (host:port,...)",
            flag="--bootstrap-servers",
        ),
        _kafka(
            "security_protocol",
            "how the client reaches the brokers",
            choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        ),
        _kafka(
            "sasl_mechanism",
            "how the client authenticates",
            choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"),
        ),
        _kafka("sasl_plain_username", "user name for PLAIN and SCRAM"),
        _kafka(
            "sasl_plain_password", "password for PLAIN and SCRAM (or sasl_plain_password_file)", secret=True
        ),
        _kafka("sasl_oauth_token", "a static OAUTHBEARER token (or sasl_oauth_token_file)", secret=True),
        _kafka("ssl_cafile", "CA certificates to trust (PEM file; must exist)", must_exist=True),
        _kafka("ssl_certfile", "client certificate (PEM file; must exist)", must_exist=True),
        _kafka("ssl_keyfile", "client private key (PEM file; must exist)", must_exist=True),
        _kafka("ssl_crlfile", "certificate revocation list (PEM file; must exist)", must_exist=True),
        _kafka("ssl_password", "password of ssl_keyfile (or ssl_password_file)", secret=True),
    )
}


@cache
def kafka_setting(name: str) -> Setting | None:
    """The ``[kafka]`` setting ``name``: one of :data:`KAFKA`, or a kafka-python option typed by its
    default (unset ones: integers for ``*_ms``/``*_bytes``, else strings); None for other names."""
    if name in KAFKA:
        return KAFKA[name]
    from kafka import KafkaConsumer, KafkaProducer

    defaults = {**KafkaConsumer.DEFAULT_CONFIG, **KafkaProducer.DEFAULT_CONFIG}
    if name not in defaults:
        return None
    default = defaults[name]
    if default is None:
        kind: type = int if name.endswith(("_ms", "_bytes")) else str
    elif isinstance(default, float):
        kind = int  # retries and consumer_timeout_ms: unbounded (inf) unless given a count
    else:
        kind = type(default) if type(default) in (bool, int, str) else object
    meaning = "kafka-python option, passed through"
    return Setting("kafka", name, kind, default, meaning, optional=True, secret=bool(SECRET.search(name)))
