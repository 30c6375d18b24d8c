"""kinesis.StreamReader and kinesis.ShardIterator through the fault proxy in front of the emulator:
every record yielded exactly once, in order, through throttling, resets, expired iterators, 5xx storms,
truncated and non-JSON answers and slow answers (issue: faults and bad input)."""

from __future__ import annotations

from collections import Counter

import kinesis
import pytest
from conftest import REGION, emulator_stream
from fault_proxy import Fault

RECORDS = 2_000
KEYS = 40
FAST = {"idle_interval": 0.02, "max_calls_per_second": 100.0}


@pytest.fixture
def filled_stream(kinesis_server):
    """A 4-shard stream holding RECORDS records, ``key:n`` for KEYS keys, written straight to the emulator."""
    with emulator_stream(kinesis_server, 4, "reader-faults") as name:
        direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
        entries = [{"Data": f"k{i % KEYS}:{i // KEYS}", "PartitionKey": f"k{i % KEYS}"} for i in range(RECORDS)]
        for start in range(0, RECORDS, 500):
            assert direct.put_records(entries[start : start + 500], name)["FailedRecordCount"] == 0
        direct.close()
        yield name, sorted(e["Data"] for e in entries)


def add_read_faults(proxy, storm: float = 1.0):
    proxy.add("GetRecords", Fault.throttle(), rate=0.15 * storm)
    proxy.add("GetRecords", Fault.expire_iterator(), rate=0.1 * storm)
    proxy.add("GetRecords", Fault.status_code(500), rate=0.1 * storm)
    proxy.add("GetRecords", Fault.status_code(503), rate=0.1 * storm)
    proxy.add("GetRecords", Fault.reset_mid(), rate=0.05 * storm)
    proxy.add("GetRecords", Fault.reset_before(), rate=0.05 * storm)
    proxy.add("GetRecords", Fault.truncate(), rate=0.05 * storm)
    proxy.add("GetRecords", Fault.non_json(), rate=0.03 * storm)
    proxy.add("GetRecords", Fault.delay(1), rate=0.02 * storm)
    proxy.add("GetShardIterator", Fault.reset_before(), rate=0.2 * storm)
    proxy.add("GetShardIterator", Fault.throttle(), rate=0.2 * storm)
    proxy.add("ListShards", Fault.status_code(503), rate=0.3 * storm)


def read_everything(reader, expected_count):
    """Until every record came (a long idle_timeout outlasts any backoff), then on with a short one,
    so that a record yielded twice at the very end is seen too."""
    records = []
    for record in reader:
        records.append(record)
        if len(records) >= expected_count:
            break
    reader.idle_timeout = 0.5
    records += list(reader)
    return records


def check_exactly_once_in_order(records, expected):
    data = [r.data.decode() for r in records]
    assert len(data) == len(set(data)), f"{len(data) - len(set(data))} records yielded twice"
    assert sorted(data) == expected, "every record, once"
    last: dict = {}
    for record in records:
        key, n = record.data.decode().split(":")
        assert int(n) > last.get(key, -1), f"{key}:{n} out of order"
        last[key] = int(n)


def test_stream_reader_yields_every_record_once_through_faults(fault_proxy, filled_stream):
    stream, expected = filled_stream
    add_read_faults(fault_proxy)
    conn = fault_proxy.connect(num_retries=1, read_timeout=0.5)
    with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", idle_timeout=60, limit=50, **FAST) as reader:
        records = read_everything(reader, RECORDS)
    check_exactly_once_in_order(records, expected)
    counts = fault_proxy.counts
    # Concurrent shards make the order of draws, and so the exact faults, vary from run to run.
    for kind in ("throttle", "expire_iterator", "status"):
        assert counts[kind] > 0, f"no {kind} fault happened: {dict(counts)}"
    broken = sum(counts[kind] for kind in ("reset_mid", "reset_before", "truncate", "non_json"))
    assert broken > 0, f"no broken answer happened: {dict(counts)}"
    print(f"\n{len(records)} records once each through faults {dict(counts)}")


def test_a_5xx_storm_only_slows_reading(fault_proxy, filled_stream):
    stream, expected = filled_stream
    # Half of all calls fail, and the connection does not retry them itself: the reader does.
    fault_proxy.add("*", Fault.status_code(503), rate=0.5)
    conn = fault_proxy.connect(num_retries=0, read_timeout=2)
    with kinesis.StreamReader(conn, stream, "TRIM_HORIZON", idle_timeout=60, limit=100, **FAST) as reader:
        records = read_everything(reader, RECORDS)
    check_exactly_once_in_order(records, expected)
    assert fault_proxy.counts["status"] >= 20


def test_shard_iterators_through_faults_and_a_checkpointed_restart(fault_proxy, filled_stream, tmp_path):
    stream, expected = filled_stream
    conn = fault_proxy.connect(num_retries=1, read_timeout=0.5)
    shards = [s["ShardId"] for s in conn.list_shards(stream)["Shards"]]
    add_read_faults(fault_proxy)
    records = []
    for shard in shards:
        # Closed or not, a shard's end is unknown here: read until idle, long enough to outlast backoff.
        iterator = kinesis.ShardIterator(conn, stream, shard, "TRIM_HORIZON", idle_timeout=4.0, limit=40, **FAST)
        records += list(iterator)
    check_exactly_once_in_order(records, expected)

    # Read again in stages through the faults, checkpointing to a file between readers.
    store = kinesis.FileCheckpointStore(tmp_path / "checkpoints.json")
    staged: list = []
    stages = Counter()
    while True:
        with kinesis.StreamReader(
            conn, stream, "TRIM_HORIZON", checkpoints=store, idle_timeout=4.0, limit=60, **FAST
        ) as reader:
            batch = []
            for record in reader:
                batch.append(record)
                if len(batch) == 333:
                    break
            reader.checkpoint()
        stages["readers"] += 1
        staged += batch
        if not batch:
            break
    check_exactly_once_in_order(staged, expected)
    assert stages["readers"] >= RECORDS // 333
