"""``list``, ``describe``, ``create`` and ``delete``: the stream-level subcommands."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Callable

from kinesis.cli._errors import CliError, UsageError
from kinesis.exceptions import ResourceNotFoundException
from kinesis.layer1 import KinesisConnection

HASH_KEY_SPACE = 2**128
WAIT_INTERVAL = 0.25  # DescribeStreamSummary allows 20 calls/s per account; 4/s leaves room for others


def add_parsers(commands: Any, parent: argparse.ArgumentParser) -> None:
    cmd = commands.add_parser("list", parents=[parent], help="list the streams, one name per line")
    cmd.set_defaults(run=run_list)

    cmd = commands.add_parser("describe", parents=[parent], help="a stream's settings and its shards")
    cmd.add_argument("stream", help="stream name or ARN")
    cmd.add_argument("--json", action="store_true", help="the summary and shards as JSON, as the API returns them")
    cmd.set_defaults(run=run_describe)

    cmd = commands.add_parser("create", parents=[parent], help="create a stream")
    cmd.add_argument("stream", help="stream name")
    capacity = cmd.add_mutually_exclusive_group(required=True)
    capacity.add_argument("--shards", type=int, metavar="N", help="a provisioned stream with N shards")
    capacity.add_argument("--on-demand", action="store_true", help="an on-demand stream (shards managed by AWS)")
    cmd.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="tag the stream (repeatable)")
    _add_wait_options(cmd, "wait until the stream is ACTIVE")
    cmd.set_defaults(run=run_create)

    cmd = commands.add_parser("delete", parents=[parent], help="delete a stream and its records")
    cmd.add_argument("stream", help="stream name or ARN")
    cmd.add_argument("--force", action="store_true", help="also deregister the stream's enhanced fan-out consumers")
    _add_wait_options(cmd, "wait until the stream is gone")
    cmd.set_defaults(run=run_delete)


def _add_wait_options(cmd: argparse.ArgumentParser, help_text: str) -> None:
    cmd.add_argument("--wait", action="store_true", help=help_text)
    cmd.add_argument("--wait-timeout", type=float, default=300.0, metavar="SECONDS", help="default 300")


def run_list(conn: KinesisConnection, args: argparse.Namespace) -> int:
    page = conn.list_streams()
    while True:
        for name in page["StreamNames"]:
            print(name)
        if not page.get("HasMoreStreams") or not page["StreamNames"]:
            return 0
        if page.get("NextToken"):
            page = conn.list_streams(next_token=page["NextToken"])
        else:
            page = conn.list_streams(exclusive_start_stream_name=page["StreamNames"][-1])


def _timestamp(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "-"
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _keyspace_share(shard: dict[str, Any]) -> str:
    hash_range = shard.get("HashKeyRange", {})
    start = int(hash_range.get("StartingHashKey", 0))
    end = int(hash_range.get("EndingHashKey", HASH_KEY_SPACE - 1)) + 1
    return f"{100 * start / HASH_KEY_SPACE:.2f}%-{100 * end / HASH_KEY_SPACE:.2f}%"


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as lines, each column as wide as its widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def run_describe(conn: KinesisConnection, args: argparse.Namespace) -> int:
    summary = conn.describe_stream_summary(args.stream)["StreamDescriptionSummary"]
    shards = conn.list_shards(args.stream, paginate=True)["Shards"]
    if args.json:
        print(json.dumps({"StreamDescriptionSummary": summary, "Shards": shards}, indent=2))
        return 0
    open_shards = sum("EndingSequenceNumber" not in s.get("SequenceNumberRange", {}) for s in shards)
    key_id = f" ({summary['KeyId']})" if summary.get("KeyId") else ""
    metrics = sorted({m for group in summary.get("EnhancedMonitoring", []) for m in group.get("ShardLevelMetrics", [])})
    settings = [
        ("Stream", summary.get("StreamName", args.stream)),
        ("ARN", summary.get("StreamARN", "-")),
        ("Status", summary.get("StreamStatus", "-")),
        ("Mode", summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")),
        ("Open shards", str(summary.get("OpenShardCount", open_shards))),
        ("Retention", f"{summary.get('RetentionPeriodHours', '-')} hours"),
        ("Encryption", summary.get("EncryptionType", "NONE") + key_id),
        ("Created", _timestamp(summary.get("StreamCreationTimestamp"))),
        ("Consumers", str(summary.get("ConsumerCount", 0))),
        ("Shard metrics", ", ".join(metrics) or "none"),
    ]
    for line in columns([[f"{key}:", str(value)] for key, value in settings]):
        print(line)
    print()
    rows = [["SHARD", "STATE", "HASH KEYS", "PARENTS", "FIRST SEQUENCE NUMBER"]]
    for shard in shards:
        sequence_range = shard.get("SequenceNumberRange", {})
        parents = [shard[k] for k in ("ParentShardId", "AdjacentParentShardId") if shard.get(k)]
        state = "closed" if sequence_range.get("EndingSequenceNumber") else "open"
        first = sequence_range.get("StartingSequenceNumber", "-")
        rows.append([shard["ShardId"], state, _keyspace_share(shard), ",".join(parents) or "-", first])
    for line in columns(rows):
        print(line)
    return 0


def _parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag: expected KEY=VALUE, got {pair!r}")
        tags[key] = value
    return tags


def _wait_for(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise CliError(f"gave up waiting after {timeout:g} s: {what}")
        time.sleep(WAIT_INTERVAL)


def run_create(conn: KinesisConnection, args: argparse.Namespace) -> int:
    tags = _parse_tags(args.tag) or None
    if args.on_demand:
        conn.create_stream(args.stream, stream_mode="ON_DEMAND", tags=tags)
        capacity = "on demand"
    else:
        conn.create_stream(args.stream, args.shards, tags=tags)
        capacity = f"{args.shards} shard{'s' if args.shards != 1 else ''}"
    print(f"created stream {args.stream} ({capacity})", flush=True)
    if args.wait:

        def active() -> bool:
            status = conn.describe_stream_summary(args.stream)["StreamDescriptionSummary"]["StreamStatus"]
            return bool(status == "ACTIVE")

        _wait_for(f"stream {args.stream} is not ACTIVE yet", active, args.wait_timeout)
        print(f"stream {args.stream} is ACTIVE")
    return 0


def run_delete(conn: KinesisConnection, args: argparse.Namespace) -> int:
    conn.delete_stream(args.stream, enforce_consumer_deletion=True if args.force else None)
    print(f"deleting stream {args.stream}", flush=True)
    if args.wait:

        def gone() -> bool:
            try:
                conn.describe_stream_summary(args.stream)
            except ResourceNotFoundException:
                return True
            return False

        _wait_for(f"stream {args.stream} still exists", gone, args.wait_timeout)
        print(f"stream {args.stream} is deleted")
    return 0
