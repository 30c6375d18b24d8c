"""``tail``: follow a stream and print its records as they arrive."""

from __future__ import annotations

import argparse
import base64
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from kinesis.cli._errors import UsageError
from kinesis.layer1 import KinesisConnection

_AGO = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BINARY_SHOWN = 32  # bytes of a binary payload shown (as hex) in pretty output
# Control characters are escaped in pretty output, so one record stays one line and cannot drive the terminal.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]} | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def add_parser(commands: Any, parent: argparse.ArgumentParser) -> None:
    cmd = commands.add_parser(
        "tail",
        parents=[parent],
        help="follow a stream and print its records",
        description="Print the records of every shard as they arrive (parents before children), until Ctrl-C, "
        "--limit or --idle-timeout. JSON output can be put back with `kinesis put OTHER-STREAM`.",
    )
    cmd.add_argument("stream", help="stream name or ARN")
    cmd.add_argument(
        "--from",
        dest="start",
        default="LATEST",
        metavar="WHERE",
        help="LATEST (default: new records only), TRIM_HORIZON (the oldest kept), an ISO 8601 time "
        "(UTC unless it has an offset), epoch seconds, or a duration ago such as 15m, 2h, 1d",
    )
    cmd.add_argument("--format", choices=("pretty", "json"), default="pretty", help="pretty (default) or JSON lines")
    cmd.add_argument("--idle-timeout", type=float, metavar="SECONDS", help="stop after this long without a record")
    cmd.add_argument("-n", "--limit", type=int, metavar="N", help="stop after N records")
    cmd.set_defaults(run=run_tail)


def parse_start(text: str, now: Optional[datetime] = None) -> Union[str, datetime, float]:
    """``--from``: an iterator type, or the time to start at."""
    if text.upper() in ("LATEST", "TRIM_HORIZON"):
        return text.upper()
    ago = _AGO.fullmatch(text.strip())
    if ago:
        now = now or datetime.now(timezone.utc)
        return now - timedelta(seconds=float(ago.group(1)) * _UNIT_SECONDS[ago.group(2)])
    try:
        return float(text)
    except ValueError:
        pass
    iso = text.strip()
    if iso[-1:] in ("Z", "z"):
        iso = iso[:-1] + "+00:00"  # Python 3.9's fromisoformat does not know "Z"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise UsageError(
            "--from: expected LATEST, TRIM_HORIZON, an ISO 8601 time, epoch seconds or a duration like 15m;"
            f" got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _iso(moment: Optional[datetime]) -> Optional[str]:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pretty_data(data: bytes) -> str:
    """Text as text (control characters escaped), anything else as a size and a hex prefix."""
    try:
        return data.decode("utf-8").translate(_ESCAPES)
    except UnicodeDecodeError:
        shown = data[:_BINARY_SHOWN].hex()
        return f"<{len(data)} bytes> {shown}{'...' if len(data) > _BINARY_SHOWN else ''}"


def pretty_line(record: Any) -> str:
    arrival = _iso(record.approximate_arrival_timestamp) or "-"
    return f"{arrival}  {record.shard_id}  {record.partition_key}  {pretty_data(record.data)}"


def json_line(stream: str, record: Any) -> str:
    """One JSON object per record, in the envelope shape ``put`` reads back."""
    out: dict[str, Any] = {
        "stream": stream,
        "shard_id": record.shard_id,
        "sequence_number": record.sequence_number,
        "sub_sequence_number": record.sub_sequence_number,
        "approximate_arrival_timestamp": _iso(record.approximate_arrival_timestamp),
        "partition_key": record.partition_key,
    }
    if record.explicit_hash_key is not None:
        out["explicit_hash_key"] = record.explicit_hash_key
    try:
        out["data"] = record.data.decode("utf-8")
    except UnicodeDecodeError:
        out["data_base64"] = base64.b64encode(record.data).decode("ascii")
    return json.dumps(out, ensure_ascii=False)


def run_tail(conn: KinesisConnection, args: argparse.Namespace) -> int:
    import kinesis

    if args.limit is not None and args.limit < 1:
        raise UsageError("tail: --limit must be at least 1")
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        raise UsageError("tail: --idle-timeout must be positive")
    start = parse_start(args.start)
    shown = 0
    with kinesis.StreamReader(conn, args.stream, start=start, idle_timeout=args.idle_timeout) as reader:
        for record in reader:
            line = json_line(args.stream, record) if args.format == "json" else pretty_line(record)
            print(line, flush=True)  # flushed per record so `kinesis tail ... | grep` shows records as they come
            shown += 1
            if args.limit is not None and shown >= args.limit:
                break
    return 0
