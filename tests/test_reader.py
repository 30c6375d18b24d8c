"""kinesis.ShardIterator and kinesis.StreamReader against the emulator (moto or kinesis-mock)."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time

import kinesis
import kinesis.aio
import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from conftest import delete_quietly, make_stream, wait_active
from kinesis import exceptions as kx
from kinesis.aggregation import aggregate

# Tests poll idle shards often so they finish quickly; the defaults are 1 s between idle polls.
FAST = {"idle_interval": 0.05, "max_calls_per_second": 50.0}


def shard_ids(conn, stream):
    return [s["ShardId"] for s in conn.list_shards(stream)["Shards"]]


def put_numbered(conn, stream, keys, count, start=0):
    """Put ``count`` records per key, data ``key:n``; returns what was put, in order."""
    sent = []
    entries = []
    for n in range(start, start + count):
        for key in keys:
            entries.append({"Data": f"{key}:{n}", "PartitionKey": key})
            sent.append(f"{key}:{n}")
    for i in range(0, len(entries), 500):
        result = conn.put_records(entries[i : i + 500], stream)
        assert result["FailedRecordCount"] == 0
    return sent


def assert_per_key_order(records):
    """Records of each partition key arrive in the order they were put (data ``key:n``)."""
    last = {}
    for record in records:
        key, n = record.data.decode().rsplit(":", 1)
        assert key == record.partition_key
        assert int(n) > last.get(key, -1), f"{key}:{n} after {key}:{last.get(key)}"
        last[key] = int(n)


# --- ShardIterator --------------------------------------------------------------------------------


def test_shard_iterator_reads_a_shard_in_order_and_stops_when_idle(conn, stream):
    sent = put_numbered(conn, stream, [f"k{i}" for i in range(6)], 5)
    read = []
    for shard_id in shard_ids(conn, stream):
        iterator = kinesis.ShardIterator(conn, stream, shard_id, "TRIM_HORIZON", idle_timeout=0.3, **FAST)
        records = list(iterator)
        assert all(r.shard_id == shard_id for r in records)
        seqs = [int(r.sequence_number) for r in records]
        assert seqs == sorted(seqs)
        read.extend(records)
        if records:
            assert iterator.position == {"sequence_number": records[-1].sequence_number, "sub_sequence_number": None}
        assert iterator.child_shards is None and not iterator.at_shard_end
    assert sorted(r.data.decode() for r in read) == sorted(sent)
    assert_per_key_order(read)


def test_record_fields(conn, stream):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    put = conn.put_record(stream, b"\x00\xffbytes", "the-key")
    iterator = kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", idle_timeout=0.3, **FAST)
    (record,) = list(iterator)
    assert isinstance(record, kinesis.Record)
    assert record.data == b"\x00\xffbytes"
    assert record.partition_key == "the-key"
    assert record.sequence_number == put["SequenceNumber"]
    assert record.sub_sequence_number is None
    assert record.explicit_hash_key is None
    assert record.shard_id == put["ShardId"]
    arrival = record.approximate_arrival_timestamp
    assert arrival.tzinfo is not None and arrival > before
    assert record.to_dict() == {
        "Data": b"\x00\xffbytes",
        "PartitionKey": "the-key",
        "SequenceNumber": put["SequenceNumber"],
        "ApproximateArrivalTimestamp": arrival,
        "ShardId": put["ShardId"],
    }
    assert "the-key" in repr(record) and put["SequenceNumber"] in repr(record)
    assert record == record and hash(record) == hash(record)


def test_latest_means_from_when_the_iterator_was_made(conn, stream):
    first = conn.put_record(stream, "before", "k")
    iterator = kinesis.ShardIterator(conn, stream, first["ShardId"], idle_timeout=0.3, **FAST)
    conn.put_record(stream, "after", "k")
    assert [r.data for r in iterator] == [b"after"]


def test_at_and_after_sequence_number_and_timestamp(conn, stream):
    puts = [conn.put_record(stream, f"r{i}", "same-key") for i in range(4)]
    shard = puts[0]["ShardId"]
    second = puts[1]["SequenceNumber"]

    def read(*args, **kw):
        return [r.data for r in kinesis.ShardIterator(conn, stream, shard, *args, idle_timeout=0.3, **FAST, **kw)]

    assert read("AT_SEQUENCE_NUMBER", second) == [b"r1", b"r2", b"r3"]
    assert read("AFTER_SEQUENCE_NUMBER", second) == [b"r2", b"r3"]
    assert read("AT_TIMESTAMP", timestamp=time.time() - 600) == [b"r0", b"r1", b"r2", b"r3"]


def test_an_idle_timeout_ends_one_loop_and_the_next_loop_continues(conn, stream):
    put = conn.put_record(stream, "one", "k")
    iterator = kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", idle_timeout=0.3, **FAST)
    assert [r.data for r in iterator] == [b"one"]
    conn.put_record(stream, "two", "k")
    assert [r.data for r in iterator] == [b"two"]


def test_aggregated_records_are_unpacked_or_left_packed(conn, stream):
    packed = aggregate([("a", b"x"), ("b", b"y", "12345")])
    put = conn.put_record(stream, packed, "a")
    options = {"idle_timeout": 0.3, **FAST}
    unpacked = list(kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", **options))
    assert [(r.partition_key, r.data, r.sub_sequence_number, r.explicit_hash_key) for r in unpacked] == [
        ("a", b"x", 0, None),
        ("b", b"y", 1, "12345"),
    ]
    assert {r.sequence_number for r in unpacked} == {put["SequenceNumber"]}
    raw = list(kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", deaggregate=False, **options))
    assert [(r.data, r.sub_sequence_number) for r in raw] == [(packed, None)]


def test_test_vector_from_the_format_description(conn, stream):
    vector = bytes.fromhex("f3899ac20a01610a01621a0508001a01781a0508011a0179b0031909ae75891ca94acec2ecce3125")
    put = conn.put_record(stream, vector, "a")
    records = list(kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", idle_timeout=0.3, **FAST))
    assert [(r.partition_key, r.data) for r in records] == [("a", b"x"), ("b", b"y")]


def test_records_aggregated_by_aws_kinesis_agg(conn, stream):
    aggregator = RecordAggregator()
    expected = []
    for i in range(300):
        key, data = f"key-{i % 7}", f"payload-{i}".encode()
        ehk = str(i * 10**30) if i % 5 == 0 else None
        expected.append((key, data, ehk))
        full = aggregator.add_user_record(key, data, ehk)
        assert full is None
    pk, ehk, data = aggregator.clear_and_get().get_contents()
    put = conn.put_record(stream, data, pk, explicit_hash_key=ehk)
    records = list(kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", idle_timeout=0.3, **FAST))
    assert [(r.partition_key, r.data, r.explicit_hash_key) for r in records] == expected
    assert [r.sub_sequence_number for r in records] == list(range(300))


def test_resume_inside_an_aggregate(conn, stream):
    put = conn.put_record(stream, aggregate([("a", b"0"), ("a", b"1"), ("a", b"2")]), "a")
    later = conn.put_record(stream, "plain", "a", explicit_hash_key=None)
    shard = put["ShardId"]
    if later["ShardId"] != shard:
        pytest.fail("records with the same partition key landed on different shards")

    def read(*args, **kw):
        return [r.data for r in kinesis.ShardIterator(conn, stream, shard, *args, idle_timeout=0.3, **FAST, **kw)]

    seq = put["SequenceNumber"]
    assert read("AFTER_SEQUENCE_NUMBER", seq, sub_sequence_number=0) == [b"1", b"2", b"plain"]
    assert read("AFTER_SEQUENCE_NUMBER", seq, sub_sequence_number=2) == [b"plain"]
    assert read("AT_SEQUENCE_NUMBER", seq, sub_sequence_number=1) == [b"1", b"2", b"plain"]


def test_a_missing_stream_or_shard_fails_when_the_iterator_is_made(conn, stream):
    with pytest.raises(kx.ResourceNotFoundException):
        kinesis.ShardIterator(conn, "no-such-stream-here", "shardId-000000000000")
    with pytest.raises(kx.ResourceNotFoundException):
        kinesis.ShardIterator(conn, stream, "shardId-000000000099")


# --- StreamReader ---------------------------------------------------------------------------------


def test_stream_reader_reads_every_shard(conn):
    stream = make_stream(conn, 3)
    try:
        sent = put_numbered(conn, stream, [f"key-{i}" for i in range(20)], 10)
        with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", idle_timeout=1.0, **FAST) as reader:
            records = list(reader)
            assert set(reader.shards().values()) == {"reading"}
            assert len(reader.shards()) == 3
        assert sorted(r.data.decode() for r in records) == sorted(sent)
        assert_per_key_order(records)
        last = {}
        for r in records:
            last[r.shard_id] = {"sequence_number": r.sequence_number, "sub_sequence_number": None}
        assert reader.positions == last
    finally:
        delete_quietly(conn, stream)


def test_stream_reader_from_latest_and_from_a_timestamp(conn, stream):
    put_numbered(conn, stream, ["old"], 3)
    # A sync reader is made once every shard has its iterator: LATEST means from then on.
    reader = kinesis.StreamReader(conn, stream, idle_timeout=1.0, **FAST)
    put_numbered(conn, stream, ["new"], 3)
    assert sorted(r.data for r in reader) == [b"new:0", b"new:1", b"new:2"]
    reader.close()
    in_the_past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    with kinesis.StreamReader(conn, stream, in_the_past, idle_timeout=1.0, **FAST) as reader:
        assert len(list(reader)) == 6


def test_restart_from_a_file_checkpoint_continues_exactly(conn, stream, tmp_path):
    keys = [f"key-{i}" for i in range(8)]
    sent = put_numbered(conn, stream, keys, 5)
    conn.put_record(stream, aggregate([("agg", f"agg:{i}".encode()) for i in range(5)]), "agg")
    sent += [f"agg:{i}" for i in range(5)]
    store = kinesis.FileCheckpointStore(tmp_path / "checkpoints.json")
    seen = []
    # Several short-lived readers, each handing out a few records, checkpointing and closing.
    for _ in range(100):
        with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", checkpoints=store, idle_timeout=1.0, **FAST) as r:
            batch = []
            for record in r:
                batch.append(record.data.decode())
                if len(batch) == 7:
                    break
            r.checkpoint()
        seen += batch
        if not batch:
            break
    assert sorted(seen) == sorted(sent)
    assert len(seen) == len(set(seen))
    saved = store.load(stream)
    assert set(saved) == set(shard_ids(conn, stream))


def test_memory_checkpoint_store_and_shard_end(conn):
    stream = make_stream(conn, 1)
    try:
        put_numbered(conn, stream, ["k"], 3)
        store = kinesis.MemoryCheckpointStore()
        with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", checkpoints=store, idle_timeout=1.0, **FAST) as r:
            assert len(list(r)) == 3
            r.checkpoint()
        (shard,) = shard_ids(conn, stream)
        assert store.load(stream)[shard]["sub_sequence_number"] is None
        store.save(stream, {shard: "SHARD_END"})
        with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", checkpoints=store, idle_timeout=0.5, **FAST) as r:
            assert list(r) == []
    finally:
        delete_quietly(conn, stream)


def wait_for_reshard(conn, stream):
    wait_active(conn, stream, timeout=30)


def test_exactly_once_in_order_across_a_split_and_a_merge_made_while_reading(conn, kinesis_server):
    stream = make_stream(conn, 2)
    keys = [f"user-{i}" for i in range(24)]
    sent = []
    read = []
    try:
        reader = kinesis.StreamReader(
            conn, stream, "TRIM_HORIZON", idle_timeout=2.0, shard_refresh_interval=0.5, **FAST
        )

        def drain(count):
            for record in reader:
                read.append(record)
                if len(read) >= count:
                    return

        sent += put_numbered(conn, stream, keys, 10, start=0)
        drain(len(sent) // 2)

        shards = conn.list_shards(stream)["Shards"]
        first = shards[0]
        low, high = int(first["HashKeyRange"]["StartingHashKey"]), int(first["HashKeyRange"]["EndingHashKey"])
        conn.split_shard(stream, first["ShardId"], str((low + high) // 2))
        wait_for_reshard(conn, stream)
        sent += put_numbered(conn, stream, keys, 10, start=10)
        drain(len(sent) - 30)

        open_shards = [
            s for s in conn.list_shards(stream)["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"]
        ]
        open_shards.sort(key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        conn.merge_shards(stream, open_shards[0]["ShardId"], open_shards[1]["ShardId"])
        wait_for_reshard(conn, stream)
        sent += put_numbered(conn, stream, keys, 10, start=20)
        read.extend(reader)  # to the end: idle_timeout ends it
        status = reader.shards()
        reader.close()
    finally:
        delete_quietly(conn, stream)
    data = [r.data.decode() for r in read]
    assert len(data) == len(set(data)), f"{len(data) - len(set(data))} records yielded twice"
    assert sorted(data) == sorted(sent)
    assert_per_key_order(read)
    assert len(status) == 5  # 2 first shards, 2 children of the split, 1 from the merge
    if kinesis_server.name == "moto":
        # moto 5.2 keeps routing records to a split parent and never ends a closed shard, so the
        # parents never finish and their children wait; exactly-once and order hold all the same.
        # Parents-before-children is shown against kinesis-mock and the scripted server.
        assert list(status.values()).count("finished") == 0
    else:
        assert sorted(status.values()) == ["finished"] * 3 + ["reading"] * 2


def test_an_on_demand_stream(conn):
    name = f"on-demand-{time.monotonic_ns()}"
    conn.create_stream(name, stream_mode="ON_DEMAND")
    try:
        wait_active(conn, name)
        sent = put_numbered(conn, name, [f"k{i}" for i in range(30)], 3)
        with kinesis.StreamReader(conn, name, "TRIM_HORIZON", idle_timeout=1.0, **FAST) as reader:
            data = [r.data.decode() for r in reader]
            assert len(reader.shards()) == len(shard_ids(conn, name)) > 1
        assert sorted(data) == sorted(sent)
    finally:
        delete_quietly(conn, name)


def test_other_threads_run_while_a_reader_waits(conn, stream):
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.005)

    thread = threading.Thread(target=ticker)
    reader = kinesis.StreamReader(conn, stream, idle_timeout=1.0, **FAST)
    thread.start()
    try:
        assert list(reader) == []  # blocks for idle_timeout: the GIL must be free meanwhile
    finally:
        stop.set()
        thread.join()
        reader.close()
    assert ticks > 50


def test_a_deleted_stream_ends_reading_with_the_mapped_error(conn):
    stream = make_stream(conn, 1)
    put_numbered(conn, stream, ["k"], 2)
    reader = kinesis.StreamReader(conn, stream, "TRIM_HORIZON", **FAST)
    assert len([next(reader), next(reader)]) == 2
    delete_quietly(conn, stream)
    # moto forgets the stream at once; kinesis-mock keeps it DELETING for a while, which the
    # service (and kinesis-mock) reports as ResourceInUseException.
    with pytest.raises((kx.ResourceNotFoundException, kx.ResourceInUseException)):
        for _ in reader:
            pass
    reader.close()


def test_a_missing_stream_raises_when_the_reader_is_made(conn):
    with pytest.raises(kx.ResourceNotFoundException):
        kinesis.StreamReader(conn, "no-such-stream-here", **FAST)


async def test_a_missing_stream_raises_on_the_first_async_iteration(aconn):
    reader = kinesis.aio.StreamReader(aconn, "no-such-stream-here", **FAST)
    with pytest.raises(kx.ResourceNotFoundException):
        await reader.__anext__()
    # After the error the reader is over.
    assert [r async for r in reader] == []


def test_close_stops_a_reader_and_iteration_ends(conn, stream):
    put_numbered(conn, stream, ["a", "b"], 50)
    reader = kinesis.StreamReader(conn, stream, "TRIM_HORIZON", **FAST)
    assert next(reader) is not None
    reader.close()
    assert list(reader) == []
    assert "StreamReader" in repr(reader)


def test_a_small_buffer_still_delivers_everything(conn, stream):
    sent = put_numbered(conn, stream, [f"k{i}" for i in range(10)], 30)
    with kinesis.StreamReader(
        conn, stream, "TRIM_HORIZON", idle_timeout=1.0, max_buffered_bytes=1024, limit=7, **FAST
    ) as reader:
        data = [r.data.decode() for r in reader]
    assert sorted(data) == sorted(sent)


# --- asyncio ------------------------------------------------------------------------------------


async def test_async_shard_iterator_and_stream_reader(aconn, conn, stream, tmp_path):
    sent = put_numbered(conn, stream, [f"k{i}" for i in range(5)], 4)
    read = []
    for shard_id in shard_ids(conn, stream):
        iterator = kinesis.aio.ShardIterator(aconn, stream, shard_id, "TRIM_HORIZON", idle_timeout=0.3, **FAST)
        read += [r async for r in iterator]
        await iterator.close()
    assert sorted(r.data.decode() for r in read) == sorted(sent)

    store = kinesis.FileCheckpointStore(tmp_path / "cp.json")
    async with kinesis.aio.StreamReader(
        aconn, stream, "TRIM_HORIZON", checkpoints=store, idle_timeout=1.0, **FAST
    ) as reader:
        first = [r async for r in reader]
        await reader.checkpoint()
    assert sorted(r.data.decode() for r in first) == sorted(sent)
    more = put_numbered(conn, stream, ["later"], 3)
    async with kinesis.aio.StreamReader(
        aconn, stream, "TRIM_HORIZON", checkpoints=store, idle_timeout=1.0, **FAST
    ) as reader:
        assert [r.data.decode() async for r in reader] == more


async def test_async_reader_does_not_block_the_event_loop(aconn, conn, stream):
    reader = kinesis.aio.StreamReader(aconn, stream, "TRIM_HORIZON", idle_timeout=1.0, **FAST)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(ticker())
    assert [r async for r in reader] == []  # empty stream: waits idle_timeout, then ends
    task.cancel()
    assert ticks > 10
    await reader.close()


async def test_async_checkpoint_with_a_coroutine_store(aconn, conn, stream):
    saved = []

    class AsyncStore:
        def load(self, stream_name):
            return {}

        async def save(self, stream_name, positions):
            saved.append((stream_name, positions))

    put_numbered(conn, stream, ["k"], 2)
    async with kinesis.aio.StreamReader(
        aconn, stream, "TRIM_HORIZON", checkpoints=AsyncStore(), idle_timeout=1.0, **FAST
    ) as reader:
        assert len([r async for r in reader]) == 2
        await reader.checkpoint()
    ((name, positions),) = saved
    assert name == stream and len(positions) == 1


def test_sync_and_async_faces_refuse_the_other_loop(conn, stream):
    iterator = kinesis.aio.ShardIterator(conn, stream, shard_ids(conn, stream)[0])
    with pytest.raises(TypeError, match="async for"):
        next(iterator)
    reader = kinesis.StreamReader(conn, stream)
    with pytest.raises(TypeError, match=r"kinesis\.aio\.StreamReader"):
        reader.__aiter__()
    reader.close()


def test_a_reader_made_before_fork_says_so_in_the_child(conn, stream):
    import os

    put_numbered(conn, stream, ["k"], 1)
    reader = kinesis.StreamReader(conn, stream, "TRIM_HORIZON", idle_timeout=1.0, **FAST)
    iterator = kinesis.ShardIterator(conn, stream, shard_ids(conn, stream)[0], "TRIM_HORIZON", idle_timeout=0.3)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code, never return into pytest
        code = 1
        try:
            try:
                next(reader)
                next(reader)
            except RuntimeError as err:
                code = 0 if "os.fork()" in str(err) else 2
            list(iterator)  # a ShardIterator has no background tasks: it works in the child
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    reader.close()


async def test_notebook_views_of_records_and_readers(conn, aconn, stream):
    put = conn.put_record(stream, "<b>not bold</b>", "key & co")
    with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", idle_timeout=1.0, **FAST) as reader:
        (record,) = list(reader)
        page = reader._repr_html_()
    assert "StreamReader" in page and "2 reading" in page and f"after {put['SequenceNumber']}" in page
    html = record._repr_html_()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "key &amp; co" in html and "<b>" not in html
    iterator = kinesis.ShardIterator(conn, stream, put["ShardId"], "TRIM_HORIZON", idle_timeout=0.3, **FAST)
    list(iterator)
    assert put["ShardId"] in iterator._repr_html_() and put["SequenceNumber"] in iterator._repr_html_()
    areader = kinesis.aio.StreamReader(aconn, stream, "TRIM_HORIZON", idle_timeout=1.0, **FAST)
    assert [r.data async for r in areader] == [b"<b>not bold</b>"]
    assert "StreamReader" in areader._repr_html_()
    await areader.close()
