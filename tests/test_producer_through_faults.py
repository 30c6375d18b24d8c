"""kinesis.Producer through the fault proxy in front of the emulator: 20,000 records with a fifth of
the PutRecords calls faulted are all read back; duplicates only where the emulator stored a call whose
answer was then lost, and exactly as many as those calls held. Also: the interpreter exits promptly,
with every record written, while connections, readers and producers are still open."""

from __future__ import annotations

import base64
import time
from collections import Counter

import kinesis
from child_process import run_python
from conftest import REGION, emulator_stream
from fault_proxy import Fault
from kinesis.aggregation import deaggregate

RECORDS = 20_000
KEYS = 97
READ_FAST = {"idle_interval": 0.05, "max_calls_per_second": 50.0}


def user_records_in(put_records_body: dict) -> int:
    """How many user records a PutRecords request carried (aggregates counted by their contents)."""
    count = 0
    for entry in put_records_body["Records"]:
        unpacked = deaggregate(base64.b64decode(entry["Data"]))
        count += 1 if unpacked is None else len(unpacked)
    return count


def test_producer_writes_everything_through_faults(fault_proxy, kinesis_server):
    with emulator_stream(kinesis_server, 4, "producer-faults") as stream:
        # About 20% of PutRecords calls are faulted; some of the others lose a fifth of their entries.
        fault_proxy.add("PutRecords", Fault.throttle(), rate=0.04)
        fault_proxy.add("PutRecords", Fault.status_code(500), rate=0.03)
        fault_proxy.add("PutRecords", Fault.status_code(503), rate=0.03)
        fault_proxy.add("PutRecords", Fault.reset_before(), rate=0.03)
        fault_proxy.add("PutRecords", Fault.reset_after(), rate=0.03)  # stored, answer lost
        fault_proxy.add("PutRecords", Fault.truncate(), rate=0.02)  # stored, answer garbled
        fault_proxy.add("PutRecords", Fault.fail_entries(0.2), rate=0.1)
        conn = fault_proxy.connect(num_retries=0, read_timeout=5)
        sent = [(f"k{i % KEYS}:{i // KEYS}".encode(), f"k{i % KEYS}") for i in range(RECORDS)]
        # Small aggregates, so that there are many calls to fault (a call holds one aggregate per shard).
        options = {"linger_ms": 5, "max_aggregate_bytes": 512, "record_ttl": 300}
        with kinesis.Producer(conn, stream, **options) as producer:
            results = producer.put_many(sent).result(timeout=600)
            metrics = producer.metrics()
        assert len(results) == RECORDS

        direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
        with kinesis.StreamReader(direct, stream, "TRIM_HORIZON", idle_timeout=2.0, **READ_FAST) as reader:
            read = [record.data for record in reader]
        direct.close()

    counts = Counter(read)
    assert set(counts) == {data for data, _ in sent}, "every record was written"
    lost_answers = [
        exchange
        for exchange in fault_proxy.exchanges
        if exchange.action == "PutRecords" and exchange.fault in ("reset_after", "truncate") and exchange.forwarded
    ]
    expected_duplicates = sum(user_records_in(exchange.body) for exchange in lost_answers)
    duplicates = len(read) - RECORDS
    assert duplicates == expected_duplicates, "duplicates only from calls stored whose answer was lost"
    faulted = sum(1 for e in fault_proxy.exchanges if e.action == "PutRecords" and e.fault)
    calls = fault_proxy.request_count("PutRecords")
    assert faulted / calls > 0.1 and fault_proxy.counts["fail_entries"] > 0
    assert metrics["retries"] > 0 and metrics["records_sent"] == RECORDS
    print(
        f"\n{RECORDS} records written through {faulted} faulted PutRecords calls of {calls} "
        f"({dict(fault_proxy.counts)}); {duplicates} duplicates from {len(lost_answers)} lost answers; "
        f"producer metrics {metrics}"
    )


def test_exit_is_prompt_and_loses_nothing_with_everything_open(kinesis_server, tmp_path):
    with emulator_stream(kinesis_server, 2, "exit-open") as stream:
        started = time.monotonic()
        done = run_python(
            f"""
            import asyncio, threading
            import kinesis, kinesis.aio

            conn = kinesis.connect_to_region("us-east-1", endpoint_url={kinesis_server.endpoint_url!r})
            reader = kinesis.StreamReader(conn, {stream!r}, idle_interval=0.05)
            iterator = kinesis.ShardIterator(conn, {stream!r}, "shardId-000000000000")
            producer = kinesis.Producer(conn, {stream!r}, linger_ms=60_000)  # holds records until exit
            for i in range(500):
                producer.put(f"record {{i}}", f"key-{{i}}")
            # Another thread blocked reading when the interpreter exits.
            threading.Thread(target=lambda: next(reader, None), daemon=True).start()

            async def open_async():
                aconn = kinesis.aio.connect_to_region("us-east-1", endpoint_url={kinesis_server.endpoint_url!r})
                return aconn, kinesis.aio.StreamReader(aconn, {stream!r})

            kept = asyncio.run(open_async())
            print("leaving", flush=True)
            """,
            tmp_path,
            timeout=60,
        )
        elapsed = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "leaving"
        assert "Traceback" not in done.stderr and "panicked" not in done.stderr
        assert elapsed < 20, f"exit took {elapsed:.1f} s"  # a hang detector, not a speed measurement

        direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
        with kinesis.StreamReader(direct, stream, "TRIM_HORIZON", idle_timeout=1.0, **READ_FAST) as reader:
            read = sorted(record.data for record in reader)
        direct.close()
    assert read == sorted(f"record {i}".encode() for i in range(500)), "records held at exit were written"
