"""The same API, awaitable: ``await conn.put_record(...)``.

Every method of :class:`KinesisConnection` returns an awaitable (an ``asyncio.Future``, not a
coroutine: give it to ``await``, ``asyncio.gather`` or ``asyncio.ensure_future``, not to
``asyncio.create_task``). Call them with an event loop running. Mistakes in arguments raise
``TypeError`` / ``ValueError`` at the call itself; errors from the service when awaited.
"""

from collections.abc import Awaitable, Iterable
from typing import Any, Optional, Union

from typing_extensions import Self, Unpack

from kinesis._connect import ConnectionMixin
from kinesis._kinesis import Connection as _Connection
from kinesis._kinesis import Record as Record
from kinesis._kinesis import ShardIterator as _ShardIterator
from kinesis._kinesis import StreamReader as _StreamReader
from kinesis._kinesis import _CaBundle, _ConnectKwargs, _Data, _Timestamp
from kinesis.aio.producer import Producer as Producer
from kinesis.regioninfo import RegionInfo

__all__ = [
    "KinesisConnection",
    "Producer",
    "Record",
    "ShardIterator",
    "StreamReader",
    "connect_to_region",
    "regions",
]

class ShardIterator(_ShardIterator):
    """kinesis.ShardIterator for ``async for``; opened on the first ``__anext__``."""

    _asynchronous: bool
    def close(self) -> Awaitable[None]: ...

class StreamReader(_StreamReader):
    """kinesis.StreamReader for ``async for``; ``close()`` and ``checkpoint()`` are awaitable."""

    _asynchronous: bool
    def close(self) -> Awaitable[None]: ...
    def checkpoint(self) -> Awaitable[None]: ...

