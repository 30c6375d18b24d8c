"""Error mapping, retries, timeouts and broken answers, against the scripted server."""

from __future__ import annotations

import builtins
import socket
import time

import kinesis
import kinesis.aio
import pytest
from kinesis import exceptions as kx
from scripted_server import Reply, describe_stream_body, get_records_body, put_record_body

FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05}


def connect(server, **kw):
    options = {**FAST, "read_timeout": 5, "connect_timeout": 2, **kw}
    return kinesis.connect_to_region("us-east-1", endpoint_url=server.endpoint_url, **options)


def aconnect(server, **kw):
    options = {**FAST, "read_timeout": 5, "connect_timeout": 2, **kw}
    return kinesis.aio.connect_to_region("us-east-1", endpoint_url=server.endpoint_url, **options)


THROTTLED = Reply.error("ProvisionedThroughputExceededException", "Rate exceeded for shard", request_id="req-throttle")


# --- retries ------------------------------------------------------------------------------------


def test_throttling_then_success_is_retried(scripted):
    scripted.queue("PutRecord", THROTTLED, Reply.json(put_record_body(sequence_number="42")))
    with connect(scripted) as conn:
        assert conn.put_record("s", "data", "pk")["SequenceNumber"] == "42"
    assert scripted.actions() == ["PutRecord", "PutRecord"]
    # the retried request is the same request
    assert scripted.requests[0].body == scripted.requests[1].body
    assert scripted.requests[0].body == {"StreamName": "s", "Data": "ZGF0YQ==", "PartitionKey": "pk"}


async def test_throttling_then_success_is_retried_async(scripted):
    scripted.queue("PutRecord", THROTTLED, THROTTLED, Reply.json(put_record_body(sequence_number="43")))
    async with aconnect(scripted) as conn:
        assert (await conn.put_record("s", "data", "pk"))["SequenceNumber"] == "43"
    assert scripted.actions() == ["PutRecord"] * 3


def test_throttling_forever_raises_mapped_error_after_retries(scripted):
    scripted.always("PutRecord", THROTTLED)
    with connect(scripted, num_retries=2) as conn:
        with pytest.raises(kx.ProvisionedThroughputExceededException) as info:
            conn.put_record("s", "data", "pk")
    assert scripted.request_count() == 3
    e = info.value
    assert isinstance(e, kx.BotoServerError)
    assert isinstance(e, kx.KinesisError)
    assert e.status == 400
    assert e.reason == "Bad Request"
    assert e.error_code == "ProvisionedThroughputExceededException"
    assert e.message == "Rate exceeded for shard"
    assert e.request_id == "req-throttle"
    assert e.body == {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for shard"}
    assert str(e) == f"ProvisionedThroughputExceededException: 400 Bad Request\n{e.body}"


async def test_throttling_forever_async(scripted):
    scripted.always("GetRecords", THROTTLED)
    async with aconnect(scripted, num_retries=2) as conn:
        with pytest.raises(kx.ProvisionedThroughputExceededException) as info:
            await conn.get_records("iterator")
    assert scripted.request_count() == 3
    assert info.value.request_id == "req-throttle"


def test_limit_exceeded_is_retried(scripted):
    scripted.queue("ListStreams", Reply.error("LimitExceededException", "slow down"))
    scripted.queue("ListStreams", Reply.json({"StreamNames": ["a"], "HasMoreStreams": False}))
    with connect(scripted) as conn:
        assert conn.list_streams() == {"StreamNames": ["a"], "HasMoreStreams": False}
    assert scripted.request_count() == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(scripted, status):
    scripted.queue("DescribeStream", Reply.error("InternalFailure", "oops", status=status))
    scripted.queue("DescribeStream", Reply.json(describe_stream_body("s")))
    with connect(scripted) as conn:
        assert conn.describe_stream("s")["StreamDescription"]["StreamName"] == "s"
    assert scripted.request_count() == 2


def test_server_error_with_non_json_body_then_success(scripted):
    scripted.queue(
        "DescribeStream", Reply.raw(b"<html>Internal Server Error</html>", status=500, content_type="text/html")
    )
    scripted.queue("DescribeStream", Reply.json(describe_stream_body("s")))
    with connect(scripted) as conn:
        assert conn.describe_stream("s")["StreamDescription"]["StreamStatus"] == "ACTIVE"
    assert scripted.request_count() == 2


def test_server_error_with_non_json_body_is_boto_server_error(scripted):
    # boto 2 raised BotoServerError for any 5xx; kinesis.exceptions documents body as the raw text when not JSON
    page = b"<!doctype html><title>500 Internal Server Error</title>"
    scripted.always("DescribeStream", Reply.raw(page, status=500, content_type="text/html"))
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.BotoServerError) as info:
            conn.describe_stream("s")
    assert info.value.status == 500
    assert info.value.reason == "Internal Server Error"
    assert info.value.body == page.decode()
    assert info.value.error_code  # always filled (e.g. "HTTP500")
    assert scripted.request_count() == 1


