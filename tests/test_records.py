"""Data-plane methods (put_record, put_records, get_shard_iterator, get_records) against the selected emulator."""

from __future__ import annotations

import base64
import copy
import datetime
import importlib.metadata
import time

import kinesis
import pytest
from kinesis.exceptions import BotoServerError

SHARD_0 = "shardId-000000000000"
SHARD_1 = "shardId-000000000001"
LAST_HASH_KEY = str(2**128 - 1)
MOTO_VERSION = tuple(int(part) for part in importlib.metadata.version("moto").split(".")[:2])
HIGH_HASH_KEY = str(2**128 - 2)  # moto 5.2 cannot place 2**128-1 (see test_largest_explicit_hash_key)


def read_shard(conn, stream: str, shard_id: str, iterator_type: str = "TRIM_HORIZON", **kw) -> list:
    """All records currently in the shard from the given position (follows NextShardIterator until empty)."""
    iterator = conn.get_shard_iterator(stream, shard_id, iterator_type, **kw)["ShardIterator"]
    records: list = []
    for _ in range(20):
        page = conn.get_records(iterator)
        records.extend(page["Records"])
        iterator = page["NextShardIterator"]
        if not page["Records"] or iterator is None:
            break
    return records


def read_stream(conn, stream: str, **kw) -> list:
    records = []
    for shard in conn.describe_stream(stream)["StreamDescription"]["Shards"]:
        records.extend(read_shard(conn, stream, shard["ShardId"], **kw))
    return records


def test_put_record_and_get_records_round_trip(conn, stream):
    before = time.time()
    put = conn.put_record(stream, "hello", "pk-1", explicit_hash_key="0")
    assert put["ShardId"] == SHARD_0
    assert isinstance(put["SequenceNumber"], str) and put["SequenceNumber"].isdigit()

    iterator = conn.get_shard_iterator(stream, SHARD_0, "TRIM_HORIZON")
    assert set(iterator) == {"ShardIterator"}
    assert isinstance(iterator["ShardIterator"], str)
    page = conn.get_records(iterator["ShardIterator"])
    assert isinstance(page["NextShardIterator"], str)
    assert isinstance(page["MillisBehindLatest"], int)
    [record] = page["Records"]
    assert record["Data"] == "hello"
    assert record["PartitionKey"] == "pk-1"
    assert record["SequenceNumber"] == put["SequenceNumber"]
    ts = record["ApproximateArrivalTimestamp"]
    assert isinstance(ts, float)
    assert before - 5 <= ts <= time.time() + 5


def test_data_types_round_trip(conn, stream):
    payloads = ["plain text", "ünïcödé ✓", b"bytes payload", b"\xff\xfe\x00binary", b""]
    payloads = [p for p in payloads if p != b""]  # an empty record is refused by Kinesis
    for p in payloads:
        conn.put_record(stream, p, "pk", explicit_hash_key="0")
    records = read_shard(conn, stream, SHARD_0)
    # UTF-8 payloads come back as str (boto 2), others as bytes, and the batch is never lost
    assert [r["Data"] for r in records] == ["plain text", "ünïcödé ✓", "bytes payload", b"\xff\xfe\x00binary"]

    iterator = conn.get_shard_iterator(stream, SHARD_0, "TRIM_HORIZON")["ShardIterator"]
    as_bytes = conn.get_records(iterator, as_bytes=True)["Records"]
    assert [r["Data"] for r in as_bytes] == [
        b"plain text",
        "ünïcödé ✓".encode(),
        b"bytes payload",
        b"\xff\xfe\x00binary",
    ]

    iterator = conn.get_shard_iterator(stream, SHARD_0, "TRIM_HORIZON")["ShardIterator"]
    raw = conn.get_records(iterator, b64_decode=False)["Records"]
    assert [base64.b64decode(r["Data"]) for r in raw] == [r["Data"] for r in as_bytes]
    assert all(isinstance(r["Data"], str) for r in raw)


def test_put_record_b64_encode_false(conn, stream):
    conn.put_record(stream, base64.b64encode(b"pre-encoded").decode(), "pk", b64_encode=False, explicit_hash_key="0")
    assert [r["Data"] for r in read_shard(conn, stream, SHARD_0)] == ["pre-encoded"]


def test_explicit_hash_key_selects_shard(conn, stream):
    assert conn.put_record(stream, "low", "pk", explicit_hash_key="0")["ShardId"] == SHARD_0
    assert conn.put_record(stream, "mid", "pk", explicit_hash_key=str(2**127 + 1))["ShardId"] == SHARD_1
    assert conn.put_record(stream, "high", "pk", explicit_hash_key=HIGH_HASH_KEY)["ShardId"] == SHARD_1


