"""The typed API in use: blocking and asyncio calls, aggregation and exceptions, clean under ``mypy --strict``.

It talks to a local Kinesis emulator whose URL is in ``KINESIS_ENDPOINT_URL``; it starts nothing
itself. For example, with moto::

    .venv/bin/python -m moto.server -H 127.0.0.1 -p 4567 &
    KINESIS_ENDPOINT_URL=http://127.0.0.1:4567 .venv/bin/python examples/typed_usage.py
    .venv/bin/python -m mypy --strict examples/typed_usage.py

The emulator does not check signatures, so placeholder credentials are passed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sys
import time
import uuid
from typing import Any, Union

import kinesis
import kinesis.aio
from kinesis.aggregation import aggregate, deaggregate_records, partition_key_hash
from kinesis.exceptions import BotoServerError, KinesisError, ResourceNotFoundException

REGION = "us-east-1"
ACCESS_KEY_ID = "000000000000"  # placeholders: a local emulator accepts any
SECRET_ACCESS_KEY = "placeholder-secret"


def endpoint_url() -> str:
    url = os.environ.get("KINESIS_ENDPOINT_URL")
    if not url:
        sys.exit(
            "KINESIS_ENDPOINT_URL is not set: start a local Kinesis server (for example "
            "`python -m moto.server -H 127.0.0.1 -p 4567`) and set KINESIS_ENDPOINT_URL=http://127.0.0.1:4567"
        )
    return url


def wait_until_active(conn: kinesis.KinesisConnection, stream: str) -> str:
    """Wait for the stream to be ACTIVE and return its ARN."""
    for _ in range(200):
        summary: dict[str, Any] = conn.describe_stream_summary(stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            arn: str = summary["StreamARN"]
            return arn
        time.sleep(0.05)
    raise RuntimeError(f"{stream} did not become ACTIVE")


def read_all(conn: kinesis.KinesisConnection, stream: str) -> list[dict[str, Any]]:
    """Every record in the stream from the start, aggregates expanded into their user records."""
    records: list[dict[str, Any]] = []
    for shard in conn.list_shards(stream, paginate=True)["Shards"]:
        iterator: str = conn.get_shard_iterator(stream, shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
        page = conn.get_records(iterator, limit=1000)
        records.extend(deaggregate_records(page["Records"]))
    return records


def sync_part(url: str, stream: str) -> None:
    conn = kinesis.connect_to_region(
        REGION, endpoint_url=url, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
    )
    with conn:
        print(f"connected: {conn!r}, region {conn.region_name}, credentials from {conn.credential_source}")
        conn.create_stream(stream, 1)
        arn = wait_until_active(conn, stream)

        put = conn.put_record(stream, "hello", "key-1")
        print(f"put_record -> {put['ShardId']} #{put['SequenceNumber']}")

        entries = [{"Data": f"batch {i}".encode(), "PartitionKey": f"key-{i}"} for i in range(3)]
        batch = conn.put_records(entries, stream)
        failed: int = batch["FailedRecordCount"]
        print(f"put_records -> {len(batch['Records'])} records, {failed} failed")

        # Three user records in one Kinesis record, routed by the first one's hash key.
        users: list[tuple[str, Union[bytes, str]]] = [("agg-1", b"one"), ("agg-2", b"two"), ("agg-3", "three")]
        data = aggregate(users)
        conn.put_record(stream, data, "a", explicit_hash_key=str(partition_key_hash(users[0][0])))

        records = read_all(conn, stream)
        print(f"read back {len(records)} records: {[record['Data'] for record in records]!r}")
        assert len(records) == 1 + 3 + 3, records

        tags: dict[str, str] = {"team": "data"}
        conn.add_tags_to_stream(stream, tags)
        listed: list[dict[str, str]] = conn.list_tags_for_stream(stream)["Tags"]
        print(f"tags: {listed} on {arn}")

        try:
            conn.describe_stream(f"{stream}-missing")
        except ResourceNotFoundException as err:
            print(f"ResourceNotFoundException: status {err.status}, error_code {err.error_code}")
        else:
            raise AssertionError("describe_stream of a missing stream did not raise")
    assert conn.closed


def producer_part(url: str, stream: str) -> None:
    conn = kinesis.connect_to_region(
        REGION, endpoint_url=url, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
    )
    with conn, kinesis.Producer(conn, stream, linger_ms=10) as producer:
        one: concurrent.futures.Future[kinesis.PutResult] = producer.put(b"produced", "pkey-1")
        many = producer.put_many([(f"produced {i}", f"pkey-{i}") for i in range(100)])
        producer.flush()
        result = one.result()
        print(f"producer: {result['ShardId']} #{result['SequenceNumber']} sub {result.get('SubSequenceNumber')}")
        sent: int = producer.metrics()["records_sent"]
        print(f"producer: {len(many.result())} + 1 records, {sent} sent")


async def async_part(url: str, stream: str) -> None:
    aconn = kinesis.aio.connect_to_region(
        REGION, endpoint_url=url, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
    )
    async with aconn as conn:
        puts = await asyncio.gather(*(conn.put_record(stream, f"async {i}", f"akey-{i}") for i in range(5)))
        sequence_numbers: list[str] = [put["SequenceNumber"] for put in puts]
        print(f"asyncio: put {len(sequence_numbers)} records concurrently")

        summary = await conn.describe_stream_summary(stream)
        print(f"asyncio: {stream} is {summary['StreamDescriptionSummary']['StreamStatus']}")

        async with kinesis.aio.Producer(conn, stream) as producer:
            future: asyncio.Future[kinesis.PutResult] = await producer.put(b"async produced", "akey-p")
            print(f"asyncio producer: {(await future)['SequenceNumber']}")

        try:
            await conn.delete_stream(f"{stream}-missing")
        except BotoServerError as err:
            print(f"asyncio: {type(err).__name__} ({err.error_code})")


def cleanup(url: str, stream: str) -> None:
    conn = kinesis.connect_to_region(
        REGION, endpoint_url=url, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
    )
    with conn, contextlib.suppress(KinesisError):
        conn.delete_stream(stream, enforce_consumer_deletion=True)


def main() -> None:
    url = endpoint_url()
    stream = f"typed-usage-{uuid.uuid4().hex[:8]}"
    try:
        sync_part(url, stream)
        producer_part(url, stream)
        asyncio.run(async_part(url, stream))
    except KinesisError as err:
        sys.exit(f"typed_usage failed: {err!r}")
    finally:
        cleanup(url, stream)
    print("typed_usage finished")


if __name__ == "__main__":
    main()
