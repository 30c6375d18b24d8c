"""Type stubs for ``kinesis._kinesis``, the Rust extension module (src/*.rs, pyo3).

``Connection`` is the one class behind both public faces: :class:`kinesis.layer1.KinesisConnection`
(methods block and return the result) and :class:`kinesis.aio.KinesisConnection` (methods return
an awaitable). Its methods are typed here as returning ``Any`` for that reason; the public stubs
(``layer1.pyi``, ``aio/__init__.pyi``) give the precise return types.

Parameter names, defaults and positional/keyword-only markers follow the ``#[pyo3(signature)]``
attributes in src/client.rs, src/records.rs, src/streams.rs and src/consumers.rs. A stream is
named by its name or its ARN wherever a ``stream_name`` is taken.
"""

import datetime
import os
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from typing import Any, Optional, TypedDict, Union, final, overload

from typing_extensions import NotRequired, Self, TypeAlias, disjoint_base

from kinesis.regioninfo import RegionInfo

__all__ = [
    "Connection",
    "Producer",
    "PutResults",
    "Record",
    "ShardIterator",
    "StreamReader",
    "_Ready",
    "__version__",
    "_flush_producers_at_exit",
    "_shutdown_runtimes",
    "aggregate",
    "deaggregate",
    "deaggregate_records",
    "partition_key_hash",
]

__version__: str

# A record's payload: str is sent as UTF-8, bytes-like objects as they are (with b64_encode=False,
# base64 text instead). The extension also takes any object with __buffer__ on Python 3.12+.
_Data: TypeAlias = Union[str, bytes, bytearray, memoryview]
# A point in time: a datetime (naive means UTC) or seconds since the epoch.
_Timestamp: TypeAlias = Union[datetime.datetime, float]
# A CA bundle file for validate_certs.
_CaBundle: TypeAlias = Union[str, os.PathLike[str]]
# aggregate()'s user records: (partition_key, data[, explicit_hash_key]) or a PutRecords-style dict.
_AggregateData: TypeAlias = Union[bytes, bytearray, str]
_AggregateRecord: TypeAlias = Union[
    tuple[str, _AggregateData],
    tuple[str, _AggregateData, Optional[str]],
    dict[str, Any],
]

class _ConnectKwargs(TypedDict, total=False):
    """The keyword arguments of ``connect_to_region()``: the connection's, except ``region``.

    Exists only for type checkers (``**kw_params: Unpack[_ConnectKwargs]``).
    """

    aws_access_key_id: Optional[str]
    aws_secret_access_key: Optional[str]
    security_token: Optional[str]
    profile_name: Optional[str]
    is_secure: Optional[bool]
    port: Optional[int]
    host: Optional[str]
    debug: Optional[int]
    https_connection_factory: None
    proxy: Optional[str]
    proxy_port: Optional[int]
    proxy_user: Optional[str]
    proxy_pass: Optional[str]
    validate_certs: Union[bool, _CaBundle, None]
    path: Optional[str]
    provider: Optional[str]
    endpoint_url: Optional[str]
    aws_session_token: Optional[str]
    connect_timeout: Optional[float]
    read_timeout: Optional[float]
    num_retries: Optional[int]
    retry_base_delay: Optional[float]
    retry_max_delay: Optional[float]
    max_record_size: Optional[int]

def _shutdown_runtimes() -> None:
    """Stop the background runtime without waiting for its tasks; registered with ``atexit``."""

def _flush_producers_at_exit() -> int:
    """Flush every producer still holding records (each for at most its ``exit_timeout``); returns how
    many records remain unsent. Called at exit before ``_shutdown_runtimes``."""

# put_many's records: (data, partition_key[, explicit_hash_key]) tuples or PutRecords-style dicts.
_ProducerRecord: TypeAlias = Union[
    tuple[_Data, str],
    tuple[_Data, str, Union[str, int, None]],
    dict[str, Any],
]

