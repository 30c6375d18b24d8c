"""``kinesis.Producer``: put records; they are aggregated, batched, paced and retried in the background."""

import concurrent.futures
from collections.abc import Iterable
from typing import Optional, TypedDict, Union

from typing_extensions import NotRequired, Self

from kinesis._kinesis import Producer as _Producer
from kinesis._kinesis import PutResults as PutResults
from kinesis._kinesis import _Data, _ProducerRecord

__all__ = ["Producer", "PutResult", "PutResults"]

class PutResult(TypedDict):
    """Where a record was written. ``SubSequenceNumber`` is its index inside an aggregate, present when
    it was sent aggregated (as the KCL and ``aws-kinesis-agg`` number it)."""

    ShardId: str
    SequenceNumber: str
    SubSequenceNumber: NotRequired[int]

class Producer(_Producer):
    """Writes records to one stream in the background; ``put`` returns a ``concurrent.futures.Future``.

    Records bound for the same shard are packed into KPL aggregates (``aggregate=True``), aggregates
    of many shards into PutRecords calls (``max_batch_records``, ``max_batch_bytes``) after at most
    ``linger_ms``; each shard is paced to ``rate_limit`` times its allowance (None: unpaced); only the
    entries that failed are sent again, with backoff, until ``record_ttl`` seconds after the put.
    ``preserve_order`` keeps one entry per shard per call, so a retried record is never overtaken.
    ``put`` blocks (``block=False``: raises ``BufferFullError``) while ``max_buffered_bytes`` are held.
    Records still held at interpreter exit are sent for up to ``exit_timeout`` seconds, or reported.
    The shard map is re-read when a record lands elsewhere than predicted, and every
    ``shard_refresh_interval`` seconds. Construction reads the stream's maximum record size and shard
    map, so a missing stream raises ``ResourceNotFoundException`` there.
    """

    _asynchronous: bool

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None:
        """Close the producer (flushing it)."""
    def put(
        self,
        data: _Data,
        partition_key: str,
        explicit_hash_key: Union[str, int, None] = None,
        *,
        block: bool = True,
    ) -> concurrent.futures.Future[PutResult]:
        """Put one record. The future resolves to its :class:`PutResult`, or raises the service's error
        (non-retryable), ``RecordExpiredError`` (``record_ttl`` passed). Bad arguments raise here."""
    def put_many(
        self, records: Iterable[_ProducerRecord], *, block: bool = True
    ) -> concurrent.futures.Future[PutResults]:
        """Put many records: ``(data, partition_key)`` / ``(data, partition_key, explicit_hash_key)`` tuples
        or dicts with ``Data``, ``PartitionKey``, ``ExplicitHashKey``. One future for all of them: a
        :class:`PutResults` sequence of their results, in order, or ``PartialFailureError`` (with
        ``.results``) if any failed. The fast path for bulk."""
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Send everything now and wait until every record put so far has its outcome; False if
        ``timeout`` seconds passed first."""
    def close(self, timeout: Optional[float] = None) -> bool:
        """Refuse further puts (``ProducerClosedError``), then flush; returns what flush returns."""
    def metrics(self) -> dict[str, int]:
        """``records_put``, ``records_sent``, ``records_failed``, ``records_expired``,
        ``kinesis_records_sent``, ``bytes_sent``, ``batches``, ``retries``, ``throttles``,
        ``shard_map_refreshes``, ``buffered_records``, ``buffered_bytes``."""

def _settle(items: list[tuple[object, bool, object]]) -> None: ...
def _flush_at_exit() -> None: ...
