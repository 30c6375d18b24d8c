"""Bad arguments raise TypeError/ValueError naming the argument, before any request is sent."""

from __future__ import annotations

import kinesis
import pytest

SHARD = "shardId-000000000000"
OK_RECORD = {"Data": "x", "PartitionKey": "k"}

# (id, call, exception, text the message must contain)
CASES = [
    # stream names
    ("stream_name-int", lambda c: c.describe_stream(123), TypeError, "stream_name"),
    ("stream_name-none", lambda c: c.describe_stream(None), TypeError, "stream_name"),
    ("stream_name-empty", lambda c: c.create_stream("", 1), ValueError, "stream_name"),
    ("stream_name-too-long", lambda c: c.create_stream("s" * 129, 1), ValueError, "stream_name"),
    ("stream_name-space", lambda c: c.create_stream("has space", 1), ValueError, "stream_name"),
    ("stream_name-slash", lambda c: c.describe_stream_summary("a/b"), ValueError, "stream_name"),
    ("stream_name-put_record", lambda c: c.put_record(123, "x", "k"), TypeError, "stream_name"),
    ("stream_name-put_records", lambda c: c.put_records([OK_RECORD], 5), TypeError, "stream_name"),
    ("shard_count-str", lambda c: c.create_stream("ok", "two"), TypeError, "shard_count"),
    # put_record
    ("data-int", lambda c: c.put_record("s", 123, "k"), TypeError, "data"),
    ("data-none", lambda c: c.put_record("s", None, "k"), TypeError, "data"),
    ("data-dict", lambda c: c.put_record("s", {"a": 1}, "k"), TypeError, "data"),
    ("data-too-big", lambda c: c.put_record("s", b"x" * (1024 * 1024 + 1), "k"), ValueError, "data"),
    ("partition_key-empty", lambda c: c.put_record("s", "x", ""), ValueError, "partition_key"),
    ("partition_key-257", lambda c: c.put_record("s", "x", "k" * 257), ValueError, "partition_key"),
    ("partition_key-int", lambda c: c.put_record("s", "x", 5), TypeError, "partition_key"),
    (
        "explicit_hash_key-negative",
        lambda c: c.put_record("s", "x", "k", explicit_hash_key="-1"),
        ValueError,
        "explicit_hash_key",
    ),
    (
        "explicit_hash_key-abc",
        lambda c: c.put_record("s", "x", "k", explicit_hash_key="abc"),
        ValueError,
        "explicit_hash_key",
    ),
    (
        "explicit_hash_key-2**128",
        lambda c: c.put_record("s", "x", "k", explicit_hash_key=str(2**128)),
        ValueError,
        "explicit_hash_key",
    ),
    (
        "explicit_hash_key-int-2**128",
        lambda c: c.put_record("s", "x", "k", explicit_hash_key=2**128),
        (TypeError, ValueError),
        "explicit_hash_key",
    ),
    (
        "explicit_hash_key-empty",
        lambda c: c.put_record("s", "x", "k", explicit_hash_key=""),
        ValueError,
        "explicit_hash_key",
    ),
    # put_records
    ("records-str", lambda c: c.put_records("not a list", "s"), TypeError, "records"),
    ("records-dict", lambda c: c.put_records(OK_RECORD, "s"), TypeError, "records"),
    ("records-empty", lambda c: c.put_records([], "s"), ValueError, "records"),
    ("records-501", lambda c: c.put_records([OK_RECORD] * 501, "s"), ValueError, "records"),
    ("records-item-not-dict", lambda c: c.put_records(["x"], "s"), TypeError, "records"),
    ("records-missing-key", lambda c: c.put_records([{"Data": "x"}], "s"), (TypeError, ValueError), "PartitionKey"),
    ("records-missing-data", lambda c: c.put_records([{"PartitionKey": "k"}], "s"), (TypeError, ValueError), "Data"),
    ("records-data-int", lambda c: c.put_records([{"Data": 1, "PartitionKey": "k"}], "s"), TypeError, "Data"),
    (
        "records-key-empty",
        lambda c: c.put_records([{"Data": "x", "PartitionKey": ""}], "s"),
        ValueError,
        "PartitionKey",
    ),
    (
        "records-data-too-big",
        lambda c: c.put_records([{"Data": b"x" * (1024 * 1024 + 1), "PartitionKey": "k"}], "s"),
        ValueError,
        "records[0]",
    ),
    (
        "records-bad-hash-key",
        lambda c: c.put_records([{"Data": "x", "PartitionKey": "k", "ExplicitHashKey": "-1"}], "s"),
        ValueError,
        "ExplicitHashKey",
    ),
    # get_shard_iterator
    (
        "shard_iterator_type-bogus",
        lambda c: c.get_shard_iterator("s", SHARD, "BOGUS"),
        ValueError,
        "shard_iterator_type",
    ),
    ("shard_iterator_type-int", lambda c: c.get_shard_iterator("s", SHARD, 3), TypeError, "shard_iterator_type"),
    (
        "at_sequence_number-without-number",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_SEQUENCE_NUMBER"),
        ValueError,
        "starting_sequence_number",
    ),
    (
        "after_sequence_number-without-number",
        lambda c: c.get_shard_iterator("s", SHARD, "AFTER_SEQUENCE_NUMBER"),
        ValueError,
        "starting_sequence_number",
    ),
    (
        "at_timestamp-without-timestamp",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP"),
        ValueError,
        "timestamp",
    ),
    (
        "timestamp-str",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP", timestamp="yesterday"),
        TypeError,
        "timestamp",
    ),
    ("shard_id-int", lambda c: c.get_shard_iterator("s", 0, "LATEST"), TypeError, "shard_id"),
    # get_records
    ("limit-0", lambda c: c.get_records("it", limit=0), ValueError, "limit"),
    ("limit-10001", lambda c: c.get_records("it", limit=10001), ValueError, "limit"),
    ("limit-str", lambda c: c.get_records("it", limit="5"), TypeError, "limit"),
    ("shard_iterator-int", lambda c: c.get_records(123), TypeError, "shard_iterator"),
    ("shard_iterator-empty", lambda c: c.get_records(""), ValueError, "shard_iterator"),
    # tags
    ("tags-list", lambda c: c.add_tags_to_stream("s", ["a"]), TypeError, "tags"),
    ("tag_keys-str-items", lambda c: c.remove_tags_from_stream("s", [1]), TypeError, "tag_keys"),
    # make_request
    ("make_request-body-not-json", lambda c: c.make_request("ListStreams", "{not json"), ValueError, "body"),
]