class _PutResult(TypedDict):
    """The same as ``kinesis.producer.PutResult`` (a record's result)."""

    ShardId: str
    SequenceNumber: str
    SubSequenceNumber: NotRequired[int]

@final  # a native class that cannot be subclassed
class PutResults(Sequence[_PutResult]):
    """What ``put_many`` resolves to when every record was written: a read-only sequence of result
    dicts, in the order put, made on first access (src/put_results.rs)."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: int, /) -> _PutResult: ...
    @overload
    def __getitem__(self, key: slice, /) -> list[_PutResult]: ...
    def __iter__(self) -> Iterator[_PutResult]: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...
    def to_list(self) -> list[_PutResult]:
        """The results as a plain list of dicts."""

@disjoint_base  # a native class with its own instance layout (PEP 800)
class Producer:
    """Batches, aggregates and sends records to one stream in the background (src/producer*.rs).

    Subclassed by :class:`kinesis.Producer` (blocking puts, ``concurrent.futures.Future``) and
    :class:`kinesis.aio.Producer` (``_asynchronous = True``: asyncio futures; flush/close awaitable).
    """

    def __new__(
        cls,
        connection: Connection,
        stream_name: str,
        *,
        aggregate: bool = True,
        linger_ms: float = 100.0,
        max_batch_records: int = 500,
        max_batch_bytes: int = 5242880,
        max_aggregate_bytes: int = 51200,
        max_buffered_bytes: int = 67108864,
        record_ttl: float = 30.0,
        rate_limit: Optional[float] = 1.0,
        preserve_order: bool = True,
        exit_timeout: float = 30.0,
        shard_refresh_interval: float = 60.0,
    ) -> Self:
        """Start the producer; the blocking face also reads the stream's settings and shard map here."""
    def put(
        self,
        data: _Data,
        partition_key: str,
        explicit_hash_key: Union[str, int, None] = None,
        *,
        block: bool = True,
    ) -> Any:
        """Put one record; a future of its result (asyncio face: None when the buffer is full)."""
    def put_many(self, records: Iterable[_ProducerRecord], *, block: bool = True) -> Any:
        """Put many records; one future of the list of their results."""
    def _wait_for_space(self) -> Any:
        """Awaitable: done once room was freed in the buffer."""
    def _ready(self) -> Any:
        """Awaitable: done once the stream's settings and shard map are read."""
    def flush(self, timeout: Optional[float] = None) -> Any:
        """Send everything now and wait for every outcome; False if ``timeout`` passed first."""
    def close(self, timeout: Optional[float] = None) -> Any:
        """Refuse further puts, then flush."""
    def metrics(self) -> dict[str, int]:
        """Counters since start, and what is buffered now."""
    @property
    def stream_name(self) -> str:
        """The stream written to."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    @property
    def max_record_size(self) -> int:
        """The largest record (data + partition key, bytes) the stream takes."""

@disjoint_base  # a native class with its own instance layout (PEP 800)
class Connection:
    """A connection to Kinesis Data Streams; subclassed by the sync and asyncio faces.

    A subclass whose ``_asynchronous`` class attribute is true gets awaitables from every method.
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
        """Settle the options (arguments, environment, boto config) and resolve the credentials."""

    # Properties (src/client.rs)
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
    def close(self) -> Any:
        """Drop the connection pools; later calls raise ValueError. Awaitable on the asyncio face."""

    # Records (src/records.rs)
    def get_shard_iterator(
        self,
        stream_name: str,
        shard_id: str,
        shard_iterator_type: str,
        starting_sequence_number: Optional[str] = None,
        *,
        timestamp: Optional[_Timestamp] = None,
    ) -> Any:
        """Get an iterator to start reading a shard at (GetShardIterator)."""
    def get_records(
        self,
        shard_iterator: str,
        limit: Optional[int] = None,
        b64_decode: bool = True,
        *,
        as_bytes: bool = False,
    ) -> Any:
        """Read a batch of records from a shard iterator (GetRecords)."""
    def put_record(
        self,
        stream_name: str,
        data: _Data,
        partition_key: str,
        explicit_hash_key: Union[str, int, None] = None,
        sequence_number_for_ordering: Optional[str] = None,
        exclusive_minimum_sequence_number: Optional[str] = None,
        b64_encode: bool = True,
    ) -> Any:
        """Write one record to a stream (PutRecord)."""
    def put_records(self, records: Iterable[dict[str, Any]], stream_name: str, b64_encode: bool = True) -> Any:
        """Write up to 500 records to a stream in one request (PutRecords)."""

    # Streams (src/streams.rs)
    def create_stream(
        self,
        stream_name: str,
        shard_count: Optional[int] = None,
        *,
        stream_mode: Optional[str] = None,
        tags: Optional[dict[str, str]] = None,
        max_record_size_in_kib: Optional[int] = None,
    ) -> Any:
        """Create a provisioned stream with ``shard_count`` shards, or an on-demand one (CreateStream)."""
    def delete_stream(self, stream_name: str, *, enforce_consumer_deletion: Optional[bool] = None) -> Any:
        """Delete a stream and its records (DeleteStream)."""
    def describe_stream(
        self, stream_name: str, limit: Optional[int] = None, exclusive_start_shard_id: Optional[str] = None
    ) -> Any:
        """Describe a stream: status, settings and a page of its shards (DescribeStream)."""
    def describe_stream_summary(self, stream_name: str) -> Any:
        """Describe a stream without listing its shards (DescribeStreamSummary)."""
    def list_streams(
        self,
        limit: Optional[int] = None,
        exclusive_start_stream_name: Optional[str] = None,
        *,
        next_token: Optional[str] = None,
    ) -> Any:
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
    ) -> Any:
        """List one page of a stream's shards, or every page with ``paginate=True`` (ListShards)."""
    def merge_shards(self, stream_name: str, shard_to_merge: str, adjacent_shard_to_merge: str) -> Any:
        """Merge two adjacent shards into one (MergeShards)."""
    def split_shard(self, stream_name: str, shard_to_split: str, new_starting_hash_key: str) -> Any:
        """Split a shard in two at ``new_starting_hash_key`` (SplitShard)."""
    def add_tags_to_stream(self, stream_name: str, tags: dict[str, str]) -> Any:
        """Add or overwrite tags on a stream (AddTagsToStream)."""
    def list_tags_for_stream(
        self, stream_name: str, exclusive_start_tag_key: Optional[str] = None, limit: Optional[int] = None
    ) -> Any:
        """List one page of a stream's tags (ListTagsForStream)."""
    def remove_tags_from_stream(self, stream_name: str, tag_keys: Iterable[str]) -> Any:
        """Remove tags from a stream by key (RemoveTagsFromStream)."""
    def update_shard_count(
        self, stream_name: str, target_shard_count: int, scaling_type: str = "UNIFORM_SCALING"
    ) -> Any:
        """Reshard a stream to ``target_shard_count`` shards (UpdateShardCount)."""
    def increase_stream_retention_period(self, stream_name: str, retention_period_hours: int) -> Any:
        """Keep a stream's records longer (IncreaseStreamRetentionPeriod)."""
    def decrease_stream_retention_period(self, stream_name: str, retention_period_hours: int) -> Any:
        """Keep a stream's records for less time (DecreaseStreamRetentionPeriod)."""
    def enable_enhanced_monitoring(self, stream_name: str, shard_level_metrics: Iterable[str]) -> Any:
        """Turn on shard-level CloudWatch metrics (EnableEnhancedMonitoring)."""
    def disable_enhanced_monitoring(self, stream_name: str, shard_level_metrics: Iterable[str]) -> Any:
        """Turn off shard-level CloudWatch metrics (DisableEnhancedMonitoring)."""
    def start_stream_encryption(self, stream_name: str, encryption_type: str, key_id: str) -> Any:
        """Encrypt a stream's new records with a KMS key (StartStreamEncryption)."""
    def stop_stream_encryption(self, stream_name: str, encryption_type: str, key_id: str) -> Any:
        """Stop encrypting a stream's new records (StopStreamEncryption)."""
    def update_stream_mode(self, stream_arn: str, stream_mode: str) -> Any:
        """Switch a stream between PROVISIONED and ON_DEMAND capacity (UpdateStreamMode)."""
    def describe_limits(self) -> Any:
        """The account's shard and on-demand stream limits and usage (DescribeLimits)."""

    # Enhanced fan-out consumers (src/consumers.rs)
    def register_stream_consumer(self, stream_arn: str, consumer_name: str) -> Any:
        """Register an enhanced fan-out consumer with a stream (RegisterStreamConsumer)."""
    def deregister_stream_consumer(
        self, stream_arn: Optional[str] = None, consumer_name: Optional[str] = None, consumer_arn: Optional[str] = None
    ) -> Any:
        """Deregister a consumer, by its ARN or by stream ARN and name (DeregisterStreamConsumer)."""
    def describe_stream_consumer(
        self, stream_arn: Optional[str] = None, consumer_name: Optional[str] = None, consumer_arn: Optional[str] = None
    ) -> Any:
        """Describe a consumer, by its ARN or by stream ARN and name (DescribeStreamConsumer)."""
    def list_stream_consumers(
        self,
        stream_arn: str,
        next_token: Optional[str] = None,
        max_results: Optional[int] = None,
        stream_creation_timestamp: Optional[_Timestamp] = None,
    ) -> Any:
        """List one page of a stream's registered consumers (ListStreamConsumers)."""