def test_num_retries_zero_does_not_retry(scripted):
    scripted.always("PutRecord", Reply.error("InternalFailure", "boom", status=500, request_id="req-500"))
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.BotoServerError) as info:
            conn.put_record("s", "data", "pk")
    assert scripted.request_count() == 1
    assert info.value.status == 500
    assert info.value.reason == "Internal Server Error"
    assert info.value.error_code == "InternalFailure"
    assert info.value.request_id == "req-500"


def test_num_retries_zero_does_not_retry_throttling(scripted):
    scripted.always("PutRecord", THROTTLED)
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ProvisionedThroughputExceededException):
            conn.put_record("s", "data", "pk")
    assert scripted.request_count() == 1


def test_server_errors_exhaust_retries(scripted):
    scripted.always("ListStreams", Reply.error("ServiceUnavailable", "down", status=503))
    with connect(scripted, num_retries=3) as conn:
        with pytest.raises(kx.BotoServerError) as info:
            conn.list_streams()
    assert scripted.request_count() == 4
    assert info.value.status == 503


def test_default_retries_are_bounded(scripted):
    scripted.always("ListStreams", Reply.error("InternalFailure", "down", status=500))
    with connect(scripted) as conn:  # num_retries defaults to 5
        with pytest.raises(kx.BotoServerError):
            conn.list_streams()
    assert scripted.request_count() == 6


def test_retry_delays_are_capped(scripted):
    scripted.always("ListStreams", THROTTLED)
    start = time.monotonic()
    with connect(scripted, num_retries=4, retry_base_delay=0.05, retry_max_delay=0.1) as conn:
        with pytest.raises(kx.ProvisionedThroughputExceededException):
            conn.list_streams()
    elapsed = time.monotonic() - start
    assert scripted.request_count() == 5
    assert elapsed < 2.0, f"4 retries capped at 0.1 s took {elapsed:.2f} s"


@pytest.mark.parametrize(
    "error_type",
    ["ResourceNotFoundException", "InvalidArgumentException", "ResourceInUseException", "ExpiredIteratorException"],
)
def test_client_errors_are_not_retried(scripted, error_type):
    scripted.always("GetRecords", Reply.error(error_type, "no"))
    with connect(scripted) as conn:
        with pytest.raises(getattr(kx, error_type)) as info:
            conn.get_records("iterator")
    assert scripted.request_count() == 1
    assert info.value.error_code == error_type
    assert info.value.message == "no"


# --- error mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error_type",
    [
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ExpiredIteratorException",
        "ResourceInUseException",
        "ResourceNotFoundException",
        "InvalidArgumentException",
        "SubscriptionRequiredException",
        "AccessDeniedException",
        "ExpiredNextTokenException",
        "ValidationException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSOptInRequired",
        "KMSThrottlingException",
    ],
)
def test_each_known_error_type_maps_to_its_class(scripted, error_type):
    scripted.always("DescribeStream", Reply.error(error_type, "message text", request_id="rid-1"))
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.BotoServerError) as info:
            conn.describe_stream("s")
    e = info.value
    assert type(e) is getattr(kx, error_type)
    assert e.error_code == error_type
    assert e.message == "message text"
    assert e.request_id == "rid-1"
    assert e.status == 400


def test_unknown_error_type_is_json_response_error(scripted):
    scripted.always("DescribeStream", Reply.error("SomethingBrandNewException", "what", request_id="rid-2"))
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.JSONResponseError) as info:
            conn.describe_stream("s")
    e = info.value
    assert type(e) is kx.JSONResponseError
    assert e.error_code == "SomethingBrandNewException"
    assert e.message == "what"
    assert e.status == 400
    assert e.request_id == "rid-2"
    assert str(e) == f"JSONResponseError: 400 Bad Request\n{e.body}"


def test_namespaced_error_type_maps(scripted):
    scripted.always(
        "DescribeStream",
        Reply.error("com.amazonaws.kinesis.v20131202#ResourceNotFoundException", "Stream s not found"),
    )
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ResourceNotFoundException) as info:
            conn.describe_stream("s")
    assert info.value.error_code == "ResourceNotFoundException"
    assert info.value.message == "Stream s not found"


def test_capitalised_message_key(scripted):
    scripted.always("DescribeStream", Reply.json({"__type": "ResourceNotFoundException", "Message": "Capital"}, 400))
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ResourceNotFoundException) as info:
            conn.describe_stream("s")
    assert info.value.message == "Capital"