class KinesisConnection(ConnectionMixin, _Connection):
    """A connection whose methods return awaitables, run by the module's own I/O threads.

    Use it as ``async with kinesis.aio.connect_to_region(...) as conn:``. The awaitables resolve to
    dicts shaped like the service's JSON answers (or None), as the blocking class returns them.
    """

    def __new__(
        cls,
        *,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        security_token: Optional[str] = None,
        profile_name: Optional[str] = None,
        is_secure: Optional[bool] = None,
        port: Optional[int] = None,
        host: Optional[str] = None,
        debug: Optional[int] = 0,
        https_connection_factory: None = None,
        region: Optional[RegionInfo] = None,
        proxy: Optional[str] = None,
        proxy_port: Optional[int] = None,
        proxy_user: Optional[str] = None,
        proxy_pass: Optional[str] = None,
        validate_certs: Union[bool, _CaBundle, None] = None,
        path: Optional[str] = None,
        provider: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
        num_retries: Optional[int] = None,
        retry_base_delay: Optional[float] = None,
        retry_max_delay: Optional[float] = None,
        max_record_size: Optional[int] = None,
    ) -> Self:
        """Connect with boto 2's keyword arguments (plus timeouts, retries and ``endpoint_url``).

        Credentials are resolved here; ``https_connection_factory`` must be None and ``provider``
        ``'aws'``. ``validate_certs`` is a bool or the path of a CA bundle.
        """

    async def __aenter__(self) -> Self:
        """The connection itself; leaving the ``async with`` block closes it."""
    async def __aexit__(self, *exc_info: object) -> None:
        """Close the connection."""
    def close(self) -> Awaitable[None]:
        """Drop the connection pools; later calls raise ValueError."""
    def make_request(
        self, action: str, body: Union[str, bytes, bytearray, dict[str, Any], None]
    ) -> Awaitable[Optional[dict[str, Any]]]:
        """Call any action by name (``'PutRecord'``...) with a JSON body, as boto 2's ``make_request``.

        Returns the wire-shaped dict, or None for actions that return nothing; record payloads
        stay base64 text in both directions.
        """

    # Properties
    @property
    def host(self) -> str:
        """The endpoint's host (and port), as boto 2's ``conn.host``."""
    @property
    def region_name(self) -> str:
        """The region requests are signed for."""
    @property
    def region(self) -> RegionInfo:
        """A ``RegionInfo`` for the signing region, as boto 2's ``conn.region``."""
    @property
    def auth_region_name(self) -> str:
        """The signing region; boto 2 scripts set it for emulators, and setting it changes it."""
    @auth_region_name.setter
    def auth_region_name(self, region: str) -> None: ...
    @property
    def auth_service_name(self) -> str:
        """Always ``'kinesis'``; setting it to anything else raises ValueError."""
    @auth_service_name.setter
    def auth_service_name(self, service: str) -> None: ...
    @property
    def credential_source(self) -> str:
        """Where the credentials came from (never the credentials themselves)."""
    @property
    def endpoint_url(self) -> Optional[str]:
        """The endpoint URL given or configured, or None for the region's standard endpoint."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    @property
    def max_record_size(self) -> int:
        """The largest record (data + partition key, in bytes) accepted before sending."""

    # Records
    def get_shard_iterator(
        self,
        stream_name: str,
        shard_id: str,
        shard_iterator_type: str,
        starting_sequence_number: Optional[str] = None,
        *,
        timestamp: Optional[_Timestamp] = None,
    ) -> Awaitable[dict[str, Any]]:
        """Get an iterator to start reading a shard at (GetShardIterator).

        ``shard_iterator_type`` is AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER (with
        ``starting_sequence_number``), TRIM_HORIZON, LATEST, or AT_TIMESTAMP (with ``timestamp``).
        """
    def get_records(
        self,
        shard_iterator: str,
        limit: Optional[int] = None,
        b64_decode: bool = True,
        *,
        as_bytes: bool = False,
    ) -> Awaitable[dict[str, Any]]:
        """Read a batch of records from a shard iterator (GetRecords).

        Each record's ``Data`` is str when it is UTF-8, else bytes; always bytes with
        ``as_bytes=True``; base64 text with ``b64_decode=False``.
        """
    def put_record(
        self,
        stream_name: str,
        data: _Data,
        partition_key: str,
        explicit_hash_key: Union[str, int, None] = None,
        sequence_number_for_ordering: Optional[str] = None,
        exclusive_minimum_sequence_number: Optional[str] = None,
        b64_encode: bool = True,
    ) -> Awaitable[dict[str, Any]]:
        """Write one record to a stream (PutRecord); returns its ``ShardId`` and ``SequenceNumber``."""
    def put_records(
        self, records: Iterable[dict[str, Any]], stream_name: str, b64_encode: bool = True
    ) -> Awaitable[dict[str, Any]]:
        """Write up to 500 records (dicts with ``Data``, ``PartitionKey``) in one request (PutRecords).

        Check ``FailedRecordCount``: records can fail one by one while the request succeeds.
        """

    # Streams
    def create_stream(
        self,
        stream_name: str,
        shard_count: Optional[int] = None,
        *,
        stream_mode: Optional[str] = None,
        tags: Optional[dict[str, str]] = None,
        max_record_size_in_kib: Optional[int] = None,
    ) -> Awaitable[None]:
        """Create a provisioned stream with ``shard_count`` shards, or an on-demand one (CreateStream)."""
    def delete_stream(self, stream_name: str, *, enforce_consumer_deletion: Optional[bool] = None) -> Awaitable[None]:
        """Delete a stream and its records (DeleteStream)."""
    def describe_stream(
        self, stream_name: str, limit: Optional[int] = None, exclusive_start_shard_id: Optional[str] = None
    ) -> Awaitable[dict[str, Any]]:
        """Describe a stream: status, settings and a page of its shards (DescribeStream)."""
    def describe_stream_summary(self, stream_name: str) -> Awaitable[dict[str, Any]]:
        """Describe a stream without listing its shards (DescribeStreamSummary)."""
    def list_streams(
        self,
        limit: Optional[int] = None,
        exclusive_start_stream_name: Optional[str] = None,
        *,
        next_token: Optional[str] = None,
    ) -> Awaitable[dict[str, Any]]:
        """List one page of the account's streams (ListStreams)."""
    def list_shards(
        self,
        stream_name: Optional[str] = None,
        *,
        next_token: Optional[str] = None,
        exclusive_start_shard_id: Optional[str] = None,
        max_results: Optional[int] = None,
        stream_creation_timestamp: Optional[_Timestamp] = None,
        shard_filter: Optional[dict[str, Any]] = None,
        paginate: bool = False,
    ) -> Awaitable[dict[str, Any]]:
        """List one page of a stream's shards, or every page with ``paginate=True`` (ListShards).

        Give ``stream_name`` for the first page and only ``next_token`` for the next ones.
        """
    def merge_shards(self, stream_name: str, shard_to_merge: str, adjacent_shard_to_merge: str) -> Awaitable[None]:
        """Merge two adjacent shards into one (MergeShards)."""
    def split_shard(self, stream_name: str, shard_to_split: str, new_starting_hash_key: str) -> Awaitable[None]:
        """Split a shard in two at ``new_starting_hash_key`` (SplitShard)."""
    def add_tags_to_stream(self, stream_name: str, tags: dict[str, str]) -> Awaitable[None]:
        """Add or overwrite tags on a stream (AddTagsToStream)."""
    def list_tags_for_stream(
        self, stream_name: str, exclusive_start_tag_key: Optional[str] = None, limit: Optional[int] = None
    ) -> Awaitable[dict[str, Any]]:
        """List one page of a stream's tags (ListTagsForStream)."""
    def remove_tags_from_stream(self, stream_name: str, tag_keys: Iterable[str]) -> Awaitable[None]:
        """Remove tags from a stream by key (RemoveTagsFromStream)."""
    def update_shard_count(
        self, stream_name: str, target_shard_count: int, scaling_type: str = "UNIFORM_SCALING"
    ) -> Awaitable[dict[str, Any]]:
        """Reshard a stream to ``target_shard_count`` shards (UpdateShardCount)."""
    def increase_stream_retention_period(self, stream_name: str, retention_period_hours: int) -> Awaitable[None]:
        """Keep a stream's records longer (IncreaseStreamRetentionPeriod)."""
    def decrease_stream_retention_period(self, stream_name: str, retention_period_hours: int) -> Awaitable[None]:
        """Keep a stream's records for less time (DecreaseStreamRetentionPeriod)."""
    def enable_enhanced_monitoring(
        self, stream_name: str, shard_level_metrics: Iterable[str]
    ) -> Awaitable[dict[str, Any]]:
        """Turn on shard-level CloudWatch metrics (EnableEnhancedMonitoring)."""
    def disable_enhanced_monitoring(
        self, stream_name: str, shard_level_metrics: Iterable[str]
    ) -> Awaitable[dict[str, Any]]:
        """Turn off shard-level CloudWatch metrics (DisableEnhancedMonitoring)."""
    def start_stream_encryption(self, stream_name: str, encryption_type: str, key_id: str) -> Awaitable[None]:
        """Encrypt a stream's new records with a KMS key (StartStreamEncryption)."""
    def stop_stream_encryption(self, stream_name: str, encryption_type: str, key_id: str) -> Awaitable[None]:
        """Stop encrypting a stream's new records (StopStreamEncryption)."""
    def update_stream_mode(self, stream_arn: str, stream_mode: str) -> Awaitable[None]:
        """Switch a stream between PROVISIONED and ON_DEMAND capacity (UpdateStreamMode)."""
    def describe_limits(self) -> Awaitable[dict[str, Any]]:
        """The account's shard and on-demand stream limits and usage (DescribeLimits)."""

    # Enhanced fan-out consumers
    def register_stream_consumer(self, stream_arn: str, consumer_name: str) -> Awaitable[dict[str, Any]]:
        """Register an enhanced fan-out consumer with a stream (RegisterStreamConsumer)."""
    def deregister_stream_consumer(
        self, stream_arn: Optional[str] = None, consumer_name: Optional[str] = None, consumer_arn: Optional[str] = None
    ) -> Awaitable[None]:
        """Deregister a consumer, by its ARN or by stream ARN and name (DeregisterStreamConsumer)."""
    def describe_stream_consumer(
        self, stream_arn: Optional[str] = None, consumer_name: Optional[str] = None, consumer_arn: Optional[str] = None
    ) -> Awaitable[dict[str, Any]]:
        """Describe a consumer, by its ARN or by stream ARN and name (DescribeStreamConsumer)."""
    def list_stream_consumers(
        self,
        stream_arn: str,
        next_token: Optional[str] = None,
        max_results: Optional[int] = None,
        stream_creation_timestamp: Optional[_Timestamp] = None,
    ) -> Awaitable[dict[str, Any]]:
        """List one page of a stream's registered consumers (ListStreamConsumers)."""

def connect_to_region(region_name: str, **kw_params: Unpack[_ConnectKwargs]) -> KinesisConnection:
    """Like :func:`kinesis.connect_to_region`, for asyncio code. Credentials are resolved here."""

def regions() -> list[RegionInfo]:
    """Every region where Kinesis runs, as ``RegionInfo`` objects that connect with this class."""
