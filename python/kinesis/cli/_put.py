"""``put``: write records from arguments, a file or stdin, in PutRecords batches, retrying failed entries."""

from __future__ import annotations

import argparse
import os
import random
import stat
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Optional, Union

from kinesis.cli._errors import UsageError
from kinesis.cli._input import (
    BadInput,
    Entry,
    InputRecord,
    KeyChooser,
    Rejected,
    records_from_arguments,
    records_from_lines,
)
from kinesis.cli._progress import Progress, is_terminal
from kinesis.exceptions import KinesisError
from kinesis.layer1 import KinesisConnection

MAX_BATCH_RECORDS = 500  # PutRecords entries per request
MAX_BATCH_BYTES = 5 * 1024 * 1024  # per request, data + partition keys: the limit every account has
RETRY_BASE_DELAY = 0.1
RETRY_MAX_DELAY = 5.0


def add_parser(commands: Any, parent: argparse.ArgumentParser) -> None:
    cmd = commands.add_parser(
        "put",
        parents=[parent],
        help="put records: the DATA arguments, or each line of --file or stdin",
        description="Put records in batches of up to 500 (PutRecords), retrying entries the service throttles. "
        "Each line of the input is one record: plain text, or a JSON object "
        '{"data": ..., "partition_key": ..., "explicit_hash_key": ...} ("data_base64" for binary data). '
        "Without a partition key, each record gets a random one.",
    )
    cmd.add_argument("stream", help="stream name or ARN")
    cmd.add_argument("data", nargs="*", metavar="DATA", help="records to put, one per argument")
    cmd.add_argument("-f", "--file", metavar="PATH", help="read records from this file, one per line ('-': stdin)")
    keys = cmd.add_mutually_exclusive_group()
    keys.add_argument("-k", "--partition-key", metavar="KEY", help="the partition key of every record")
    keys.add_argument(
        "--key-field", metavar="FIELD", help="take each record's partition key from this field of its JSON (a.b.c)"
    )
    cmd.add_argument("--raw", action="store_true", help="each line is data as it is, even a JSON envelope")
    cmd.add_argument(
        "--max-attempts", type=int, default=8, metavar="N", help="tries per record before counting it failed (8)"
    )
    cmd.set_defaults(run=run_put)


@dataclass
class Tally:
    put: int = 0
    failed: int = 0  # still failing after every attempt
    rejected: int = 0  # input that was not a valid record
    error_codes: Counter[str] = field(default_factory=Counter)


def _retry_delay(attempt: int) -> float:
    """Capped exponential backoff with full jitter: throttled shards need the load spread out."""
    return random.uniform(0, min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2**attempt))


def send_batch(conn: KinesisConnection, stream: str, batch: list[Entry], max_attempts: int, tally: Tally) -> None:
    """Put the batch, retrying the entries the service reports as failed (the response keeps request order)."""
    pending = batch
    for attempt in range(max_attempts):
        result = conn.put_records([entry.request_entry() for entry in pending], stream)
        answers = result["Records"]
        failed = [entry for entry, answer in zip(pending, answers) if answer.get("ErrorCode")]
        tally.put += len(pending) - len(failed)
        if not failed:
            return
        if attempt + 1 == max_attempts:
            tally.failed += len(failed)
            tally.error_codes.update(answer["ErrorCode"] for answer in answers if answer.get("ErrorCode"))
            return
        pending = failed
        time.sleep(_retry_delay(attempt))


def batches(entries: Iterable[Entry]) -> Iterator[list[Entry]]:
    """Consecutive entries grouped within PutRecords' count and size limits."""
    batch: list[Entry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + entry.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


class _Input:
    """The records to put and how far through them we are, for the progress bar."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack) -> None:
        self.records: Iterable[Union[InputRecord, Rejected]]
        self.total: Optional[int] = None
        self._file: Optional[BinaryIO] = None
        lines: BinaryIO
        if args.data and args.file:
            raise UsageError("put: give DATA arguments or --file, not both")
        if args.data:
            self.records = records_from_arguments(args.data)
            self.total = len(args.data)
            return
        if args.file and args.file != "-":
            try:
                lines = stack.enter_context(open(args.file, "rb"))
            except OSError as err:
                raise UsageError(f"put: cannot read {args.file}: {err.strerror}") from None
        else:
            stdin = sys.stdin
            if args.file is None and is_terminal(stdin):
                raise UsageError("put: nothing to put: give DATA arguments, --file PATH, or pipe lines to stdin")
            lines = stdin.buffer
        self._file = lines
        self.records = records_from_lines(lines, args.raw)
        self.total = _file_size(lines)

    def position(self, records_seen: int) -> int:
        if self._file is None:
            return records_seen
        try:
            return self._file.tell()
        except (OSError, ValueError):
            return 0


def _file_size(stream: BinaryIO) -> Optional[int]:
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) and status.st_size else None


def run_put(conn: KinesisConnection, args: argparse.Namespace) -> int:
    if args.max_attempts < 1:
        raise UsageError("put: --max-attempts must be at least 1")
    keys = KeyChooser(args.partition_key, args.key_field)
    tally = Tally()
    started = time.monotonic()
    with ExitStack() as stack:
        source = _Input(args, stack)
        progress = Progress(sys.stderr, source.total)
        seen = 0

        def entries() -> Iterator[Entry]:
            nonlocal seen
            for record in source.records:
                seen += 1
                try:
                    if isinstance(record, Rejected):
                        raise BadInput(record.reason)
                    yield keys.entry(record, conn.max_record_size)
                except BadInput as err:
                    tally.rejected += 1
                    progress.message(f"kinesis: skipped {record.label}: {err}")

        try:
            for batch in batches(entries()):
                send_batch(conn, args.stream, batch, args.max_attempts, tally)
                progress.update(source.position(seen), tally.put, tally.failed)
        except KinesisError:
            progress.close()
            if tally.put:
                print(f"kinesis: {tally.put} records were put before this error:", file=sys.stderr)
            raise
        progress.update(source.position(seen), tally.put, tally.failed, force=True)
        progress.close()
    print(_summary(args.stream, tally, time.monotonic() - started, args.max_attempts))
    return 1 if tally.failed or tally.rejected else 0


def _summary(stream: str, tally: Tally, elapsed: float, max_attempts: int) -> str:
    rate = f" ({tally.put / elapsed:,.0f} records/s)" if tally.put and elapsed > 0 else ""
    text = f"put {tally.put} record{'' if tally.put == 1 else 's'} to {stream} in {elapsed:.2f} s{rate}"
    if tally.failed:
        codes = ", ".join(f"{code} x{count}" for code, count in tally.error_codes.most_common())
        text += f"; {tally.failed} failed after {max_attempts} attempts ({codes})"
    if tally.rejected:
        text += f"; {tally.rejected} input record{'' if tally.rejected == 1 else 's'} skipped"
    return text