def test_largest_explicit_hash_key(kinesis_server, stream):
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=kinesis_server.endpoint_url, num_retries=0)
    if kinesis_server.name == "moto" and MOTO_VERSION >= (5, 2):
        # moto 5.2 treats the last shard's EndingHashKey as exclusive and fails with an HTML 500 page for 2**128-1:
        # the module must surface that as a server error with its status. (Python 3.9 gets moto 5.1, which places it.)
        with pytest.raises(BotoServerError) as info:
            conn.put_record(stream, "top", "pk", explicit_hash_key=LAST_HASH_KEY)
        assert info.value.status == 500
    else:
        assert conn.put_record(stream, "top", "pk", explicit_hash_key=LAST_HASH_KEY)["ShardId"] == SHARD_1
    conn.close()


def test_partition_key_hash_selects_shard(conn, stream):
    # MD5("a") = 0x0cc175b9...: low half -> shard 0; MD5("b") = 0x92eb5ffe...: high half -> shard 1
    assert conn.put_record(stream, "x", "a")["ShardId"] == SHARD_0
    assert conn.put_record(stream, "x", "b")["ShardId"] == SHARD_1


def test_sequence_number_for_ordering(conn, stream):
    first = conn.put_record(stream, "1", "same", explicit_hash_key="0")
    second = conn.put_record(
        stream,
        "2",
        "same",
        explicit_hash_key="0",
        sequence_number_for_ordering=first["SequenceNumber"],
        exclusive_minimum_sequence_number=first["SequenceNumber"],
    )
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    assert [r["Data"] for r in read_shard(conn, stream, SHARD_0)] == ["1", "2"]


def test_put_records(conn, stream):
    records = [
        {"Data": "text", "PartitionKey": "a"},
        {"Data": b"\xff\x01bytes", "PartitionKey": "b"},
        {"Data": "to-high", "PartitionKey": "c", "ExplicitHashKey": HIGH_HASH_KEY},
        {"Data": "to-low", "PartitionKey": "d", "ExplicitHashKey": "0"},
    ]
    original = copy.deepcopy(records)
    result = conn.put_records(records, stream)
    assert records == original  # the caller's dicts are not modified (boto 2 overwrote Data)
    assert result["FailedRecordCount"] == 0
    assert len(result["Records"]) == 4
    for entry in result["Records"]:
        assert entry["SequenceNumber"].isdigit()
        assert entry["ShardId"] in (SHARD_0, SHARD_1)
    assert result["Records"][2]["ShardId"] == SHARD_1
    assert result["Records"][3]["ShardId"] == SHARD_0

    by_key = {r["PartitionKey"]: r["Data"] for r in read_stream(conn, stream)}
    assert by_key == {"a": "text", "b": b"\xff\x01bytes", "c": "to-high", "d": "to-low"}


def test_put_records_b64_encode_false(conn, stream):
    records = [{"Data": base64.b64encode(b"one").decode(), "PartitionKey": "k", "ExplicitHashKey": "0"}]
    assert conn.put_records(records, stream, b64_encode=False)["FailedRecordCount"] == 0
    assert [r["Data"] for r in read_shard(conn, stream, SHARD_0)] == ["one"]


def test_put_records_500_and_read_back_with_limit(conn, stream):
    records = [{"Data": f"r{i}", "PartitionKey": "pk", "ExplicitHashKey": "0"} for i in range(500)]
    result = conn.put_records(records, stream)
    assert result["FailedRecordCount"] == 0
    sequence_numbers = [int(r["SequenceNumber"]) for r in result["Records"]]
    assert sequence_numbers == sorted(sequence_numbers)  # compared as big integers

    iterator = conn.get_shard_iterator(stream, SHARD_0, "TRIM_HORIZON")["ShardIterator"]
    page = conn.get_records(iterator, limit=7)
    assert [r["Data"] for r in page["Records"]] == [f"r{i}" for i in range(7)]
    rest = conn.get_records(page["NextShardIterator"], limit=10000)
    assert [r["Data"] for r in rest["Records"]] == [f"r{i}" for i in range(7, 500)]


def test_large_record(conn, stream):
    payload = bytes(range(256)) * 1024  # 256 KiB, not UTF-8
    conn.put_record(stream, payload, "pk", explicit_hash_key="0")
    [record] = read_shard(conn, stream, SHARD_0)
    assert record["Data"] == payload


def test_iterator_types(conn, stream):
    first = conn.put_record(stream, "first", "pk", explicit_hash_key="0")
    second = conn.put_record(stream, "second", "pk", explicit_hash_key="0")
    latest = conn.get_shard_iterator(stream, SHARD_0, "LATEST")["ShardIterator"]
    conn.put_record(stream, "third", "pk", explicit_hash_key="0")

    assert [r["Data"] for r in conn.get_records(latest)["Records"]] == ["third"]
    at = read_shard(conn, stream, SHARD_0, "AT_SEQUENCE_NUMBER", starting_sequence_number=second["SequenceNumber"])
    assert [r["Data"] for r in at] == ["second", "third"]
    after = read_shard(conn, stream, SHARD_0, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=first["SequenceNumber"])
    assert [r["Data"] for r in after] == ["second", "third"]


