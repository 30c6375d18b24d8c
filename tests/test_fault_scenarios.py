"""Whole workloads through the fault proxy, with the connection API and the plain retry loops an application
writes around it: nothing is lost writing, nothing is lost or read twice reading.

(The Producer and StreamReader have their own fault suites; these are the guarantees of the layer below.)
"""

from __future__ import annotations

import time
from collections import Counter

import kinesis
import pytest
from conftest import REGION, emulator_stream
from fault_proxy import Fault
from kinesis import exceptions as kx

RECORDS = 20_000
BATCH = 500


@pytest.fixture
def wide_stream(kinesis_server):
    with emulator_stream(kinesis_server, 4, "scenario") as name:
        yield name


def put_all(conn, stream: str, records: list) -> Counter:
    """PutRecords ``records`` until every one is accepted: failed entries and failed calls are sent again."""
    stats: Counter = Counter()
    pending = list(records)
    while pending:
        batch, pending = pending[:BATCH], pending[BATCH:]
        stats["calls"] += 1
        try:
            result = conn.put_records(batch, stream)
        except kx.KinesisError as err:
            stats[type(err).__name__] += 1
            pending = batch + pending  # the whole batch again: at least once, maybe twice
            continue
        failed = [record for record, entry in zip(batch, result["Records"]) if entry.get("ErrorCode")]
        stats["failed entries"] += len(failed)
        pending = failed + pending
    return stats


def read_shard(conn, stream: str, shard: str, stats: Counter, limit: int = 2000) -> list:
    """Every record of a shard once, in order, through expired iterators and failed calls."""
    iterator = conn.get_shard_iterator(stream, shard, "TRIM_HORIZON")["ShardIterator"]
    last_sequence = None
    records: list = []
    idle = 0
    while idle < 2:  # two empty pages in a row: caught up (the shard stays open)
        stats["calls"] += 1
        try:
            page = conn.get_records(iterator, limit=limit)
        except kx.ExpiredIteratorException:
            stats["expired"] += 1
            kind, position = ("AFTER_SEQUENCE_NUMBER", last_sequence) if last_sequence else ("TRIM_HORIZON", None)
            iterator = conn.get_shard_iterator(stream, shard, kind, position)["ShardIterator"]
            continue
        except kx.KinesisError as err:  # the same iterator again: nothing was consumed
            stats[type(err).__name__] += 1
            continue
        records += page["Records"]
        if page["Records"]:
            last_sequence = page["Records"][-1]["SequenceNumber"]
        idle = 0 if page["Records"] else idle + 1
        iterator = page["NextShardIterator"]
    return records


@pytest.mark.timeout(300)
def test_twenty_thousand_records_through_faulty_writes(fault_proxy, kinesis_server, wide_stream):
    fault_proxy.add("PutRecords", Fault.fail_entries(0.2), rate=0.5)
    fault_proxy.add("PutRecords", Fault.throttle(), rate=0.05)
    fault_proxy.add("PutRecords", Fault.status_code(503), rate=0.05)
    fault_proxy.add("PutRecords", Fault.reset_before(), rate=0.03)
    fault_proxy.add("PutRecords", Fault.reset_after(), rate=0.03)
    fault_proxy.add("PutRecords", Fault.reset_mid(), rate=0.03)
    fault_proxy.add("PutRecords", Fault.truncate(), rate=0.03)
    conn = fault_proxy.connect(num_retries=2)
    records = [{"Data": f"record-{i:05d}", "PartitionKey": f"key-{i % 97}"} for i in range(RECORDS)]
    start = time.monotonic()
    stats = put_all(conn, wide_stream, records)
    elapsed = time.monotonic() - start

    direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
    read: list = []
    for shard in direct.list_shards(wide_stream)["Shards"]:
        read += [r["Data"] for r in read_shard(direct, wide_stream, shard["ShardId"], Counter())]
    direct.close()
    assert set(read) == {r["Data"] for r in records}, "every record must be stored"
    duplicates = len(read) - RECORDS
    # only answers lost after the emulator stored the batch (reset_after, reset_mid, truncate) duplicate
    lost_answers = sum(fault_proxy.counts[k] for k in ("reset_after", "reset_mid", "truncate"))
    assert duplicates <= lost_answers * BATCH
    assert fault_proxy.counts["fail_entries"] and stats["failed entries"]
    print(
        f"\n{RECORDS} records, {stats['calls']} PutRecords calls, {elapsed:.1f} s, faults {dict(fault_proxy.counts)}, "
        f"entries retried {stats['failed entries']}, duplicates {duplicates}"
    )


@pytest.mark.timeout(300)
def test_reading_exactly_once_through_faults(fault_proxy, kinesis_server, wide_stream):
    direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
    expected = [f"r{i:04d}" for i in range(2000)]
    for start in range(0, len(expected), BATCH):
        batch = [{"Data": d, "PartitionKey": d} for d in expected[start : start + BATCH]]
        assert direct.put_records(batch, wide_stream)["FailedRecordCount"] == 0
    shards = [s["ShardId"] for s in direct.list_shards(wide_stream)["Shards"]]
    direct.close()

    fault_proxy.add("GetRecords", Fault.throttle(), rate=0.15)
    fault_proxy.add("GetRecords", Fault.expire_iterator(), rate=0.1)
    fault_proxy.add("GetRecords", Fault.status_code(500), rate=0.1)
    fault_proxy.add("GetRecords", Fault.status_code(503), rate=0.1)
    fault_proxy.add("GetRecords", Fault.reset_mid(), rate=0.05)
    fault_proxy.add("GetRecords", Fault.truncate(), rate=0.05)
    fault_proxy.add("GetRecords", Fault.delay(1), rate=0.03)
    fault_proxy.add("GetShardIterator", Fault.reset_before(), rate=0.1)
    conn = fault_proxy.connect(num_retries=1, read_timeout=0.5)
    stats: Counter = Counter()
    read: list = []
    for shard in shards:
        records = read_shard(conn, wide_stream, shard, stats, limit=50)
        sequence_numbers = [int(r["SequenceNumber"]) for r in records]
        assert sequence_numbers == sorted(set(sequence_numbers)), f"{shard}: out of order or repeated"
        read += [r["Data"] for r in records]
    assert sorted(read) == expected, "each record exactly once"
    assert fault_proxy.counts["expire_iterator"] and stats["expired"]
    print(f"\n{len(read)} records read once each; {stats['calls']} GetRecords calls; faults {dict(fault_proxy.counts)}")
