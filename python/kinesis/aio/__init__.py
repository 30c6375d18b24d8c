"""The same API, awaitable: ``await conn.put_record(...)``.

::

    import kinesis.aio

    async def main():
        async with kinesis.aio.connect_to_region("us-east-1") as conn:
            await conn.put_record("my-stream", b"hello", "key")
"""

from __future__ import annotations

from typing import Any

from kinesis._connect import ConnectionMixin, check_connect_arguments
from kinesis._kinesis import Connection as _Connection
from kinesis._kinesis import Record
from kinesis._kinesis import ShardIterator as _ShardIterator
from kinesis._kinesis import StreamReader as _StreamReader
from kinesis.aio.producer import Producer
from kinesis.reader import shard_iterator_html, stream_reader_html
from kinesis.regioninfo import RegionInfo
from kinesis.regioninfo import regions as _regions

__all__ = [
    "KinesisConnection",
    "Producer",
    "Record",
    "ShardIterator",
    "StreamReader",
    "connect_to_region",
    "regions",
]


class KinesisConnection(ConnectionMixin, _Connection):
    """A connection whose methods return awaitables, run by the module's own I/O threads."""

    _asynchronous = True

    async def __aenter__(self) -> KinesisConnection:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class ShardIterator(_ShardIterator):
    """:class:`kinesis.ShardIterator` for ``async for``; opened on the first ``__anext__``."""

    _asynchronous = True

    def _repr_html_(self) -> str:
        return shard_iterator_html(self)


class StreamReader(_StreamReader):
    """:class:`kinesis.StreamReader` for ``async for``; ``close()`` and ``checkpoint()`` are awaitable."""

    _asynchronous = True

    def _repr_html_(self) -> str:
        return stream_reader_html(self)


def connect_to_region(region_name: str, **kw_params: Any) -> KinesisConnection:
    """Like :func:`kinesis.connect_to_region`, for asyncio code. Credentials are resolved here."""
    region = check_connect_arguments(region_name, kw_params)
    return KinesisConnection(region=region, **kw_params)


def regions() -> list[RegionInfo]:
    return _regions(connection_cls=KinesisConnection)