@pytest.mark.parametrize(("call", "exc", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_arguments_sync(scripted, scripted_conn, call, exc, text):
    with pytest.raises(exc) as info:
        call(scripted_conn)
    assert text in str(info.value), f"message should name {text!r}: {info.value!r}"
    assert scripted.requests == [], "nothing may be sent for a bad argument"


@pytest.mark.parametrize(("call", "exc", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_arguments_async(scripted, scripted_aconn, call, exc, text):
    with pytest.raises(exc) as info:
        await call(scripted_aconn)
    assert text in str(info.value), f"message should name {text!r}: {info.value!r}"
    assert scripted.requests == [], "nothing may be sent for a bad argument"


def test_max_record_size_option(scripted):
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, max_record_size=100)
    with pytest.raises(ValueError, match="data"):
        conn.put_record("s", b"x" * 101, "k")
    with pytest.raises(ValueError):
        conn.put_records([{"Data": b"x" * 101, "PartitionKey": "k"}], "s")
    assert scripted.requests == []
    conn.put_record("s", b"x" * 50, "k")
    assert scripted.actions() == ["PutRecord"]
    conn.close()


def test_valid_call_after_bad_ones_still_works(scripted, scripted_conn):
    for bad in (lambda: scripted_conn.put_record("s", 1, "k"), lambda: scripted_conn.get_records("it", limit=0)):
        with pytest.raises((TypeError, ValueError)):
            bad()
    scripted_conn.put_record("s", "x", "k")
    assert scripted.actions() == ["PutRecord"]


@pytest.mark.parametrize("key", ["0", "1", str(2**127), str(2**128 - 1)])
def test_valid_explicit_hash_keys_are_sent(scripted, scripted_conn, key):
    scripted_conn.put_record("s", "x", "k", explicit_hash_key=key)
    assert scripted.requests[0].body["ExplicitHashKey"] == key


def test_boundary_sizes_are_accepted(scripted, scripted_conn):
    scripted_conn.put_record("s", "x", "k" * 256)
    scripted_conn.put_records([OK_RECORD] * 500, "s")
    scripted_conn.get_records("it", limit=10000)
    scripted_conn.get_records("it", limit=1)
    scripted_conn.create_stream("s" * 128, 1)
    scripted_conn.create_stream("a-Z_0.9", 1)
    assert scripted.actions() == ["PutRecord", "PutRecords", "GetRecords", "GetRecords", "CreateStream", "CreateStream"]
    assert len(scripted.requests[1].body["Records"]) == 500