def test_error_type_from_header_when_body_has_none(scripted):
    scripted.always(
        "DescribeStream",
        Reply.json({"message": "Stream s not found"}, 400, headers={"x-amzn-ErrorType": "ResourceNotFoundException:"}),
    )
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ResourceNotFoundException) as info:
            conn.describe_stream("s")
    assert info.value.error_code == "ResourceNotFoundException"


async def test_error_mapping_async(scripted):
    scripted.always("DescribeStream", Reply.error("ResourceNotFoundException", "gone", request_id="rid-3"))
    async with aconnect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ResourceNotFoundException) as info:
            await conn.describe_stream("s")
    assert info.value.request_id == "rid-3"
    assert info.value.status == 400


def test_put_records_partial_failure_is_returned_not_raised(scripted):
    body = {
        "FailedRecordCount": 1,
        "Records": [
            {"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
        ],
    }
    scripted.queue("PutRecords", Reply.json(body))
    with connect(scripted) as conn:
        result = conn.put_records([{"Data": "a", "PartitionKey": "a"}, {"Data": "b", "PartitionKey": "b"}], "s")
    assert result == body
    assert scripted.request_count() == 1


# --- odd but valid answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "args", "action"),
    [
        ("create_stream", ("s", 1), "CreateStream"),
        ("delete_stream", ("s",), "DeleteStream"),
        ("add_tags_to_stream", ("s", {"k": "v"}), "AddTagsToStream"),
        ("remove_tags_from_stream", ("s", ["k"]), "RemoveTagsFromStream"),
        ("split_shard", ("s", "shardId-000000000000", "1000"), "SplitShard"),
        ("merge_shards", ("s", "shardId-000000000000", "shardId-000000000001"), "MergeShards"),
    ],
)
def test_empty_200_body_returns_none(scripted, method, args, action):
    scripted.always(action, Reply.empty())
    with connect(scripted) as conn:
        assert getattr(conn, method)(*args) is None
    assert scripted.actions() == [action]


def test_requests_are_signed_kinesis_json(scripted):
    scripted.queue("ListStreams", Reply.json({"StreamNames": [], "HasMoreStreams": False}))
    with connect(scripted) as conn:
        conn.list_streams(limit=5, exclusive_start_stream_name="a")
    [req] = scripted.requests
    assert req.method == "POST"
    assert req.path == "/"
    assert req.headers["x-amz-target"] == "Kinesis_20131202.ListStreams"
    assert req.headers["content-type"].startswith("application/x-amz-json-1.1")
    assert req.body == {"Limit": 5, "ExclusiveStartStreamName": "a"}
    assert req.access_key_id == "000000000000"
    assert "/us-east-1/kinesis/aws4_request" in req.headers["authorization"]


def test_optional_parameters_are_sent_only_when_given(scripted):
    scripted.always("DescribeStream", Reply.json(describe_stream_body("s")))
    with connect(scripted) as conn:
        conn.describe_stream("s")
        conn.describe_stream("s", limit=1, exclusive_start_shard_id="shardId-000000000000")
    assert scripted.requests[0].body == {"StreamName": "s"}
    assert scripted.requests[1].body == {
        "StreamName": "s",
        "Limit": 1,
        "ExclusiveStartShardId": "shardId-000000000000",
    }


def test_stream_arn_is_sent_as_stream_arn(scripted):
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
    scripted.always("PutRecord", Reply.json(put_record_body()))
    with connect(scripted) as conn:
        conn.put_record(arn, "d", "pk")
    assert scripted.requests[0].body.get("StreamARN") == arn
    assert "StreamName" not in scripted.requests[0].body


def test_consumer_arguments_are_sent(scripted):
    stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
    consumer_arn = stream_arn + "/consumer/c:1"
    with connect(scripted) as conn:
        conn.deregister_stream_consumer(stream_arn=stream_arn, consumer_name="c")
        conn.deregister_stream_consumer(consumer_arn=consumer_arn)
    assert [r.body for r in scripted.requests] == [
        {"StreamARN": stream_arn, "ConsumerName": "c"},
        {"ConsumerARN": consumer_arn},
    ]


def test_get_records_decoding_from_wire(scripted):
    scripted.always("GetRecords", Reply.json(get_records_body(b"text", b"\xff\x00")))
    with connect(scripted) as conn:
        page = conn.get_records("it")
    assert [r["Data"] for r in page["Records"]] == ["text", b"\xff\x00"]
    assert page["Records"][0]["ApproximateArrivalTimestamp"] == 1700000000.5
    assert page["NextShardIterator"] == "next-iterator"
    assert page["MillisBehindLatest"] == 0