# KPL aggregation (src/aggregation_py.rs); documented in kinesis.aggregation.
def aggregate(records: Iterable[_AggregateRecord]) -> bytes:
    """Pack user records into the data of one KPL aggregated record."""

def deaggregate(data: Union[bytes, bytearray]) -> Optional[list[dict[str, Any]]]:
    """Unpack a KPL aggregated record's data; None when it is not one."""

def deaggregate_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expand the aggregated records among GetRecords-style record dicts."""

def partition_key_hash(key: str) -> int:
    """The 128-bit hash key Kinesis derives from a partition key."""

# Reading (src/reader_py.rs); the public faces are kinesis.reader and kinesis.aio.

# A shard position: after this record, or "SHARD_END" (read to its end).
_Position: TypeAlias = Union[str, dict[str, Any]]

@final
class Record:
    """One user record read from a stream: a plain record or one sub-record of a KPL aggregate."""

    def __new__(
        cls,
        data: _Data,
        partition_key: str,
        sequence_number: str,
        *,
        sub_sequence_number: Optional[int] = None,
        explicit_hash_key: Optional[str] = None,
        approximate_arrival_timestamp: Optional[_Timestamp] = None,
        shard_id: Optional[str] = None,
    ) -> Self: ...
    @property
    def data(self) -> bytes: ...
    @property
    def partition_key(self) -> str: ...
    @property
    def explicit_hash_key(self) -> Optional[str]:
        """Only sub-records of aggregates carry one; the service does not return it for plain records."""
    @property
    def sequence_number(self) -> str: ...
    @property
    def sub_sequence_number(self) -> Optional[int]:
        """The index within its aggregate, or None for a record that was not aggregated."""
    @property
    def approximate_arrival_timestamp(self) -> Optional[datetime.datetime]:
        """When the service received it, as an aware UTC datetime."""
    @property
    def shard_id(self) -> str: ...
    def to_dict(self) -> dict[str, Any]:
        """The record with the wire's key names (``Data``, ``PartitionKey``, ``SequenceNumber``...)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def _repr_html_(self) -> str: ...

