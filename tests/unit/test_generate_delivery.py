"""How ``trailpulse generate`` delivers its log files: ``period`` (named by the period they cover, the
default and unchanged) and ``realistic`` (named by delivery time, as CloudTrail does): names never
precede a record of their file, names interleave across account-regions, late records keep to the
options, the same seed gives the same files."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from dataclasses import replace

import pytest

from consumers.synth.options import GenerateOptions, iso_to_minute, minute_to_iso
from consumers.synth.s3_delivery import DeliveryStats, GeneratedFile, iter_log_files
from consumers.synth.traffic_model import plan_traffic

QUICK = GenerateOptions(
    seed=11, days=0.5, api_factor=0.15, scale=0.2, warmup_minutes=240, anomalies_per_kind=1, delivery="period"
)
REALISTIC = replace(QUICK, delivery="realistic")
# iter_log_files(QUICK) before the delivery models existed (commit 4bdd277): period delivery must not move
QUICK_DIGEST = "22c6c204cf80367a37cd5f18d1288fd8c03ab1b6ce6fd58c8424f6819264d0b2"


def _digest(options: GenerateOptions) -> str:
    h = hashlib.sha256()
    for log in iter_log_files(options):
        h.update(log.path.encode())
        h.update(log.body())
    return h.hexdigest()


def _minutes(log: GeneratedFile) -> list[int]:
    """The eventTime minute of each record of ``log``."""
    return [iso_to_minute(json.loads(r)["eventTime"][:17] + "00Z") for r in log.records]


@pytest.fixture(scope="module")
def realistic() -> tuple[list[GeneratedFile], DeliveryStats]:
    stats = DeliveryStats()
    return list(iter_log_files(REALISTIC, stats=stats)), stats


def test_period_delivery_is_unchanged_and_realistic_is_the_default() -> None:
    assert _digest(QUICK) == QUICK_DIGEST
    assert _digest(replace(QUICK, late_fraction=0.01, max_late_minutes=20)) == QUICK_DIGEST
    assert GenerateOptions().delivery == "realistic"


def test_realistic_names_carry_the_delivery_time(
    realistic: tuple[list[GeneratedFile], DeliveryStats],
) -> None:
    logs, _ = realistic
    for log in logs:
        stamp = minute_to_iso(log.delivery_minute)
        assert f"/{stamp[:4]}/{stamp[5:7]}/{stamp[8:10]}/" in log.path
        assert f"_{stamp[:4]}{stamp[5:7]}{stamp[8:10]}T{stamp[11:13]}{stamp[14:16]}Z_" in log.path
        assert max(_minutes(log)) < log.delivery_minute  # written before the file was delivered
    deliveries = [log.delivery_minute for log in logs]
    assert deliveries == sorted(deliveries)  # yielded in delivery order, as the Kafka writer needs


def test_realistic_delays_are_mostly_within_ten_minutes(
    realistic: tuple[list[GeneratedFile], DeliveryStats],
) -> None:
    logs, stats = realistic
    delays = stats.file_delays
    assert sum(delays.values()) == stats.files == len(logs)
    assert set(range(11)) <= set(delays) and max(delays) <= 30 and min(delays) == 0
    assert 0.02 <= sum(n for d, n in delays.items() if d > 10) / stats.files <= 0.12


def test_realistic_names_interleave_across_account_regions(
    realistic: tuple[list[GeneratedFile], DeliveryStats],
) -> None:
    logs, _ = realistic
    # a file named later that holds only older records than the file before it, from another source
    newest = [(log.account, log.region, max(_minutes(log)) // 5) for log in logs]
    inversions = sum(1 for a, b in itertools.pairwise(newest) if a[:2] != b[:2] and b[2] < a[2])
    assert inversions / len(logs) > 0.1
    period = [log.delivery_minute for log in iter_log_files(QUICK)]
    assert period == sorted(period)


def test_realistic_files_of_one_account_region_arrive_in_period_order() -> None:
    newest: dict[tuple[str, str], tuple[int, int]] = {}
    for log in iter_log_files(replace(REALISTIC, late_fraction=0.0, duplicate_fraction=0.0)):
        source, period = (log.account, log.region), max(_minutes(log)) // 5
        last_period, last_delivery = newest.get(source, (period, log.delivery_minute))
        assert period >= last_period
        assert period == last_period or log.delivery_minute > last_delivery  # replay sorts by name
        newest[source] = (period, log.delivery_minute)


@pytest.mark.parametrize("delivery", ["period", "realistic"])
def test_late_share_and_bound_follow_the_options(delivery: str) -> None:
    options = replace(
        QUICK, delivery=delivery, late_fraction=0.05, max_late_minutes=30, duplicate_fraction=0.0
    )
    stats = DeliveryStats()
    late = total = 0
    behind: Counter[int] = Counter()
    for log in iter_log_files(options, stats=stats):
        periods = [m // 5 for m in _minutes(log)]
        own = max(periods)  # the file's own period: late records come from earlier ones
        total += len(periods)
        late += sum(p < own for p in periods)
        behind.update(own - p for p in periods if p < own)
    assert total == stats.records
    assert 0.04 <= late / total <= 0.06
    assert abs(late - stats.late) <= 0.1 * stats.late  # files of late records only are not counted here
    assert max(behind) == 6 and set(behind) == set(range(1, 7))  # 5 to 30 minutes later


def test_realistic_delivery_is_deterministic_by_seed() -> None:
    assert _digest(REALISTIC) == _digest(REALISTIC)
    assert _digest(REALISTIC) != _digest(replace(REALISTIC, seed=12))
    assert _digest(REALISTIC) != QUICK_DIGEST


def test_delivery_leaves_the_labels_alone() -> None:
    assert plan_traffic(REALISTIC).labels() == plan_traffic(QUICK).labels()


def test_delivery_options_are_checked() -> None:
    assert GenerateOptions(delivery="realistic").late_share == 0.02
    assert GenerateOptions(delivery="realistic").max_late == 30
    assert GenerateOptions(delivery="period").late_share == 0.01
    assert GenerateOptions(delivery="period").max_late == 20
    for bad in (
        GenerateOptions(delivery="hourly"),
        GenerateOptions(max_late_minutes=3),
        GenerateOptions(delivery="realistic", late_fraction=0.6),
    ):
        with pytest.raises(ValueError):
            bad.validate()
