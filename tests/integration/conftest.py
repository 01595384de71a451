"""Fixtures for the tests against a real Apache Kafka broker (``scripts/kafka.sh``; Java and Maven needed).

One broker serves the session: ``kafka_broker`` starts it on first use (in a pytest temporary directory)
and stops it at the end; each test writes to its own topic (``topic``), so tests never see each other's
records. A test may restart that broker (same address and data): the tests of a session run one after
another, so no other test is using it then.

Under pytest-xdist each worker is a session of its own, so each worker that runs a Kafka test starts its
own broker (about 3 s, the workers' in parallel). Deliberately: a broker shared by the workers would be
restarted under another worker's running test, and ``--dist loadgroup`` with ``xdist_group`` cannot keep
these tests on one worker either (pytest 9.2 derives node ids from ``Node._id``, and xdist 3.8.0's
loadgroup still tags ``item._nodeid``, so the groups are silently ignored).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kafka_broker import KafkaBroker, unique_topic


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name of this test's own (not created: auto-creation gives it one partition on first use)."""
    return unique_topic(request.node.name)