@final
class _Ready:
    """An awaitable whose result is already there."""

    def __await__(self) -> Self: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> None: ...
    def send(self, value: Any) -> None: ...

@disjoint_base
class ShardIterator:
    """Follows one shard (see kinesis.ShardIterator and kinesis.aio.ShardIterator)."""

    def __new__(
        cls,
        connection: Connection,
        stream_name: str,
        shard_id: str,
        iterator_type: str = "LATEST",
        sequence_number: Optional[str] = None,
        timestamp: Optional[_Timestamp] = None,
        *,
        sub_sequence_number: Optional[int] = None,
        deaggregate: Optional[bool] = None,
        limit: Optional[int] = None,
        max_calls_per_second: Optional[float] = None,
        idle_interval: Optional[float] = None,
        idle_timeout: Optional[float] = None,
    ) -> Self:
        """None means the default: deaggregate=True, limit=10,000 (the service's), max_calls_per_second=5,
        idle_interval=1 s, idle_timeout=forever."""
    def __iter__(self) -> Self: ...
    def __next__(self) -> Record: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[Record]: ...
    @property
    def stream_name(self) -> str: ...
    @property
    def shard_id(self) -> str: ...
    @property
    def idle_timeout(self) -> Optional[float]:
        """Seconds without a record after which iteration ends (None: forever); settable."""
    @idle_timeout.setter
    def idle_timeout(self, seconds: Optional[float]) -> None: ...
    @property
    def position(self) -> Optional[_Position]:
        """After the last record handed out, "SHARD_END", or None before the first record."""
    @property
    def millis_behind_latest(self) -> Optional[int]: ...
    @property
    def child_shards(self) -> Optional[list[dict[str, Any]]]:
        """The shards that follow this one once it ended; None while it is open."""
    @property
    def at_shard_end(self) -> bool: ...
    def close(self) -> Any:
        """Stop; later iteration ends at once. Awaitable on the asyncio face."""
    def __enter__(self) -> Self: ...
    def __exit__(self, exc: object, value: object, tb: object, /) -> None: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, exc: object, value: object, tb: object, /) -> Awaitable[None]: ...

