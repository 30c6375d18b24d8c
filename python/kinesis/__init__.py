"""Amazon Kinesis Data Streams with boto 2's API: ``import kinesis`` instead of ``from boto import kinesis``.

::

    import kinesis

    conn = kinesis.connect_to_region("us-east-1")
    conn.put_record("my-stream", "hello", "partition-key")

The asyncio twin is :mod:`kinesis.aio`; exceptions are in :mod:`kinesis.exceptions`.
"""

from __future__ import annotations

import atexit as _atexit
from typing import TYPE_CHECKING

from kinesis import checkpoints, exceptions
from kinesis._connect import check_connect_arguments as _check_connect_arguments
from kinesis._kinesis import __version__, _shutdown_runtimes
from kinesis.checkpoints import FileCheckpointStore, MemoryCheckpointStore
from kinesis.layer1 import KinesisConnection
from kinesis.producer import Producer, PutResult, PutResults
from kinesis.producer import _flush_at_exit as _flush_producers_at_exit
from kinesis.reader import Record, ShardIterator, StreamReader
from kinesis.regioninfo import RegionInfo
from kinesis.regioninfo import regions as _regions

if TYPE_CHECKING:  # stub-only names: the keyword arguments connect_to_region() takes
    from typing_extensions import Unpack

    from kinesis._kinesis import _ConnectKwargs

__all__ = [
    "FileCheckpointStore",
    "KinesisConnection",
    "MemoryCheckpointStore",
    "Producer",
    "PutResult",
    "PutResults",
    "Record",
    "RegionInfo",
    "ShardIterator",
    "StreamReader",
    "__version__",
    "checkpoints",
    "connect_to_region",
    "exceptions",
    "regions",
]

# Stop the I/O threads without waiting when the interpreter exits, so nothing can hold it up.
_atexit.register(_shutdown_runtimes)
# atexit runs last-registered first: producers send what they hold while the I/O threads still run.
_atexit.register(_flush_producers_at_exit)


def regions() -> list[RegionInfo]:
    """Every region where Kinesis runs, as ``RegionInfo`` objects (boto 2's ``kinesis.regions()``)."""
    return _regions(connection_cls=KinesisConnection)


def connect_to_region(region_name: str, **kw_params: Unpack[_ConnectKwargs]) -> KinesisConnection:
    """Connect to Kinesis in ``region_name``, with boto 2's keyword arguments and ours.

    Unlike boto 2, a malformed region name raises ``ValueError`` instead of returning None, and
    ``host=``/``port=``/``is_secure=False`` sign for the given region, so local emulators just work.
    """
    region = _check_connect_arguments(region_name, kw_params)
    return KinesisConnection(region=region, **kw_params)
