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

from collections import Counter
from typing import Any

from kinesis._html import html_table
from kinesis._kinesis import Record
from kinesis._kinesis import ShardIterator as _ShardIterator
from kinesis._kinesis import StreamReader as _StreamReader

__all__ = ["Record", "ShardIterator", "StreamReader"]


def shard_iterator_html(iterator: _ShardIterator) -> str:
    """Notebook view of a ShardIterator (sync or asyncio)."""
    children = iterator.child_shards
    rows: list[tuple[str, object]] = [
        ("stream", iterator.stream_name),
        ("shard", iterator.shard_id),
        ("position", iterator.position),
        ("behind latest (ms)", iterator.millis_behind_latest),
        ("children", None if children is None else ", ".join(c["ShardId"] for c in children)),
    ]
    return html_table(type(iterator).__name__, rows)


def stream_reader_html(reader: _StreamReader) -> str:
    """Notebook view of a StreamReader (sync or asyncio): each shard's state and position."""
    states = reader.shards()
    counts = Counter(states.values())
    rows: list[tuple[str, object]] = [
        ("stream", reader.stream_name),
        ("shards", ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none listed yet"),
    ]
    positions = reader.positions
    for shard in sorted(states):
        position: Any = positions.get(shard)
        if isinstance(position, dict):
            sub = position["sub_sequence_number"]
            position = position["sequence_number"] + ("" if sub is None else f" / {sub}")
        rows.append((shard, f"{states[shard]}, after {position}" if position else states[shard]))
    return html_table(type(reader).__name__, rows)


class ShardIterator(_ShardIterator):
    """Follows one shard and yields its records (``for record in it``), blocking without the GIL.

    The iterator is opened when made, so ``LATEST`` means records put from then on. It paces
    GetRecords within the shard's budget, renews an expired iterator after the last record it
    returned, retries throttling and transient failures, and stops at the shard's end
    (``child_shards`` then says what follows) or after ``idle_timeout`` seconds without a record.
    """

    _asynchronous = False

    def _repr_html_(self) -> str:
        return shard_iterator_html(self)


class StreamReader(_StreamReader):
    """Reads every shard of a stream in the background and yields their records (``for record in reader``).

    Parents are read to their end before their children, so records of one partition key come in
    order across splits and merges. ``start`` is ``"LATEST"``, ``"TRIM_HORIZON"`` or a time
    (``datetime`` or epoch seconds) for shards without a checkpoint; ``checkpoints`` is a store
    (:mod:`kinesis.checkpoints`) that ``checkpoint()`` saves positions to and a new reader resumes from.
    """

    _asynchronous = False

    def _repr_html_(self) -> str:
        return stream_reader_html(self)