@disjoint_base
class StreamReader:
    """Reads every shard of a stream (see kinesis.StreamReader and kinesis.aio.StreamReader)."""

    def __new__(
        cls,
        connection: Connection,
        stream_name: str,
        start: Union[str, _Timestamp, None] = None,
        *,
        checkpoints: Optional[Any] = None,
        idle_timeout: Optional[float] = None,
        deaggregate: Optional[bool] = None,
        limit: Optional[int] = None,
        max_calls_per_second: Optional[float] = None,
        idle_interval: Optional[float] = None,
        max_buffered_bytes: Optional[int] = None,
        shard_refresh_interval: Optional[float] = None,
    ) -> Self:
        """None means the default: start="LATEST", idle_timeout=forever, deaggregate=True, limit=10,000,
        max_calls_per_second=5, idle_interval=1 s, max_buffered_bytes=64 MiB, shard_refresh_interval=30 s."""
    def __iter__(self) -> Self: ...
    def __next__(self) -> Record: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[Record]: ...
    @property
    def stream_name(self) -> str: ...
    @property
    def idle_timeout(self) -> Optional[float]:
        """Seconds without a record after which iteration ends (None: forever); settable."""
    @idle_timeout.setter
    def idle_timeout(self, seconds: Optional[float]) -> None: ...
    @property
    def positions(self) -> dict[str, _Position]:
        """Per shard, after the last record handed out; what checkpoint() saves."""
    def shards(self) -> dict[str, str]:
        """Every known shard and its state: "waiting", "reading" or "finished"."""
    def checkpoint(self) -> Any:
        """Save positions to the checkpoint store. Awaitable on the asyncio face."""
    def close(self) -> Any:
        """Stop reading. Awaitable on the asyncio face."""
    def __enter__(self) -> Self: ...
    def __exit__(self, exc: object, value: object, tb: object, /) -> None: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, exc: object, value: object, tb: object, /) -> Awaitable[None]: ...
