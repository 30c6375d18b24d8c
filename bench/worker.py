"""One measured client workload, run by bench/run.py in a fresh interpreter: not meant to be run by hand.

Usage: python bench/worker.py WORKLOAD CLIENT ENDPOINT [key=value ...]

WORKLOAD is one of startup, put_record, get_records_empty, get_records_bulk, threads, asyncio, producer; CLIENT
is ``ours`` (kinesis / kinesis.aio) or ``peer`` (boto3 / aiobotocore; for producer, ``peer=boto3`` is boto3
``put_records`` in batches of 500 and ``peer=agg`` is aws-kinesis-agg's aggregator + boto3).
The last line printed is a JSON object with the measurement:

* ``cpu_s``: user + system CPU time of this process (all its threads) over the measured part only,
  from ``resource.getrusage(RUSAGE_SELF)`` deltas, so the server (another process) is not counted;
* ``wall_s``: ``time.perf_counter()`` over the same part;
* ``ops``: calls (or records) in the measured part;
* ``maxrss_kib``: peak RSS of this process at the end (VmHWM; ``ru_maxrss_kib`` is there too, but on
  Linux it includes the peak of the parent this process was forked from);
* ``server_cpu_s``: CPU time the server process used over the measured part (from /proc), to tell
  whether the server was the bottleneck.

Only the standard library is imported before the measured part, and only the client under test after it,
so that neither start-up times nor peak RSS include anything else.
"""

from __future__ import annotations

import os
import resource
import sys
import time

ACCESS_KEY_ID = "000000000000"  # kinesis-mock reads the account from a 12-digit key id; moto accepts anything
SECRET_ACCESS_KEY = "benchsecretkeybenchsecretkey"
REGION = "us-east-1"


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), or NaN if it can't be read."""
    if pid <= 0:
        return float("nan")
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return float("nan")
    # Fields after "pid (comm)": state is [0], utime [11], stime [12] (fields 14 and 15 of proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib() -> int:
    """This process's peak RSS: VmHWM from /proc/self/status (ru_maxrss where there is no /proc).

    ru_maxrss is not used on Linux: a child keeps the peak RSS of the process it was forked from across
    exec, so it would report the parent's peak (bench/run.py's) whenever that is the larger.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Meter:
    """Client CPU, wall time and server CPU over a measured part; parts add up."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.server_cpu_s = 0.0

    def __enter__(self) -> Meter:
        self._server0 = server_cpu(self.server_pid)
        self._cpu0 = cpu_now()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        wall1 = time.perf_counter()
        cpu1 = cpu_now()
        server1 = server_cpu(self.server_pid)
        self.wall_s += wall1 - self._wall0
        self.cpu_s += cpu1 - self._cpu0
        self.server_cpu_s += server1 - self._server0


# --- clients -----------------------------------------------------------------------------------------


def connect(client: str, endpoint: str):
    if client == "ours":
        import kinesis

        return kinesis.connect_to_region(
            REGION, endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
        )
    import boto3

    return boto3.client(
        "kinesis",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def put_function(client: str, conn, stream: str):
    """A function put(data, key) doing one PutRecord with the client's own API."""
    if client == "ours":
        return lambda data, key: conn.put_record(stream, data, key)
    return lambda data, key: conn.put_record(StreamName=stream, Data=data, PartitionKey=key)


def shard_iterator(client: str, conn, stream: str, iterator_type: str) -> str:
    if client == "ours":
        shard_id = conn.describe_stream(stream)["StreamDescription"]["Shards"][0]["ShardId"]
        return conn.get_shard_iterator(stream, shard_id, iterator_type)["ShardIterator"]
    shard_id = conn.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    return conn.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType=iterator_type)[
        "ShardIterator"
    ]


def get_records_function(client: str, conn):
    """A function get(iterator, limit) doing one GetRecords with the client's own API, defaults otherwise."""
    if client == "ours":
        return lambda iterator, limit: conn.get_records(iterator, limit)

    def get(iterator: str, limit):
        if limit is None:
            return conn.get_records(ShardIterator=iterator)
        return conn.get_records(ShardIterator=iterator, Limit=limit)

    return get


# --- workloads ---------------------------------------------------------------------------------------


