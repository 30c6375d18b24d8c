"""Reading streams without writing the GetRecords loop: :class:`ShardIterator` follows one shard,
:class:`StreamReader` reads all of them. Both yield :class:`Record` objects; their asyncio twins are
in :mod:`kinesis.aio`.

::

    import kinesis

    conn = kinesis.connect_to_region("us-east-1")
    with kinesis.StreamReader(conn, "my-stream", start="TRIM_HORIZON", idle_timeout=5) as reader:
        for record in reader:
            print(record.partition_key, record.data)
"""

from __future__ import annotations

from kinesis._kinesis import Record
from kinesis._kinesis import ShardIterator as _ShardIterator
from kinesis._kinesis import StreamReader as _StreamReader

__all__ = ["Record", "ShardIterator", "StreamReader"]


class ShardIterator(_ShardIterator):
    """Follows one shard and yields its records (``for record in it``), blocking without the GIL.

    The iterator is opened when made, so ``LATEST`` means records put from then on. It paces
    GetRecords within the shard's budget, renews an expired iterator after the last record it
    returned, retries throttling and transient failures, and stops at the shard's end
    (``child_shards`` then says what follows) or after ``idle_timeout`` seconds without a record.
    """

    _asynchronous = False


class StreamReader(_StreamReader):
    """Reads every shard of a stream in the background and yields their records (``for record in reader``).

    Parents are read to their end before their children, so records of one partition key come in
    order across splits and merges. ``start`` is ``"LATEST"``, ``"TRIM_HORIZON"`` or a time
    (``datetime`` or epoch seconds) for shards without a checkpoint; ``checkpoints`` is a store
    (:mod:`kinesis.checkpoints`) that ``checkpoint()`` saves positions to and a new reader resumes from.
    """

    _asynchronous = False
