"""The classic boto 2 Kinesis script, unchanged except for its import lines.

Originally::

    from boto.kinesis import connect_to_region
    from boto.kinesis.exceptions import ResourceNotFoundException

boto 2 needed ``host``/``port``/``is_secure`` to reach a local endpoint, so the script takes them too.
"""

# ruff: noqa: UP031 - the legacy script keeps its %-formatting

from __future__ import annotations

import json
import time

from conftest import unique_name
from kinesis import connect_to_region  # was: from boto.kinesis import connect_to_region
from kinesis.exceptions import ResourceNotFoundException  # was: from boto.kinesis.exceptions import ...


def legacy_script(host, port, stream_name, out):
    kinesis = connect_to_region("us-east-1", host=host, port=port, is_secure=False)

    # create the stream unless it exists, then wait for it
    try:
        kinesis.describe_stream(stream_name)
    except ResourceNotFoundException:
        kinesis.create_stream(stream_name, 2)
    while True:
        status = kinesis.describe_stream(stream_name)["StreamDescription"]["StreamStatus"]
        if status == "ACTIVE":
            break
        time.sleep(0.05)

    # produce
    for i in range(10):
        event = {"id": i, "kind": "click", "user": "user-%d" % (i % 3)}
        response = kinesis.put_record(stream_name, json.dumps(event), event["user"])
        out.append(("put", response["ShardId"], response["SequenceNumber"]))
    batch = [{"Data": json.dumps({"id": 100 + i, "kind": "batch"}), "PartitionKey": "batch-%d" % i} for i in range(5)]
    response = kinesis.put_records(batch, stream_name)
    out.append(("put_records", response["FailedRecordCount"], len(response["Records"])))

    # consume: every shard from the start
    description = kinesis.describe_stream(stream_name)
    events = []
    for shard in description["StreamDescription"]["Shards"]:
        shard_id = shard["ShardId"]
        shard_it = kinesis.get_shard_iterator(stream_name, shard_id, "TRIM_HORIZON")["ShardIterator"]
        while True:
            result = kinesis.get_records(shard_it, limit=4)
            for record in result["Records"]:
                events.append(json.loads(record["Data"]))
                out.append(("record", shard_id, record["PartitionKey"], record["SequenceNumber"]))
            if not result["Records"]:
                break
            shard_it = result["NextShardIterator"]

    kinesis.delete_stream(stream_name)
    return events


def test_seed_flow(kinesis_server):
    out: list = []
    name = unique_name("seed")
    events = legacy_script("127.0.0.1", kinesis_server.port, name, out)

    puts = [o for o in out if o[0] == "put"]
    assert len(puts) == 10
    assert all(o[1].startswith("shardId-") and o[2].isdigit() for o in puts)
    assert ("put_records", 0, 5) in out

    assert sorted(e["id"] for e in events) == list(range(10)) + list(range(100, 105))
    assert all(e["kind"] in ("click", "batch") for e in events)
    # per shard, records come back in sequence-number order
    by_shard: dict = {}
    for o in out:
        if o[0] == "record":
            by_shard.setdefault(o[1], []).append(int(o[3]))
    assert by_shard and all(seqs == sorted(seqs) for seqs in by_shard.values())
    # per partition key, order of puts is kept
    user0 = [e["id"] for e in events if e.get("user") == "user-0"]
    assert user0 == [0, 3, 6, 9]


def test_seed_flow_reuses_an_existing_stream(conn, kinesis_server):
    name = unique_name("seed")
    conn.create_stream(name, 2)
    out: list = []
    events = legacy_script("127.0.0.1", kinesis_server.port, name, out)
    assert len(events) == 15
