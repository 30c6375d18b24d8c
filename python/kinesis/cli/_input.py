"""What ``put`` reads: values from the command line, or lines of text or JSON from a file or stdin.

A line is one record. A JSON object line with a ``data`` (text or any JSON value) or ``data_base64``
key is an envelope: ``partition_key`` and ``explicit_hash_key`` set those, and the keys that
``tail --format json`` prints are ignored, so tail's output can be put back. Any other line is the
record's data, byte for byte (without the line ending). Blank lines are skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional, Union

ENVELOPE_KEYS = frozenset({"data", "data_base64", "partition_key", "explicit_hash_key"})
TAIL_OUTPUT_KEYS = frozenset(
    {"stream", "shard_id", "sequence_number", "sub_sequence_number", "approximate_arrival_timestamp"}
)
_HASH_KEY = re.compile(r"0|[1-9][0-9]{0,38}")
_MAX_HASH_KEY = 2**128 - 1
_MAX_PARTITION_KEY_CHARS = 256


class BadInput(Exception):
    """One input record that cannot be put; ``put`` reports it and goes on with the rest."""


@dataclass(frozen=True)
class Entry:
    """One record ready for PutRecords."""

    data: bytes
    partition_key: str
    explicit_hash_key: Optional[str] = None

    @property
    def size(self) -> int:
        """What counts against the record and request size limits: data plus partition key."""
        return len(self.data) + len(self.partition_key.encode("utf-8"))

    def request_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"Data": self.data, "PartitionKey": self.partition_key}
        if self.explicit_hash_key is not None:
            entry["ExplicitHashKey"] = self.explicit_hash_key
        return entry


@dataclass(frozen=True)
class InputRecord:
    """A record as read, before its partition key is chosen. ``document`` is the JSON value of the
    data when it is JSON (for ``--key-field``)."""

    label: str  # "line 12" or "argument 3", for messages
    data: bytes
    document: Any = None
    partition_key: Optional[str] = None
    explicit_hash_key: Optional[str] = None


def _json_object(text: bytes) -> Optional[dict[str, Any]]:
    if not text.lstrip().startswith(b"{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _envelope_data(envelope: dict[str, Any]) -> tuple[bytes, Any]:
    if "data_base64" in envelope:
        if "data" in envelope:
            raise BadInput("give either data or data_base64, not both")
        try:
            return base64.b64decode(str(envelope["data_base64"]), validate=True), None
        except (binascii.Error, ValueError):
            raise BadInput("data_base64 is not valid base64") from None
    value = envelope["data"]
    if value is None:
        raise BadInput("data is null")
    if isinstance(value, str):
        return value.encode("utf-8"), _json_object(value.encode("utf-8"))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), value


def _optional_text(envelope: dict[str, Any], key: str) -> Optional[str]:
    value = envelope.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadInput(f"{key} must be a string")
    return str(value)


def parse_line(label: str, line: bytes, raw: bool = False) -> InputRecord:
    """One input line as a record: an envelope object (unless ``raw``), else the line's bytes as data."""
    document = _json_object(line)
    is_envelope = (
        not raw
        and document is not None
        and ("data" in document or "data_base64" in document)
        and document.keys() <= ENVELOPE_KEYS | TAIL_OUTPUT_KEYS
    )
    if not is_envelope or document is None:
        return InputRecord(label, line, document)
    data, data_document = _envelope_data(document)
    return InputRecord(
        label,
        data,
        data_document,
        _optional_text(document, "partition_key"),
        _optional_text(document, "explicit_hash_key"),
    )


def parse_argument(label: str, value: str) -> InputRecord:
    """A command-line value as a record's data (the bytes the shell passed)."""
    data = os.fsencode(value)
    return InputRecord(label, data, _json_object(data))


def numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The stream's non-blank lines without their line endings, with 1-based line numbers."""
    for number, line in enumerate(stream, 1):
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if line.strip():
            yield number, line


def _field(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class KeyChooser:
    """Picks each record's partition key: the envelope's, else ``--key-field``'s, else ``--partition-key``,
    else a random one (records spread over all shards)."""

    fixed: Optional[str] = None
    field: Optional[str] = None

    def entry(self, record: InputRecord, max_record_size: int) -> Entry:
        key = record.partition_key
        if key is None and self.field is not None:
            if not isinstance(record.document, dict):
                raise BadInput(f"--key-field {self.field}: not a JSON object")
            value = _field(record.document, self.field)
            if value is None or isinstance(value, (dict, list)):
                raise BadInput(f"--key-field {self.field}: no such field with a string or number value")
            key = value if isinstance(value, str) else json.dumps(value)
        if key is None:
            key = self.fixed if self.fixed is not None else uuid.uuid4().hex
        entry = Entry(record.data, key, record.explicit_hash_key)
        check_entry(entry, max_record_size)
        return entry


def check_entry(entry: Entry, max_record_size: int) -> None:
    """The service's per-record rules, checked here so one bad record does not fail a whole batch."""
    if not 1 <= len(entry.partition_key) <= _MAX_PARTITION_KEY_CHARS:
        raise BadInput(f"the partition key must be 1 to {_MAX_PARTITION_KEY_CHARS} characters")
    hash_key = entry.explicit_hash_key
    if hash_key is not None and (not _HASH_KEY.fullmatch(hash_key) or int(hash_key) > _MAX_HASH_KEY):
        raise BadInput(f"explicit_hash_key must be a decimal integer from 0 to 2**128-1, got {hash_key!r}")
    if entry.size > max_record_size:
        raise BadInput(f"{entry.size} bytes (data + partition key) is over the {max_record_size}-byte record limit")


@dataclass(frozen=True)
class Rejected:
    """An input line that is not a valid record, with why."""

    label: str
    reason: str


def records_from_arguments(values: Sequence[str]) -> Iterator[InputRecord]:
    for number, value in enumerate(values, 1):
        yield parse_argument(f"argument {number}", value)


def records_from_lines(stream: BinaryIO, raw: bool) -> Iterator[Union[InputRecord, Rejected]]:
    """Each line's record, or a ``Rejected`` in its place (reported by ``put``, which goes on)."""
    for number, line in numbered_lines(stream):
        try:
            yield parse_line(f"line {number}", line, raw)
        except BadInput as err:
            yield Rejected(f"line {number}", str(err))
