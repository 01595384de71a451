"""The processes a command runs and leaves behind, as ``ps`` sees them (the shutdown tests).

Zombies count as gone: they are dead, and where the machine's init does not reap orphans (as in some
containers and VMs) one stays listed until the machine restarts.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def _processes() -> list[tuple[int, int, int, str]]:
    """Every live process: pid, parent pid, process group, command line."""
    out = subprocess.run(
        ["ps", "-e", "-ww", "-o", "pid=,ppid=,pgid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in out.splitlines():
        pid, ppid, pgid, stat, *args = line.split(maxsplit=4)
        if not stat.startswith("Z"):
            rows.append((int(pid), int(ppid), int(pgid), " ".join(args)))
    return rows


def group_members(pgid: int) -> set[int]:
    """The live processes of process group ``pgid``."""
    return {pid for pid, _, group, _ in _processes() if group == pgid}


def decode_workers(pid: int) -> set[int]:
    """The live decode workers of ``pid`` (spawned by multiprocessing: ``spawn_main`` in their command)."""
    return {child for child, parent, _, args in _processes() if parent == pid and "spawn_main" in args}


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running."""
    return pids & {pid for pid, *_ in _processes()}


def wait_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Whether ``done()`` became true within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
