"""The decode pool's worker processes: started, fed, and stopped by the main process alone.

Each worker is a spawned child with a socket pair of its own to the main process, which is the only
other holder of that pipe. Three rules keep shutdown prompt and clean:

- Workers ignore SIGINT and SIGTERM. systemd (every process of the unit's cgroup), Kubernetes
  through a shell, and a terminal (the foreground process group) send them to the workers too; a
  worker that died of one mid-task would leave the main process waiting for a result that never
  comes, while its final checkpoint must first apply every poll already handed out. The main process
  decides when to stop, takes the results it needs, then closes the pipes.
- A worker exits as soon as its pipe closes: the main process closed it (stop), or died, however it
  died (SIGKILL included). No worker outlives the main process, and none holds the pipe of another.
- Stopping waits a moment for each worker to see its pipe close, then kills what is left (one busy
  in a long decode), so a worker never blocks the main process's exit either.

Tasks are taken off the pipe by a reader thread as they arrive and results are sent by a sender
thread, so neither side ever blocks the other on a full pipe; the worker's main thread decodes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import msgspec

HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}
STOP_GRACE_S = 2.0  # how long a worker may take to see its pipe closed before it is killed
_ENCODER = msgspec.msgpack.Encoder()


def serve(tasks: Connection, work: Callable[..., bytes]) -> None:
    """A worker's life: ``work(*task)`` for each task in the order received, its result sent back
    (or, if it raised, a msgpack string saying what it raised); exit when the pipe closes.

    SIGINT and SIGTERM are ignored from the worker's start (see :class:`Workers`)."""
    inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while True:
                inbox.put(tasks.recv())
        except (EOFError, OSError):
            os._exit(0)  # the main process is done with us, or gone: pending tasks have no reader

    def send() -> None:
        try:
            while True:
                tasks.send_bytes(outbox.get())
        except OSError:
            os._exit(0)

    for target in (receive, send):
        threading.Thread(target=target, name=target.__name__, daemon=True).start()
    while True:
        task = inbox.get()
        try:
            result = work(*task)
        except Exception as exc:  # reported to the main process, which stops with it
            result = _ENCODER.encode(f"a decode worker failed: {exc!r}")
        outbox.put(result)


class Workers:
    """``count`` worker processes running :func:`serve` with ``work``; results come back per worker
    in the order its tasks were sent."""

    def __init__(self, count: int, work: Callable[..., bytes]) -> None:
        context = multiprocessing.get_context("spawn")  # children of this process, no fork server
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        # A new process keeps the signals its parent ignores (not its signal mask): ignored from
        # their first instruction, workers cannot be interrupted while they start (an import
        # interrupted by SIGINT prints a traceback, SIGTERM kills). Blocked meanwhile, the signals
        # that reach this process wait and then run its own handlers (Linux keeps a blocked signal
        # pending even while it is ignored).
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
        handlers = {signum: signal.signal(signum, signal.SIG_IGN) for signum in HELD_SIGNALS}
        try:
            for number in range(count):
                ours, theirs = context.Pipe()
                name = f"trailpulse-decode-{number}"
                process = context.Process(target=serve, args=(theirs, work), name=name)
                process.start()
                theirs.close()  # only the worker holds its end: it sees EOF when ours closes
                self.pipes.append(ours)
                self.processes.append(process)
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def stop(self) -> None:
        """Close every pipe (each worker exits on seeing it), then kill any still running."""
        for pipe in self.pipes:
            pipe.close()
        for process in self.processes:
            process.join(STOP_GRACE_S)
            if process.exitcode is None:
                process.kill()
                process.join()
