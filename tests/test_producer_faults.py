"""The producer against a scripted server: partial failures, throttling, 5xx and dropped connections
are retried (only what failed), TTL expiry and non-retryable errors reach the futures, the buffer bound
holds, and records buffered at interpreter exit are flushed or reported."""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import os
import queue
import subprocess
import sys
import textwrap
import threading

import kinesis
import kinesis.aio
import pytest
from conftest import REGION, delete_quietly, make_stream
from kinesis.aggregation import deaggregate
from kinesis.exceptions import (
    BufferFullError,
    KMSAccessDeniedException,
    PartialFailureError,
    ProvisionedThroughputExceededException,
    RecordExpiredError,
    ResourceNotFoundException,
)
from producer_checks import read_outer_records
from scripted_server import Reply, Request, ScriptedServer, shards_body


class FakeStream:
    """Answers PutRecords like the service: each entry lands on the shard its hash key falls in,
    unless the script says it fails. Keeps every user record it accepted."""

    def __init__(self, server: ScriptedServer, shard_count: int = 1) -> None:
        self.server = server
        self.shards = shards_body(shard_count)
        self.sequence = itertools.count(1)
        self.accepted: list[bytes] = []
        self.failures: dict[int, dict[int, str]] = {}  # PutRecords call index → {entry index: ErrorCode}
        self.shard_failures: dict[int, dict[str, str]] = {}  # PutRecords call index → {shard id: ErrorCode}
        self.calls: list[list[dict]] = []
        self.lock = threading.Lock()
        server.always("ListShards", Reply.json({"Shards": self.shards}))
        server.always("PutRecords", self.answer)

    def shard_of(self, entry: dict) -> str:
        ehk = entry.get("ExplicitHashKey")
        key = int(ehk) if ehk else int.from_bytes(hashlib.md5(entry["PartitionKey"].encode()).digest(), "big")
        for shard in self.shards:
            if "EndingSequenceNumber" in shard["SequenceNumberRange"]:
                continue  # closed
            if int(shard["HashKeyRange"]["StartingHashKey"]) <= key <= int(shard["HashKeyRange"]["EndingHashKey"]):
                return shard["ShardId"]
        raise AssertionError(f"no shard for {key}")

    def split_first_shard(self) -> None:
        """Split shard 0 in two halves, as SplitShard does: the parent closes, two children open."""
        parent = dict(self.shards[0])
        low, high = int(parent["HashKeyRange"]["StartingHashKey"]), int(parent["HashKeyRange"]["EndingHashKey"])
        middle = (low + high) // 2
        parent["SequenceNumberRange"] = {**parent["SequenceNumberRange"], "EndingSequenceNumber": "1"}
        children = [
            {
                "ShardId": f"shardId-{900 + i:012d}",
                "ParentShardId": parent["ShardId"],
                "HashKeyRange": {"StartingHashKey": str(start), "EndingHashKey": str(end)},
                "SequenceNumberRange": {"StartingSequenceNumber": "2"},
            }
            for i, (start, end) in enumerate([(low, middle), (middle + 1, high)])
        ]
        self.shards = [parent, *children, *self.shards[1:]]
        self.server.always("ListShards", Reply.json({"Shards": self.shards}))

    def answer(self, request: Request) -> Reply:
        entries = request.body["Records"]
        with self.lock:
            index = len(self.calls)
            self.calls.append(entries)
            failing = dict(self.failures.get(index, {}))
            by_shard = self.shard_failures.get(index, {})
            failing.update(
                {i: by_shard[self.shard_of(e)] for i, e in enumerate(entries) if self.shard_of(e) in by_shard}
            )
            results = []
            for i, entry in enumerate(entries):
                if i in failing:
                    results.append({"ErrorCode": failing[i], "ErrorMessage": "scripted"})
                    continue
                data = base64.b64decode(entry["Data"])
                users = deaggregate(data)
                self.accepted.extend([u["Data"] for u in users] if users is not None else [data])
                results.append({"ShardId": self.shard_of(entry), "SequenceNumber": str(next(self.sequence))})
        return Reply.json({"FailedRecordCount": len(failing), "Records": results})


def records_on_each_shard(shard_count: int, per_shard: int) -> list[tuple[bytes, str, str]]:
    """Records with explicit hash keys inside each shard's range, shard after shard."""
    step = 2**128 // shard_count
    return [
        (b"s%d-r%d" % (s, i), f"k{s}", str(s * step + 1000 + i)) for s in range(shard_count) for i in range(per_shard)
    ]