def startup(client: str, endpoint: str) -> dict:
    """``import kinesis`` + ``connect_to_region`` vs ``import boto3`` + ``boto3.client("kinesis")``."""
    cpu0 = cpu_now()
    wall0 = time.perf_counter()
    if client == "ours":
        import kinesis

        kinesis.connect_to_region(
            REGION, endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
        )
    else:
        import boto3

        boto3.client(
            "kinesis",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
    wall = time.perf_counter() - wall0
    cpu = cpu_now() - cpu0
    return {"cpu_s": cpu, "wall_s": wall, "ops": 1, "server_cpu_s": 0.0}


def put_record(client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, **_: str) -> dict:
    conn = connect(client, endpoint)
    put = put_function(client, conn, stream)
    data = b"0123456789" * 10  # 100 bytes: the same bytes object for every call
    keys = [f"key-{i}" for i in range(n + warmup)]
    for i in range(warmup):
        put(data, keys[i])
    meter = Meter(server_pid)
    with meter:
        for i in range(warmup, warmup + n):
            put(data, keys[i])
    return {"cpu_s": meter.cpu_s, "wall_s": meter.wall_s, "ops": n, "server_cpu_s": meter.server_cpu_s}


def get_records_empty(client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, **_: str) -> dict:
    conn = connect(client, endpoint)
    get = get_records_function(client, conn)
    iterator = shard_iterator(client, conn, stream, "LATEST")
    for _i in range(warmup):
        iterator = get(iterator, None)["NextShardIterator"]
    meter = Meter(server_pid)
    returned = 0
    with meter:
        for _i in range(n):
            response = get(iterator, None)
            returned += len(response["Records"])
            iterator = response["NextShardIterator"]
    if returned:
        raise SystemExit(f"the shard was meant to be empty, yet {returned} records came back")
    return {"cpu_s": meter.cpu_s, "wall_s": meter.wall_s, "ops": n, "server_cpu_s": meter.server_cpu_s}


def get_records_bulk(
    client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, records: str, **_: str
) -> dict:
    """``n`` GetRecords(limit=records) from TRIM_HORIZON, a fresh iterator each (not measured).

    A server may answer with fewer records than asked for (kinesis-mock stops at 10 MiB, partition keys
    included): the counts are reported, and must be the same for every call.
    """
    expected = int(records)
    counts = []
    conn = connect(client, endpoint)
    get = get_records_function(client, conn)
    for _i in range(warmup):
        get(shard_iterator(client, conn, stream, "TRIM_HORIZON"), expected)
    meter = Meter(server_pid)
    for _i in range(n):
        iterator = shard_iterator(client, conn, stream, "TRIM_HORIZON")
        with meter:
            response = get(iterator, expected)
        counts.append(len(response["Records"]))
        del response  # freed outside the measured part, for both clients alike
    if not counts[0] or len(set(counts)) != 1:
        raise SystemExit(f"GetRecords returned {counts} records, asked for {expected} each time")
    return {
        "cpu_s": meter.cpu_s,
        "wall_s": meter.wall_s,
        "ops": n,
        "records_requested": expected,
        "records_per_call": counts[0],
        "server_cpu_s": meter.server_cpu_s,
    }


def reader_deaggregate(
    client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, records: str, **_: str
) -> dict:
    """Read ``records`` KPL-aggregated user records from one shard, de-aggregated, touching each
    record's data and partition key: ``kinesis.ShardIterator`` vs boto3 get_records +
    ``aws_kinesis_agg.deaggregator.deaggregate_records``. ``n`` full reads, each from TRIM_HORIZON."""
    expected = int(records)
    conn = connect(client, endpoint)
    shard = (
        conn.list_shards(stream)["Shards"][0]["ShardId"]
        if client == "ours"
        else conn.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    )

    def read_ours() -> int:
        import kinesis

        # Calls paced only by the server: CPU is what is measured, and sleeping costs none.
        iterator = kinesis.ShardIterator(
            conn, stream, shard, "TRIM_HORIZON", max_calls_per_second=1000, idle_interval=0
        )
        count = size = 0
        for record in iterator:
            size += len(record.data) + len(record.partition_key)
            count += 1
            if count == expected:
                break
        return count

    def read_peer() -> int:
        import base64

        from aws_kinesis_agg.deaggregator import iter_deaggregate_records

        iterator = conn.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        count = size = 0
        while count < expected:
            response = conn.get_records(ShardIterator=iterator, Limit=10_000)
            # The library's way for boto3 records: it hands back Lambda-shaped records, data in base64.
            for record in iter_deaggregate_records(response["Records"], data_format="Boto3"):
                user = record["kinesis"]
                size += len(base64.b64decode(user["data"])) + len(user["partitionKey"])
                count += 1
            iterator = response["NextShardIterator"]
        return count

    read = read_ours if client == "ours" else read_peer
    for _i in range(warmup):
        read()
    meter = Meter(server_pid)
    counts = []
    for _i in range(n):
        with meter:
            counts.append(read())
    if set(counts) != {expected}:
        raise SystemExit(f"read {counts} records, expected {expected} each time")
    return {"cpu_s": meter.cpu_s, "wall_s": meter.wall_s, "ops": n * expected, "server_cpu_s": meter.server_cpu_s}


def threads(
    client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, threads: str, **_: str
) -> dict:
    """``n`` PutRecords in total, split over ``threads`` Python threads sharing one connection/client."""
    import threading

    count = int(threads)
    conn = connect(client, endpoint)
    put = put_function(client, conn, stream)
    data = b"0123456789" * 10
    per_thread = n // count
    start = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            for i in range(max(1, warmup // count)):  # opens this thread's pooled connection before the clock
                put(data, f"w{index}-{i}")
            start.wait()
            for i in range(per_thread):
                put(data, f"t{index}-{i}")
        except BaseException as err:  # reported after join
            errors.append(err)
            start.abort()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    start.wait()
    meter = Meter(server_pid)
    with meter:
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return {
        "cpu_s": meter.cpu_s,
        "wall_s": meter.wall_s,
        "ops": per_thread * count,
        "threads": count,
        "server_cpu_s": meter.server_cpu_s,
    }


def asyncio_puts(
    client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, concurrency: str, **_: str
) -> dict:
    """Rounds of ``concurrency`` concurrent put_record awaits (asyncio.gather), ``n`` records in total."""
    import asyncio

    width = int(concurrency)
    rounds = max(1, n // width)
    warmup_rounds = max(1, warmup // width)
    data = b"0123456789" * 10
    meter = Meter(server_pid)

    async def run(put) -> None:
        for r in range(warmup_rounds):
            await asyncio.gather(*(put(data, f"w{r}-{i}") for i in range(width)))
        with meter:
            for r in range(rounds):
                await asyncio.gather(*(put(data, f"r{r}-{i}") for i in range(width)))

    async def main() -> None:
        if client == "ours":
            import kinesis.aio

            conn = kinesis.aio.connect_to_region(
                REGION, endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
            )
            try:
                await run(lambda d, k: conn.put_record(stream, d, k))
            finally:
                await conn.close()
        else:
            from aiobotocore.session import get_session

            session = get_session()
            async with session.create_client(
                "kinesis",
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
            ) as conn:
                await run(lambda d, k: conn.put_record(StreamName=stream, Data=d, PartitionKey=k))

    asyncio.run(main())
    return {
        "cpu_s": meter.cpu_s,
        "wall_s": meter.wall_s,
        "ops": rounds * width,
        "concurrency": width,
        "server_cpu_s": meter.server_cpu_s,
    }


def fresh_stream(client: str, endpoint: str, prefix: str, shards: int = 4) -> str:
    """Create ``{prefix}-<random>`` with ``shards`` shards through the client under test; wait until ACTIVE."""
    import uuid

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    conn = connect(client, endpoint)
    if client == "ours":
        conn.create_stream(name, shards)
        status = lambda: conn.describe_stream_summary(name)["StreamDescriptionSummary"]["StreamStatus"]  # noqa: E731
    else:
        conn.create_stream(StreamName=name, ShardCount=shards)
        status = lambda: conn.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]  # noqa: E731
    deadline = time.monotonic() + 60
    while status() != "ACTIVE":
        if time.monotonic() > deadline:
            raise SystemExit(f"stream {name} did not become ACTIVE")
        time.sleep(0.05)
    return name


PRODUCER_CHUNK = 1000  # records per put_many call
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024


def producer(
    client: str, endpoint: str, stream: str, n: int, warmup: int, server_pid: int, peer: str = "boto3", **_: str
) -> dict:
    """``n`` 100-byte records with distinct partition keys, from the first put until every one is
    acknowledged: kinesis.Producer (aggregating, put_many in chunks, then flush) vs boto3 put_records in
    batches of 500 (``peer=boto3``) or aws-kinesis-agg's RecordAggregator + boto3 put_records (``peer=agg``)."""
    data = b"0123456789" * 10
    records = [(data, f"key-{i}") for i in range(n)]
    meter = Meter(server_pid)
    sent = 0
    # A fresh 4-shard stream per run (``stream`` is its name prefix): moto's put gets slower as a
    # shard fills, which would tax later runs.
    stream = fresh_stream(client, endpoint, stream)
    if client == "ours":
        import kinesis

        conn = connect(client, endpoint)
        # rate_limit=None: the emulator does not throttle, and pacing to 1 MiB/s per shard would only
        # measure the wait.
        with kinesis.Producer(conn, stream, rate_limit=None) as producer:
            producer.put_many([(data, f"warm-{i}") for i in range(warmup)]).result()
            with meter:
                futures = [producer.put_many(records[i : i + PRODUCER_CHUNK]) for i in range(0, n, PRODUCER_CHUNK)]
                producer.flush()
                sent = sum(len(f.result()) for f in futures)
    elif peer == "boto3":
        conn = connect(client, endpoint)
        entries = [{"Data": d, "PartitionKey": k} for d, k in records]
        conn.put_records(StreamName=stream, Records=[{"Data": data, "PartitionKey": f"warm-{i}"} for i in range(100)])
        with meter:
            for i in range(0, n, 500):
                answer = conn.put_records(StreamName=stream, Records=entries[i : i + 500])
                sent += len(answer["Records"]) - answer["FailedRecordCount"]
    else:
        from aws_kinesis_agg.aggregator import RecordAggregator

        conn = connect(client, endpoint)
        conn.put_records(StreamName=stream, Records=[{"Data": data, "PartitionKey": "warm"}])

        def put(batch: list) -> int:
            entries = [
                {"PartitionKey": pk, "Data": blob, **({"ExplicitHashKey": ehk} if ehk else {})}
                for pk, ehk, blob in batch
            ]
            answer = conn.put_records(StreamName=stream, Records=entries)
            if answer["FailedRecordCount"]:
                raise SystemExit(f"{answer['FailedRecordCount']} aggregates failed")
            return len(entries)

        with meter:
            aggregator = RecordAggregator(max_size=51_200)  # the KPL's default aggregate size, as ours
            batch: list = []
            batch_bytes = 0
            for d, k in records:
                full = aggregator.add_user_record(k, d)
                if full is not None:
                    contents = full.get_contents()
                    if len(batch) == 500 or batch_bytes + len(contents[2]) > MAX_PUT_RECORDS_BYTES:
                        put(batch)
                        batch, batch_bytes = [], 0
                    batch.append(contents)
                    batch_bytes += len(contents[2])
            last = aggregator.clear_and_get()
            if last is not None:
                batch.append(last.get_contents())
            put(batch)
            sent = n
    if sent != n:
        raise SystemExit(f"{sent} of {n} records acknowledged")
    return {"cpu_s": meter.cpu_s, "wall_s": meter.wall_s, "ops": n, "server_cpu_s": meter.server_cpu_s}


WORKLOADS = {
    "put_record": put_record,
    "get_records_empty": get_records_empty,
    "get_records_bulk": get_records_bulk,
    "reader_deaggregate": reader_deaggregate,
    "threads": threads,
    "asyncio": asyncio_puts,
    "producer": producer,
}


def main(argv: list[str]) -> None:
    workload, client, endpoint = argv[:3]
    if client not in ("ours", "peer"):
        raise SystemExit(f"client must be 'ours' or 'peer', not {client!r}")
    if workload == "startup":
        result = startup(client, endpoint)  # first: nothing else imported yet
    else:
        options = dict(arg.split("=", 1) for arg in argv[3:])
        stream = options.pop("stream")
        n = int(options.pop("n"))
        warmup = int(options.pop("warmup"))
        server_pid = int(options.pop("server_pid", "0"))
        result = WORKLOADS[workload](client, endpoint, stream, n, warmup, server_pid, **options)
    result["maxrss_kib"] = peak_rss_kib()
    result["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import json

    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
