"""The demo: start a local Kinesis server, put records, read them back. No AWS account needed.

Run it with scripts/demo (which installs everything first), or: python examples/demo.py
"""

from __future__ import annotations

import asyncio
import time

import kinesis
import kinesis.aio
from kinesis.testing import LocalKinesisServer


def wait_until_active(conn: kinesis.KinesisConnection, stream: str) -> None:
    for _ in range(100):
        if conn.describe_stream_summary(stream)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)
    raise RuntimeError(f"{stream} did not become ACTIVE")


def main() -> None:
    with LocalKinesisServer() as server:
        print(f"local Kinesis server at {server.endpoint_url}")
        # The boto 2 way, with only the import line changed:
        conn = kinesis.connect_to_region(
            "us-east-1", host=server.host, port=server.port, is_secure=False,
            aws_access_key_id="demo", aws_secret_access_key="demo",
        )  # fmt: skip
        print(repr(conn))
        conn.create_stream("demo", 2)
        wait_until_active(conn, "demo")

        for i in range(5):
            result = conn.put_record("demo", f"hello {i}", f"key-{i}")
            print(f"put 'hello {i}' -> {result['ShardId']} #{result['SequenceNumber']}")
        batch = conn.put_records([{"Data": b"\x00\xffbinary", "PartitionKey": "bin"}], "demo")
        print(f"put_records: {batch['FailedRecordCount']} failed")

        got = 0
        for shard in conn.describe_stream("demo")["StreamDescription"]["Shards"]:
            iterator = conn.get_shard_iterator("demo", shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
            for record in conn.get_records(iterator, limit=100)["Records"]:
                print(f"read from {shard['ShardId']}: {record['Data']!r} (key {record['PartitionKey']})")
                got += 1

        async def put_concurrently() -> list[dict]:
            async with kinesis.aio.connect_to_region(
                "us-east-1", endpoint_url=server.endpoint_url, aws_access_key_id="demo", aws_secret_access_key="demo"
            ) as aconn:
                return await asyncio.gather(*(aconn.put_record("demo", f"async {i}", str(i)) for i in range(10)))

        results = asyncio.run(put_concurrently())
        print(f"asyncio: {len(results)} records put concurrently")

        # Beyond boto 2: a Producer that batches and aggregates, and a StreamReader over all shards.
        with kinesis.Producer(conn, "demo") as producer:
            bulk = producer.put_many((f"event {i}", f"user-{i % 10}") for i in range(1000))
        print(f"Producer: {len(bulk.result())} records written in {producer.metrics()['batches']} PutRecords call(s)")
        with kinesis.StreamReader(conn, "demo", "TRIM_HORIZON", idle_timeout=2) as reader:
            events = [record for record in reader if record.data.startswith(b"event ")]
        print(f"StreamReader: {len(events)} producer records read back, e.g. {events[0]!r}")
        if len(events) != 1000:
            raise SystemExit(f"expected 1000 producer records, read {len(events)}")

        try:
            conn.describe_stream("no-such-stream")
        except kinesis.exceptions.ResourceNotFoundException as err:
            print(f"errors keep boto 2's classes: {type(err).__name__} ({err.status} {err.error_code})")
        conn.delete_stream("demo")
        print(f"demo finished: {got} records read back")
        if got != 6:
            raise SystemExit(f"expected 6 records, read {got}")


if __name__ == "__main__":
    main()
