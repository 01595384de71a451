"""State to bytes and back, exactly: numpy arrays keep dtype and shape, nothing is pickled.

The format is MessagePack (via msgspec) of plain containers, with each array stored as
``{"dtype", "shape", "data"}``. A version number guards against reading another layout; any
problem while loading raises :class:`SnapshotError` so the caller can refuse to start instead of
silently starting from nothing.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

#: Version 4: a source's clock is also per delivery channel (:mod:`insights.clock`); version 3 kept
#: one per (input, account, region), version 2 one global clock, version 1 one ``track`` table of
#: every column. None of them can be read any more: their clocks cannot be told apart by channel.
FORMAT_VERSION = 4


class SnapshotError(ValueError):
    """The bytes are not a snapshot this version of trailpulse can restore."""


def pack_array(array: npt.NDArray[Any]) -> dict[str, Any]:
    contiguous = np.ascontiguousarray(array)
    return {"dtype": contiguous.dtype.str, "shape": list(contiguous.shape), "data": contiguous.tobytes()}


def unpack_array(packed: dict[str, Any]) -> npt.NDArray[Any]:
    array = np.frombuffer(packed["data"], dtype=np.dtype(packed["dtype"]))
    return array.reshape(packed["shape"]).copy()


def encode(state: dict[str, Any]) -> bytes:
    """Serialise a state tree (dicts, lists, scalars, bytes, packed arrays)."""
    return msgspec.msgpack.encode({"version": FORMAT_VERSION, "state": state})


def decode(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode`; raises :class:`SnapshotError` on anything unexpected."""
    try:
        envelope = msgspec.msgpack.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError) as exc:
        raise SnapshotError(f"snapshot is not readable: {exc}") from exc
    if not isinstance(envelope, dict):
        raise SnapshotError("snapshot has an unknown format version")
    version = envelope.get("version")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"snapshot has format version {version!r}; this trailpulse reads only version {FORMAT_VERSION}"
            " (delete the state to start over)"
        )
    state = envelope.get("state")
    if not isinstance(state, dict):
        raise SnapshotError("snapshot has no state")
    return state
