"""Readers through expired iterators, throttling, 5xx, dropped connections and resharding, on a
scripted server that plays a stream of shards (neither emulator produces these faults)."""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import kinesis
import pytest
from child_process import run_python
from kinesis import exceptions as kx
from scripted_server import Reply

FAST = {"idle_interval": 0.02, "max_calls_per_second": 200.0}
THROTTLED = Reply.error("ProvisionedThroughputExceededException", "Rate exceeded for shard")
EXPIRED = Reply.error("ExpiredIteratorException", "Iterator expired")
UNAVAILABLE = Reply.error("ServiceUnavailable", "try again", status=503)
FULL_RANGE = {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)}


class FakeStream:
    """Shards with records, served through ListShards / GetShardIterator / GetRecords.

    Iterators are ``shard|index``; a closed shard answers no NextShardIterator once read to its end.
    ``faults[action]`` is a list of replies handed out before normal answers (one per request).
    """

    def __init__(self, server):
        self.server = server
        self.shards = {}  # id -> dict(records=[...], parents=[...], closed=bool)
        self.faults = {"GetRecords": [], "GetShardIterator": [], "ListShards": []}
        self.iterator_requests = []
        self.next_sequence = 1
        for action, handler in (
            ("ListShards", self.list_shards),
            ("GetShardIterator", self.get_shard_iterator),
            ("GetRecords", self.get_records),
        ):
            server.always(action, handler)

    def add_shard(self, shard_id, parents=(), closed=False):
        self.shards[shard_id] = {"records": [], "parents": list(parents), "closed": closed}

    def put(self, shard_id, *payloads, key="pk"):
        for payload in payloads:
            self.shards[shard_id]["records"].append(
                {
                    "SequenceNumber": str(self.next_sequence),
                    "ApproximateArrivalTimestamp": 1700000000.0,
                    "Data": base64.b64encode(payload).decode(),
                    "PartitionKey": key,
                }
            )
            self.next_sequence += 1

    def _fault(self, action):
        return self.faults[action].pop(0) if self.faults[action] else None

    def list_shards(self, request):
        fault = self._fault("ListShards")
        if fault:
            return fault
        shards = []
        for shard_id, shard in self.shards.items():
            entry = {
                "ShardId": shard_id,
                "HashKeyRange": FULL_RANGE,
                "SequenceNumberRange": {"StartingSequenceNumber": "0"},
            }
            if shard["closed"]:
                entry["SequenceNumberRange"]["EndingSequenceNumber"] = str(10**20)
            if shard["parents"]:
                entry["ParentShardId"] = shard["parents"][0]
            if len(shard["parents"]) > 1:
                entry["AdjacentParentShardId"] = shard["parents"][1]
            shards.append(entry)
        return Reply.json({"Shards": shards})

    def get_shard_iterator(self, request):
        fault = self._fault("GetShardIterator")
        if fault:
            return fault
        body = request.body
        self.iterator_requests.append(body)
        shard_id = body["ShardId"]
        if shard_id not in self.shards:
            return Reply.error("ResourceNotFoundException", f"Shard {shard_id} not found")
        records = self.shards[shard_id]["records"]
        kind = body["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            index = 0
        elif kind == "LATEST":
            index = len(records)
        else:
            sequences = [int(r["SequenceNumber"]) for r in records]
            target = int(body["StartingSequenceNumber"])
            if kind == "AT_SEQUENCE_NUMBER":
                index = next((i for i, s in enumerate(sequences) if s >= target), len(records))
            else:
                index = next((i for i, s in enumerate(sequences) if s > target), len(records))
        return Reply.json({"ShardIterator": f"{shard_id}|{index}"})

    def get_records(self, request):
        fault = self._fault("GetRecords")
        if fault:
            return fault
        shard_id, index = request.body["ShardIterator"].rsplit("|", 1)
        index = int(index)
        shard = self.shards[shard_id]
        limit = request.body.get("Limit", 10000)
        batch = shard["records"][index : index + limit]
        end = index + len(batch)
        body = {"Records": batch, "MillisBehindLatest": 0}
        if shard["closed"] and end >= len(shard["records"]):
            children = [
                {"ShardId": child_id, "ParentShards": child["parents"], "HashKeyRange": FULL_RANGE}
                for child_id, child in self.shards.items()
                if shard_id in child["parents"]
            ]
            body["ChildShards"] = children
        else:
            body["NextShardIterator"] = f"{shard_id}|{end}"
        return Reply.json(body)


@pytest.fixture
def fake(scripted):
    return FakeStream(scripted)


def test_expired_iterator_is_renewed_after_the_last_record(fake, scripted_conn):
    fake.add_shard("shardId-0")
    fake.put("shardId-0", b"a", b"b")
    iterator = kinesis.ShardIterator(scripted_conn, "s", "shardId-0", "TRIM_HORIZON", idle_timeout=0.3, limit=2, **FAST)
    assert [next(iterator).data, next(iterator).data] == [b"a", b"b"]
    fake.put("shardId-0", b"c")
    fake.faults["GetRecords"] += [EXPIRED]
    assert [r.data for r in iterator] == [b"c"]
    renewal = fake.iterator_requests[-1]
    assert renewal["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert renewal["StartingSequenceNumber"] == "2"


def test_expired_latest_iterator_before_any_record_resumes_at_its_opening_time(fake, scripted_conn):
    fake.add_shard("shardId-0")
    iterator = kinesis.ShardIterator(scripted_conn, "s", "shardId-0", idle_timeout=0.2, **FAST)
    fake.faults["GetRecords"] += [EXPIRED]
    assert list(iterator) == []
    renewal = fake.iterator_requests[-1]
    assert renewal["ShardIteratorType"] == "AT_TIMESTAMP"
    assert abs(renewal["Timestamp"] - (time.time() - 1)) < 30


def test_throttling_5xx_and_dropped_connections_never_end_iteration(fake, scripted_conn):
    fake.add_shard("shardId-0", closed=True)  # iteration ends at the shard's end, not by idle_timeout
    fake.put("shardId-0", *[f"r{i}".encode() for i in range(10)])
    fake.faults["GetShardIterator"] += [THROTTLED, UNAVAILABLE]
    # The connection itself retries (num_retries, default 3 attempts) before the reader sees a
    # failure; enough faults in a row to get through both layers.
    fake.faults["GetRecords"] += [THROTTLED] * 5 + [UNAVAILABLE] * 5 + [Reply.close()] * 4 + [EXPIRED]
    iterator = kinesis.ShardIterator(scripted_conn, "s", "shardId-0", "TRIM_HORIZON", limit=3, **FAST)
    assert [r.data for r in iterator] == [f"r{i}".encode() for i in range(10)]
    assert not fake.faults["GetRecords"]


def test_access_denied_ends_iteration_with_the_mapped_error(fake, scripted_conn):
    fake.add_shard("shardId-0")
    iterator = kinesis.ShardIterator(scripted_conn, "s", "shardId-0", "TRIM_HORIZON", **FAST)
    fake.faults["GetRecords"] += [Reply.error("AccessDeniedException", "not allowed")]
    with pytest.raises(kx.AccessDeniedException):
        next(iterator)


def test_shard_end_reports_children(fake, scripted_conn):
    fake.add_shard("shardId-0", closed=True)
    fake.add_shard("shardId-1", parents=["shardId-0"])
    fake.add_shard("shardId-2", parents=["shardId-0"])
    fake.put("shardId-0", b"last")
    iterator = kinesis.ShardIterator(scripted_conn, "s", "shardId-0", "TRIM_HORIZON", **FAST)
    assert [r.data for r in iterator] == [b"last"]  # ends without idle_timeout: the shard is closed
    assert iterator.at_shard_end
    assert iterator.position == "SHARD_END"
    assert [c["ShardId"] for c in iterator.child_shards] == ["shardId-1", "shardId-2"]


def test_stream_reader_reads_parents_to_their_end_before_children(fake, scripted_conn):
    # A split (0 -> 1, 2) and a merge (1 + 2 -> 3); every shard has records of the same key.
    fake.add_shard("shardId-0", closed=True)
    fake.add_shard("shardId-1", parents=["shardId-0"], closed=True)
    fake.add_shard("shardId-2", parents=["shardId-0"], closed=True)
    fake.add_shard("shardId-3", parents=["shardId-1", "shardId-2"])
    fake.put("shardId-0", b"0a", b"0b")
    fake.put("shardId-1", b"1a")
    fake.put("shardId-2", b"2a", b"2b")
    fake.put("shardId-3", b"3a")
    fake.faults["GetRecords"] += [THROTTLED] * 4
    with kinesis.StreamReader(scripted_conn, "s", "TRIM_HORIZON", idle_timeout=0.5, **FAST) as reader:
        data = [r.data for r in reader]
        status = reader.shards()
        positions = reader.positions
    assert sorted(data) == [b"0a", b"0b", b"1a", b"2a", b"2b", b"3a"]
    assert data[:2] == [b"0a", b"0b"] and data[-1] == b"3a"
    opened = [r["ShardId"] for r in fake.iterator_requests]
    assert opened[0] == "shardId-0" and opened[-1] == "shardId-3"
    assert status == {
        "shardId-0": "finished",
        "shardId-1": "finished",
        "shardId-2": "finished",
        "shardId-3": "reading",
    }
    assert positions["shardId-0"] == "SHARD_END"
    assert positions["shardId-3"] == {"sequence_number": "6", "sub_sequence_number": None}


def test_stream_reader_from_latest_skips_closed_shards_and_reads_new_children_from_their_start(fake, scripted_conn):
    fake.add_shard("shardId-0", closed=True)
    fake.add_shard("shardId-1", parents=["shardId-0"])
    fake.put("shardId-0", b"old")
    fake.put("shardId-1", b"old-too")
    with kinesis.StreamReader(scripted_conn, "s", idle_timeout=0.5, shard_refresh_interval=0.05, **FAST) as reader:
        first = [r.data for r in reader]
        fake.shards["shardId-1"]["closed"] = True
        fake.add_shard("shardId-2", parents=["shardId-1"])
        fake.put("shardId-1", b"new-1")
        fake.put("shardId-2", b"new-2")
        second = [r.data for r in reader]
        status = reader.shards()
    assert first == []
    assert second == [b"new-1", b"new-2"]
    assert status == {"shardId-0": "finished", "shardId-1": "finished", "shardId-2": "reading"}
    kinds = {r["ShardId"]: r["ShardIteratorType"] for r in fake.iterator_requests}
    assert kinds == {"shardId-1": "LATEST", "shardId-2": "TRIM_HORIZON"}


def test_a_stream_reader_survives_a_storm_of_failures(fake, scripted_conn):
    fake.add_shard("shardId-0")
    fake.add_shard("shardId-1")
    for i in range(40):
        fake.put(f"shardId-{i % 2}", f"r{i}".encode())
    fake.faults["ListShards"] += [UNAVAILABLE] * 4
    fake.faults["GetShardIterator"] += [THROTTLED] * 4
    fake.faults["GetRecords"] += [THROTTLED, UNAVAILABLE, Reply.close(), EXPIRED] * 4
    with kinesis.StreamReader(scripted_conn, "s", "TRIM_HORIZON", idle_timeout=1.0, limit=3, **FAST) as reader:
        data = sorted(r.data for r in reader)
    assert data == sorted(f"r{i}".encode() for i in range(40))
    assert not fake.faults["GetRecords"] and not fake.faults["ListShards"]


def test_a_slow_consumer_stops_the_fetching(fake, scripted_conn):
    fake.add_shard("shardId-0")
    fake.put("shardId-0", *[bytes(2000) for _ in range(200)])
    reader = kinesis.StreamReader(scripted_conn, "s", "TRIM_HORIZON", limit=1, max_buffered_bytes=4096, **FAST)
    next(reader)
    time.sleep(0.5)  # ample time to fetch all 200 records at 200 calls/s, were there no bound
    fetched = scripted_conn_requests(fake, "GetRecords")
    time.sleep(0.3)
    assert scripted_conn_requests(fake, "GetRecords") == fetched
    assert fetched <= 4  # one handed out, at most ~4 KiB buffered, one waiting for room
    rest = [next(reader) for _ in range(199)]
    assert len(rest) == 199
    reader.close()


def scripted_conn_requests(fake, action):
    return fake.server.actions().count(action)


def test_keyboard_interrupt_stops_a_blocked_iteration(scripted, tmp_path):
    FakeStream(scripted).add_shard("shardId-0")
    script = textwrap.dedent(
        f"""
        import sys, time, kinesis
        conn = kinesis.connect_to_region("us-east-1", endpoint_url={scripted.endpoint_url!r})
        for cls, args in ((kinesis.ShardIterator, ("s", "shardId-0")), (kinesis.StreamReader, ("s",))):
            it = cls(conn, *args, idle_interval=0.02)
            print("blocked", flush=True)
            try:
                next(it)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
        """
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        for _ in range(2):
            assert proc.stdout.readline().strip() == "blocked"
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            assert proc.stdout.readline().strip() == "interrupted"
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.stdout.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iterator_type": "SOMETIMES"}, "iterator_type"),
        ({"iterator_type": "AT_SEQUENCE_NUMBER"}, "sequence_number: required"),
        ({"iterator_type": "AT_TIMESTAMP"}, "timestamp: required"),
        ({"iterator_type": "AT_TIMESTAMP", "timestamp": "yesterday"}, "timestamp"),
        ({"iterator_type": "TRIM_HORIZON", "sub_sequence_number": 3}, "sub_sequence_number"),
        ({"sequence_number": "12x", "iterator_type": "AFTER_SEQUENCE_NUMBER"}, "sequence_number"),
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"max_calls_per_second": 0}, "max_calls_per_second"),
        ({"idle_interval": -1}, "idle_interval"),
        ({"idle_timeout": -0.5}, "idle_timeout"),
        ({"idle_timeout": "soon"}, "idle_timeout"),
        ({"deaggregate": "yes"}, "deaggregate: expected True or False"),
        ({"max_calls_per_second": "fast"}, "max_calls_per_second: expected a number"),
        ({"max_calls_per_second": True}, "max_calls_per_second: expected a number, got bool"),
        ({"iterator_type": "AFTER_SEQUENCE_NUMBER", "sequence_number": "1", "sub_sequence_number": -1}, "sub_sequence"),
        ({"limit": 2.5}, "limit: expected int"),
    ],
)
def test_shard_iterator_bad_arguments_are_named(scripted_conn, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        kinesis.ShardIterator(scripted_conn, "s", "shardId-0", **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("bad name!",), {}, "stream_name"),
        (("s", "YESTERDAY"), {}, "start"),
        (("s", object()), {}, "start"),
        (("s",), {"max_buffered_bytes": 10}, "max_buffered_bytes"),
        (("s",), {"max_buffered_bytes": "lots"}, "max_buffered_bytes: expected int"),
        (("s",), {"idle_interval": "1s"}, "idle_interval: expected a number"),
        (("s",), {"shard_refresh_interval": 0}, "shard_refresh_interval"),
        (("s",), {"checkpoints": object()}, "checkpoints"),
        (("s",), {"checkpoints": kinesis.MemoryCheckpointStore(), "limit": -1}, "limit"),
    ],
)
def test_stream_reader_bad_arguments_are_named(scripted_conn, args, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        kinesis.StreamReader(scripted_conn, *args, **kwargs)


def test_bad_checkpoints_are_named(scripted_conn):
    store = kinesis.MemoryCheckpointStore()
    store.save("s", {"shardId-0": {"sequence_number": "not-a-number"}})
    with pytest.raises(ValueError, match="checkpoint of shard shardId-0"):
        kinesis.StreamReader(scripted_conn, "s", checkpoints=store)
    store.save("s", {"shardId-0": "DONE"})
    with pytest.raises(ValueError, match="SHARD_END"):
        kinesis.StreamReader(scripted_conn, "s", checkpoints=store)


def test_checkpoint_without_a_store_and_closed_connections(scripted_conn):
    reader = kinesis.StreamReader(scripted_conn, "s")
    with pytest.raises(ValueError, match="checkpoint store"):
        reader.checkpoint()
    reader.close()
    scripted_conn.close()
    with pytest.raises(ValueError, match="closed"):
        kinesis.StreamReader(scripted_conn, "s")
    with pytest.raises(TypeError, match="connection"):
        kinesis.StreamReader("not a connection", "s")


def test_retries_and_resharding_are_logged_under_the_kinesis_logger(fake, scripted_conn, caplog):
    fake.add_shard("shardId-0", closed=True)
    fake.add_shard("shardId-1", parents=["shardId-0"], closed=True)  # all closed: reading ends by itself
    fake.put("shardId-0", b"a")
    # More faults in a row than the connection retries itself (4 attempts), so the reader sees some.
    fake.faults["GetRecords"] += [THROTTLED] * 10 + [UNAVAILABLE] * 5 + [EXPIRED]
    with caplog.at_level(logging.DEBUG, logger="kinesis"):
        with kinesis.StreamReader(scripted_conn, "s", "TRIM_HORIZON", **FAST) as reader:
            assert [r.data for r in reader] == [b"a"]
    messages = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert any(name == "kinesis.reader" and level == "INFO" and "throttled" in m for name, level, m in messages)
    assert any(level == "WARNING" and "503" in m for _, level, m in messages)
    assert any("iterator expired" in m for _, _, m in messages)
    assert any("shardId-0: read to its end; children" in m for _, _, m in messages)
    assert any("shardId-1: reading from TrimHorizon" in m for _, _, m in messages)


def test_the_credential_source_is_logged_without_the_credentials(scripted, caplog):
    with caplog.at_level(logging.INFO, logger="kinesis"):
        kinesis.connect_to_region(
            "us-east-1",
            endpoint_url=scripted.endpoint_url,
            aws_access_key_id="AKIDLOGGINGTEST",
            aws_secret_access_key="very-secret-value",
        ).close()
    (record,) = [r for r in caplog.records if r.name == "kinesis.credentials"]
    assert "credentials from" in record.getMessage()
    assert "AKIDLOGGINGTEST" not in record.getMessage() and "very-secret-value" not in record.getMessage()


class _RaisingHandler(logging.Handler):
    """A handler that raises from inside `logging`, as a Ctrl-C landing during an event would."""

    def __init__(self, exception):
        super().__init__()
        self.exception = exception

    def emit(self, record):
        raise self.exception


@pytest.fixture
def raising_handler():
    logger = logging.getLogger("kinesis")
    handlers = []

    def install(exception):
        handler = _RaisingHandler(exception)
        logger.addHandler(handler)
        handlers.append(handler)

    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield install
    logger.setLevel(level)
    for handler in handlers:
        logger.removeHandler(handler)


def test_ctrl_c_during_an_event_at_connect_is_not_lost(scripted, raising_handler):
    # The interrupt used to stay pending inside pyo3-log, to be discarded by the next Python call:
    # `kinesis tail` then ignored Ctrl-C.
    raising_handler(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        kinesis.connect_to_region(
            "us-east-1", endpoint_url=scripted.endpoint_url, aws_access_key_id="a", aws_secret_access_key="b"
        )


def test_ctrl_c_during_an_event_while_iterating_is_not_lost(fake, scripted_conn, raising_handler):
    fake.add_shard("shardId-0")
    fake.faults["GetRecords"] += [THROTTLED] * 10  # more than the connection retries: the reader logs
    iterator = kinesis.ShardIterator(scripted_conn, "s", "shardId-0", "TRIM_HORIZON", idle_timeout=30, **FAST)
    raising_handler(KeyboardInterrupt)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        next(iterator)
    assert time.monotonic() - started < 20  # raised at the first event, not after idle_timeout


def test_an_error_in_a_logging_handler_is_reported_and_the_call_goes_on(scripted, raising_handler, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    raising_handler(RuntimeError("handler broke"))
    kinesis.connect_to_region(
        "us-east-1", endpoint_url=scripted.endpoint_url, aws_access_key_id="a", aws_secret_access_key="b"
    ).close()
    assert [str(r.exc_value) for r in reported] == ["handler broke"]


def test_events_import_logging_only_when_it_could_show_them(fake, tmp_path):
    # Until the application imports logging nobody can have configured it: INFO events would be
    # dropped by the root logger's default WARNING level, so they are dropped without importing it
    # (keeping it out of start-up). A warning imports it and reaches the last-resort handler.
    fake.add_shard("shardId-0", closed=True)
    fake.put("shardId-0", b"a")
    fake.faults["GetRecords"] += [UNAVAILABLE] * 6  # more than the connection retries: the reader warns
    done = run_python(
        f"""
        import sys
        import kinesis

        conn = kinesis.connect_to_region(
            "us-east-1", endpoint_url={fake.server.endpoint_url!r}, aws_access_key_id="a", aws_secret_access_key="b"
        )
        conn.list_streams()
        print("after connect:", "logging" in sys.modules)
        iterator = kinesis.ShardIterator(conn, "s", "shardId-0", "TRIM_HORIZON", **{FAST!r})
        print("read:", [r.data for r in iterator])
        print("after a retried failure:", "logging" in sys.modules)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["after connect: False", "read: [b'a']", "after a retried failure: True"]
    assert "shardId-0" in done.stderr and "503" in done.stderr  # the warning, through logging's last resort
