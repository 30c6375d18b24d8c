"""The bad input matrix: wrong calls across the public API, beyond tests/test_validation.py.

Every wrong call must raise an ordinary Python exception whose message names the argument or the
problem, before anything is sent; never a pyo3 PanicException, a SystemError, a hang or a crash. For
parameters pyo3 converts itself (``bool``/``float`` keywords), the argument's name is in the
exception's note (``while processing 'b64_decode'``), which Python prints with the message.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

import kinesis
import kinesis.aio
import pytest
from kinesis import aggregation

SHARD = "shardId-000000000000"
ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
SURROGATE = "\ud800"  # a lone surrogate: a Python str that UTF-8 cannot encode
MiB = 1024 * 1024


def message_of(err: BaseException) -> str:
    return " ".join([str(err), *getattr(err, "__notes__", [])])


def table(cases: list) -> dict:
    """``parametrize`` keywords for rows ``(id, *values)``."""
    return {"argvalues": [row[1:] for row in cases], "ids": [row[0] for row in cases]}


def assert_clean_error(call: Callable[[], Any], expected: Any, text: str) -> BaseException:
    try:
        call()
    except BaseException as err:  # a PanicException is a BaseException: catch it to report it
        assert type(err).__name__ != "PanicException", f"Rust panic: {err!r}"
        assert not isinstance(err, (SystemError, KeyboardInterrupt, SystemExit)), repr(err)
        assert isinstance(err, expected), f"expected {expected}, got {err!r}"
        assert text in message_of(err), f"the message should name {text!r}: {message_of(err)!r}"
        return err
    pytest.fail(f"no exception; expected {expected} naming {text!r}")


# --- connect_to_region (both faces) --------------------------------------------------------------

# (id, keyword arguments, exception, text the message must contain)
CONNECT_CASES = [
    ("num_retries-negative", {"num_retries": -1}, ValueError, "num_retries"),
    ("num_retries-101", {"num_retries": 101}, ValueError, "num_retries"),
    ("num_retries-str", {"num_retries": "3"}, TypeError, "num_retries"),
    ("num_retries-float", {"num_retries": 2.5}, TypeError, "num_retries"),
    ("num_retries-bool", {"num_retries": True}, TypeError, "num_retries"),
    ("read_timeout-0", {"read_timeout": 0}, ValueError, "read_timeout"),
    ("read_timeout-negative", {"read_timeout": -1.0}, ValueError, "read_timeout"),
    ("read_timeout-nan", {"read_timeout": float("nan")}, ValueError, "read_timeout"),
    ("read_timeout-inf", {"read_timeout": float("inf")}, ValueError, "read_timeout"),
    ("read_timeout-str", {"read_timeout": "5"}, TypeError, "read_timeout"),
    ("connect_timeout-negative", {"connect_timeout": -0.5}, ValueError, "connect_timeout"),
    ("retry_base_delay-negative", {"retry_base_delay": -1}, ValueError, "retry_base_delay"),
    ("retry_max_delay-huge", {"retry_max_delay": 1e9}, ValueError, "retry_max_delay"),
    ("max_record_size-0", {"max_record_size": 0}, ValueError, "max_record_size"),
    ("max_record_size-negative", {"max_record_size": -5}, ValueError, "max_record_size"),
    ("max_record_size-over-10MiB", {"max_record_size": 10 * MiB + 1}, ValueError, "max_record_size"),
    ("endpoint_url-ftp", {"endpoint_url": "ftp://127.0.0.1"}, ValueError, "endpoint_url"),
    ("endpoint_url-int", {"endpoint_url": 4567}, TypeError, "endpoint_url"),
    ("endpoint_url-empty", {"endpoint_url": ""}, ValueError, "endpoint_url"),
    ("port-70000", {"endpoint_url": None, "host": "localhost", "port": 70000}, ValueError, "port"),
    ("port-negative", {"endpoint_url": None, "host": "localhost", "port": -1}, ValueError, "port"),
    ("port-str", {"endpoint_url": None, "host": "localhost", "port": "80"}, TypeError, "port"),
    ("host-space", {"endpoint_url": None, "host": "a b"}, ValueError, "host"),
    ("validate_certs-int", {"validate_certs": 5}, TypeError, "validate_certs"),
    ("validate_certs-missing-file", {"validate_certs": "/nonexistent/ca.pem"}, ValueError, "validate_certs"),
    ("provider-other", {"provider": "google"}, ValueError, "provider"),
    ("is_secure-str", {"is_secure": "yes"}, TypeError, "is_secure"),
    ("access-key-without-secret", {"aws_access_key_id": "AKIDX"}, ValueError, "aws_secret_access_key"),
    ("access-key-int", {"aws_access_key_id": 5, "aws_secret_access_key": "s"}, TypeError, "aws_access_key_id"),
    ("secret-surrogate", {"aws_access_key_id": "A", "aws_secret_access_key": SURROGATE}, ValueError, "aws_secret"),
    ("proxy-unparsable", {"proxy": "::::"}, ValueError, "proxy"),
    ("proxy_port-70000", {"proxy": "127.0.0.1", "proxy_port": 70000}, ValueError, "proxy_port"),
    ("https_connection_factory", {"https_connection_factory": object()}, ValueError, "https_connection_factory"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("face", ["sync", "aio"])
@pytest.mark.parametrize(("kw", "exc", "text"), **table(CONNECT_CASES))
def test_bad_connect_arguments(scripted, face, kw, exc, text):
    connect = kinesis.connect_to_region if face == "sync" else kinesis.aio.connect_to_region
    options = {"endpoint_url": scripted.endpoint_url, **kw}
    assert_clean_error(lambda: connect("us-east-1", **options), exc, text)
    assert scripted.requests == []


# --- connection methods (both faces) -----------------------------------------------------------

CONNECTION_CASES = [
    # create_stream
    ("shard_count-0", lambda c: c.create_stream("s", 0), ValueError, "shard_count"),
    ("shard_count-negative", lambda c: c.create_stream("s", -1), ValueError, "shard_count"),
    ("shard_count-bool", lambda c: c.create_stream("s", True), TypeError, "shard_count"),
    ("shard_count-float", lambda c: c.create_stream("s", 1.5), TypeError, "shard_count"),
    ("shard_count-2**70", lambda c: c.create_stream("s", 2**70), ValueError, "shard_count"),
    ("shard_count-missing", lambda c: c.create_stream("s"), ValueError, "shard_count"),
    ("stream_mode-bogus", lambda c: c.create_stream("s", stream_mode="FAST"), ValueError, "stream_mode"),
    (
        "max_record_size_in_kib-10",
        lambda c: c.create_stream("s", 1, max_record_size_in_kib=10),
        ValueError,
        "max_record_size_in_kib",
    ),
    ("tags-51", lambda c: c.create_stream("s", 1, tags={str(i): "v" for i in range(51)}), ValueError, "tags"),
    # tags
    ("tags-empty", lambda c: c.add_tags_to_stream("s", {}), ValueError, "tags"),
    ("tags-value-int", lambda c: c.add_tags_to_stream("s", {"k": 1}), TypeError, "tags"),
    ("tags-key-int", lambda c: c.add_tags_to_stream("s", {1: "v"}), TypeError, "tags"),
    ("tags-key-129", lambda c: c.add_tags_to_stream("s", {"k" * 129: "v"}), ValueError, "tags"),
    ("tags-value-surrogate", lambda c: c.add_tags_to_stream("s", {"k": SURROGATE}), ValueError, "tags"),
    ("tag_keys-single-str", lambda c: c.remove_tags_from_stream("s", "k"), TypeError, "tag_keys"),
    ("tag_keys-empty", lambda c: c.remove_tags_from_stream("s", []), ValueError, "tag_keys"),
    ("list_tags-limit-51", lambda c: c.list_tags_for_stream("s", limit=51), ValueError, "limit"),
    # describe / list
    ("describe-limit-0", lambda c: c.describe_stream("s", limit=0), ValueError, "limit"),
    (
        "describe-exclusive_start_shard_id",
        lambda c: c.describe_stream("s", exclusive_start_shard_id="a b"),
        ValueError,
        "exclusive_start_shard_id",
    ),
    ("list_streams-limit-negative", lambda c: c.list_streams(limit=-3), ValueError, "limit"),
    ("list_streams-next_token-int", lambda c: c.list_streams(next_token=5), TypeError, "next_token"),
    ("list_shards-name-and-token", lambda c: c.list_shards("s", next_token="t"), ValueError, "next_token"),
    ("list_shards-neither", lambda c: c.list_shards(), ValueError, "stream_name"),
    ("list_shards-max_results-0", lambda c: c.list_shards("s", max_results=0), ValueError, "max_results"),
    ("shard_filter-bogus", lambda c: c.list_shards("s", shard_filter={"Type": "X"}), ValueError, "shard_filter"),
    ("shard_filter-list", lambda c: c.list_shards("s", shard_filter=["AT_LATEST"]), TypeError, "shard_filter"),
    ("shard_filter-no-type", lambda c: c.list_shards("s", shard_filter={}), ValueError, "shard_filter"),
    ("shard_filter-type-int", lambda c: c.list_shards("s", shard_filter={"Type": 5}), TypeError, "shard_filter"),
    (
        "shard_filter-shard_id-int",
        lambda c: c.list_shards("s", shard_filter={"Type": "AFTER_SHARD_ID", "ShardId": 5}),
        TypeError,
        "shard_filter['ShardId']",
    ),
    ("list_shards-paginate-str", lambda c: c.list_shards("s", paginate="yes"), TypeError, "paginate"),
    # shards, retention, monitoring, encryption, mode
    ("retention-0", lambda c: c.increase_stream_retention_period("s", 0), ValueError, "retention_period_hours"),
    ("retention-9000", lambda c: c.increase_stream_retention_period("s", 9000), ValueError, "retention_period"),
    ("retention-str", lambda c: c.decrease_stream_retention_period("s", "24"), TypeError, "retention_period"),
    ("target_shard_count-0", lambda c: c.update_shard_count("s", 0), ValueError, "target_shard_count"),
    ("scaling_type-bogus", lambda c: c.update_shard_count("s", 2, "FAST"), ValueError, "scaling_type"),
    ("scaling_type-int", lambda c: c.update_shard_count("s", 2, 5), TypeError, "scaling_type"),
    ("shard_to_merge-space", lambda c: c.merge_shards("s", "a b", SHARD), ValueError, "shard_to_merge"),
    ("new_starting_hash_key-negative", lambda c: c.split_shard("s", SHARD, "-5"), ValueError, "new_starting_hash"),
    ("new_starting_hash_key-int", lambda c: c.split_shard("s", SHARD, 5), TypeError, "new_starting_hash_key"),
    ("metrics-bogus", lambda c: c.enable_enhanced_monitoring("s", ["Bogus"]), ValueError, "shard_level_metrics"),
    ("metrics-single-str", lambda c: c.enable_enhanced_monitoring("s", "ALL"), TypeError, "shard_level_metrics"),
    ("metrics-empty", lambda c: c.disable_enhanced_monitoring("s", []), ValueError, "shard_level_metrics"),
    ("encryption_type-AES", lambda c: c.start_stream_encryption("s", "AES", "k"), ValueError, "encryption_type"),
    ("key_id-empty", lambda c: c.stop_stream_encryption("s", "KMS", ""), ValueError, "key_id"),
    ("update_stream_mode-not-arn", lambda c: c.update_stream_mode("s", "ON_DEMAND"), ValueError, "stream_arn"),
    ("update_stream_mode-mode", lambda c: c.update_stream_mode(ARN, "FAST"), ValueError, "stream_mode"),
    # consumers
    ("consumer-no-arguments", lambda c: c.describe_stream_consumer(), ValueError, "consumer_arn"),
    ("consumer_arn-bogus", lambda c: c.describe_stream_consumer(consumer_arn="nope"), ValueError, "consumer_arn"),
    ("consumer_name-space", lambda c: c.register_stream_consumer(ARN, "a b"), ValueError, "consumer_name"),
    (
        "consumer-stream_arn-of-s3",
        lambda c: c.register_stream_consumer("arn:aws:s3:::bucket", "c"),
        ValueError,
        "stream_arn",
    ),
    ("list_consumers-max_results-0", lambda c: c.list_stream_consumers(ARN, max_results=0), ValueError, "max_results"),
    # stream names and ARNs, text that is not text
    ("stream-arn-of-s3", lambda c: c.describe_stream("arn:aws:s3:us-east-1:0:stream/s"), ValueError, "stream_name"),
    ("stream-arn-truncated", lambda c: c.describe_stream("arn:aws:kinesis"), ValueError, "stream_name"),
    ("stream_name-bytes", lambda c: c.describe_stream(b"s"), TypeError, "stream_name"),
    ("stream_name-surrogate", lambda c: c.describe_stream("s" + SURROGATE), ValueError, "stream_name"),
    ("partition_key-surrogate", lambda c: c.put_record("s", "x", "k" + SURROGATE), ValueError, "partition_key"),
    ("data-surrogate", lambda c: c.put_record("s", "x\udcff", "k"), ValueError, "data"),
    ("data-not-base64", lambda c: c.put_record("s", "not base64!", "k", b64_encode=False), ValueError, "data"),
    (
        "records-data-not-base64",
        lambda c: c.put_records([{"Data": "@@@", "PartitionKey": "k"}], "s", b64_encode=False),
        ValueError,
        "records[0]['Data']",
    ),
    (
        "records-unknown-field",
        lambda c: c.put_records([{"Data": "x", "PartitionKey": "k", "Foo": 1}], "s"),
        ValueError,
        "Foo",
    ),
    (
        "records-non-str-field",
        lambda c: c.put_records([{"Data": "x", "PartitionKey": "k", 7: 1}], "s"),
        ValueError,
        "unknown field 7",
    ),
    (
        "records-over-10MiB-in-total",
        lambda c: c.put_records([{"Data": b"x" * (MiB - 1), "PartitionKey": "k"}] * 11, "s"),
        ValueError,
        "split the batch",
    ),
    (
        "records-partition-key-surrogate",
        lambda c: c.put_records([{"Data": "x", "PartitionKey": SURROGATE}], "s"),
        ValueError,
        "records[0]['PartitionKey']",
    ),
    (
        "records-hash-key-surrogate",
        lambda c: c.put_records([{"Data": "x", "PartitionKey": "k", "ExplicitHashKey": SURROGATE}], "s"),
        ValueError,
        "records[0]['ExplicitHashKey']",
    ),
    # sequence numbers, iterators, timestamps
    (
        "sequence_number_for_ordering-letters",
        lambda c: c.put_record("s", "x", "k", sequence_number_for_ordering="abc"),
        ValueError,
        "sequence_number_for_ordering",
    ),
    (
        "sequence_number_for_ordering-int",
        lambda c: c.put_record("s", "x", "k", sequence_number_for_ordering=5),
        TypeError,
        "sequence_number_for_ordering",
    ),
    (
        "starting_sequence_number-letters",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_SEQUENCE_NUMBER", "12a"),
        ValueError,
        "starting_sequence_number",
    ),
    (
        "starting_sequence_number-130-digits",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_SEQUENCE_NUMBER", "1" * 130),
        ValueError,
        "starting_sequence_number",
    ),
    (
        "starting_sequence_number-with-LATEST",
        lambda c: c.get_shard_iterator("s", SHARD, "LATEST", "123"),
        ValueError,
        "starting_sequence_number",
    ),
    ("timestamp-with-LATEST", lambda c: c.get_shard_iterator("s", SHARD, "LATEST", timestamp=5), ValueError, "time"),
    (
        "timestamp-negative",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP", timestamp=-1),
        ValueError,
        "timestamp",
    ),
    (
        "timestamp-nan",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP", timestamp=float("nan")),
        ValueError,
        "timestamp",
    ),
    (
        "timestamp-year-10000",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP", timestamp=1e12),
        ValueError,
        "timestamp",
    ),
    (
        "timestamp-bool",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP", timestamp=True),
        TypeError,
        "timestamp",
    ),
    (
        "timestamp-date",
        lambda c: c.get_shard_iterator("s", SHARD, "AT_TIMESTAMP", timestamp=datetime.date(2020, 1, 1)),
        TypeError,
        "timestamp",
    ),
    ("shard_iterator-513", lambda c: c.get_records("i" * 513), ValueError, "shard_iterator"),
    ("limit-2**70", lambda c: c.get_records("it", limit=2**70), ValueError, "limit"),
    ("limit-negative", lambda c: c.get_records("it", limit=-1), ValueError, "limit"),
    ("limit-float", lambda c: c.get_records("it", limit=5.0), TypeError, "limit"),
    ("b64_decode-str", lambda c: c.get_records("it", b64_decode="no"), TypeError, "b64_decode"),
    # the call itself
    ("unknown-keyword", lambda c: c.get_records("it", max_records=5), TypeError, "max_records"),
    ("missing-argument", lambda c: c.put_record("s", "x"), TypeError, "partition_key"),
    ("too-many-arguments", lambda c: c.put_record("s", "x", "k", None, None, None, True, 1), TypeError, "positional"),
    # make_request
    ("make_request-unknown-action", lambda c: c.make_request("Frobnicate", "{}"), ValueError, "Frobnicate"),
    ("make_request-unknown-field", lambda c: c.make_request("ListStreams", {"Bogus": 1}), ValueError, "Bogus"),
    ("make_request-array-body", lambda c: c.make_request("ListStreams", "[1, 2]"), ValueError, "body"),
    ("make_request-action-int", lambda c: c.make_request(5, "{}"), TypeError, "action"),
    ("make_request-body-int", lambda c: c.make_request("ListStreams", 5), TypeError, "body"),
    ("make_request-body-not-utf8", lambda c: c.make_request("ListStreams", b"\xff\xfe"), ValueError, "body"),
    (
        "make_request-data-not-base64",
        lambda c: c.make_request("PutRecord", {"StreamName": "s", "Data": "!!", "PartitionKey": "k"}),
        ValueError,
        "data",
    ),
    # attributes
    ("auth_region_name-bogus", lambda c: setattr(c, "auth_region_name", "Mars"), ValueError, "region_name"),
    ("auth_service_name-s3", lambda c: setattr(c, "auth_service_name", "s3"), ValueError, "auth_service_name"),
    ("host-read-only", lambda c: setattr(c, "host", "elsewhere"), AttributeError, "host"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("call", "exc", "text"), **table(CONNECTION_CASES))
def test_bad_calls_sync(scripted, scripted_conn, call, exc, text):
    assert_clean_error(lambda: call(scripted_conn), exc, text)
    assert scripted.requests == [], "nothing may be sent for a bad argument"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("call", "exc", "text"), **table(CONNECTION_CASES))
async def test_bad_calls_async(scripted, scripted_aconn, call, exc, text):
    # the asyncio face checks arguments when called, before it hands back an awaitable
    assert_clean_error(lambda: call(scripted_aconn), exc, text)
    assert scripted.requests == [], "nothing may be sent for a bad argument"


# --- closed connections -------------------------------------------------------------------------

CLOSED_CASES = [
    ("describe_stream", lambda c: c.describe_stream("s")),
    ("put_record", lambda c: c.put_record("s", "x", "k")),
    ("put_records", lambda c: c.put_records([{"Data": "x", "PartitionKey": "k"}], "s")),
    ("get_records", lambda c: c.get_records("it")),
    ("list_streams", lambda c: c.list_streams()),
    ("make_request", lambda c: c.make_request("ListStreams", "{}")),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call", [c[1] for c in CLOSED_CASES], ids=[c[0] for c in CLOSED_CASES])
def test_closed_connection_sync(scripted, call):
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
    conn.close()
    assert conn.closed
    assert_clean_error(lambda: call(conn), ValueError, "closed")
    conn.close()  # closing again is not an error
    assert scripted.requests == []


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call", [c[1] for c in CLOSED_CASES], ids=[c[0] for c in CLOSED_CASES])
async def test_closed_connection_async(scripted, call):
    async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url) as conn:
        pass
    assert_clean_error(lambda: call(conn), ValueError, "closed")
    assert scripted.requests == []


# --- aggregation --------------------------------------------------------------------------------

AGGREGATION_CASES = [
    ("aggregate-partition-key-surrogate", lambda: aggregation.aggregate([(SURROGATE, b"x")]), ValueError, "records[0]"),
    ("aggregate-data-surrogate", lambda: aggregation.aggregate([("k", SURROGATE)]), ValueError, "records[0] data"),
    (
        "aggregate-hash-key-surrogate",
        lambda: aggregation.aggregate([("k", b"x", SURROGATE)]),
        ValueError,
        "explicit hash key",
    ),
    ("aggregate-generator", lambda: aggregation.aggregate(x for x in [1]), TypeError, "records[0]"),
    ("aggregate-dict-without-key", lambda: aggregation.aggregate([{"Data": 1}]), ValueError, "PartitionKey"),
    ("deaggregate_records-dict", lambda: aggregation.deaggregate_records({"Data": b"x"}), TypeError, "records"),
    ("deaggregate_records-str", lambda: aggregation.deaggregate_records("abc"), TypeError, "records"),
    ("deaggregate_records-item-int", lambda: aggregation.deaggregate_records([1]), TypeError, "records[0]"),
    ("deaggregate_records-not-iterable", lambda: aggregation.deaggregate_records(5), TypeError, "records"),
    ("partition_key_hash-surrogate", lambda: aggregation.partition_key_hash(SURROGATE), ValueError, "key"),
    ("partition_key_hash-int", lambda: aggregation.partition_key_hash(5), TypeError, "key must be str"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("call", "exc", "text"), **table(AGGREGATION_CASES))
def test_bad_aggregation_calls(call, exc, text):
    assert_clean_error(call, exc, text)


def test_the_matrix_is_at_least_fifty_wrong_calls():
    assert len(CONNECT_CASES) + len(CONNECTION_CASES) + len(CLOSED_CASES) + len(AGGREGATION_CASES) >= 50


def test_a_connection_works_after_every_bad_call(scripted, scripted_conn):
    for _, call, _, _ in CONNECTION_CASES:
        try:
            call(scripted_conn)
        except (TypeError, ValueError, AttributeError):
            pass
    assert scripted_conn.put_record("s", "x", "k")["SequenceNumber"]
    assert scripted.actions() == ["PutRecord"]