def test_only_the_failed_entries_are_sent_again(scripted, scripted_conn, caplog) -> None:
    stream = FakeStream(scripted, shard_count=4)
    stream.failures[0] = {1: "ProvisionedThroughputExceededException", 3: "InternalFailure"}
    records = records_on_each_shard(4, 25)
    with caplog.at_level(logging.INFO, logger="kinesis.producer"):
        with kinesis.Producer(scripted_conn, "s", linger_ms=50) as producer:
            results = producer.put_many(records).result(timeout=30)
            metrics = producer.metrics()
    assert "2 PutRecords entries failed and will be sent again" in caplog.text
    first = stream.calls[0]
    assert len(first) == 4  # one aggregate per shard
    # Each shard backs off on its own, so the two may come back in one call or two.
    retried = sorted(e["Data"] for call in stream.calls[1:] for e in call)
    assert retried == sorted([first[1]["Data"], first[3]["Data"]])
    assert sorted(stream.accepted) == sorted(d for d, _, _ in records)  # each exactly once
    assert [r["ShardId"] for r in results] == [stream.shard_of({"ExplicitHashKey": e}) for _, _, e in records]
    assert metrics["retries"] == 2 and metrics["throttles"] == 1 and metrics["records_sent"] == 100


def test_a_retried_record_is_not_overtaken_by_later_ones(scripted, scripted_conn) -> None:
    stream = FakeStream(scripted)
    stream.failures[0] = {0: "ProvisionedThroughputExceededException"}
    stream.failures[1] = {0: "InternalFailure"}
    records = [(b"r%03d" % i, f"k{i % 3}", None) for i in range(60)]
    with kinesis.Producer(scripted_conn, "s", linger_ms=0) as producer:
        futures = [producer.put_many(records[i : i + 10]) for i in range(0, 60, 10)]
        for future in futures:
            future.result(timeout=30)
    assert stream.accepted == [d for d, _, _ in records]  # in the order put, each once
    assert producer.metrics()["retries"] == 2


def test_after_a_split_unsent_records_are_routed_again_so_no_aggregate_straddles(scripted, scripted_conn) -> None:
    stream = FakeStream(scripted)
    gate = Gate(stream)
    scripted.always("PutRecords", gate)
    half = 2**127
    first = [(b"a%02d" % i, "k", str(i if i % 2 else half + i)) for i in range(20)]
    second = [(b"b%02d" % i, "k", str(i if i % 2 else half + i)) for i in range(20)]
    try:
        with kinesis.Producer(scripted_conn, "s", linger_ms=0) as producer:
            first_results = producer.put_many(first)
            assert scripted.wait_for_requests(3)  # DescribeStreamSummary, ListShards, the first PutRecords
            stream.split_first_shard()
            second_results = producer.put_many(second)  # waits behind the first call, in the parent's queue
            gate.opened.set()
            first_results.result(timeout=30)
            results = second_results.result(timeout=30)
            assert producer.metrics()["shard_map_refreshes"] >= 1
    finally:
        gate.opened.set()
    assert sorted(stream.accepted) == sorted(d for d, _, _ in first + second)
    # The first call was built with the old map; everything after it went to the right child, whole.
    for entries in stream.calls[1:]:
        for entry in entries:
            users = deaggregate(base64.b64decode(entry["Data"])) or [entry]
            assert {stream.shard_of(u) for u in users} == {stream.shard_of(entry)}
    assert {r["ShardId"] for r in results} == {"shardId-000000000900", "shardId-000000000901"}


@pytest.mark.parametrize(
    "failure",
    [
        Reply.error("ProvisionedThroughputExceededException"),
        Reply.error("InternalFailure", status=500),
        Reply(status=503, body=b"<html>busy</html>", headers={"Content-Type": "text/html"}),
        Reply.close(),
    ],
    ids=["throttled", "500", "503-html", "dropped"],
)
def test_whole_call_failures_are_retried_with_the_same_entries(scripted, scripted_conn, failure) -> None:
    stream = FakeStream(scripted)
    scripted.queue("PutRecords", failure, failure)
    records = [(b"r%d" % i, f"k{i % 5}", None) for i in range(50)]
    with kinesis.Producer(scripted_conn, "s", linger_ms=20) as producer:
        results = producer.put_many(records).result(timeout=30)
        metrics = producer.metrics()
    bodies = [r.body["Records"] for r in scripted.requests if r.action == "PutRecords"]
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert sorted(stream.accepted) == sorted(d for d, _, _ in records)
    assert len(results) == 50 and metrics["retries"] == 2 * len(bodies[0])


