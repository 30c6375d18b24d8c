"""Threads, fork, interpreter exit and Ctrl-C: the runtime behaviour of the Rust core."""

from __future__ import annotations

import os
import threading
import time

import pytest
from child_process import interrupt_when, run_python, start_python
from conftest import make_stream
from scripted_server import Reply


def test_one_connection_shared_by_threads(conn, stream):
    errors: list = []
    results: list = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(10):
                r = conn.put_record(stream, f"t{n}-{i}", f"pk-{n}-{i}")
                with lock:
                    results.append((r["ShardId"], r["SequenceNumber"]))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(set(results)) == 80

    seen = []
    for shard in conn.list_shards(stream)["Shards"]:
        it = conn.get_shard_iterator(stream, shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
        seen += [r["Data"] for r in conn.get_records(it)["Records"]]
    assert sorted(seen) == sorted(f"t{n}-{i}" for n in range(8) for i in range(10))


def test_threads_each_with_their_own_connection(kinesis_server, stream):
    import kinesis

    errors: list = []

    def worker() -> None:
        try:
            c = kinesis.connect_to_region("us-east-1", endpoint_url=kinesis_server.endpoint_url)
            for _ in range(5):
                c.describe_stream_summary(stream)
            c.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []


def test_calls_release_the_gil(scripted):
    import kinesis

    scripted.queue("ListStreams", Reply.json({"StreamNames": [], "HasMoreStreams": False}, delay=0.5))
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
    counter = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    conn.list_streams()
    stop.set()
    t.join()
    conn.close()
    assert counter > 50, f"another thread ran only {counter} times during a 0.5 s call"


def test_fork_child_can_use_kinesis(kinesis_server, conn, tmp_path):
    name = make_stream(conn, 1, prefix="fork")
    try:
        result = run_python(
            f"""
            import os, sys
            import kinesis

            url = {kinesis_server.endpoint_url!r}
            name = {name!r}
            parent = kinesis.connect_to_region("us-east-1", endpoint_url=url)
            parent.describe_stream(name)
            parent.put_record(name, "before fork", "pk")
            pid = os.fork()
            if pid == 0:
                try:
                    child = kinesis.connect_to_region("us-east-1", endpoint_url=url)
                    assert child.describe_stream(name)["StreamDescription"]["StreamName"] == name
                    child.put_record(name, "from child", "pk")
                    # even the parent's connection works in the child
                    assert parent.describe_stream(name)["StreamDescription"]["StreamName"] == name
                    child.close()
                except BaseException as e:
                    print("child failed:", repr(e), file=sys.stderr, flush=True)
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            # the parent keeps working after the fork too
            parent.put_record(name, "parent after fork", "pk")
            print("child exit", os.waitstatus_to_exitcode(status), flush=True)
            sys.exit(os.waitstatus_to_exitcode(status))
            """,
            tmp_path,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "child exit 0" in result.stdout
        shard = conn.list_shards(name)["Shards"][0]["ShardId"]
        it = conn.get_shard_iterator(name, shard, "TRIM_HORIZON")["ShardIterator"]
        data = [r["Data"] for r in conn.get_records(it)["Records"]]
        assert data == ["before fork", "from child", "parent after fork"]
    finally:
        conn.delete_stream(name)


def test_fork_after_async_use(kinesis_server, tmp_path):
    result = run_python(
        f"""
        import asyncio, os, sys
        import kinesis, kinesis.aio

        url = {kinesis_server.endpoint_url!r}

        async def use():
            async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=url) as c:
                return await c.list_streams()

        asyncio.run(use())
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(use())
                kinesis.connect_to_region("us-east-1", endpoint_url=url).list_streams()
            except BaseException as e:
                print("child failed:", repr(e), file=sys.stderr, flush=True)
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        asyncio.run(use())
        sys.exit(os.waitstatus_to_exitcode(status))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_interpreter_exit_is_prompt(kinesis_server, tmp_path):
    start = time.monotonic()
    result = run_python(
        f"""
        import asyncio
        import kinesis, kinesis.aio

        url = {kinesis_server.endpoint_url!r}
        sync_conn = kinesis.connect_to_region("us-east-1", endpoint_url=url)
        sync_conn.list_streams()
        unused = kinesis.connect_to_region("us-east-1", endpoint_url=url)

        async def main():
            global async_conn
            async_conn = kinesis.aio.connect_to_region("us-east-1", endpoint_url=url)
            await async_conn.list_streams()
            # a call still in flight when the loop ends
            asyncio.ensure_future(async_conn.list_streams())

        asyncio.run(main())
        print("done", flush=True)
        # no close(): the interpreter must still exit promptly
        """,
        tmp_path,
        timeout=20,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done" in result.stdout
    assert elapsed < 10, f"the interpreter took {elapsed:.1f} s to exit"


def test_interpreter_exit_after_asyncio_use_never_crashes(kinesis_server, tmp_path):
    # A crash at exit is intermittent, so run the smallest asyncio programs several times each.
    programs = {
        "close-only": "c = kinesis.aio.connect_to_region('us-east-1', endpoint_url=URL)\n    await c.close()",
        "call": "c = kinesis.aio.connect_to_region('us-east-1', endpoint_url=URL)\n    await c.list_streams()",
        "async-with": "async with kinesis.aio.connect_to_region('us-east-1', endpoint_url=URL) as c:\n"
        "        await c.list_streams()",
    }
    failures = []
    for label, body in programs.items():
        code = f"import asyncio, kinesis.aio\nURL = {kinesis_server.endpoint_url!r}\nasync def main():\n    {body}\n"
        code += "asyncio.run(main())\n"
        for attempt in range(5):
            result = run_python(code, tmp_path, timeout=20)
            if result.returncode != 0:
                failures.append(f"{label} run {attempt}: exit {result.returncode}: {result.stderr.strip()[-300:]}")
    assert failures == []


@pytest.mark.parametrize("pause", [0.05, 0.12, 0.2, 0.33, 0.5])
def test_interpreter_exit_with_a_call_blocked_in_a_thread(scripted, tmp_path, pause):
    # A daemon thread waiting in a call must never take the GIL again once exit has begun: CPython
    # ends such a thread with pthread_exit inside our frames (it crashed with SIGSEGV in about half
    # of the exits of a release build). Several pauses, so the exit lands at different points of
    # the thread's 50 ms signal-check cycle.
    scripted.always("ListStreams", Reply.hang(30))
    start = time.monotonic()
    result = run_python(
        f"""
        import threading, time
        import kinesis

        conn = kinesis.connect_to_region("us-east-1", endpoint_url={scripted.endpoint_url!r}, read_timeout=60)
        threading.Thread(target=conn.list_streams, daemon=True).start()
        time.sleep({pause})
        print("exiting", flush=True)
        """,
        tmp_path,
        timeout=20,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - start < 10


def test_keyboard_interrupt_during_a_blocked_call(scripted, tmp_path):
    scripted.always("DescribeStream", Reply.hang(30))
    proc = start_python(
        f"""
        import kinesis

        conn = kinesis.connect_to_region("us-east-1", endpoint_url={scripted.endpoint_url!r}, read_timeout=60)
        print("calling", flush=True)
        conn.describe_stream("s")
        print("returned", flush=True)
        """,
        tmp_path,
        "blocked.py",
    )
    out, err, elapsed = interrupt_when(proc, lambda: scripted.wait_for_requests(1, timeout=15))
    assert "returned" not in out
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err, err
    assert elapsed < 3, f"Ctrl-C took {elapsed:.1f} s to take effect"


def test_keyboard_interrupt_in_async_call(scripted, tmp_path):
    scripted.always("DescribeStream", Reply.hang(30))
    proc = start_python(
        f"""
        import asyncio
        import kinesis.aio

        async def main():
            url = {scripted.endpoint_url!r}
            conn = kinesis.aio.connect_to_region("us-east-1", endpoint_url=url, read_timeout=60)
            print("calling", flush=True)
            await conn.describe_stream("s")

        asyncio.run(main())
        print("returned", flush=True)
        """,
        tmp_path,
        "blocked_async.py",
    )
    out, err, elapsed = interrupt_when(proc, lambda: scripted.wait_for_requests(1, timeout=15))
    assert "returned" not in out
    assert "KeyboardInterrupt" in err, err
    assert elapsed < 3


def test_import_is_cheap(tmp_path):
    result = run_python(
        """
        import time
        start = time.perf_counter()
        import kinesis, kinesis.aio, kinesis.layer1, kinesis.exceptions
        print(time.perf_counter() - start)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) < 1.0


def test_environment_is_hermetic():
    # the suite itself must never see the developer's credentials or reach EC2 metadata
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "BOTO_CONFIG" not in os.environ
    assert not os.path.exists(os.path.join(os.environ["HOME"], ".aws"))
    assert not os.path.exists(os.path.join(os.environ["HOME"], ".boto"))
