"""Writing a generated trace to disk: gzipped CloudTrail log files in the S3 layout and ``labels.json``.

The same options give byte-identical output. Gzip runs in two threads beside the generator (zlib
releases the GIL), so writing costs little more than generating.
"""

from __future__ import annotations

import json
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from consumers.synth.labels import Labels
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import DeliveryStats, iter_log_files
from consumers.synth.traffic_model import plan_traffic

LABELS_FILE = "labels.json"


def gzip_bytes(data: bytes, level: int) -> bytes:
    """Gzip ``data`` deterministically (no file name, zero mtime)."""
    return zlib.compress(data, level, wbits=31)


def generate_with_stats(out: Path, options: GenerateOptions) -> tuple[Labels, DeliveryStats, int]:
    """Write the trace and labels under ``out``; returns labels, delivery counts and bytes written."""
    plan = plan_traffic(options)
    stats = DeliveryStats()
    written = 0
    made: set[Path] = set()
    pending: deque[tuple[Path, Future[bytes]]] = deque()

    def flush(keep: int) -> None:
        nonlocal written
        while len(pending) > keep:
            path, future = pending.popleft()
            data = future.result()
            path.write_bytes(data)
            written += len(data)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for log in iter_log_files(options, plan, stats):
            path = out / log.path
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            pending.append((path, pool.submit(gzip_bytes, log.body(), options.gzip_level)))
            flush(16)
        flush(0)
    labels = plan.labels()
    (out / LABELS_FILE).write_text(json.dumps(labels, indent=1) + "\n")
    return labels, stats, written


def generate_to_dir(out: Path, options: GenerateOptions) -> Labels:
    """Write the trace's log files and ``labels.json`` under ``out``; returns the labels."""
    return generate_with_stats(out, options)[0]
