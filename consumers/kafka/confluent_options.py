"""``[kafka]`` options (kafka-python's names) as librdkafka properties, for the confluent-kafka client.

Options keep kafka-python's names, so one ``[kafka]`` table serves both clients: :func:`librdkafka_config`
translates those with a librdkafka equivalent and refuses the others by name. This module does not
import confluent-kafka, so the settings can be checked whichever client is installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

OAUTH_TOKEN_LIFETIME_S = 60.0  # the provider tells no expiry; librdkafka asks again after 80 % of this

# kafka-python option → librdkafka property, for the options whose meaning is the same.
RENAMED = {
    "bootstrap_servers": "bootstrap.servers",
    "client_id": "client.id",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "metadata_max_age_ms": "topic.metadata.refresh.interval.ms",
    "allow_auto_create_topics": "allow.auto.create.topics",
    "auto_offset_reset": "auto.offset.reset",
    "isolation_level": "isolation.level",
    "session_timeout_ms": "session.timeout.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
    "max_poll_interval_ms": "max.poll.interval.ms",
    "group_instance_id": "group.instance.id",
    "acks": "acks",
    "enable_idempotence": "enable.idempotence",
    "linger_ms": "linger.ms",
    "delivery_timeout_ms": "delivery.timeout.ms",
    "compression_type": "compression.type",
}


def librdkafka_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` (kafka-python names) as librdkafka properties; ``ValueError`` names the untranslatable."""
    unknown = sorted(set(options) - RENAMED.keys() - {"sasl_oauth_token_provider", "ssl_check_hostname"})
    if unknown:
        raise ValueError(f"kafka-python option(s) with no confluent-kafka equivalent: {', '.join(unknown)}")
    config: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:  # kafka-python's "not set"
            continue
        if name == "sasl_oauth_token_provider":
            config["oauth_cb"] = _oauth_callback(value)
        elif name == "ssl_check_hostname":
            config["ssl.endpoint.identification.algorithm"] = "https" if value else "none"
        elif name == "bootstrap_servers" and not isinstance(value, str):
            config["bootstrap.servers"] = ",".join(value)
        else:
            config[RENAMED[name]] = value
    return config


def _oauth_callback(provider: Any) -> Callable[[str], tuple[str, float, str, dict[str, str]]]:
    """librdkafka's token refresh callback on a kafka-python ``AbstractTokenProvider``."""

    def refresh(_oauthbearer_config: str) -> tuple[str, float, str, dict[str, str]]:
        return str(provider.token()), time.time() + OAUTH_TOKEN_LIFETIME_S, "", dict(provider.extensions())

    return refresh
