"""The broker a Kafka bench measures on: the one given (``--bootstrap-servers``), or one it starts in
its work directory and stops at the end (unless kept), reported the same way by every bench."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.kafka_broker import KafkaBroker


@dataclass(frozen=True)
class Broker:
    """Where the broker answers; its data directory and pid when the bench started it (for disk and
    CPU figures), None for a broker given from outside."""

    bootstrap: str
    data_dir: Path | None
    pid: int | None


@contextmanager
def broker_session(given: str | None, workdir: Path, keep: bool = False) -> Iterator[Broker]:
    """``given`` as it is, or a broker started in ``workdir/broker``; stopped on exit unless ``keep``
    (its watchdog then has no owner to outlive: pid 1 never goes)."""
    if given:
        yield Broker(given, None, None)
        return
    broker = KafkaBroker(workdir / "broker", owner_pid=1 if keep else None)
    began = time.perf_counter()
    bootstrap = broker.start()
    pid = int((broker.workdir / "pid").read_text())
    print(f"broker {bootstrap} started in {time.perf_counter() - began:.1f} s ({broker.workdir})")
    try:
        yield Broker(bootstrap, broker.workdir / "data", pid)
    finally:
        if keep:
            print(f"broker left running: bash scripts/kafka.sh stop {broker.workdir}")
        else:
            broker.stop()
