"""The traffic of ``bench/detection_latency.py``: write APIs with steady Poisson rates, their records,
the history sent at full speed and the live seconds with the planned spikes and drops."""

from __future__ import annotations

import gzip
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from kafka import KafkaProducer

SERVICES = [
    ("ec2.amazonaws.com", ["RunInstances", "CreateTags", "TerminateInstances", "AttachVolume"]),
    ("s3.amazonaws.com", ["PutBucketPolicy", "CreateBucket", "PutBucketTagging"]),
    ("iam.amazonaws.com", ["CreateRole", "AttachRolePolicy", "PutRolePolicy"]),
    ("lambda.amazonaws.com", ["UpdateFunctionCode20150331v2", "CreateFunction20150331"]),
    ("kms.amazonaws.com", ["CreateGrant", "ScheduleKeyDeletion"]),
    ("logs.amazonaws.com", ["CreateLogStream", "PutRetentionPolicy"]),
]
ACCOUNTS = ["111122223333", "444455556666"]
REGIONS = ["us-east-1", "eu-west-1"]


@dataclass
class Api:
    account: str
    region: str
    source: str
    name: str
    rate: float  # calls per minute

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account, self.region, self.source, self.name)


@dataclass
class Plan:
    spikes: dict[tuple[str, str, str, str], float] = field(default_factory=dict)  # key -> first send time
    spike_minutes: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    drops: dict[tuple[str, str, str, str], float] = field(default_factory=dict)  # key -> first silent second
    silent: dict[tuple[str, str, str, str], tuple[int, int]] = field(default_factory=dict)  # [from, to) s


def make_apis(count: int, rng: np.random.Generator) -> list[Api]:
    names = [(s, n) for s, ns in SERVICES for n in ns]
    apis = []
    for i in range(count):
        source, name = names[i % len(names)]
        account = ACCOUNTS[(i // len(names)) % len(ACCOUNTS)]
        region = REGIONS[(i // (len(names) * len(ACCOUNTS))) % len(REGIONS)]
        apis.append(Api(account, region, source, name, float(math.exp(rng.uniform(0.0, math.log(20.0))))))
    return apis


def record(api: Api, second: float, rng: np.random.Generator) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    user = f"arn:aws:iam::{api.account}:role/deployer-{int(rng.integers(3))}"
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": user, "accountId": api.account},
        "eventTime": stamp,
        "eventSource": api.source,
        "eventName": api.name,
        "awsRegion": api.region,
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "aws-cli/2.15.0",
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": api.account,
        "eventCategory": "Management",
    }


def swing(second: float) -> float:
    """A gentle daily swing of the rates (quiet at night UTC)."""
    return 1.0 + 0.3 * math.sin(2 * math.pi * (second % 86400) / 86400)


def send_history(
    producer: KafkaProducer, topic: str, apis: list[Api], first: int, last: int, rng: np.random.Generator
) -> int:
    """Minutes ``[first, last)`` (epoch minutes) in S3-body messages of up to 500 records."""
    sent = 0
    for minute in range(first, last):
        batch = []
        for api in apis:
            for _ in range(int(rng.poisson(api.rate * swing(minute * 60.0)))):
                batch.append(record(api, minute * 60 + float(rng.uniform(0, 60)), rng))
        for i in range(0, len(batch), 500):
            body = json.dumps({"Records": batch[i : i + 500]}).encode()
            producer.send(topic, gzip.compress(body, 1))
        sent += len(batch)
    producer.flush()
    return sent


def live(
    producer: KafkaProducer,
    topic: str,
    apis: list[Api],
    start_s: int,
    end_s: int,
    plan_spikes: dict[int, Api],
    plan: Plan,
    rng: np.random.Generator,
) -> int:
    """Second by second from ``start_s`` (catching up at full speed) to ``end_s`` in real time."""
    sent = 0
    for second in range(start_s, end_s):
        wait = second - time.time()
        if wait > 0:
            time.sleep(wait)
        for api in apis:
            window = plan.silent.get(api.key)
            if window and window[0] <= second < window[1]:
                continue
            for _ in range(int(rng.poisson(api.rate * swing(second) / 60.0))):
                producer.send(topic, json.dumps(record(api, second + float(rng.uniform(0, 1)), rng)).encode())
                sent += 1
        spiked = plan_spikes.get(second)
        if spiked is not None:
            count = max(40, int(8 * spiked.rate))
            plan.spikes[spiked.key] = time.time()
            plan.spike_minutes[spiked.key] = second // 60
            for _ in range(count):
                producer.send(topic, json.dumps(record(spiked, second + 0.5, rng)).encode())
            sent += count
        producer.flush()
    return sent
