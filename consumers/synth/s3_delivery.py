"""Delivery of synthetic records into CloudTrail log files, as S3 would hold them.

Records are grouped per (account, region) into ~5-minute files named and laid out as CloudTrail
delivers them (``AWSLogs/{account}/CloudTrail/{region}/YYYY/MM/DD/...json.gz``), unordered within a
file; busy periods are split into several files; a small fraction of records arrives late (in the
file of a period 5 to ``max_late`` minutes later) and a smaller one twice (the same eventID in two
files).

Two delivery models name the files. ``period`` names each file by the end of the period it covers,
so names follow event time. ``realistic`` names it by its delivery time, as AWS documents ("the
digits of the year, month, day, hour, and minute when the log file was delivered"): each file
arrives 0-10 minutes after its period closes, a few up to 30, drawn per file, so names interleave
out of event order across account-regions; within one account-region a file is never delivered
before (or in the same minute as) a file of an earlier period: a late file holds back the next
ones, as a slow delivery would. Files are yielded in delivery order either way; the labels do not
change (anomalies are about event time).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from consumers.synth.options import GenerateOptions, minute_to_iso
from consumers.synth.record_bytes import RecordFactory
from consumers.synth.traffic_model import Cells, TrafficPlan, plan_traffic, simulate_counts

WINDOW = 5  # minutes covered by one delivery
CHUNK = 60  # minutes of event time materialised at once
USUAL_DELAY = 10  # realistic delivery: most files arrive 0-10 minutes after their period closes,
DELAY_TAIL = 30  # the others 11-30 minutes after,
TAIL_SHARE = 0.02  # this share of files (and the later files of its account-region they hold back)
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


@dataclass(frozen=True)
class GeneratedFile:
    """One delivered log file: its path relative to the output root and its records (JSON bytes each)."""

    path: str
    account: str
    region: str
    delivery_minute: int
    records: list[bytes]

    def body(self) -> bytes:
        """The uncompressed file contents: ``{"Records":[...]}``."""
        return b'{"Records":[' + b",".join(self.records) + b"]}"


@dataclass
class DeliveryStats:
    """Counts of what was delivered."""

    records: int = 0
    delivered: int = 0
    late: int = 0
    duplicates: int = 0
    files: int = 0
    file_delays: Counter[int] = field(default_factory=Counter)  # minutes after the period closed


def file_path(account: str, region: str, delivery_minute: int, suffix: str) -> str:
    """The S3 key of a CloudTrail log file delivered at ``delivery_minute``.

    >>> file_path("123456789012", "us-east-1", 29459525, "AbCdEfGhIjKlMnOp")
    'AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/05/123456789012_CloudTrail_us-east-1_20260105T0005Z_AbCdEfGhIjKlMnOp.json.gz'
    """
    iso = minute_to_iso(delivery_minute)
    day = f"{iso[0:4]}/{iso[5:7]}/{iso[8:10]}"
    stamp = f"{iso[0:4]}{iso[5:7]}{iso[8:10]}T{iso[11:13]}{iso[14:16]}Z"
    return (
        f"AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
    )


class _Deliverer:
    def __init__(self, plan: TrafficPlan, cells: Cells, stats: DeliveryStats) -> None:
        self.plan, self.cells, self.stats = plan, cells, stats
        self.factory = RecordFactory(plan, cells.codes)
        self.rec_rng = np.random.default_rng(plan.seeds[6])
        self.rng = np.random.default_rng(plan.seeds[7])
        self.pair_of_api = np.array([a.pair for a in plan.apis], dtype=np.int64)
        self.buckets: dict[tuple[int, int], list[bytes]] = {}
        self.realistic = plan.options.delivery == "realistic"
        # a ninth seed of its own, so that the period model's draws stay what they always were
        self.delay_rng = np.random.default_rng(np.random.SeedSequence(plan.options.seed).spawn(9)[8])
        self.held: list[GeneratedFile] = []  # realistic delivery: files made, not yet delivered
        self.last_delivery: dict[int, tuple[int, int]] = {}  # realistic: (window, minute) per account-region

    def run(self) -> Iterator[GeneratedFile]:
        o = self.plan.options
        start, end = o.start_minute, o.start_minute + o.minutes
        minute_abs = self.cells.minute + start
        edge = start - start % CHUNK
        while edge < end:
            chunk_end = edge + CHUNK
            lo, hi = np.searchsorted(minute_abs, [edge, chunk_end])
            if hi > lo:
                self._add(int(lo), int(hi), minute_abs)
            yield from self._emit(chunk_end // WINDOW)
            edge = chunk_end
        yield from self._emit(None)

    def _add(self, lo: int, hi: int, minute_abs: np.ndarray) -> None:
        o = self.plan.options
        records, api = self.factory.records(self.cells, lo, hi, self.rec_rng)
        n = len(records)
        window = np.repeat(minute_abs[lo:hi], self.cells.count[lo:hi]) // WINDOW
        late = self.rng.random(n) < o.late_share
        window = window + late * self.rng.integers(1, o.max_late // WINDOW + 1, n)
        dup = np.flatnonzero(self.rng.random(n) < o.duplicate_fraction)
        pair = self.pair_of_api[api]
        index = np.concatenate([np.arange(n), dup])
        windows = np.concatenate([window, window[dup] + self.rng.integers(1, 4, dup.size)])
        pairs = pair[index]
        order = np.lexsort((pairs, windows))
        keys = windows[order] * 64 + pairs[order]
        cuts = np.flatnonzero(np.diff(keys)) + 1
        for group in np.split(order, cuts):
            key = (int(windows[group[0]]), int(pairs[group[0]]))
            self.buckets.setdefault(key, []).extend(records[i] for i in index[group].tolist())
        self.stats.records += n
        self.stats.late += int(late.sum())
        self.stats.duplicates += int(dup.size)

    def _emit(self, before: int | None) -> Iterator[GeneratedFile]:
        """Yield, in delivery order, the files delivered before any file of a period >= ``before``."""
        ready = sorted(k for k in self.buckets if before is None or k[0] < before)
        if not self.realistic:
            for key in ready:
                yield from self._files(key)
            return
        for key in ready:
            self.held.extend(self._files(key))
        self.held.sort(key=lambda log: log.delivery_minute)  # stable: period order within a source
        # a period >= before closes at (before + 1) * WINDOW at the earliest, and delays are >= 0
        horizon = len(self.held) if before is None else _count_before(self.held, (before + 1) * WINDOW)
        yield from self.held[:horizon]
        del self.held[:horizon]

    def _delay(self) -> int:
        """Minutes between a period's close and the delivery of one of its files."""
        if self.delay_rng.random() < TAIL_SHARE:
            return int(self.delay_rng.integers(USUAL_DELAY + 1, DELAY_TAIL + 1))
        return int(self.delay_rng.integers(0, USUAL_DELAY + 1))

    def _files(self, key: tuple[int, int]) -> Iterator[GeneratedFile]:
        records = self.buckets.pop(key)
        window, pair = key
        account, region = self.plan.pairs[pair]
        n = len(records)
        shuffled = [records[i] for i in self.rng.permutation(n).tolist()]
        n_files = -(-n // self.plan.options.max_records_per_file)
        if n >= 40 and self.rng.random() < 0.25:
            n_files += 1
        # near-equal parts with some jitter, so no file is much larger than the limit
        jitter = self.rng.uniform(-0.1, 0.1, n_files - 1)
        inner = ((np.arange(1, n_files) + jitter) * n / n_files).astype(np.int64).tolist()
        bounds: list[int] = [0, *inner, n]
        period_end = (window + 1) * WINDOW
        for a, b in itertools.pairwise(bounds):
            if b <= a:
                continue
            suffix = _ALNUM[self.rng.integers(0, len(_ALNUM), 16)].tobytes().decode()
            delivery = period_end
            if self.realistic:  # after the files of earlier periods of the same account-region
                last_window, last = self.last_delivery.get(pair, (window, period_end))
                delivery = max(period_end + self._delay(), last + (last_window < window))
                self.last_delivery[pair] = (window, delivery)
            self.stats.files += 1
            self.stats.delivered += b - a
            self.stats.file_delays[delivery - period_end] += 1
            yield GeneratedFile(
                file_path(account, region, delivery, suffix), account, region, delivery, shuffled[a:b]
            )


def _count_before(files: list[GeneratedFile], minute: int) -> int:
    """How many of ``files`` (sorted by delivery minute) are delivered before ``minute``."""
    return next((i for i, log in enumerate(files) if log.delivery_minute >= minute), len(files))


def iter_log_files(
    options: GenerateOptions, plan: TrafficPlan | None = None, stats: DeliveryStats | None = None
) -> Iterator[GeneratedFile]:
    """Generate the trace and yield its log files in delivery order (no I/O).

    Pass ``plan`` to reuse one already drawn (e.g. to write its labels), ``stats`` to collect counts.
    """
    plan = plan if plan is not None else plan_traffic(options)
    cells = simulate_counts(plan)
    yield from _Deliverer(plan, cells, stats if stats is not None else DeliveryStats()).run()
