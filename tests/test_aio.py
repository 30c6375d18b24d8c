"""kinesis.aio: the asyncio twin of KinesisConnection, against the selected emulator and the scripted server."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import time

import kinesis
import kinesis.aio
import kinesis.layer1
import pytest
from conftest import await_active, unique_name
from kinesis.exceptions import ResourceInUseException, ResourceNotFoundException
from scripted_server import Reply, describe_stream_body, put_record_body

SHARD_0 = "shardId-000000000000"
SYNC_METHODS = [
    name
    for name in dir(kinesis.layer1.KinesisConnection)
    if not name.startswith("_")
    and callable(getattr(kinesis.layer1.KinesisConnection, name))
    and not isinstance(getattr(kinesis.layer1.KinesisConnection, name), type)
    and name != "close"
]


def test_aio_has_every_sync_method_with_the_same_signature():
    assert {"put_record", "get_records", "describe_stream", "make_request"} <= set(SYNC_METHODS)
    for name in SYNC_METHODS:
        async_method = getattr(kinesis.aio.KinesisConnection, name, None)
        assert async_method is not None, f"kinesis.aio.KinesisConnection lacks {name}"
        try:
            sync_sig = inspect.signature(getattr(kinesis.layer1.KinesisConnection, name))
            async_sig = inspect.signature(async_method)
        except (TypeError, ValueError):
            continue  # builtin without text signature: nothing to compare
        assert list(sync_sig.parameters) == list(async_sig.parameters), name


def test_connect_to_region_is_a_plain_function(kinesis_server):
    assert not inspect.iscoroutinefunction(kinesis.aio.connect_to_region)
    conn = kinesis.aio.connect_to_region("us-east-1", endpoint_url=kinesis_server.endpoint_url)
    assert isinstance(conn, kinesis.aio.KinesisConnection)

    async def use_and_close():
        assert "StreamNames" in await conn.list_streams()
        await conn.close()

    asyncio.run(use_and_close())


async def test_methods_return_awaitables(aconn):
    pending = aconn.list_streams()
    assert inspect.isawaitable(pending)
    result = await pending
    assert isinstance(result["StreamNames"], list)


async def test_async_context_manager(kinesis_server):
    async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=kinesis_server.endpoint_url) as conn:
        assert isinstance(conn, kinesis.aio.KinesisConnection)
        assert "HasMoreStreams" in await conn.list_streams()
    await conn.close()  # closing twice is harmless


async def test_full_flow(aconn):
    name = unique_name("aio")
    assert await aconn.create_stream(name, 2) is None
    try:
        summary = await await_active(aconn, name)
        assert summary["OpenShardCount"] == 2
        desc = (await aconn.describe_stream(name))["StreamDescription"]
        assert len(desc["Shards"]) == 2
        assert name in (await aconn.list_streams())["StreamNames"]
        assert len((await aconn.list_shards(name))["Shards"]) == 2

        put = await aconn.put_record(name, "async hello", "pk", explicit_hash_key="0")
        assert put["ShardId"] == SHARD_0
        records = [
            {"Data": b"\xff", "PartitionKey": "p", "ExplicitHashKey": "0"},
            {"Data": "two", "PartitionKey": "p2"},
        ]
        original = copy.deepcopy(records)
        batch = await aconn.put_records(records, name)
        assert batch["FailedRecordCount"] == 0
        assert records == original

        iterator = (await aconn.get_shard_iterator(name, SHARD_0, "TRIM_HORIZON"))["ShardIterator"]
        page = await aconn.get_records(iterator)
        assert [r["Data"] for r in page["Records"]][:2] == ["async hello", b"\xff"]
        assert isinstance(page["Records"][0]["ApproximateArrivalTimestamp"], float)

        iterator = (
            await aconn.get_shard_iterator(
                name, SHARD_0, "AT_SEQUENCE_NUMBER", starting_sequence_number=put["SequenceNumber"]
            )
        )["ShardIterator"]
        raw = await aconn.get_records(iterator, limit=1, b64_decode=False)
        assert raw["Records"][0]["Data"] == "YXN5bmMgaGVsbG8="
        iterator = (await aconn.get_shard_iterator(name, SHARD_0, "TRIM_HORIZON"))["ShardIterator"]
        as_bytes = await aconn.get_records(iterator, as_bytes=True)
        assert as_bytes["Records"][0]["Data"] == b"async hello"

        await aconn.add_tags_to_stream(name, {"a": "1"})
        assert (await aconn.list_tags_for_stream(name))["Tags"] == [{"Key": "a", "Value": "1"}]
        await aconn.remove_tags_from_stream(name, ["a"])
        assert (await aconn.list_tags_for_stream(name))["Tags"] == []

        await aconn.increase_stream_retention_period(name, 36)
        assert (await await_active(aconn, name))["RetentionPeriodHours"] == 36

        wire = await aconn.make_request("DescribeStreamSummary", json.dumps({"StreamName": name}))
        assert wire["StreamDescriptionSummary"]["StreamName"] == name
        assert isinstance((await aconn.describe_limits())["ShardLimit"], int)

        with pytest.raises(ResourceInUseException):
            await aconn.create_stream(name, 1)
    finally:
        assert await aconn.delete_stream(name) is None
    for _ in range(500):
        try:
            await aconn.describe_stream_summary(name)
        except ResourceNotFoundException:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("stream was not deleted")


async def test_update_shard_count_split_merge_async(aconn):
    name = unique_name("aio")
    await aconn.create_stream(name, 1)
    try:
        await await_active(aconn, name)
        assert (await aconn.update_shard_count(name, 2))["TargetShardCount"] == 2
        assert (await await_active(aconn, name))["OpenShardCount"] == 2
        shards = (await aconn.list_shards(name))["Shards"]
        open_ids = [s["ShardId"] for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
        assert len(open_ids) == 2
        assert await aconn.merge_shards(name, open_ids[0], open_ids[1]) is None
        await await_active(aconn, name)
        # count open shards from list_shards: moto 5.2's OpenShardCount stays 2 after a merge
        shards = (await aconn.list_shards(name))["Shards"]
        assert len([s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]) == 1
    finally:
        await aconn.delete_stream(name)


async def test_consumers_and_monitoring_async(aconn):
    name = unique_name("aio")
    await aconn.create_stream(name, 1)
    try:
        arn = (await await_active(aconn, name))["StreamARN"]
        enabled = await aconn.enable_enhanced_monitoring(name, ["IncomingRecords"])
        assert enabled["DesiredShardLevelMetrics"] == ["IncomingRecords"]
        assert (await aconn.disable_enhanced_monitoring(name, ["IncomingRecords"]))["DesiredShardLevelMetrics"] == []
        consumer = (await aconn.register_stream_consumer(arn, "areader"))["Consumer"]
        listed = await aconn.list_stream_consumers(arn)
        assert [c["ConsumerARN"] for c in listed["Consumers"]] == [consumer["ConsumerARN"]]
        described = await aconn.describe_stream_consumer(consumer_arn=consumer["ConsumerARN"])
        assert described["ConsumerDescription"]["ConsumerName"] == "areader"
    finally:
        await aconn.delete_stream(name, enforce_consumer_deletion=True)


async def test_concurrent_puts_with_gather(aconn):
    name = unique_name("aio")
    await aconn.create_stream(name, 2)
    try:
        await await_active(aconn, name)
        results = await asyncio.gather(*(aconn.put_record(name, f"r{i}", f"pk{i}") for i in range(40)))
        assert len({(r["ShardId"], r["SequenceNumber"]) for r in results}) == 40
        seen = []
        for shard in (await aconn.list_shards(name))["Shards"]:
            it = (await aconn.get_shard_iterator(name, shard["ShardId"], "TRIM_HORIZON"))["ShardIterator"]
            seen += [r["Data"] for r in (await aconn.get_records(it))["Records"]]
        assert sorted(seen) == sorted(f"r{i}" for i in range(40))
    finally:
        await aconn.delete_stream(name)


async def test_missing_stream_async(aconn):
    with pytest.raises(ResourceNotFoundException) as info:
        await aconn.describe_stream_summary(unique_name("missing"))
    assert info.value.status == 400
    assert info.value.error_code == "ResourceNotFoundException"


async def test_cancelling_a_pending_call(scripted):
    scripted.queue("DescribeStream", Reply.hang(10))
    scripted.always("PutRecord", Reply.json(put_record_body()))
    async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, num_retries=0) as conn:
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.describe_stream("s"), timeout=0.3)
        assert time.monotonic() - start < 2
        # the connection still works after a cancelled call
        assert (await conn.put_record("s", "x", "k"))["SequenceNumber"] == "1"


async def test_event_loop_stays_responsive_during_a_call(scripted):
    scripted.queue("DescribeStream", Reply.json(describe_stream_body("s"), delay=0.5))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url) as conn:
        task = asyncio.create_task(ticker())
        await conn.describe_stream("s")
        task.cancel()
    assert ticks >= 10, f"the loop ran only {ticks} ticks during a 0.5 s call"


def test_sync_api_inside_running_loop(kinesis_server, stream):
    async def main():
        conn = kinesis.connect_to_region("us-east-1", endpoint_url=kinesis_server.endpoint_url)
        try:
            return conn.describe_stream(stream)["StreamDescription"]["StreamName"]
        finally:
            conn.close()

    assert asyncio.run(main()) == stream


async def test_sync_api_inside_pytest_asyncio_loop(conn, stream):
    assert conn.describe_stream_summary(stream)["StreamDescriptionSummary"]["StreamName"] == stream


def test_aio_connection_used_in_two_event_loops(kinesis_server, stream):
    conn = kinesis.aio.connect_to_region("us-east-1", endpoint_url=kinesis_server.endpoint_url)

    async def describe():
        return (await conn.describe_stream_summary(stream))["StreamDescriptionSummary"]["StreamName"]

    assert asyncio.run(describe()) == stream
    assert asyncio.run(describe()) == stream

    async def close():
        await conn.close()

    asyncio.run(close())
