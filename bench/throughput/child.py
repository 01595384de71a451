"""A child process whose output lines are JSON, read with their arrival time by a thread."""

from __future__ import annotations

import json
import queue
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]


class Child:
    """A subprocess whose stdout+stderr lines are read (with their arrival time) by a thread."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.spawned = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1
        )
        self.lines: queue.Queue[tuple[float, Doc | None]] = queue.Queue()
        self.text: list[str] = []  # lines that are not JSON (warnings, tracebacks)
        self.seen: list[Doc] = []  # every JSON line so far
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.perf_counter()
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                self.seen.append(doc)
                self.lines.put((now, doc))
            else:
                self.text.append(line.rstrip("\n"))
        self.lines.put((time.perf_counter(), None))  # end of output

    def wait_for(self, what: str, match: Callable[[Doc], bool], timeout_s: float) -> tuple[float, Doc]:
        """(arrival time, line) of the first line ``match`` accepts; raises if the child fails first."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                at, doc = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise TimeoutError(f"no {what} within {timeout_s:.0f} s; output:\n{self.tail()}") from None
            if doc is None:
                raise RuntimeError(f"child exited before {what} ({self.proc.wait()}); output:\n{self.tail()}")
            if doc.get("event") == "fatal":
                self.kill()
                raise RuntimeError(f"child failed before {what}: {doc}")
            if match(doc):
                return at, doc

    def finish(self, timeout_s: float = 60.0) -> tuple[int, float]:
        """Waits for the exit; returns the exit status and the CPU seconds (user + system) it used."""
        status = self.proc.wait(timeout=timeout_s)
        self.thread.join(timeout=5)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - self.usage.ru_utime) + (after.ru_stime - self.usage.ru_stime)
        return status, cpu

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def tail(self) -> str:
        return "\n".join(self.text[-30:])
