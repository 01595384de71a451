"""The same CloudTrail records give the same Insight events whether their log files arrive in event
order or as CloudTrail delivers them (named by delivery time, 0-30 minutes after their period,
interleaved across account-regions, some records in later files): event time is kept per source,
so no record is late that its own account-region delivered within the lateness."""

from __future__ import annotations

import functools
from dataclasses import replace

from consumers.runtime.decode_pool import decode_messages
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import iter_log_files
from insights.config import EngineConfig
from insights.decode import Decoder
from insights.engine import Engine
from insights.events import insight_event
from tests.daemon_process import TRACE, trace_messages

IN_ORDER = GenerateOptions(
    seed=23,
    days=1.0,
    api_factor=0.15,
    scale=0.3,
    warmup_minutes=240,
    anomalies_per_kind=1,
    late_fraction=0.02,
    max_late_minutes=30,
)
REALISTIC = replace(IN_ORDER, delivery="realistic")
ENGINE = EngineConfig(warmup_minutes=240)


@functools.cache
def _replay(options: GenerateOptions, early_starts: bool) -> tuple[list[dict[str, object]], int, int]:
    """Insight events, records analysed and records late for the files of ``options`` fed one by
    one in delivery order."""
    engine, decoder = Engine(replace(ENGINE, early_starts=early_starts)), Decoder()
    events = []
    for log in iter_log_files(options):
        events += [insight_event(t) for t in engine.process(decoder.decode(log.body()).records)]
    events += [insight_event(t) for t in engine.finish()]
    return events, engine.normaliser.analysed, engine.normaliser.skipped["late"]


def test_realistic_delivery_gives_the_events_of_in_order_delivery() -> None:
    in_order, analysed, late = _replay(IN_ORDER, early_starts=False)
    realistic, analysed_too, late_too = _replay(REALISTIC, early_starts=False)
    assert analysed == analysed_too > 30_000
    assert late == late_too == 0
    assert len(in_order) >= 4 and {e["insightDetails"]["state"] for e in in_order} == {"Start", "End"}  # type: ignore[index]
    assert realistic == in_order


def test_with_early_starts_the_same_insights_start_and_end_in_the_same_order() -> None:
    """An early Start goes out before the minutes around it have closed: its count so far and its
    attribution averages are those of that moment, which depends on how far the other sources had
    got. Which insights start and end, when, in what order and against which baseline does not."""
    in_order, _, late = _replay(IN_ORDER, early_starts=True)
    realistic, _, late_too = _replay(REALISTIC, early_starts=True)
    assert late == late_too == 0
    assert [_identity(e) for e in realistic] == [_identity(e) for e in in_order]
    assert len(in_order) >= 4


def _identity(event: dict[str, object]) -> tuple[object, ...]:
    details = event["insightDetails"]
    assert isinstance(details, dict)
    stats = details["insightContext"]["statistics"]
    return (
        event["eventID"],
        event["eventTime"],
        details["state"],
        details["eventName"],
        stats["baseline"],
        stats["baselineDuration"],
    )


def _batched(messages: list[bytes], batch: int) -> list[str]:
    """Insight eventIDs of the daemon's decode of ``messages``, ``batch`` at a time, one partition."""
    engine = Engine(EngineConfig())
    ids = []
    for start in range(0, len(messages), batch):
        decoded = decode_messages(messages[start : start + batch], None, False)
        ids += [str(insight_event(t)["eventID"]) for t in engine.process_classified([decoded.batch], "t:0")]
    return ids


def test_realistic_delivery_on_two_channels_gives_the_same_events_in_any_batches() -> None:
    """As the daemon reads them: log files on one partition, a few of them split into single records
    (a second, sparse delivery channel of the same account-regions), in polls of 50 messages or in
    batches of 5,000. Early Starts are judged only near the closed minutes, so what is judged early
    does not depend on how far one batch carried the clocks."""
    messages = trace_messages(TRACE)  # realistic delivery, the generator's default
    large = _batched(messages, 5_000)
    assert len(large) >= 4
    assert _batched(messages, 50) == large
