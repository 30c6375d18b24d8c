"""kinesis.Producer and kinesis.aio.Producer against the emulator: what goes in comes back out."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random

import kinesis
import kinesis.aio
import pytest
from conftest import REGION, await_active, delete_quietly, make_stream, unique_name, wait_active
from kinesis.aggregation import partition_key_hash
from kinesis.exceptions import ProducerClosedError, ResourceNotFoundException
from producer_checks import check_read_back, read_outer_records

N = 2000


def mixed_records(n: int, seed: int = 7) -> list[tuple[bytes, str, str | None]]:
    """``n`` records over 40 partition keys; every 7th has an explicit hash key (spread over the range)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        key = f"key-{rng.randrange(40)}"
        ehk = str(rng.randrange(2**128)) if i % 7 == 0 else None
        data = b"record-%06d-" % i + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
        records.append((data, key, ehk))
    return records


@pytest.fixture
def stream3(conn):
    name = make_stream(conn, 3)
    yield name
    delete_quietly(conn, name)


def test_records_put_are_read_back_exactly_in_order(conn, kinesis_server, stream3) -> None:
    records = mixed_records(N)
    with kinesis.Producer(conn, stream3, linger_ms=20) as producer:
        futures = []
        # Half one by one, half in bulk calls: both paths.
        for data, key, ehk in records[: N // 2]:
            futures.append(producer.put(data, key, ehk))
        bulk = [producer.put_many(records[i : i + 250]) for i in range(N // 2, N, 250)]
    results = [f.result(timeout=30) for f in futures]
    for future in bulk:
        results.extend(future.result(timeout=30))
    assert len(results) == N
    assert all(isinstance(f, concurrent.futures.Future) for f in futures)
    outers = check_read_back(conn, kinesis_server.endpoint_url, stream3, records, results)
    # Aggregation happened: far fewer Kinesis records than user records.
    assert any(o.aggregated for o in outers)
    assert len(outers) < N / 10
    metrics = producer.metrics()
    assert metrics["records_put"] == metrics["records_sent"] == N
    assert metrics["records_failed"] == 0
    assert metrics["buffered_records"] == 0 and metrics["buffered_bytes"] == 0
    assert metrics["kinesis_records_sent"] == len(outers)


def test_without_aggregation_every_record_is_its_own_kinesis_record(conn, kinesis_server, stream) -> None:
    records = mixed_records(300, seed=3)
    with kinesis.Producer(conn, stream, aggregate=False, preserve_order=False, linger_ms=5) as producer:
        results = producer.put_many(records).result(timeout=30)
    assert all("SubSequenceNumber" not in r for r in results)
    outers = check_read_back(conn, kinesis_server.endpoint_url, stream, records, results)
    assert not any(o.aggregated for o in outers)
    assert len(outers) == 300


def test_a_record_too_big_to_share_an_aggregate_is_sent_alone(conn, kinesis_server, stream) -> None:
    records = [(b"s" * 10, "k", None), (b"B" * 300_000, "k", None), (b"t" * 10, "k", None)]
    with kinesis.Producer(conn, stream, max_aggregate_bytes=1000) as producer:
        results = producer.put_many(records).result(timeout=30)
    assert [r.get("SubSequenceNumber") for r in results] == [None, None, None]
    check_read_back(conn, kinesis_server.endpoint_url, stream, records, results)


def test_resharding_while_producing_loses_nothing(conn, kinesis_server) -> None:
    name = make_stream(conn, 1)
    try:
        records = mixed_records(1200, seed=11)
        # moto routes every record of a split shard to the closed parent, so it never answers with a
        # child's id: there, the timer is what makes the producer re-read the shard map.
        with kinesis.Producer(conn, name, linger_ms=10, shard_refresh_interval=0.5) as producer:
            first = producer.put_many(records[:600]).result(timeout=30)
            shard_id = conn.list_shards(name)["Shards"][0]["ShardId"]
            conn.split_shard(name, shard_id, str(2**127))
            wait_active(conn, name)
            second = [producer.put(d, k, e) for d, k, e in records[600:]]
            assert producer.flush(timeout=30)
            results = list(first) + [f.result(timeout=30) for f in second]
            # Records predicted for the closed parent landed on its children: the map is re-read.
            refreshed = _wait_for(lambda: producer.metrics()["shard_map_refreshes"] >= 1)
            assert refreshed, producer.metrics()
            third = producer.put_many(records[600:600]).result(timeout=30)
            assert third == [] and len(third) == 0
        # The aggregates sent before the producer learned of the split may straddle the children (and
        # so be read out of order across them); nothing is lost, and each shard keeps the order. moto
        # re-writes a split shard's records (new sequence numbers), so their positions can't be compared.
        on_moto = kinesis_server.name == "moto"
        check_read_back(
            conn,
            kinesis_server.endpoint_url,
            name,
            records,
            results,
            same_shard_aggregates=False,
            positions=not on_moto,
            order_across_shards=False,
        )
        if not on_moto:
            assert len({r["ShardId"] for r in results}) >= 2
    finally:
        delete_quietly(conn, name)


def _wait_for(condition, timeout: float = 15.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_after_a_split_new_records_go_to_the_children_in_one_aggregate_each(conn, kinesis_server) -> None:
    name = make_stream(conn, 1)
    try:
        shard_id = conn.list_shards(name)["Shards"][0]["ShardId"]
        conn.split_shard(name, shard_id, str(2**127))
        wait_active(conn, name)
        records = mixed_records(500, seed=5)
        with kinesis.Producer(conn, name, linger_ms=10) as producer:
            results = producer.put_many(records).result(timeout=30)
        outers = check_read_back(conn, kinesis_server.endpoint_url, name, records, results)
        children = {s["ShardId"] for s in conn.list_shards(name)["Shards"] if s.get("ParentShardId")}
        if kinesis_server.name != "moto":  # moto keeps routing to the closed parent
            assert {o.shard_id for o in outers} <= children
        # Aggregates were built per child: none mixes records of both halves of the hash range.
        for outer in (o for o in outers if o.aggregated):
            halves = {int(u.explicit_hash_key or partition_key_hash(u.partition_key)) >= 2**127 for u in outer.users}
            assert len(halves) == 1
    finally:
        delete_quietly(conn, name)


def test_close_flushes_then_refuses_puts(conn, stream) -> None:
    producer = kinesis.Producer(conn, stream, linger_ms=60_000)
    future = producer.put(b"held by linger", "k")
    assert not future.done()
    assert producer.close() is True
    assert future.result(timeout=0)["ShardId"].startswith("shardId-")
    assert producer.closed
    with pytest.raises(ProducerClosedError, match="closed"):
        producer.put(b"x", "k")
    with pytest.raises(ValueError):
        producer.put_many([(b"x", "k")])
    assert producer.close() is True  # again: nothing to do


def test_a_cancelled_future_does_not_stop_its_record(conn, stream) -> None:
    with kinesis.Producer(conn, stream, linger_ms=60_000) as producer:
        future = producer.put(b"cancelled", "k")
        kept = producer.put(b"kept", "k")
        assert future.cancel()
        assert producer.flush() is True
        assert producer.metrics()["records_sent"] == 2
    assert future.cancelled() and kept.result(timeout=0)["ShardId"]
    assert sorted(u.data for o in read_outer_records(conn, stream) for u in o.users) == [b"cancelled", b"kept"]


def test_flush_sends_what_lingers_and_waits_for_it(conn, stream) -> None:
    with kinesis.Producer(conn, stream, linger_ms=60_000) as producer:
        futures = [producer.put(b"r%d" % i, f"k{i}") for i in range(20)]
        assert producer.flush() is True
        assert all(f.done() and f.exception() is None for f in futures)
        assert producer.metrics()["buffered_records"] == 0
        later = producer.put(b"after flush", "k")
    assert later.result(timeout=0)["SequenceNumber"]


def test_producer_for_a_missing_stream_fails_at_once(conn) -> None:
    with pytest.raises(ResourceNotFoundException):
        kinesis.Producer(conn, unique_name("missing"))


def test_max_record_size_comes_from_the_stream(conn, stream) -> None:
    with kinesis.Producer(conn, stream) as producer:
        assert producer.max_record_size >= 1024 * 1024
        assert producer.stream_name == stream
        assert stream in repr(producer)


# --- asyncio ------------------------------------------------------------------------------------


async def test_asyncio_records_are_read_back_exactly(aconn, conn, kinesis_server) -> None:
    name = unique_name("aio")
    await aconn.create_stream(name, 2)
    await await_active(aconn, name)
    try:
        records = mixed_records(600, seed=9)
        async with kinesis.aio.Producer(aconn, name, linger_ms=10) as producer:
            singles = [await producer.put(d, k, e) for d, k, e in records[:300]]
            bulk = await producer.put_many(records[300:])
            assert all(isinstance(f, asyncio.Future) for f in singles)
            assert await producer.flush() is True
        results = list(await asyncio.gather(*singles)) + list(await bulk)
        check_read_back(conn, kinesis_server.endpoint_url, name, records, results)
        assert producer.closed
        with pytest.raises(ProducerClosedError):
            await producer.put(b"x", "k")
    finally:
        await aconn.delete_stream(name)


async def test_asyncio_producer_for_a_missing_stream_raises_on_enter(aconn) -> None:
    with pytest.raises(ResourceNotFoundException):
        async with kinesis.aio.Producer(aconn, unique_name("missing")):
            pass


async def test_asyncio_flush_with_nothing_buffered_is_immediate(aconn, kinesis_server) -> None:
    name = unique_name("aio")
    await aconn.create_stream(name, 1)
    await await_active(aconn, name)
    try:
        producer = kinesis.aio.Producer(aconn, name)
        await producer.start()
        assert await producer.flush(timeout=5) is True
        assert await producer.close() is True
    finally:
        await aconn.delete_stream(name)


def test_sync_producer_over_an_asyncio_connection(kinesis_server, stream) -> None:
    async def main() -> dict:
        async with kinesis.aio.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url) as aconn:
            with kinesis.Producer(aconn, stream) as producer:
                return producer.put(b"x", "k").result(timeout=30)

    assert asyncio.run(main())["ShardId"]


def test_put_many_results_are_a_sequence_of_dicts(conn, stream) -> None:
    from collections.abc import Sequence

    with kinesis.Producer(conn, stream, linger_ms=1) as producer:
        results = producer.put_many([(b"a", "k1"), (b"b", "k2"), (b"c", "k3")]).result(timeout=30)
    assert isinstance(results, kinesis.PutResults) and isinstance(results, Sequence)
    assert len(results) == 3
    listed = results.to_list()
    assert isinstance(listed, list) and listed == list(results) == results[:] == [results[i] for i in range(3)]
    assert results[-1] is results[2]  # made once, then kept
    assert results == listed and results != listed[:2] and results[0] in results
    assert {"ShardId", "SequenceNumber"} <= set(results[0]) and "PutResults([{" in repr(results)
    with pytest.raises(IndexError):
        results[3]


def test_read_back_helper_sees_plain_records_too(conn, stream, kinesis_server) -> None:
    conn.put_record(stream, b"plain", "k")
    outers = read_outer_records(conn, stream)
    assert [u.data for o in outers for u in o.users] == [b"plain"]


def test_records_put_are_read_back_by_stream_reader(conn, stream3) -> None:
    """The producer's aggregates, read by our own StreamReader: every record once, in order per key."""
    sent = [(f"{key}:{n}".encode(), key) for n in range(50) for key in (f"user-{k}" for k in range(40))]
    with kinesis.Producer(conn, stream3, linger_ms=20) as producer:
        results = producer.put_many(sent).result(timeout=60)
    with kinesis.StreamReader(
        conn, stream3, "TRIM_HORIZON", idle_timeout=1.0, idle_interval=0.05, max_calls_per_second=50
    ) as reader:
        read = list(reader)
    assert sorted(r.data for r in read) == sorted(data for data, _ in sent)
    assert len({(r.shard_id, r.sequence_number, r.sub_sequence_number) for r in read}) == len(sent)
    last: dict = {}
    for record in read:
        key, n = record.data.decode().split(":")
        assert record.partition_key == key and int(n) > last.get(key, -1)
        last[key] = int(n)
    where = {(r.shard_id, r.sequence_number, r.sub_sequence_number) for r in read}
    assert {(r["ShardId"], r["SequenceNumber"], r.get("SubSequenceNumber")) for r in results} == where
