"""Timeouts, Ctrl-C, fork and interpreter exit under faults from the proxy, beyond test_runtime.py.

The time bounds here are hang detectors, generous on purpose, not performance claims.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import kinesis
import kinesis.aio
import pytest
from child_process import interrupt_when, run_python, start_python
from fault_proxy import Fault
from kinesis import exceptions as kx

HANG_BOUND = 10.0  # seconds: anything slower than this is a hang, not a slow machine


# --- timeouts -----------------------------------------------------------------------------------


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: connection attempts get no SYN-ACK, so they time out."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for filler in fillers:
        filler.close()
    server.close()


def test_connect_timeout_fires(unanswered_port):
    conn = kinesis.connect_to_region(
        "us-east-1", endpoint_url=f"http://127.0.0.1:{unanswered_port}", connect_timeout=0.3, num_retries=0
    )
    start = time.monotonic()
    with pytest.raises(kx.TimeoutError) as info:
        conn.list_streams()
    assert time.monotonic() - start < HANG_BOUND
    assert "connect" in str(info.value).lower()
    conn.close()


async def test_connect_timeout_fires_async(unanswered_port):
    url = f"http://127.0.0.1:{unanswered_port}"
    async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=url, connect_timeout=0.3, num_retries=1) as c:
        start = time.monotonic()
        with pytest.raises(kx.TimeoutError):
            await c.list_streams()
        assert time.monotonic() - start < HANG_BOUND


def test_every_attempt_timing_out_ends_in_timeout_error(fault_proxy, stream):
    fault_proxy.add("PutRecords", Fault.delay(30))
    conn = fault_proxy.connect(num_retries=2, read_timeout=0.3)
    start = time.monotonic()
    with pytest.raises(kx.TimeoutError) as info:
        conn.put_records([{"Data": "slow", "PartitionKey": "pk"}], stream)
    assert time.monotonic() - start < HANG_BOUND
    assert "read timeout" in str(info.value)
    assert fault_proxy.faults("PutRecords") == ["delay"] * 3


async def test_a_timed_out_call_leaves_the_loop_and_connection_usable(fault_proxy, stream):
    fault_proxy.add("GetShardIterator", Fault.delay(30), count=3)
    async with fault_proxy.aconnect(num_retries=0, read_timeout=0.3) as conn:
        calls = [conn.get_shard_iterator(stream, "shardId-000000000000", "LATEST") for _ in range(3)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert [type(r) for r in results] == [kx.TimeoutError] * 3
        page = await conn.get_shard_iterator(stream, "shardId-000000000000", "LATEST")
        assert page["ShardIterator"]


# --- Ctrl-C ---------------------------------------------------------------------------------------


def test_keyboard_interrupt_then_the_connection_still_works(fault_proxy, stream, tmp_path):
    fault_proxy.add("PutRecord", Fault.delay(60), count=1)
    proc = start_python(
        f"""
        import kinesis

        conn = kinesis.connect_to_region(
            "us-east-1", endpoint_url={fault_proxy.endpoint_url!r}, read_timeout=120, num_retries=0
        )
        try:
            conn.put_record({stream!r}, "interrupted", "pk")
            print("returned", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        # the interrupted call leaves nothing behind: the same connection keeps working
        print("after", conn.put_record({stream!r}, "after", "pk")["ShardId"], flush=True)
        """,
        tmp_path,
        "interrupt_then_call.py",
    )
    out, err, elapsed = interrupt_when(proc, lambda: fault_proxy.wait_for_requests(1, timeout=15))
    assert proc.returncode == 0, err
    assert out.splitlines() == ["interrupted", "after shardId-000000000000"], out + err
    assert elapsed < HANG_BOUND


def test_keyboard_interrupt_during_retry_backoff(fault_proxy, tmp_path):
    # Every answer is a throttle and the backoff is long: Ctrl-C lands while the call waits to retry.
    fault_proxy.add("ListStreams", Fault.throttle())
    proc = start_python(
        f"""
        import kinesis

        conn = kinesis.connect_to_region(
            "us-east-1", endpoint_url={fault_proxy.endpoint_url!r}, num_retries=50,
            retry_base_delay=20, retry_max_delay=20,
        )
        conn.list_streams()
        print("returned", flush=True)
        """,
        tmp_path,
        "interrupt_backoff.py",
    )
    out, err, elapsed = interrupt_when(proc, lambda: fault_proxy.wait_for_requests(1, timeout=15))
    assert "returned" not in out
    assert "KeyboardInterrupt" in err, err
    assert "PanicException" not in err and "SystemError" not in err
    assert elapsed < HANG_BOUND


# --- fork ---------------------------------------------------------------------------------------


def test_fork_while_another_thread_is_blocked_in_a_call(fault_proxy, stream, tmp_path):
    # The parent's blocked call holds the connection pool and the runtime; the child must not inherit a
    # lock or a half-used connection that makes it hang.
    fault_proxy.add("DescribeStream", Fault.delay(2), count=1)
    result = run_python(
        f"""
        import os, sys, threading, time
        import kinesis

        url, name = {fault_proxy.endpoint_url!r}, {stream!r}
        parent = kinesis.connect_to_region("us-east-1", endpoint_url=url, read_timeout=30)
        outcome = {{}}

        def blocked():
            outcome["parent"] = parent.describe_stream(name)["StreamDescription"]["StreamName"]

        worker = threading.Thread(target=blocked)
        worker.start()
        time.sleep(0.5)  # the worker is now waiting for the delayed answer
        pid = os.fork()
        if pid == 0:
            try:
                assert parent.describe_stream_summary(name)["StreamDescriptionSummary"]["StreamName"] == name
                child = kinesis.connect_to_region("us-east-1", endpoint_url=url)
                child.put_record(name, "from the child", "pk")
            except BaseException as e:
                print("child failed:", repr(e), file=sys.stderr, flush=True)
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        worker.join(30)
        print("child", os.waitstatus_to_exitcode(status), "parent", outcome.get("parent"), flush=True)
        """,
        tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["child", "0", "parent", stream], result.stdout + result.stderr


# --- interpreter exit ---------------------------------------------------------------------------


def test_exit_with_sync_and_async_calls_in_flight(fault_proxy, stream, tmp_path):
    # Every answer takes 60 s: a thread is blocked in a sync call, another thread's event loop awaits
    # an asyncio call, a task in the main loop was left pending; nothing is closed.
    fault_proxy.add("*", Fault.delay(60))
    start = time.monotonic()
    result = run_python(
        f"""
        import asyncio, threading, time
        import kinesis, kinesis.aio

        url, name = {fault_proxy.endpoint_url!r}, {stream!r}
        sync_conn = kinesis.connect_to_region("us-east-1", endpoint_url=url, read_timeout=120)
        threading.Thread(target=sync_conn.describe_stream, args=(name,), daemon=True).start()

        def loop_in_thread():
            async def call():
                conn = kinesis.aio.connect_to_region("us-east-1", endpoint_url=url, read_timeout=120)
                await conn.put_record(name, "never answered", "pk")
            asyncio.run(call())

        threading.Thread(target=loop_in_thread, daemon=True).start()

        async def main():
            conn = kinesis.aio.connect_to_region("us-east-1", endpoint_url=url, read_timeout=120)
            asyncio.ensure_future(conn.list_shards(name))
            await asyncio.sleep(1.5)  # time for all three calls to reach the proxy, even on a busy machine

        asyncio.run(main())
        print("leaving", flush=True)
        """,
        tmp_path,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "leaving"
    assert "PanicException" not in result.stderr and "Fatal Python error" not in result.stderr, result.stderr
    assert fault_proxy.request_count() == 3, "all three calls must have been in flight"
    assert elapsed < HANG_BOUND, f"the interpreter took {elapsed:.1f} s to exit"


def test_exit_from_an_exception_while_a_call_is_in_flight(fault_proxy, stream, tmp_path):
    fault_proxy.add("DescribeStream", Fault.delay(60))
    start = time.monotonic()
    result = run_python(
        f"""
        import threading, time
        import kinesis

        conn = kinesis.connect_to_region("us-east-1", endpoint_url={fault_proxy.endpoint_url!r}, read_timeout=120)
        threading.Thread(target=conn.describe_stream, args=({stream!r},), daemon=True).start()
        time.sleep(0.5)
        raise SystemExit(3)
        """,
        tmp_path,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert time.monotonic() - start < HANG_BOUND
