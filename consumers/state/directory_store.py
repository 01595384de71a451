"""The daemon's state store: one file in a local directory, written atomically.

The file is MessagePack of ``{"version", "offsets": {"topic:partition": next_offset}, "engine": bytes,
"outputs_since", "outbox": bytes}``: the engine's snapshot together with the input offsets it reflects,
and the alerts not delivered yet (:mod:`consumers.alerts.outbox`; absent in files written before
alert sinks existed). A write goes to a temporary file,
is fsynced, renamed over the old file and the directory fsynced, so a crash leaves the old or the new
state, never a mix. The store belongs to one consumer group and one process (see ``daemon``).

:class:`Store` is what the daemon needs of a store; :class:`consumers.state.changelog_store.ChangelogStore`
is the other one, on a compacted Kafka topic, for containers that keep no disk.

>>> import tempfile
>>> store = StateStore(tempfile.mkdtemp())
>>> store.load() is None
True
>>> store.save(State({("in", 0): 7}, b"engine"))
>>> store.load()
State(offsets={('in', 0): 7}, engine=b'engine', outputs_since=0.0, outbox=b'')
>>> store.location.endswith("state.msgpack")
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import msgspec

FORMAT_VERSION = 2
STATE_FILE = "state.msgpack"


class StateStoreError(RuntimeError):
    """The stored state cannot be read or written; the message says which file and why."""


@dataclass(frozen=True)
class State:
    """The engine snapshot, the input offsets it reflects, since when (wall clock, seconds) the
    output topic may hold insights sent after it was taken (see ``daemon``), and the alert sinks'
    outbox (:mod:`consumers.alerts.outbox`)."""

    offsets: dict[tuple[str, int], int]
    engine: bytes
    outputs_since: float = 0.0
    outbox: bytes = b""


class Store(Protocol):
    """Where the daemon keeps its :class:`State`: one consumer group's, written by one process."""

    @property
    def location(self) -> str:
        """Where the state is, for log and error messages."""
        ...

    def load(self) -> State | None:
        """The stored state, ``None`` if there is none; ``StateStoreError`` if it is unusable."""
        ...

    def save(self, state: State) -> None:
        """Replace the stored state so that a crash leaves the old or the new one; ``StateStoreError``
        if it cannot be written."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def encode_offsets(offsets: dict[tuple[str, int], int]) -> dict[str, int]:
    """``offsets`` keyed ``"topic:partition"``, as stores write them (MessagePack keys are strings)."""
    return {f"{topic}:{partition}": offset for (topic, partition), offset in sorted(offsets.items())}


def decode_offsets(doc: object) -> dict[tuple[str, int], int]:
    """The inverse of :func:`encode_offsets`; ``ValueError`` if ``doc`` is not such a mapping."""
    if not isinstance(doc, dict):
        raise ValueError("offsets are not a map")
    offsets: dict[tuple[str, int], int] = {}
    for key, offset in doc.items():
        if not isinstance(key, str) or ":" not in key:
            raise ValueError(f"bad partition key {key!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError(f"bad offset {offset!r}")
        topic, _, partition = key.rpartition(":")
        offsets[(topic, int(partition))] = offset
    return offsets


class StateStore:
    """A directory holding one state file."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> State | None:
        """The stored state, ``None`` if there is none; ``StateStoreError`` if it is unusable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateStoreError(f"cannot read state file {self.path}: {exc.strerror or exc}") from exc
        try:
            doc = msgspec.msgpack.decode(data)
            if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
                raise ValueError("not a trailpulse state (or an unsupported version)")
            engine = doc["engine"]
            if not isinstance(engine, bytes):
                raise ValueError("the engine snapshot is not bytes")
            offsets = decode_offsets(doc["offsets"])
            outputs_since = doc["outputs_since"]
            if not isinstance(outputs_since, float | int) or isinstance(outputs_since, bool):
                raise ValueError("outputs_since is not a time")
            outbox = doc.get("outbox", b"")
            if not isinstance(outbox, bytes):
                raise ValueError("the alert outbox is not bytes")
        except (msgspec.DecodeError, KeyError, ValueError) as exc:
            raise StateStoreError(f"state file {self.path} is corrupt: {exc}") from exc
        return State(offsets, engine, float(outputs_since), outbox)

    def save(self, state: State) -> None:
        """Replace the stored state atomically; ``StateStoreError`` if it cannot be written."""
        doc = {
            "version": FORMAT_VERSION,
            "offsets": encode_offsets(state.offsets),
            "engine": state.engine,
            "outputs_since": state.outputs_since,
            "outbox": state.outbox,
        }
        temp = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as f:
                f.write(msgspec.msgpack.encode(doc))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path)
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateStoreError(f"cannot write state file {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Nothing to release: each call opens and closes its own files."""
