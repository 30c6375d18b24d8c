"""What the producer tests check on a stream after writing to it: read every shard back (with our
reader and, independently, boto3 + aws-kinesis-agg) and compare with what was put."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional

import boto3
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from kinesis.aggregation import deaggregate, partition_key_hash


@dataclass(frozen=True)
class ReadRecord:
    """One user record as read back."""

    shard_id: str
    sequence_number: str
    sub_sequence_number: Optional[int]
    partition_key: str
    explicit_hash_key: Optional[str]
    data: bytes


@dataclass
class OuterRecord:
    """One Kinesis record as read back (an aggregate or a plain record) and its user records."""

    shard_id: str
    aggregated: bool
    users: list[ReadRecord]


def shards_in_lineage_order(conn, stream: str) -> list[dict]:
    """Every shard of the stream, parents before children (so per-key order can be checked)."""
    shards = conn.list_shards(stream, paginate=True)["Shards"]
    by_id = {s["ShardId"]: s for s in shards}
    ordered: list[dict] = []
    seen: set[str] = set()

    def visit(shard: dict) -> None:
        if shard["ShardId"] in seen:
            return
        for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")):
            if parent in by_id:
                visit(by_id[parent])
        seen.add(shard["ShardId"])
        ordered.append(shard)

    for shard in shards:
        visit(shard)
    return ordered


def read_outer_records(conn, stream: str) -> list[OuterRecord]:
    """Every record of every shard from TRIM_HORIZON, with the connection's get_records."""
    out = []
    for shard in shards_in_lineage_order(conn, stream):
        shard_id = shard["ShardId"]
        iterator = conn.get_shard_iterator(stream, shard_id, "TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = conn.get_records(iterator, as_bytes=True)
            for record in page["Records"]:
                users = deaggregate(record["Data"])
                if users is None:
                    read = ReadRecord(
                        shard_id,
                        record["SequenceNumber"],
                        None,
                        record["PartitionKey"],
                        None,
                        record["Data"],
                    )
                    out.append(OuterRecord(shard_id, False, [read]))
                else:
                    reads = [
                        ReadRecord(
                            shard_id,
                            record["SequenceNumber"],
                            u["SubSequenceNumber"],
                            u["PartitionKey"],
                            u.get("ExplicitHashKey"),
                            u["Data"],
                        )
                        for u in users
                    ]
                    out.append(OuterRecord(shard_id, True, reads))
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return out


def read_with_boto3(endpoint_url: str, stream: str) -> list[tuple[str, bytes, str, Optional[int]]]:
    """(partition key, data, sequence number, sub-sequence number) of every user record, read with
    boto3 and deaggregated by aws-kinesis-agg: an implementation independent of ours."""
    client = boto3.client(
        "kinesis",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    out = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator)
            for user in iter_deaggregate_records(page["Records"], data_format="Boto3"):
                k = user["kinesis"]
                data = base64.b64decode(k["data"]) if k.get("aggregated") else k["data"]
                out.append((k["partitionKey"], data, k["sequenceNumber"], k.get("subSequenceNumber")))
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return out


def hash_ranges(conn, stream: str) -> dict[str, tuple[int, int]]:
    shards = conn.list_shards(stream, paginate=True)["Shards"]
    return {
        s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    }


def hash_key_of(record: ReadRecord) -> int:
    if record.explicit_hash_key is not None:
        return int(record.explicit_hash_key)
    return partition_key_hash(record.partition_key)


def check_read_back(
    conn,
    endpoint_url: str,
    stream: str,
    put: list[tuple[bytes, str, Optional[str]]],
    results: list[dict],
    *,
    same_shard_aggregates: bool = True,
    positions: bool = True,
    order_across_shards: bool = True,
) -> list[OuterRecord]:
    """Exactly the records put came back, in order per partition key, where their results said.

    ``put`` is (data, partition_key, explicit_hash_key) in put order, each data unique; ``results``
    the futures' results in the same order. ``positions=False`` skips comparing the results'
    shard and sequence numbers with what was read (moto rewrites a shard's records when it splits it).
    ``order_across_shards=False`` checks the order per hash key within each shard only: aggregates sent
    with the shard map of before a split may hold records of both children and land on one of them.
    """
    outers = read_outer_records(conn, stream)
    users = [u for o in outers for u in o.users]
    read_data = [u.data for u in users]
    assert sorted(read_data) == sorted(d for d, _, _ in put), "the stream holds other records than were put"
    assert len(set(read_data)) == len(read_data), "a record was written twice"

    by_data = {u.data: u for u in users}
    for (data, key, ehk), result in zip(put, results):
        read = by_data[data]
        assert read.partition_key == key
        if read.sub_sequence_number is not None:  # GetRecords does not return a plain record's EHK
            assert read.explicit_hash_key == ehk
        if not positions:
            continue
        assert result["ShardId"] == read.shard_id
        assert result["SequenceNumber"] == read.sequence_number
        assert result.get("SubSequenceNumber") == read.sub_sequence_number

    # Per hash key (a partition key's, or an explicit one), so per shard: the order read (shards in
    # lineage order, then by sequence number) is the order put.
    put_order: dict[str, list[bytes]] = {}
    for data, key, ehk in put:
        put_order.setdefault(ehk or key, []).append(data)
    routing = {data: ehk or key for data, key, ehk in put}
    if order_across_shards:
        read_order: dict[str, list[bytes]] = {}
        for u in users:
            read_order.setdefault(routing[u.data], []).append(u.data)
        assert read_order == put_order
    else:
        position = {data: i for i, (data, _, _) in enumerate(put)}
        per_shard: dict[tuple[str, str], list[int]] = {}
        for u in users:
            per_shard.setdefault((u.shard_id, routing[u.data]), []).append(position[u.data])
        for (shard_id, key), positions_read in per_shard.items():
            assert positions_read == sorted(positions_read), f"{key} out of order on {shard_id}"

    if same_shard_aggregates:
        ranges = hash_ranges(conn, stream)
        for outer in (o for o in outers if o.aggregated):
            low, high = ranges[outer.shard_id]
            for u in outer.users:
                assert low <= hash_key_of(u) <= high, f"{u} was aggregated into a record of {outer.shard_id}"

    theirs = read_with_boto3(endpoint_url, stream)
    assert sorted(d for _, d, _, _ in theirs) == sorted(read_data)
    ours = {u.data: (u.partition_key, u.sequence_number, u.sub_sequence_number) for u in users}
    assert {d: (k, s, sub) for k, d, s, sub in theirs} == ours
    return outers