def test_record_ttl_expiry_raises_with_the_last_error(scripted, scripted_conn) -> None:
    FakeStream(scripted)
    scripted.always("PutRecords", Reply.error("ProvisionedThroughputExceededException"))
    with kinesis.Producer(scripted_conn, "s", linger_ms=1, record_ttl=0.3) as producer:
        single = producer.put(b"x", "k")
        many = producer.put_many([(b"y", "k"), (b"z", "k")])
        with pytest.raises(RecordExpiredError) as caught:
            single.result(timeout=30)
        with pytest.raises(PartialFailureError) as partial:
            many.result(timeout=30)
    err = caught.value
    assert err.attempts >= 1
    assert isinstance(err.last_error, ProvisionedThroughputExceededException)
    assert err.__cause__ is err.last_error
    assert len(partial.value.results) == 2 and all(isinstance(e, RecordExpiredError) for e in partial.value.errors)
    assert producer.metrics()["records_expired"] == 3


def test_a_non_retryable_entry_error_fails_that_record_only(scripted, scripted_conn) -> None:
    stream = FakeStream(scripted, shard_count=2)
    stream.shard_failures[0] = {"shardId-000000000000": "KMSAccessDeniedException"}
    records = records_on_each_shard(2, 3)
    with kinesis.Producer(scripted_conn, "s", linger_ms=50) as producer:
        with pytest.raises(PartialFailureError) as caught:
            producer.put_many(records).result(timeout=30)
    results = caught.value.results
    assert all(isinstance(r, KMSAccessDeniedException) for r in results[:3])
    assert all(isinstance(r, dict) for r in results[3:])
    assert len(stream.calls) == 1  # not sent again
    assert sorted(stream.accepted) == sorted(d for d, _, _ in records[3:])


def test_a_non_retryable_call_error_reaches_the_future(scripted, scripted_conn) -> None:
    FakeStream(scripted)
    scripted.queue("PutRecords", Reply.error("ResourceNotFoundException"))
    with kinesis.Producer(scripted_conn, "s", linger_ms=1) as producer:
        with pytest.raises(ResourceNotFoundException):
            producer.put(b"x", "k").result(timeout=30)


class Gate:
    """A PutRecords answer that waits until the test opens the gate."""

    def __init__(self, stream: FakeStream) -> None:
        self.stream = stream
        self.opened = threading.Event()

    def __call__(self, request: Request) -> Reply:
        self.opened.wait(30)
        return self.stream.answer(request)


def test_a_full_buffer_blocks_or_raises(scripted, scripted_conn) -> None:
    stream = FakeStream(scripted)
    gate = Gate(stream)
    scripted.always("PutRecords", gate)
    record = b"x" * 500
    try:
        producer = kinesis.Producer(scripted_conn, "s", linger_ms=0, max_buffered_bytes=2000)
        futures = [producer.put(record, "k", block=False) for _ in range(3)]
        with pytest.raises(BufferFullError) as caught:
            producer.put(record, "k", block=False)
        assert isinstance(caught.value, queue.Full)
        assert producer.metrics()["buffered_bytes"] <= 2000
        with pytest.raises(BufferFullError):
            producer.put_many([(record, "k")], block=False)

        started = threading.Event()
        outcome: dict = {}

        def blocked_put() -> None:
            started.set()
            outcome["future"] = producer.put(record, "k")  # blocks until the gate opens
            outcome["after_gate"] = gate.opened.is_set()

        thread = threading.Thread(target=blocked_put)
        thread.start()
        started.wait(10)
        gate.opened.set()
        thread.join(30)
        assert outcome["after_gate"] is True
        futures.append(outcome["future"])
        assert producer.close(timeout=30) is True
        assert all(f.result(timeout=0)["ShardId"] for f in futures)
        assert len(stream.accepted) == 4
    finally:
        gate.opened.set()


