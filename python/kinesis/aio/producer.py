"""``kinesis.aio.Producer``: the asyncio twin of :class:`kinesis.Producer`.

``await producer.put(...)`` waits for room in the buffer (or raises ``BufferFullError`` with
``block=False``), then returns an ``asyncio.Future`` for the record's result, so that many records
can be in flight at once while memory stays bounded::

    async with kinesis.aio.Producer(conn, "events") as producer:
        futures = [await producer.put(b"payload", str(i)) for i in range(1000)]
        results = await asyncio.gather(*futures)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Union

from kinesis._kinesis import Producer as _Producer
from kinesis.producer import PutResult, PutResults

__all__ = ["Producer"]

_Data = Union[str, bytes, bytearray, memoryview]
_Record = Union[tuple[_Data, str], tuple[_Data, str, Union[str, int, None]], dict[str, Any]]


class Producer(_Producer):
    """Writes records to one stream in the background, for asyncio code. Bound to the event loop of
    its first ``put``. Use ``async with`` (which also checks the stream exists), or ``await close()``."""

    _asynchronous = True

    async def put(
        self,
        data: _Data,
        partition_key: str,
        explicit_hash_key: Union[str, int, None] = None,
        *,
        block: bool = True,
    ) -> asyncio.Future[PutResult]:
        """Wait for room, put one record; returns the future of its result."""
        # The core's put gives None instead of blocking when the buffer is full.
        future = super().put(data, partition_key, explicit_hash_key, block=block)
        while future is None:
            await self._wait_for_space()
            future = super().put(data, partition_key, explicit_hash_key, block=block)
        return future  # type: ignore[no-any-return]

    async def put_many(self, records: Iterable[_Record], *, block: bool = True) -> asyncio.Future[PutResults]:
        """Wait for room, put many records; returns one future for the list of their results."""
        records = records if isinstance(records, (list, tuple)) else list(records)
        future = super().put_many(records, block=block)
        while future is None:
            await self._wait_for_space()
            future = super().put_many(records, block=block)
        return future  # type: ignore[no-any-return]

    async def start(self) -> None:
        """Wait until the stream's settings and shard map are read; raises if the stream can't be used."""
        await self._ready()

    async def __aenter__(self) -> Producer:
        await self._ready()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
