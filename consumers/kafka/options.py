"""``[kafka]`` options: kafka-python's names, for every client.

One ``[kafka]`` table serves both clients, so its names are kafka-python's (documented, and what most
users know); confluent-kafka translates them (:mod:`consumers.kafka.confluent_options`). kafka-python
is a required dependency, so its lists of names are always there to check against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def known_options() -> tuple[set[str], set[str]]:
    """The option names kafka-python's consumer and producer accept."""
    from kafka import KafkaConsumer, KafkaProducer

    return set(KafkaConsumer.DEFAULT_CONFIG), set(KafkaProducer.DEFAULT_CONFIG)


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` split into (consumer, producer) options; an unknown name raises ``ValueError``."""
    consumer_keys, producer_keys = known_options()
    unknown = sorted(set(options) - consumer_keys - producer_keys)
    if unknown:
        raise ValueError(f"unknown kafka-python option(s): {', '.join(unknown)}")
    return (
        {k: v for k, v in options.items() if k in consumer_keys},
        {k: v for k, v in options.items() if k in producer_keys},
    )