def test_memory_stays_bounded_while_putting_much_more_than_the_buffer(scripted, scripted_conn) -> None:
    stream = FakeStream(scripted)
    limit = 20_000
    peak = 0
    with kinesis.Producer(scripted_conn, "s", linger_ms=1, max_buffered_bytes=limit) as producer:
        for i in range(1500):
            producer.put(b"%06d" % i + b"x" * 994, f"k{i % 3}")
            peak = max(peak, producer.metrics()["buffered_bytes"])
    assert peak <= limit
    assert len(stream.accepted) == 1500


def test_flush_with_a_timeout_returns_false_while_the_server_holds_on(scripted, scripted_conn) -> None:
    gate = Gate(FakeStream(scripted))
    scripted.always("PutRecords", gate)
    try:
        producer = kinesis.Producer(scripted_conn, "s", linger_ms=0)
        future = producer.put(b"x", "k")
        assert producer.flush(timeout=0.2) is False
        gate.opened.set()
        assert producer.flush(timeout=30) is True
        assert future.result(timeout=0)["SequenceNumber"] == "1"
        producer.close()
    finally:
        gate.opened.set()


async def test_asyncio_put_awaits_room_or_raises(scripted, scripted_aconn) -> None:
    import asyncio

    gate = Gate(FakeStream(scripted))
    scripted.always("PutRecords", gate)
    try:
        async with kinesis.aio.Producer(scripted_aconn, "s", linger_ms=0, max_buffered_bytes=1000) as producer:
            first = await producer.put(b"x" * 900, "k")
            with pytest.raises(BufferFullError):
                await producer.put(b"y" * 900, "k", block=False)
            waiting = asyncio.ensure_future(producer.put(b"z" * 900, "k"))
            await asyncio.sleep(0)
            assert not waiting.done()
            await asyncio.get_running_loop().run_in_executor(None, gate.opened.set)
            second = await waiting
            results = await asyncio.gather(first, second)
        assert [r["ShardId"] for r in results] == ["shardId-000000000000"] * 2
    finally:
        gate.opened.set()


# --- interpreter exit -------------------------------------------------------------------------------


def run_script(source: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


def test_records_buffered_at_exit_are_sent(conn, kinesis_server) -> None:
    name = make_stream(conn, 1)
    try:
        done = run_script(
            f"""
            import kinesis
            conn = kinesis.connect_to_region({REGION!r}, endpoint_url={kinesis_server.endpoint_url!r})
            producer = kinesis.Producer(conn, {name!r}, linger_ms=600_000)
            for i in range(100):
                producer.put(b"exit-%03d" % i, "k")
            print("buffered", producer.metrics()["buffered_records"])
            """
        )
        assert done.returncode == 0, done.stderr
        assert "buffered 100" in done.stdout
        assert done.stderr == ""
        read = [u.data for o in read_outer_records(conn, name) for u in o.users]
        assert read == [b"exit-%03d" % i for i in range(100)]
    finally:
        delete_quietly(conn, name)


def test_a_forked_child_is_told_to_make_its_own_producer(scripted) -> None:
    FakeStream(scripted)
    done = run_script(
        f"""
        import os, sys
        import kinesis
        conn = kinesis.connect_to_region({REGION!r}, endpoint_url={scripted.endpoint_url!r})
        producer = kinesis.Producer(conn, "s", linger_ms=0)
        producer.put(b"parent", "k").result(timeout=30)
        pid = os.fork()
        if pid == 0:
            try:
                producer.put(b"child", "k")
            except RuntimeError as err:
                os._exit(0 if "before fork" in str(err) else 1)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        producer.close()
        """
    )
    assert done.returncode == 0, done.stderr
    assert "child 0" in done.stdout


def test_records_that_cannot_be_sent_at_exit_are_reported(scripted) -> None:
    FakeStream(scripted)
    scripted.always("PutRecords", Reply.close())
    done = run_script(
        f"""
        import kinesis
        conn = kinesis.connect_to_region({REGION!r}, endpoint_url={scripted.endpoint_url!r}, retry_base_delay=0.01)
        producer = kinesis.Producer(conn, "s", linger_ms=0, exit_timeout=0.5)
        producer.put_many([(b"r%d" % i, "k") for i in range(7)])
        """
    )
    assert done.returncode == 0, done.stderr
    assert "7 record(s) were still unsent" in done.stderr
