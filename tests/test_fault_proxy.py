"""The fault proxy in front of the emulator: what each fault does to the connection API's calls.

Each fault kind meets put_record, put_records, get_records and describe_stream once without retries (which
exception it becomes) and once with retries (whether the retry gets through). The scenarios after the
matrix check what reaches the stream: withheld entries, lost answers (duplicates), resubmission.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections import Counter
from typing import Any, Callable

import kinesis
import pytest
from conftest import REGION, emulator_stream
from fault_proxy import ENTRY_ERROR_CODES, Fault, FaultProxy
from kinesis import exceptions as kx

SHARD = "shardId-000000000000"


@pytest.fixture(scope="module")
def shared_stream(kinesis_server):
    """One 1-shard stream for the whole matrix (streams are slow to make on kinesis-mock)."""
    with emulator_stream(kinesis_server, 1, "faults") as name:
        yield name


def trim_horizon(conn, stream: str, shard: str = SHARD) -> str:
    return conn.get_shard_iterator(stream, shard, "TRIM_HORIZON")["ShardIterator"]


def read_all(conn, stream: str) -> list:
    """Every record's data in the stream, shard by shard, read straight from the emulator."""
    data = []
    for shard in conn.list_shards(stream)["Shards"]:
        iterator = trim_horizon(conn, stream, shard["ShardId"])
        while iterator:
            page = conn.get_records(iterator, limit=10000)
            data += [r["Data"] for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return data


# (action, call) — the call gets the connection, the stream and a direct (fault-free) connection.
Call = Callable[[Any, str, Any], Any]
OPERATIONS: dict[str, tuple[str, Call]] = {
    "put_record": ("PutRecord", lambda c, s, direct: c.put_record(s, "matrix", "pk")),
    "put_records": (
        "PutRecords",
        lambda c, s, direct: c.put_records([{"Data": f"m{i}", "PartitionKey": f"k{i}"} for i in range(10)], s),
    ),
    "get_records": ("GetRecords", lambda c, s, direct: c.get_records(trim_horizon(direct, s), limit=5)),
    "describe_stream": ("DescribeStream", lambda c, s, direct: c.describe_stream(s)),
}

# kind → (the fault, the exception a call without retries raises, whether a retry gets through)
FAULTS: dict[str, tuple[Fault, type, bool]] = {
    "throttle": (Fault.throttle(), kx.ProvisionedThroughputExceededException, True),
    "limit_exceeded": (Fault.limit_exceeded(), kx.LimitExceededException, True),
    "status-500": (Fault.status_code(500), kx.JSONResponseError, True),
    "status-503": (Fault.status_code(503), kx.JSONResponseError, True),
    "reset_before": (Fault.reset_before(), kx.ConnectionError, True),
    "reset_after": (Fault.reset_after(), kx.ConnectionError, True),
    "reset_mid": (Fault.reset_mid(), kx.ResponseError, True),
    "delay": (Fault.delay(1.5), kx.TimeoutError, True),
    "truncate": (Fault.truncate(), kx.ResponseError, False),
    "non_json": (Fault.non_json(), kx.ResponseError, False),
    "non_json-502": (Fault.non_json(502), kx.JSONResponseError, True),
    "expire_iterator": (Fault.expire_iterator(), kx.ExpiredIteratorException, False),
}


def check_result(operation: str, result: dict) -> None:
    if operation == "put_record":
        assert result["ShardId"] == SHARD and result["SequenceNumber"]
    elif operation == "put_records":
        assert result["FailedRecordCount"] == 0 and len(result["Records"]) == 10
    elif operation == "get_records":
        assert isinstance(result["Records"], list) and result["NextShardIterator"]
    else:
        assert result["StreamDescription"]["StreamStatus"] == "ACTIVE"


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_matrix(fault_proxy, kinesis_server, shared_stream, kind, operation):
    fault, expected, retried = FAULTS[kind]
    action, call = OPERATIONS[operation]
    direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
    timeouts = {"read_timeout": 0.4} if fault.kind == "delay" else {}

    fault_proxy.add(action, fault, count=1)
    once = fault_proxy.connect(num_retries=0, **timeouts)
    start = time.monotonic()
    with pytest.raises(expected) as info:
        call(once, shared_stream, direct)
    assert time.monotonic() - start < 5, "a fault must end the call, not hang it"
    assert isinstance(info.value, kx.KinesisError)
    if expected is kx.ConnectionError:
        assert not isinstance(info.value, kx.TimeoutError)
    if isinstance(info.value, kx.BotoServerError):
        assert info.value.status == fault.status
        assert info.value.error_code == (fault.error_type or f"HTTP{fault.status}")
    assert fault_proxy.faults(action) == [fault.kind]
    assert bool(fault_proxy.forwarded(action)) == fault.forwards

    fault_proxy.add(action, fault, count=1)
    again = fault_proxy.connect(num_retries=2, **timeouts)
    if retried:
        check_result(operation, call(again, shared_stream, direct))
        assert fault_proxy.faults(action) == [fault.kind, fault.kind, None]
    else:
        with pytest.raises(expected):
            call(again, shared_stream, direct)
        assert fault_proxy.faults(action) == [fault.kind, fault.kind], "this fault must not be retried"
    direct.close()


def test_no_rules_is_a_transparent_keep_alive_proxy(fault_proxy, stream):
    conn = fault_proxy.connect()
    assert conn.put_record(stream, "through the proxy", "pk")["SequenceNumber"]
    conn.put_records([{"Data": "batch", "PartitionKey": "pk"}], stream)
    assert conn.describe_stream(stream)["StreamDescription"]["StreamName"] == stream
    assert sorted(read_all(conn, stream)) == ["batch", "through the proxy"]
    assert fault_proxy.faults() == [None] * fault_proxy.request_count()
    assert [e.action for e in fault_proxy.exchanges[:3]] == ["PutRecord", "PutRecords", "DescribeStream"]
    assert fault_proxy.exchanges[0].body["StreamName"] == stream
    assert all(e.forwarded and e.status == 200 for e in fault_proxy.exchanges)
    assert fault_proxy.connections_accepted < fault_proxy.request_count(), "the client should reuse connections"


def test_throttling_is_retried_until_the_retries_run_out(fault_proxy, stream):
    fault_proxy.add("PutRecord", Fault.throttle())
    conn = fault_proxy.connect(num_retries=3)
    with pytest.raises(kx.ProvisionedThroughputExceededException) as info:
        conn.put_record(stream, "never", "pk")
    assert info.value.message.startswith("Rate exceeded for shard")
    assert fault_proxy.counts == Counter(throttle=4)
    assert fault_proxy.forwarded() == []


def test_fail_entries_withholds_the_failed_entries_like_the_service(fault_proxy, stream):
    fault_proxy.add("PutRecords", Fault.fail_entries(0.3))
    conn = fault_proxy.connect()
    records = [{"Data": f"r{i}", "PartitionKey": f"k{i}"} for i in range(100)]
    result = conn.put_records(records, stream)
    [exchange] = fault_proxy.exchanges
    failing = exchange.failed_entries
    assert 10 < len(failing) < 50
    assert result["FailedRecordCount"] == len(failing)
    for i, entry in enumerate(result["Records"]):
        if i in failing:
            assert entry["ErrorCode"] in ENTRY_ERROR_CODES and "SequenceNumber" not in entry
        else:
            assert entry["SequenceNumber"] and entry["ShardId"].startswith("shardId-")
    assert {e["ErrorCode"] for e in result["Records"] if e.get("ErrorCode")} == set(ENTRY_ERROR_CODES)
    written = read_all(conn, stream)
    assert sorted(written) == sorted(f"r{i}" for i in range(100) if i not in failing)

    # resubmitting exactly the failed entries completes the batch, each record once
    fault_proxy.clear()
    retry = [records[i] for i in failing]
    assert conn.put_records(retry, stream)["FailedRecordCount"] == 0
    assert sorted(read_all(conn, stream)) == sorted(f"r{i}" for i in range(100))


def test_fail_entries_without_withholding_writes_everything(fault_proxy, stream):
    fault_proxy.add("PutRecords", Fault.fail_entries(0.5, withhold=False))
    conn = fault_proxy.connect()
    result = conn.put_records([{"Data": f"w{i}", "PartitionKey": "k"} for i in range(20)], stream)
    assert result["FailedRecordCount"] == len(fault_proxy.exchanges[0].failed_entries) > 0
    # the answer said "failed", but the emulator stored them: a resubmission would duplicate them
    assert sorted(read_all(conn, stream)) == sorted(f"w{i}" for i in range(20))


def test_fail_entries_every_entry(fault_proxy, stream):
    fault_proxy.add("PutRecords", Fault.fail_entries(1.0))
    conn = fault_proxy.connect()
    result = conn.put_records([{"Data": "x", "PartitionKey": "k"}] * 3, stream)
    assert result["FailedRecordCount"] == 3
    assert fault_proxy.forwarded() == []
    assert read_all(conn, stream) == []


def test_fail_entries_only_touches_put_records(fault_proxy, stream):
    fault_proxy.add("*", Fault.fail_entries(1.0))
    conn = fault_proxy.connect()
    assert conn.put_record(stream, "single", "pk")["SequenceNumber"]
    assert read_all(conn, stream) == ["single"]


def test_a_lost_answer_makes_the_retry_a_duplicate(fault_proxy, stream):
    # at-least-once: the emulator stored the record, the answer never came, the SDK sent it again
    fault_proxy.add("PutRecord", Fault.reset_after(), count=1)
    conn = fault_proxy.connect(num_retries=2)
    conn.put_record(stream, "twice", "pk")
    assert read_all(conn, stream) == ["twice", "twice"]
    assert len(fault_proxy.forwarded("PutRecord")) == 2


def test_a_reset_before_the_request_is_read_loses_nothing(fault_proxy, stream):
    fault_proxy.add("PutRecord", Fault.reset_before(), count=2)
    conn = fault_proxy.connect(num_retries=2)
    conn.put_record(stream, "once", "pk")
    assert read_all(conn, stream) == ["once"]
    assert fault_proxy.faults("PutRecord") == ["reset_before", "reset_before", None]


def test_an_expired_iterator_is_recovered_with_a_new_iterator(fault_proxy, stream):
    conn = fault_proxy.connect()
    sequence = conn.put_record(stream, "first", "pk", explicit_hash_key="0")["SequenceNumber"]
    conn.put_record(stream, "second", "pk", explicit_hash_key="0")
    fault_proxy.add("GetRecords", Fault.expire_iterator(), count=1)
    with pytest.raises(kx.ExpiredIteratorException) as info:
        conn.get_records(trim_horizon(conn, stream))
    assert info.value.status == 400
    fresh = conn.get_shard_iterator(stream, SHARD, "AFTER_SEQUENCE_NUMBER", sequence)["ShardIterator"]
    assert [r["Data"] for r in conn.get_records(fresh)["Records"]] == ["second"]


def test_the_first_matching_rule_wins_and_counts(fault_proxy, stream):
    fault_proxy.add("DescribeStream", Fault.status_code(503), count=1)
    fault_proxy.add("*", Fault.throttle(), count=2)
    conn = fault_proxy.connect(num_retries=5)
    conn.describe_stream(stream)
    assert fault_proxy.faults("DescribeStream") == ["status", "throttle", "throttle", None]
    assert fault_proxy.counts == Counter(status=1, throttle=2)


async def test_faults_through_the_asyncio_face(fault_proxy, stream):
    fault_proxy.add("PutRecord", Fault.throttle(), count=1)
    fault_proxy.add("PutRecord", Fault.reset_before(), count=1)
    fault_proxy.add("DescribeStream", Fault.delay(2), count=1)
    async with fault_proxy.aconnect(num_retries=3, read_timeout=0.4) as conn:
        assert (await conn.put_record(stream, "async", "pk"))["SequenceNumber"]
        assert (await conn.describe_stream(stream))["StreamDescription"]["StreamName"] == stream
    assert fault_proxy.faults("PutRecord") == ["throttle", "reset_before", None]
    assert fault_proxy.faults("DescribeStream") == ["delay", None]
    async with fault_proxy.aconnect(num_retries=0, read_timeout=0.4) as conn:
        fault_proxy.add("DescribeStream", Fault.delay(2), count=1)
        with pytest.raises(kx.TimeoutError):
            await conn.describe_stream(stream)


# --- reproducibility ----------------------------------------------------------------------------


def fault_sequence(upstream: str, seed: int, calls: int = 60) -> list:
    """The faults ``calls`` list_streams calls meet under a mixed plan with this seed."""
    with FaultProxy(upstream, seed=seed) as proxy:
        proxy.add("ListStreams", Fault.throttle(), rate=0.2)
        proxy.add("ListStreams", Fault.status_code(503), rate=0.2)
        proxy.add("*", Fault.reset_before(), rate=0.1)
        conn = proxy.connect(num_retries=0)
        for _ in range(calls):
            try:
                conn.list_streams(limit=1)
            except (kx.BotoServerError, kx.ConnectionError):
                pass
        return proxy.faults()


def test_same_seed_same_faults(kinesis_server):
    first = fault_sequence(kinesis_server.endpoint_url, seed=1234)
    assert first == fault_sequence(kinesis_server.endpoint_url, seed=1234)
    assert first != fault_sequence(kinesis_server.endpoint_url, seed=4321)
    counts = Counter(first)
    assert counts["throttle"] and counts["status"] and counts["reset_before"] and counts[None]


def test_rate_is_the_fraction_of_matching_requests(kinesis_server):
    with FaultProxy(kinesis_server.endpoint_url, seed=99) as proxy:
        proxy.add("ListStreams", Fault.throttle(), rate=0.25)
        conn = proxy.connect(num_retries=0)
        for _ in range(200):
            try:
                conn.list_streams(limit=1)
            except kx.ProvisionedThroughputExceededException:
                pass
        assert 30 <= proxy.counts["throttle"] <= 70


def test_plan_arguments_are_checked(kinesis_server):
    with pytest.raises(ValueError, match="rate"):
        with FaultProxy(kinesis_server.endpoint_url) as proxy:
            proxy.add("PutRecord", Fault.throttle(), rate=1.5)
    with pytest.raises(ValueError, match="fraction"):
        Fault.fail_entries(-0.1)
    with pytest.raises(ValueError, match="upstream_url"):
        FaultProxy("https://example.invalid")


def test_stopping_the_proxy_ends_a_delayed_call(kinesis_server, stream):
    proxy = FaultProxy(kinesis_server.endpoint_url).start()
    proxy.add("DescribeStream", Fault.delay(60))
    conn = kinesis.connect_to_region(REGION, endpoint_url=proxy.endpoint_url, num_retries=0, read_timeout=30)
    stopper = threading.Timer(0.3, proxy.stop)
    stopper.start()
    start = time.monotonic()
    with pytest.raises(kx.KinesisError) as info:
        conn.describe_stream(stream)
    assert time.monotonic() - start < 10
    assert isinstance(info.value, (builtins.ConnectionError, kx.ResponseError))
    stopper.join()
    conn.close()
