"""Both Kafka clients tell a commit the group refused after a rebalance (the member was expelled, as
after a stall past ``session.timeout.ms``) from other commit failures: the checkpoint carries on
after the first (:class:`CommitRejectedError`) and stops on the second."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumers.kafka.confluent import ConfluentConsumer
from consumers.kafka.protocol import CommitRejectedError, KafkaClientError


class _RefusingLibrdkafka:
    def __init__(self, code: int) -> None:
        self.code = code

    def commit(self, **_: Any) -> None:
        raise KafkaException(KafkaError(self.code))


def _consumer(code: int) -> ConfluentConsumer:
    consumer = object.__new__(ConfluentConsumer)
    consumer._consumer = _RefusingLibrdkafka(code)  # type: ignore[assignment]
    return consumer


@pytest.mark.parametrize(
    "code", [KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS]
)
def test_confluent_commit_refused_after_a_rebalance_is_a_rejection(code: int) -> None:
    with pytest.raises(CommitRejectedError):
        _consumer(code).commit({("t", 0): 5})


def test_other_confluent_commit_failures_are_client_errors() -> None:
    with pytest.raises(KafkaClientError) as raised:
        _consumer(KafkaError._TRANSPORT).commit({("t", 0): 5})
    assert not isinstance(raised.value, CommitRejectedError)
