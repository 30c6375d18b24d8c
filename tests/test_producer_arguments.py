"""Bad arguments to kinesis.Producer raise at the call, naming the argument, before anything is sent."""

from __future__ import annotations

import kinesis
import kinesis.aio
import pytest


@pytest.fixture
def producer(scripted, scripted_conn):
    with kinesis.Producer(scripted_conn, "s", linger_ms=0) as producer:
        yield producer


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((123, "k"), TypeError, "^data: expected str or bytes, got int"),
        ((b"x", 5), TypeError, "^partition_key: expected str, got int"),
        ((b"x", ""), ValueError, "^partition_key: must be 1 to 256 characters long, got 0"),
        ((b"x", "k" * 257), ValueError, "^partition_key: must be 1 to 256 characters long, got 257"),
        ((b"x", "k", "abc"), ValueError, '^explicit_hash_key: "abc" is not a hash key'),
        ((b"x", "k", str(2**128)), ValueError, "^explicit_hash_key: .* is not a hash key"),
        ((b"x", "k", 1.5), TypeError, "^explicit_hash_key: expected a decimal str, got float"),
        ((b"x" * (1024 * 1024), "k"), ValueError, "^data: record of 1048577 bytes .* maximum record size"),
    ],
)
def test_put_checks_its_arguments(scripted, producer, args, error, match) -> None:
    with pytest.raises(error, match=match):
        producer.put(*args)
    assert producer.metrics()["records_put"] == 0


@pytest.mark.parametrize(
    ("records", "error", "match"),
    [
        ({"Data": b"x"}, TypeError, "^records: expected an iterable"),
        ("text", TypeError, "^records: expected an iterable"),
        (5, TypeError, "^records: expected an iterable"),
        ([(b"x", "k"), 5], TypeError, r"^records\[1\]: expected a \(data, partition_key\) tuple or a dict, got int"),
        ([(b"x",)], ValueError, r"^records\[0\]: expected \(data, partition_key\)"),
        ([(b"x", "k"), (b"y", "")], ValueError, r"^records\[1\]\.partition_key: must be 1 to 256"),
        ([(None, "k")], TypeError, r"^records\[0\]\.data: expected str or bytes, got NoneType"),
        ([(b"x", "k", "-1")], ValueError, r'^records\[0\]\.explicit_hash_key: "-1" is not a hash key'),
        ([{"Data": b"x"}], ValueError, r"^records\[0\]: missing 'PartitionKey'"),
        ([{"Data": b"x", "PartitionKey": "k", "Extra": 1}], ValueError, r'^records\[0\]: unknown field "Extra"'),
    ],
)
def test_put_many_names_the_bad_record(scripted, producer, records, error, match) -> None:
    with pytest.raises(error, match=match):
        producer.put_many(records)
    assert producer.metrics()["records_put"] == 0
    assert [r.action for r in scripted.requests if r.action == "PutRecords"] == []


def test_every_data_type_is_taken(scripted, producer) -> None:
    results = producer.put_many(
        [("text é", "k"), (b"bytes", "k"), (bytearray(b"array"), "k"), (memoryview(b"view"), "k")]
    ).result(timeout=30)
    assert len(results) == 4
    assert producer.put(b"x", "k", 12345).result(timeout=30)["ShardId"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"linger_ms": -1}, ValueError, "^linger_ms: must be zero or more"),
        ({"max_batch_records": 501}, ValueError, "^max_batch_records: must be between 1 and 500, got 501"),
        ({"max_batch_records": 0}, ValueError, "^max_batch_records: must be between 1 and 500, got 0"),
        ({"max_batch_bytes": 10 * 1024 * 1024 + 1}, ValueError, "^max_batch_bytes: must be between 1 and"),
        ({"max_aggregate_bytes": 0}, ValueError, "^max_aggregate_bytes: must be between 1 and"),
        ({"max_buffered_bytes": 0}, ValueError, "^max_buffered_bytes: must be between 1 and"),
        ({"record_ttl": 0}, ValueError, "^record_ttl: must be a positive number of seconds"),
        ({"rate_limit": -0.5}, ValueError, "^rate_limit: must be a positive fraction"),
        ({"exit_timeout": float("nan")}, ValueError, "^exit_timeout: must be zero or more"),
        ({"shard_refresh_interval": 0}, ValueError, "^shard_refresh_interval: must be a positive"),
        ({"linger": 5}, TypeError, "linger"),
    ],
)
def test_constructor_checks_its_options(scripted, scripted_conn, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        kinesis.Producer(scripted_conn, "s", **kwargs)
    assert scripted.requests == []


def test_constructor_checks_the_connection_and_stream(scripted, scripted_conn) -> None:
    with pytest.raises(TypeError, match=r"^connection: expected a kinesis connection"):
        kinesis.Producer("conn", "s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^stream_name: "):
        kinesis.Producer(scripted_conn, "bad name!")
    with pytest.raises(TypeError, match=r"^stream_name: expected str, got bytes"):
        kinesis.Producer(scripted_conn, b"s")  # type: ignore[arg-type]


def test_flush_checks_its_timeout(producer) -> None:
    with pytest.raises(ValueError, match=r"^timeout: must be zero or more"):
        producer.flush(timeout=-1)


async def test_asyncio_put_checks_its_arguments(scripted, scripted_aconn) -> None:
    async with kinesis.aio.Producer(scripted_aconn, "s") as producer:
        with pytest.raises(ValueError, match=r"^partition_key: must be 1 to 256"):
            await producer.put(b"x", "")
        with pytest.raises(ValueError, match=r"^records\[0\]\.partition_key"):
            await producer.put_many([(b"x", "")])
