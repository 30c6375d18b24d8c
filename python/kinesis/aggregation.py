"""KPL record aggregation: many small user records in one Kinesis record, and back.

The Kinesis Producer Library (KPL) packs user records bound for the same shard into one Kinesis
record, because a shard takes at most 1,000 records/s but 1 MiB/s: a hundred 100-byte records
aggregated cost one record of the quota instead of a hundred. The Kinesis Client Library (KCL),
``aws-kinesis-agg`` and AWS Lambda's deaggregation helpers unpack them again. An aggregated
record's ``Data`` is::

    F3 89 9A C2                 magic
    AggregatedRecord            protobuf (proto2): partition key table, explicit hash key table,
                                records (key indices + data)
    MD5 of the protobuf         16 bytes

Use :func:`deaggregate_records` on the records you read from a stream that a KPL (or any
compatible aggregator) may write to, or :func:`deaggregate` on one record's data: it returns the
user records, or ``None`` for data that is not an aggregate, which you then use as it is. It
follows the KCL's rules, so data that merely starts with the magic but has a wrong digest or does
not parse is left alone too.

Use :func:`aggregate` to write records a KPL consumer will unpack. Only aggregate records that
land on the same shard (the same hash key range), put the aggregate with partition key ``"a"`` and
``ExplicitHashKey=str(partition_key_hash(first_partition_key))`` (or the first record's own
explicit hash key), and keep it within the stream's record size (the KPL caps aggregates at
51,200 bytes). A consumer that does not deaggregate sees the aggregate as one opaque record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional, Union

from kinesis import _kinesis

__all__ = ["MAGIC", "aggregate", "deaggregate", "deaggregate_records", "partition_key_hash"]

#: The first four bytes of an aggregated record's data.
MAGIC = b"\xf3\x89\x9a\xc2"

RecordData = Union[bytes, bytearray, str]
RecordTuple = Union[tuple[str, RecordData], tuple[str, RecordData, Optional[str]]]


def aggregate(records: Iterable[Union[RecordTuple, dict[str, Any]]]) -> bytes:
    """Pack user records into the ``Data`` of one aggregated record.

    Each record is a tuple ``(partition_key, data)`` or ``(partition_key, data, explicit_hash_key)``,
    or a dict with ``'PartitionKey'``, ``'Data'`` and optionally ``'ExplicitHashKey'`` (the shape
    of a PutRecords entry). ``data`` is bytes, bytearray or str (encoded as UTF-8); a partition key
    is 1 to 256 characters; an explicit hash key is None or a decimal string from 0 to 2**128 - 1.
    Duplicate keys are stored once.

    Raises ``TypeError`` or ``ValueError`` naming the offending record (``records[i]``), and
    ``ValueError`` for no records. Does not check that the records share a shard, nor the size.
    """
    return _kinesis.aggregate(records)


def deaggregate(data: Union[bytes, bytearray]) -> Optional[list[dict[str, Any]]]:
    """Unpack the ``Data`` of an aggregated record; ``None`` if it is not one.

    Each user record is a dict with ``'PartitionKey'`` (str), ``'ExplicitHashKey'`` (str, only when
    the producer gave one), ``'Data'`` (bytes) and ``'SubSequenceNumber'`` (its 0-based index);
    the outer record's ``SequenceNumber``, ``ApproximateArrivalTimestamp`` and ``EncryptionType``
    apply to all of them. ``None`` (use the record as it is), as the KCL decides: shorter than 4
    bytes, no magic, 16 or fewer bytes after it, wrong MD5, or a protobuf that does not parse
    (including a key index outside its table or a key that is not UTF-8). Unknown protobuf fields
    are skipped. Large inputs are decoded with the GIL released.
    """
    return _kinesis.deaggregate(data)


def deaggregate_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expand the aggregated records among ``records`` (GetRecords' ``Records``) into their user records.

    A record whose ``Data`` is bytes holding an aggregate is replaced, in place in the order, by one
    dict per user record: a copy of the outer record (so ``SequenceNumber``,
    ``ApproximateArrivalTimestamp``, ``EncryptionType`` carry over) with that user record's
    ``PartitionKey``, ``ExplicitHashKey`` (only when present), ``Data`` and ``SubSequenceNumber``.
    Every other record is passed through as the same object. Read with ``b64_decode=True`` (the
    default): aggregates then arrive as bytes, since their data is never valid UTF-8.
    """
    return _kinesis.deaggregate_records(records)


def partition_key_hash(key: str) -> int:
    """The hash key Kinesis routes a record by: MD5 of the UTF-8 partition key, read as an unsigned
    big-endian 128-bit integer. ``str()`` of it is a valid ``ExplicitHashKey``."""
    return _kinesis.partition_key_hash(key)