def test_get_records_closed_shard_has_none_iterator(scripted):
    body = {"Records": [], "MillisBehindLatest": 0, "ChildShards": []}
    scripted.always("GetRecords", Reply.json(body))
    with connect(scripted) as conn:
        page = conn.get_records("it")
    assert page["Records"] == []
    assert page.get("NextShardIterator") is None


# --- broken answers and no answers --------------------------------------------------------------


def test_non_json_200_is_response_error(scripted):
    scripted.always("DescribeStream", Reply.raw(b"this is not json"))
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ResponseError) as info:
            conn.describe_stream("s")
    assert isinstance(info.value, kx.KinesisError)
    assert scripted.request_count() == 1


def test_truncated_200_is_an_error_not_a_hang(scripted):
    scripted.always("DescribeStream", Reply.truncated())
    start = time.monotonic()
    with connect(scripted, num_retries=0) as conn:
        # the answer started but was cut short: an answer that could not be understood
        with pytest.raises(kx.ResponseError):
            conn.describe_stream("s")
    assert time.monotonic() - start < 3


def test_dropped_connection_then_success_is_retried(scripted):
    scripted.queue("DescribeStream", Reply.close(), Reply.json(describe_stream_body("s")))
    with connect(scripted) as conn:
        assert conn.describe_stream("s")["StreamDescription"]["StreamName"] == "s"
    assert scripted.request_count() == 2


def test_dropped_connection_without_retries_is_connection_error(scripted):
    scripted.always("DescribeStream", Reply.close())
    with connect(scripted, num_retries=0) as conn:
        with pytest.raises(kx.ConnectionError) as info:
            conn.describe_stream("s")
    assert isinstance(info.value, builtins.ConnectionError)
    assert scripted.request_count() == 1


def test_read_timeout_raises_timeout_error_promptly(scripted):
    scripted.always("DescribeStream", Reply.hang(10))
    start = time.monotonic()
    with connect(scripted, read_timeout=0.3, num_retries=0) as conn:
        with pytest.raises(kx.TimeoutError) as info:
            conn.describe_stream("s")
    elapsed = time.monotonic() - start
    assert elapsed < 2.5, f"read_timeout=0.3 took {elapsed:.2f} s"
    assert isinstance(info.value, kx.ConnectionError)
    assert isinstance(info.value, builtins.TimeoutError)
    assert scripted.request_count() == 1


def test_read_timeout_is_retried(scripted):
    scripted.queue("DescribeStream", Reply.hang(10), Reply.json(describe_stream_body("s")))
    with connect(scripted, read_timeout=0.3, num_retries=1) as conn:
        assert conn.describe_stream("s")["StreamDescription"]["StreamName"] == "s"
    assert scripted.request_count() == 2


async def test_read_timeout_async(scripted):
    scripted.always("DescribeStream", Reply.hang(10))
    start = time.monotonic()
    async with aconnect(scripted, read_timeout=0.3, num_retries=0) as conn:
        with pytest.raises(kx.TimeoutError):
            await conn.describe_stream("s")
    assert time.monotonic() - start < 2.5


def _refused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_refused_connection_is_connection_error():
    port = _refused_port()
    start = time.monotonic()
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=f"http://127.0.0.1:{port}", num_retries=0)
    with pytest.raises(kx.ConnectionError) as info:
        conn.list_streams()
    assert not isinstance(info.value, kx.TimeoutError)
    assert isinstance(info.value, builtins.ConnectionError)
    assert time.monotonic() - start < 3
    conn.close()


def test_refused_connection_is_retried_then_raised():
    port = _refused_port()
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=f"http://127.0.0.1:{port}", num_retries=2, **FAST)
    start = time.monotonic()
    with pytest.raises(kx.ConnectionError):
        conn.list_streams()
    assert time.monotonic() - start < 5
    conn.close()


async def test_refused_connection_async():
    port = _refused_port()
    async with kinesis.aio.connect_to_region(
        "us-east-1", endpoint_url=f"http://127.0.0.1:{port}", num_retries=0
    ) as conn:
        with pytest.raises(kx.ConnectionError):
            await conn.list_streams()


def test_exception_hierarchy():
    assert issubclass(kx.JSONResponseError, kx.BotoServerError)
    assert issubclass(kx.ValidationException, kx.JSONResponseError)
    assert issubclass(kx.TimeoutError, kx.ConnectionError)
    assert issubclass(kx.ConnectionError, builtins.ConnectionError)
    assert issubclass(kx.TimeoutError, builtins.TimeoutError)
    for name in ("ResponseError", "NoCredentialsError", "BotoServerError", "ConnectionError"):
        assert issubclass(getattr(kx, name), kx.KinesisError)
