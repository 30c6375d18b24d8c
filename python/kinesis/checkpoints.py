"""Checkpoint stores: where a :class:`kinesis.StreamReader` keeps each shard's position.

A store is any object with two methods::

    load(stream_name) -> dict[str, position]        # {} when nothing was saved yet
    save(stream_name, positions: dict[str, position]) -> None

A position is ``{"sequence_number": str, "sub_sequence_number": int | None}`` (after that record)
or the string ``"SHARD_END"`` (the shard was read to its end). ``save`` gets every shard the reader
has a position for, so a store may simply replace what it had. On ``kinesis.aio``, ``save`` may also
be a coroutine function.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Protocol, Union, cast

__all__ = ["CheckpointStore", "FileCheckpointStore", "MemoryCheckpointStore", "Position"]

Position = Union[str, dict[str, Any]]


class CheckpointStore(Protocol):
    """What :class:`kinesis.StreamReader` needs from a checkpoint store."""

    def load(self, stream_name: str) -> dict[str, Position]: ...

    def save(self, stream_name: str, positions: dict[str, Position]) -> None: ...


class MemoryCheckpointStore:
    """Positions kept in this process only: for tests, notebooks and readers restarted in-process."""

    def __init__(self) -> None:
        self._streams: dict[str, dict[str, Position]] = {}
        self._lock = threading.Lock()

    def load(self, stream_name: str) -> dict[str, Position]:
        with self._lock:
            # A deep copy, so that callers never share the store's own dicts.
            return cast(dict[str, Position], json.loads(json.dumps(self._streams.get(stream_name, {}))))

    def save(self, stream_name: str, positions: dict[str, Position]) -> None:
        with self._lock:
            merged = dict(self._streams.get(stream_name, {}))
            merged.update(json.loads(json.dumps(positions)))
            self._streams[stream_name] = merged

    def __repr__(self) -> str:
        return f"MemoryCheckpointStore(streams={sorted(self._streams)})"


class FileCheckpointStore:
    """Positions in a JSON file, replaced atomically on every save (a crash leaves the old or the
    new file, never half of one). One file may hold several streams."""

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected str or os.PathLike, got {type(path).__name__}")
        from pathlib import Path  # here, not at the top: `import kinesis` should not pay for it

        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, Position]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            content = json.loads(text)
        except ValueError as err:
            raise ValueError(f"checkpoint file {self.path} is not valid JSON: {err}") from err
        if not isinstance(content, dict) or not isinstance(content.get("streams", {}), dict):
            raise ValueError(f"checkpoint file {self.path} does not hold kinesis checkpoints")
        return cast(dict[str, dict[str, Position]], content.get("streams", {}))

    def load(self, stream_name: str) -> dict[str, Position]:
        with self._lock:
            return dict(self._read().get(stream_name, {}))

    def save(self, stream_name: str, positions: dict[str, Position]) -> None:
        with self._lock:
            streams = self._read()
            merged = dict(streams.get(stream_name, {}))
            merged.update(positions)
            streams[stream_name] = merged
            self.path.parent.mkdir(parents=True, exist_ok=True)
            import tempfile  # here, not at the top: `import kinesis` should not pay for it

            fd, temp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump({"version": 1, "streams": streams}, out, indent=1, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, self.path)
            except BaseException:
                try:
                    os.unlink(temp)
                except FileNotFoundError:
                    pass
                raise

    def __repr__(self) -> str:
        return f"FileCheckpointStore({str(self.path)!r})"
