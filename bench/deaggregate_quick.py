"""Quick client-CPU comparison: de-aggregating 100,000 KPL user records with kinesis.aggregation vs
boto3-style records through aws-kinesis-agg. Not a test; run: .venv/bin/python bench/deaggregate_quick.py

Workload: 100,000 user records of 100 bytes, each with its own 36-character partition key (a UUID,
the common case), packed as the KPL does into aggregates of at most 51,200 bytes (aws-kinesis-agg's
RecordAggregator builds them; its output is byte-identical to ours). The records are then shaped as
boto3's GetRecords returns them (dicts with Data as bytes) and de-aggregated:

* aws-kinesis-agg: ``iter_deaggregate_records(records, data_format="Boto3")`` (its fastest path:
  no base64 decoding of the input; it re-encodes each sub-record's data as base64, as it always does).
* kinesis: ``deaggregate(r["Data"])`` per record, and the same again merging the outer record's
  SequenceNumber / ApproximateArrivalTimestamp into each sub-record dict in Python (what a boto3-style
  consumer loop would do).

Timing is time.process_time (CPU of this process), best of several repetitions.
"""

from __future__ import annotations

import base64
import datetime
import gc
import hashlib
import json
import random
import time
import uuid

from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from kinesis.aggregation import deaggregate, deaggregate_records

N_RECORDS = 100_000
RECORD_SIZE = 100
MAX_AGGREGATE = 51_200
REPEATS = 5


def build() -> list[dict]:
    rng = random.Random(1)
    agg = RecordAggregator(max_size=MAX_AGGREGATE)
    blobs = []
    for _ in range(N_RECORDS):
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        full = agg.add_user_record(key, rng.randbytes(RECORD_SIZE))
        if full is not None:
            blobs.append(full.get_contents())
    last = agg.clear_and_get()
    if last is not None:
        blobs.append(last.get_contents())
    now = datetime.datetime.now(datetime.timezone.utc)
    return [
        {
            "SequenceNumber": str(49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898 + i),
            "ApproximateArrivalTimestamp": now,
            "Data": data,
            "PartitionKey": key,
        }
        for i, (key, _ehk, data) in enumerate(blobs)
    ]


def theirs(records: list[dict]) -> int:
    n = 0
    for _ in iter_deaggregate_records(records, data_format="Boto3"):
        n += 1
    return n


def ours(records: list[dict]) -> int:
    n = 0
    for r in records:
        subs = deaggregate(r["Data"])
        n += 1 if subs is None else len(subs)
    return n


def ours_with_metadata(records: list[dict]) -> int:
    out = []
    for r in records:
        subs = deaggregate(r["Data"])
        if subs is None:
            out.append(r)
            continue
        seq = r["SequenceNumber"]
        arrival = r["ApproximateArrivalTimestamp"]
        for s in subs:
            s["SequenceNumber"] = seq
            s["ApproximateArrivalTimestamp"] = arrival
        out.extend(subs)
    return len(out)


def theirs_kept(records: list[dict]) -> int:
    return len(list(iter_deaggregate_records(records, data_format="Boto3")))


def md5_only(records: list[dict]) -> int:
    for r in records:
        hashlib.md5(r["Data"][4:-16]).digest()
    return N_RECORDS


def get_records_bodies(records: list[dict]) -> list[bytes]:
    """The GetRecords JSON responses these records would arrive in (under 10 MiB of data each)."""
    bodies, page, size = [], [], 0
    for r in records:
        if size + len(r["Data"]) > 10 * 1024 * 1024:
            bodies.append(page)
            page, size = [], 0
        page.append(r)
        size += len(r["Data"])
    bodies.append(page)
    return [
        json.dumps(
            {
                "Records": [
                    {
                        "SequenceNumber": r["SequenceNumber"],
                        "ApproximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                        "Data": base64.b64encode(r["Data"]).decode(),
                        "PartitionKey": r["PartitionKey"],
                    }
                    for r in page
                ],
                "NextShardIterator": "AAAAAAAAAAH" * 20,
                "MillisBehindLatest": 0,
            }
        ).encode()
        for page in bodies
    ]


def boto3_parse(bodies: list[bytes]) -> int:
    """botocore's client-side parsing of GetRecords responses (JSON, base64, timestamps), no HTTP."""
    import botocore.parsers
    import botocore.session

    op = botocore.session.get_session().get_service_model("kinesis").operation_model("GetRecords")
    parser = botocore.parsers.create_parser("json")
    for body in bodies:
        parser.parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    return N_RECORDS


def ours_records(records: list[dict]) -> int:
    return len(deaggregate_records(records))


def best(fn, records) -> float:
    times = []
    for _ in range(REPEATS):
        gc.collect()
        start = time.process_time()
        count = fn(records)
        times.append(time.process_time() - start)
        assert count == N_RECORDS, count
    return min(times)


def main() -> None:
    records = build()
    total = sum(len(r["Data"]) for r in records)
    print(f"{N_RECORDS:,} user records of {RECORD_SIZE} bytes in {len(records)} aggregates ({total:,} bytes)")
    t_theirs = best(theirs, records)
    t_ours = best(ours, records)
    t_theirs_kept = best(theirs_kept, records)
    t_ours_kept = best(ours_with_metadata, records)
    t_ours_records = best(ours_records, records)
    t_md5 = best(md5_only, records)
    bodies = get_records_bodies(records)
    t_boto3 = best(boto3_parse, bodies)
    print(f"De-aggregation alone (client CPU, best of {REPEATS}):")
    print(f"  aws-kinesis-agg, results dropped:          {t_theirs * 1000:7.1f} ms")
    print(f"  kinesis deaggregate, results dropped:      {t_ours * 1000:7.1f} ms   ratio {t_theirs / t_ours:4.1f}x")
    print(f"  aws-kinesis-agg, results kept in a list:   {t_theirs_kept * 1000:7.1f} ms")
    print(
        f"  kinesis deaggregate + outer metadata, kept: {t_ours_kept * 1000:6.1f} ms"
        f"   ratio {t_theirs_kept / t_ours_kept:4.1f}x"
    )
    print(
        f"  kinesis deaggregate_records, kept:         {t_ours_records * 1000:7.1f} ms"
        f"   ratio {t_theirs_kept / t_ours_records:4.1f}x"
    )
    print(f"  floor: MD5 of every aggregate (hashlib):   {t_md5 * 1000:7.1f} ms (both sides must verify it)")
    print("Context:")
    print(
        f"  boto3 parsing the {len(bodies)} GetRecords responses (no HTTP): {t_boto3 * 1000:.1f} ms;"
        f" boto3 + aws-kinesis-agg = {(t_boto3 + t_theirs_kept) * 1000:.1f} ms,"
        f" {(t_boto3 + t_theirs_kept) / t_ours_records:.1f}x our deaggregate_records alone"
    )


if __name__ == "__main__":
    main()