@pytest.mark.parametrize("as_datetime", [True, False], ids=["datetime", "epoch-float"])
def test_at_timestamp(conn, stream, as_datetime):
    conn.put_record(stream, "before", "pk", explicit_hash_key="0")
    time.sleep(0.3)
    cut = time.time()
    time.sleep(0.3)
    conn.put_record(stream, "after", "pk", explicit_hash_key="0")
    timestamp = datetime.datetime.fromtimestamp(cut, tz=datetime.timezone.utc) if as_datetime else cut
    records = read_shard(conn, stream, SHARD_0, "AT_TIMESTAMP", timestamp=timestamp)
    assert [r["Data"] for r in records] == ["after"]


def test_get_records_on_empty_shard(conn, stream):
    iterator = conn.get_shard_iterator(stream, SHARD_1, "TRIM_HORIZON")["ShardIterator"]
    page = conn.get_records(iterator, limit=10)
    assert page["Records"] == []
    assert isinstance(page["NextShardIterator"], str)


def test_unicode_partition_key(conn, stream):
    key = "clé-ü-✓" * 10
    conn.put_record(stream, "x", key)
    assert [r["PartitionKey"] for r in read_stream(conn, stream)] == [key]


def test_partition_key_of_256_characters_is_accepted(conn, stream):
    key = "k" * 256
    assert conn.put_record(stream, "x", key)["SequenceNumber"]


# A GetRecords page as a server may spell it: escapes in every string, fields we do not know, nulls.
SPELLED_RECORDS = (
    b'[{"SequenceNumber":"4\\u0039","ApproximateArrivalTimestamp":1764143000.123,"Data":"\\/\\/79",'
    b'"PartitionKey":"p\\u00e9\\n","EncryptionType":"KMS","Extra":null},'
    b'{"Unknown":{"a":[1,{"b":null}]},"SequenceNumber":"50","Data":"aGk=","PartitionKey":"k"}]'
)
EXPECTED_RECORDS = [
    {
        "SequenceNumber": "49",
        "ApproximateArrivalTimestamp": 1764143000.123,
        "Data": b"\xff\xfe\xfd",
        "PartitionKey": "pé\n",
        "EncryptionType": "KMS",
    },
    {"SequenceNumber": "50", "Data": "hi", "PartitionKey": "k"},
]


def test_get_records_reads_any_json_spelling_of_a_page(scripted, scripted_conn):
    """Plain pages are read by our own parser and a closed shard's last page by the SDK's: both
    give the same records, whatever the JSON spelling."""
    from scripted_server import Reply

    plain = b'{"ChildShards":null,"MillisBehindLatest":5,"NextShardIterator":"it\\/2","Records":' + SPELLED_RECORDS
    last = (
        b'{"MillisBehindLatest":0,"ChildShards":[{"ShardId":"shardId-1","ParentShards":["shardId-0"],'
        b'"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"9"}}],"Records":' + SPELLED_RECORDS + b"}"
    )
    scripted.queue("GetRecords", Reply.raw(plain + b"}"), Reply.raw(last))

    assert scripted_conn.get_records("it") == {
        "Records": EXPECTED_RECORDS,
        "NextShardIterator": "it/2",
        "MillisBehindLatest": 5,
    }
    assert scripted_conn.get_records("it/2") == {
        "Records": EXPECTED_RECORDS,
        "NextShardIterator": None,
        "MillisBehindLatest": 0,
        "ChildShards": [
            {
                "ShardId": "shardId-1",
                "ParentShards": ["shardId-0"],
                "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "9"},
            }
        ],
    }


def test_get_records_page_with_no_children_reads_the_same_through_either_parser(scripted, scripted_conn):
    """`"ChildShards": []` on an open shard's page: our parser keeps it as the SDK's does (a duplicate
    key makes ours leave the second, otherwise equal, page to the SDK's)."""
    from scripted_server import Reply

    page = b'{"ChildShards":[],"MillisBehindLatest":0,"NextShardIterator":"n","Records":' + SPELLED_RECORDS
    scripted.queue("GetRecords", Reply.raw(page + b"}"), Reply.raw(page + b',"MillisBehindLatest":0}'))
    ours, sdks = scripted_conn.get_records("it"), scripted_conn.get_records("it")
    assert ours == sdks
    assert ours["ChildShards"] == [] and ours["Records"] == EXPECTED_RECORDS


@pytest.mark.parametrize("sequence_number", [b"", b'"SequenceNumber":"",'], ids=["missing", "empty"])
def test_get_records_refuses_a_record_without_a_sequence_number(scripted, scripted_conn, sequence_number):
    """Such a record cannot be checkpointed or resumed from: the page is a broken answer."""
    from kinesis.exceptions import ResponseError
    from scripted_server import Reply

    page = b'{"NextShardIterator":"n","Records":[{' + sequence_number + b'"Data":"aGk=","PartitionKey":"k"}]}'
    scripted.queue("GetRecords", Reply.raw(page))
    with pytest.raises(ResponseError, match="without a SequenceNumber"):
        scripted_conn.get_records("it")
