"""The alert sinks' outbox as the checkpoint persists it: per sink, the queued and the active Insights.

MessagePack of ``{sink name: {"queued": [transition, ...], "active": [...]}}``; each transition is the
:class:`~insights.transition.InsightTransition` itself (the AWS record is rebuilt from it, byte for
byte, by :meth:`~consumers.sinks.base.Insight.of`). A sink that is no longer configured finds its
entry left unread; a sink that is new finds none.

>>> start = Insight.of(InsightTransition(
...     "Start", "ApiCallRateInsight", "123456789012", "us-east-1", "ec2.amazonaws.com",
...     "RunInstances", None, "Management", "up", 28_898_932, 28_898_932, 28_898_933,
...     26.0, 10_080, 116.0, 1, ()))
>>> blob = encode_outbox({"pager": ([start], [start])})
>>> decode_outbox(blob) == {"pager": ([start], [start])}
True
>>> decode_outbox(b"")
{}
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from consumers.sinks.base import Insight
from insights.transition import InsightTransition

Outbox = dict[str, tuple[list[Insight], list[Insight]]]


class _Entry(msgspec.Struct):
    queued: list[InsightTransition]
    active: list[InsightTransition]


def encode_outbox(outbox: Mapping[str, tuple[list[Insight], list[Insight]]]) -> bytes:
    """``b""`` when every sink is empty (the common case costs nothing in the state)."""
    entries = {
        name: _Entry([i.transition for i in queued], [i.transition for i in active])
        for name, (queued, active) in outbox.items()
        if queued or active
    }
    return msgspec.msgpack.encode(entries) if entries else b""


def decode_outbox(blob: bytes, reason: bool = False) -> Outbox:
    """The outbox of :func:`encode_outbox`, records built as :meth:`Insight.of` builds them with
    ``reason``; ``ValueError`` if ``blob`` is not one."""
    if not blob:
        return {}
    try:
        entries = msgspec.msgpack.decode(blob, type=dict[str, _Entry])
    except msgspec.DecodeError as exc:
        raise ValueError(f"the alert outbox is unreadable: {exc}") from exc
    return {
        name: ([Insight.of(t, reason) for t in e.queued], [Insight.of(t, reason) for t in e.active])
        for name, e in entries.items()
    }
