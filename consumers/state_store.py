"""The daemon's state store: one file in a local directory, written atomically.

The file is MessagePack of ``{"version", "offsets": {"topic:partition": next_offset}, "engine": bytes}``:
the engine's snapshot together with the input offsets it reflects. A write goes to a temporary file,
is fsynced, renamed over the old file and the directory fsynced, so a crash leaves the old or the new
state, never a mix. The store belongs to one consumer group and one process (see ``daemon``).

>>> import tempfile
>>> store = StateStore(tempfile.mkdtemp())
>>> store.load() is None
True
>>> store.save(State({("in", 0): 7}, b"engine"))
>>> store.load()
State(offsets={('in', 0): 7}, engine=b'engine')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import msgspec

FORMAT_VERSION = 1
STATE_FILE = "state.msgpack"


class StateStoreError(RuntimeError):
    """The stored state cannot be read or written; the message says which file and why."""


@dataclass(frozen=True)
class State:
    offsets: dict[tuple[str, int], int]
    engine: bytes


def _key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def _parse_key(key: object) -> tuple[str, int]:
    if not isinstance(key, str) or ":" not in key:
        raise ValueError(f"bad partition key {key!r}")
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)


class StateStore:
    """A directory holding one state file."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE

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
            offsets = doc["offsets"]
            if not isinstance(engine, bytes) or not isinstance(offsets, dict):
                raise ValueError("wrong types")
            parsed: dict[tuple[str, int], int] = {}
            for key, offset in offsets.items():
                if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                    raise ValueError(f"bad offset {offset!r}")
                parsed[_parse_key(key)] = offset
        except (msgspec.DecodeError, KeyError, ValueError) as exc:
            raise StateStoreError(f"state file {self.path} is corrupt: {exc}") from exc
        return State(parsed, engine)

    def save(self, state: State) -> None:
        """Replace the stored state atomically; ``StateStoreError`` if it cannot be written."""
        doc = {
            "version": FORMAT_VERSION,
            "offsets": {_key(t, p): o for (t, p), o in sorted(state.offsets.items())},
            "engine": state.engine,
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
