"""What the sync and asyncio connection classes share: boto 2's constructor rules, ``make_request``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kinesis._html import html_table
from kinesis.regioninfo import RegionInfo

if TYPE_CHECKING:
    from kinesis._kinesis import Connection

# make_request(action, body): the wire field of each action → (method, {WireField: keyword}).
# Payloads stay base64 text, as on the wire (b64_encode=False / b64_decode=False).
_STREAM = {"StreamName": "stream_name", "StreamARN": "stream_name"}
_ACTIONS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "AddTagsToStream": ("add_tags_to_stream", {**_STREAM, "Tags": "tags"}, {}),
    "CreateStream": (
        "create_stream",
        {
            "StreamName": "stream_name",
            "ShardCount": "shard_count",
            "Tags": "tags",
            "MaxRecordSizeInKiB": "max_record_size_in_kib",
        },
        {},
    ),
    "DecreaseStreamRetentionPeriod": (
        "decrease_stream_retention_period",
        {**_STREAM, "RetentionPeriodHours": "retention_period_hours"},
        {},
    ),
    "DeleteStream": ("delete_stream", {**_STREAM, "EnforceConsumerDeletion": "enforce_consumer_deletion"}, {}),
    "DeregisterStreamConsumer": (
        "deregister_stream_consumer",
        {"StreamARN": "stream_arn", "ConsumerName": "consumer_name", "ConsumerARN": "consumer_arn"},
        {},
    ),
    "DescribeLimits": ("describe_limits", {}, {}),
    "DescribeStream": (
        "describe_stream",
        {**_STREAM, "Limit": "limit", "ExclusiveStartShardId": "exclusive_start_shard_id"},
        {},
    ),
    "DescribeStreamConsumer": (
        "describe_stream_consumer",
        {"StreamARN": "stream_arn", "ConsumerName": "consumer_name", "ConsumerARN": "consumer_arn"},
        {},
    ),
    "DescribeStreamSummary": ("describe_stream_summary", dict(_STREAM), {}),
    "DisableEnhancedMonitoring": (
        "disable_enhanced_monitoring",
        {**_STREAM, "ShardLevelMetrics": "shard_level_metrics"},
        {},
    ),
    "EnableEnhancedMonitoring": (
        "enable_enhanced_monitoring",
        {**_STREAM, "ShardLevelMetrics": "shard_level_metrics"},
        {},
    ),
    "GetRecords": ("get_records", {"ShardIterator": "shard_iterator", "Limit": "limit"}, {"b64_decode": False}),
    "GetShardIterator": (
        "get_shard_iterator",
        {
            **_STREAM,
            "ShardId": "shard_id",
            "ShardIteratorType": "shard_iterator_type",
            "StartingSequenceNumber": "starting_sequence_number",
            "Timestamp": "timestamp",
        },
        {},
    ),
    "IncreaseStreamRetentionPeriod": (
        "increase_stream_retention_period",
        {**_STREAM, "RetentionPeriodHours": "retention_period_hours"},
        {},
    ),
    "ListShards": (
        "list_shards",
        {
            **_STREAM,
            "NextToken": "next_token",
            "ExclusiveStartShardId": "exclusive_start_shard_id",
            "MaxResults": "max_results",
            "StreamCreationTimestamp": "stream_creation_timestamp",
            "ShardFilter": "shard_filter",
        },
        {},
    ),
    "ListStreamConsumers": (
        "list_stream_consumers",
        {
            "StreamARN": "stream_arn",
            "NextToken": "next_token",
            "MaxResults": "max_results",
            "StreamCreationTimestamp": "stream_creation_timestamp",
        },
        {},
    ),
    "ListStreams": (
        "list_streams",
        {"Limit": "limit", "ExclusiveStartStreamName": "exclusive_start_stream_name", "NextToken": "next_token"},
        {},
    ),
    "ListTagsForStream": (
        "list_tags_for_stream",
        {**_STREAM, "ExclusiveStartTagKey": "exclusive_start_tag_key", "Limit": "limit"},
        {},
    ),
    "MergeShards": (
        "merge_shards",
        {**_STREAM, "ShardToMerge": "shard_to_merge", "AdjacentShardToMerge": "adjacent_shard_to_merge"},
        {},
    ),
    "PutRecord": (
        "put_record",
        {
            **_STREAM,
            "Data": "data",
            "PartitionKey": "partition_key",
            "ExplicitHashKey": "explicit_hash_key",
            "SequenceNumberForOrdering": "sequence_number_for_ordering",
        },
        {"b64_encode": False},
    ),
    "PutRecords": ("put_records", {**_STREAM, "Records": "records"}, {"b64_encode": False}),
    "RegisterStreamConsumer": (
        "register_stream_consumer",
        {"StreamARN": "stream_arn", "ConsumerName": "consumer_name"},
        {},
    ),
    "RemoveTagsFromStream": ("remove_tags_from_stream", {**_STREAM, "TagKeys": "tag_keys"}, {}),
    "SplitShard": (
        "split_shard",
        {**_STREAM, "ShardToSplit": "shard_to_split", "NewStartingHashKey": "new_starting_hash_key"},
        {},
    ),
    "StartStreamEncryption": (
        "start_stream_encryption",
        {**_STREAM, "EncryptionType": "encryption_type", "KeyId": "key_id"},
        {},
    ),
    "StopStreamEncryption": (
        "stop_stream_encryption",
        {**_STREAM, "EncryptionType": "encryption_type", "KeyId": "key_id"},
        {},
    ),
    "UpdateShardCount": (
        "update_shard_count",
        {**_STREAM, "TargetShardCount": "target_shard_count", "ScalingType": "scaling_type"},
        {},
    ),
    "UpdateStreamMode": ("update_stream_mode", {"StreamARN": "stream_arn", "StreamModeDetails": "stream_mode"}, {}),
}


def _request_arguments(action: str, body: Any) -> tuple[str, dict[str, Any]]:
    """The method and keyword arguments that perform ``action`` with the JSON ``body``."""
    if not isinstance(action, str):
        raise TypeError(f"action: expected str, got {type(action).__name__}")
    if action not in _ACTIONS:
        raise ValueError(
            f"action: {action!r} is not a Kinesis Data Streams action this client knows "
            f"(known: {', '.join(sorted(_ACTIONS))})"
        )
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"body: not valid UTF-8 JSON: {err}") from None
    if isinstance(body, str):
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError as err:
            raise ValueError(f"body: not valid JSON: {err}") from None
    elif body is None:
        params = {}
    elif isinstance(body, dict):
        params = body
    else:
        raise TypeError(f"body: expected a JSON string, got {type(body).__name__}")
    if not isinstance(params, dict):
        raise ValueError("body: the JSON must be an object")
    method, fields, fixed = _ACTIONS[action]
    kwargs: dict[str, Any] = dict(fixed)
    for field, value in params.items():
        if field not in fields:
            raise ValueError(f"body: {action} has no field {field!r} (known: {', '.join(sorted(fields))})")
        if field == "Tags" and action == "CreateStream" and isinstance(value, dict):
            kwargs["tags"] = value
            continue
        if field == "StreamModeDetails":
            value = value.get("StreamMode") if isinstance(value, dict) else value
        kwargs[fields[field]] = value
    return method, kwargs


class ConnectionMixin:
    """Methods written once in Python for both connection classes."""

    __slots__ = ()

    def make_request(self, action: str, body: Any) -> Any:
        """Call any Kinesis action with a JSON body (boto 2's escape hatch); returns the wire-shaped dict.

        Record payloads are base64 text in both directions, as on the wire.
        """
        method, kwargs = _request_arguments(action, body)
        return getattr(self, method)(**kwargs)

    def _repr_html_(self) -> str:
        """A table for notebooks: where the connection goes and where its credentials came from (never them)."""
        conn: Connection = self  # type: ignore[assignment]  # the mixin is only ever mixed into Connection
        kind = "asyncio" if getattr(conn, "_asynchronous", False) else "blocking"
        rows = [
            ("region", conn.region_name),
            ("endpoint", conn.endpoint_url or f"https://{conn.host}"),
            ("credentials from", conn.credential_source),
            ("calls", kind),
            ("state", "closed" if conn.closed else "open"),
        ]
        return html_table(type(self).__name__, rows)


def check_connect_arguments(region_name: object, kw_params: Mapping[str, object]) -> RegionInfo:
    """boto 2's connect_to_region rules: ``region=`` is not allowed; the region must be a str."""
    if "region" in kw_params:
        raise TypeError("connect_to_region() got an unexpected keyword argument 'region' (give the region name)")
    if not isinstance(region_name, str):
        raise TypeError(f"region_name: expected str, got {type(region_name).__name__}")
    return RegionInfo(name=region_name)
