"""The ``kinesis`` command line, run for real against the emulator.

Most tests run ``python -m kinesis`` as a subprocess (what users run, with the suite's hermetic
environment); the rest call ``kinesis.cli.main(argv)`` in-process, which is faster.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import kinesis
import pytest
from conftest import delete_quietly, make_stream, unique_name, wait_active
from kinesis.cli import main
from kinesis.cli._errors import UsageError
from kinesis.cli._tail import parse_start
from kinesis.testing import free_port
from scripted_server import Reply, put_record_body
from test_records import read_stream

SHARD_0 = "shardId-000000000000"
SHARD_1 = "shardId-000000000001"


def cli(*args: str, stdin: bytes | None = None, env: dict | None = None, timeout: float = 60):
    """``python -m kinesis ARGS`` with the test environment (bytes in, text out)."""
    done = subprocess.run(
        [sys.executable, "-m", "kinesis", *args],
        input=stdin,
        capture_output=True,
        env=dict(os.environ) if env is None else env,
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def at(server) -> list[str]:
    return ["--endpoint-url", server.endpoint_url]


def assert_clean_error(done, exit_code: int, *fragments: str) -> None:
    """A failure reported as one line on stderr, without a traceback."""
    assert done.returncode == exit_code, done
    assert "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def data_by_key(conn, stream: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for record in read_stream(conn, stream):
        found.setdefault(record["PartitionKey"], []).append(record["Data"])
    return found


# --- streams ------------------------------------------------------------------------------------


def test_create_list_describe_delete(kinesis_server, conn):
    name = unique_name("cli")
    try:
        done = cli(*at(kinesis_server), "create", name, "--shards", "2", "--wait")
        assert done.returncode == 0, done
        assert done.stdout.splitlines() == [f"created stream {name} (2 shards)", f"stream {name} is ACTIVE"]

        done = cli(*at(kinesis_server), "list")
        assert done.returncode == 0, done
        assert name in done.stdout.splitlines()

        done = cli("describe", name, *at(kinesis_server))  # options after the command work too
        assert done.returncode == 0, done
        lines = done.stdout.splitlines()
        assert lines[0].split() == ["Stream:", name]
        assert ["Status:", "ACTIVE"] in [line.split() for line in lines]
        shard_rows = [line.split() for line in lines if line.startswith("shardId-")]
        assert [row[:3] for row in shard_rows] == [
            [SHARD_0, "open", "0.00%-50.00%"],
            [SHARD_1, "open", "50.00%-100.00%"],
        ]

        done = cli(*at(kinesis_server), "describe", name, "--json")
        described = json.loads(done.stdout)
        assert described["StreamDescriptionSummary"]["StreamName"] == name
        assert [s["ShardId"] for s in described["Shards"]] == [SHARD_0, SHARD_1]

        done = cli(*at(kinesis_server), "delete", name, "--wait")
        assert done.returncode == 0, done
        assert done.stdout.splitlines() == [f"deleting stream {name}", f"stream {name} is deleted"]
        assert name not in cli(*at(kinesis_server), "list").stdout.splitlines()
    finally:
        delete_quietly(conn, name)


def test_create_on_demand(kinesis_server, conn, capsys):
    name = unique_name("cli")
    try:
        assert main([*at(kinesis_server), "create", name, "--on-demand", "--wait"]) == 0
        assert f"created stream {name} (on demand)" in capsys.readouterr().out
        summary = wait_active(conn, name)
        assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    finally:
        delete_quietly(conn, name)


def test_create_sends_tags_with_the_stream(scripted, capsys):
    # On the scripted server: moto ignores CreateStream's Tags, so only the request can show them.
    assert (
        main(["--endpoint-url", scripted.endpoint_url, "create", "s", "--shards", "3", "--tag", "a=1", "--tag", "b="])
        == 0
    )
    assert capsys.readouterr().out == "created stream s (3 shards)\n"
    (request,) = scripted.requests
    assert request.body == {"StreamName": "s", "ShardCount": 3, "Tags": {"a": "1", "b": ""}}


def test_list_follows_pages(kinesis_server, conn, capsys):
    names = [make_stream(conn, 1, prefix="cli-page") for _ in range(3)]
    try:
        assert main([*at(kinesis_server), "list"]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert set(names) <= set(listed)
        assert len(listed) == len(set(listed)) == len(conn.list_streams(limit=10000)["StreamNames"])
    finally:
        for name in names:
            delete_quietly(conn, name)


# --- put ----------------------------------------------------------------------------------------


def test_put_arguments_with_a_partition_key(kinesis_server, conn, stream):
    done = cli(*at(kinesis_server), "put", stream, "one", "two", "ünï", "-k", "fixed")
    assert done.returncode == 0, done
    assert done.stdout.startswith(f"put 3 records to {stream} in ")
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert data_by_key(conn, stream) == {"fixed": ["one", "two", "ünï"]}


def test_put_json_lines_from_stdin(kinesis_server, conn, stream):
    lines = [
        json.dumps({"data": "to shard 0", "partition_key": "a", "explicit_hash_key": "0"}),
        json.dumps({"data": "to shard 1", "partition_key": "a", "explicit_hash_key": str(2**127)}),
        json.dumps({"data_base64": base64.b64encode(b"\x00\xff").decode(), "partition_key": "bin"}),
        json.dumps({"data": {"nested": [1, 2]}, "partition_key": "obj"}),
        "",  # blank lines are skipped
        "plain text line",
        json.dumps({"event": "not an envelope"}),  # no data key: the line itself is the data
        json.dumps({"data": None}),  # rejected, reported, the rest still goes in
        json.dumps({"data": "x", "partition_key": "k", "explicit_hash_key": "-1"}),  # rejected too
    ]
    done = cli(*at(kinesis_server), "put", stream, stdin="\r\n".join(lines).encode() + b"\n")
    assert done.returncode == 1, done  # some input was skipped
    assert done.stdout.startswith(f"put 6 records to {stream} in ")
    assert done.stdout.rstrip().endswith("; 2 input records skipped")
    assert "skipped line 8: data is null" in done.stderr
    assert "skipped line 9: explicit_hash_key must be a decimal integer" in done.stderr

    by_shard = {SHARD_0: [], SHARD_1: []}
    for shard in by_shard:
        iterator = conn.get_shard_iterator(stream, shard, "TRIM_HORIZON")["ShardIterator"]
        by_shard[shard] = conn.get_records(iterator)["Records"]
    assert [r["Data"] for r in by_shard[SHARD_0] if r["PartitionKey"] == "a"] == ["to shard 0"]
    assert [r["Data"] for r in by_shard[SHARD_1] if r["PartitionKey"] == "a"] == ["to shard 1"]
    found = data_by_key(conn, stream)
    assert found["bin"] == [b"\x00\xff"]
    assert found["obj"] == ['{"nested":[1,2]}']
    plain = sorted(d for key, values in found.items() if key not in ("a", "bin", "obj") for d in values)
    assert plain == sorted(['{"event": "not an envelope"}', "plain text line"])


def test_put_file_in_batches_with_key_field(kinesis_server, conn, stream, tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    count = 1203  # three PutRecords batches: 500, 500, 203
    path.write_text("".join(json.dumps({"user": {"id": i % 7}, "n": i}) + "\n" for i in range(count)))
    assert main([*at(kinesis_server), "put", stream, "--file", str(path), "--key-field", "user.id"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(f"put {count} records to {stream} in ")
    found = data_by_key(conn, stream)
    assert sorted(found) == [str(i) for i in range(7)]
    numbers = {key: [json.loads(d)["n"] for d in values] for key, values in found.items()}
    assert numbers["3"] == list(range(3, count, 7))  # in order within a key
    assert sum(len(v) for v in numbers.values()) == count


def test_put_raw_lines_and_stdin_in_process(kinesis_server, conn, stream, monkeypatch, capsys):
    envelope = json.dumps({"data": "inner", "partition_key": "p"})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{envelope}\n".encode())))
    assert main([*at(kinesis_server), "put", stream, "--raw", "-k", "raw"]) == 0
    assert data_by_key(conn, stream) == {"raw": [envelope]}


def test_key_field_missing_rejects_that_line(kinesis_server, conn, stream, tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"other": 1}\n{"id": 7}\n')
    assert main([*at(kinesis_server), "put", stream, "-f", str(path), "--key-field", "id"]) == 1
    out = capsys.readouterr()
    assert "skipped line 2: --key-field id: not a JSON object" in out.err
    assert "skipped line 3: --key-field id: no such field" in out.err
    assert data_by_key(conn, stream) == {"a": ['{"id": "a"}'], "7": ['{"id": 7}']}


def test_put_retries_only_the_failed_entries(scripted, capsys):
    partial = {
        "FailedRecordCount": 1,
        "Records": [put_record_body(), {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "x"}],
    }
    scripted.queue("PutRecords", Reply.json(partial))
    assert main(["--endpoint-url", scripted.endpoint_url, "put", "s", "first", "second", "-k", "k"]) == 0
    assert "put 2 records to s" in capsys.readouterr().out
    sent = [[base64.b64decode(e["Data"]) for e in r.body["Records"]] for r in scripted.requests]
    assert sent == [[b"first", b"second"], [b"second"]]


def test_put_reports_entries_that_keep_failing(scripted, capsys):
    def second_always_fails(request):
        records = request.body["Records"]
        answers = [put_record_body() for _ in records]
        answers[-1] = {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}
        return Reply.json({"FailedRecordCount": 1, "Records": answers})

    scripted.always("PutRecords", second_always_fails)
    argv = ["--endpoint-url", scripted.endpoint_url, "put", "s", "a", "b", "--max-attempts", "3"]
    assert main(argv) == 1
    assert "; 1 failed after 3 attempts (InternalFailure x1)" in capsys.readouterr().out
    assert [len(r.body["Records"]) for r in scripted.requests] == [2, 1, 1]


def test_progress_bar_only_on_a_terminal(kinesis_server, conn, stream, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1200)))
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kinesis", *at(kinesis_server), "put", stream, "-f", str(path)],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal side is closed and everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert done.returncode == 0
    assert done.stdout.decode().startswith(f"put 1200 records to {stream}")
    text = shown.decode()
    assert "\r[" in text and "1,200 put" in text
    assert text.endswith("\r"), "the bar is erased at the end"


# --- tail ---------------------------------------------------------------------------------------


def put_sample(conn, stream: str) -> None:
    conn.put_record(stream, "hello\nworld", "k1", explicit_hash_key="0")
    conn.put_record(stream, b"\x00\x01\xfe", "k2", explicit_hash_key="0")
    conn.put_record(stream, "on shard 1", "k3", explicit_hash_key=str(2**127))


def test_tail_pretty_from_trim_horizon(kinesis_server, conn, stream):
    put_sample(conn, stream)
    done = cli(*at(kinesis_server), "tail", stream, "--from", "TRIM_HORIZON", "--limit", "3", "--idle-timeout", "20")
    assert done.returncode == 0, done
    rows = sorted(line.split("  ", 3)[1:] for line in done.stdout.splitlines())
    assert rows == [
        [SHARD_0, "k1", "hello\\nworld"],
        [SHARD_0, "k2", "<3 bytes> 0001fe"],
        [SHARD_1, "k3", "on shard 1"],
    ]
    arrival = done.stdout.split("  ", 1)[0]
    assert abs(datetime.fromisoformat(arrival.replace("Z", "+00:00")) - datetime.now(timezone.utc)) < timedelta(
        minutes=5
    )


def test_tail_json_lines_can_be_put_back(kinesis_server, conn, stream):
    put_sample(conn, stream)
    done = cli(*at(kinesis_server), "tail", stream, "--from", "TRIM_HORIZON", "--format", "json", "--limit", "3")
    assert done.returncode == 0, done
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["partition_key"]: r.get("data", r.get("data_base64")) for r in records} == {
        "k1": "hello\nworld",
        "k2": base64.b64encode(b"\x00\x01\xfe").decode(),
        "k3": "on shard 1",
    }
    assert {r["shard_id"] for r in records} == {SHARD_0, SHARD_1}
    assert all(r["stream"] == stream and r["sequence_number"] for r in records)

    copy = make_stream(conn, 2, prefix="cli-copy")
    try:
        put = cli(*at(kinesis_server), "put", copy, stdin=done.stdout.encode())
        assert put.returncode == 0, put
        assert put.stdout.startswith(f"put 3 records to {copy} in "), put
        copied = data_by_key(conn, copy)
        assert copied == {"k1": ["hello\nworld"], "k2": [b"\x00\x01\xfe"], "k3": ["on shard 1"]}
    finally:
        delete_quietly(conn, copy)


def test_tail_latest_follows_new_records(kinesis_server, conn, stream):
    command = [sys.executable, "-m", "kinesis", *at(kinesis_server), "tail", stream, "--limit", "1", "--format", "json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as tail:
        # LATEST starts from when the reader opened its shards, which we cannot observe from here:
        # keep putting until the tail sees one.
        deadline = time.monotonic() + 30
        while tail.poll() is None and time.monotonic() < deadline:
            conn.put_record(stream, "new", "k")
            time.sleep(0.2)
        if tail.poll() is None:
            tail.kill()
        out, err = tail.communicate(timeout=10)
    assert tail.returncode == 0, err
    assert json.loads(out)["data"] == "new"


def test_ctrl_c_stops_tail_quietly(kinesis_server, conn, stream):
    command = [sys.executable, "-m", "kinesis", *at(kinesis_server), "tail", stream, "--format", "json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as tail:
        assert tail.stdout is not None
        conn.put_record(stream, "first", "k")
        # Once a record is printed, the command is inside its reading loop: interrupt it there.
        deadline = time.monotonic() + 30
        while tail.poll() is None and time.monotonic() < deadline:
            conn.put_record(stream, "more", "k")
            ready, _, _ = select.select([tail.stdout], [], [], 0.2)
            if ready:
                break
        tail.send_signal(signal.SIGINT)
        out, err = tail.communicate(timeout=30)
    assert tail.returncode == 130, err
    assert b"Traceback" not in err
    assert json.loads(out.splitlines()[0])["partition_key"] == "k"


def test_tail_from_an_iso_time_skips_older_records(kinesis_server, conn, stream):
    conn.put_record(stream, "old", "k", explicit_hash_key="0")
    (old,) = read_stream(conn, stream)
    time.sleep(1.1)  # arrival timestamps have millisecond precision; leave a clear gap between the two
    conn.put_record(stream, "new", "k", explicit_hash_key="0")
    between = datetime.fromtimestamp(old["ApproximateArrivalTimestamp"] + 0.5, timezone.utc)
    done = cli(
        *at(kinesis_server), "tail", stream, "--from", between.isoformat(), "--limit", "1", "--idle-timeout", "20"
    )
    assert done.returncode == 0, done
    assert done.stdout.rstrip().endswith("  k  new")


def test_tail_of_an_empty_stream_stops_when_idle(kinesis_server, stream):
    done = cli(*at(kinesis_server), "tail", stream, "--from", "TRIM_HORIZON", "--idle-timeout", "1")
    assert done.returncode == 0, done
    assert done.stdout == ""


def test_tail_from_a_duration_ago_reads_recent_records(kinesis_server, conn, stream):
    conn.put_record(stream, "recent", "k")
    done = cli(*at(kinesis_server), "tail", stream, "--from", "10m", "--limit", "1", "--idle-timeout", "20")
    assert done.returncode == 0, done
    assert done.stdout.rstrip().endswith("  k  recent")


def test_parse_start():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_start("latest") == "LATEST"
    assert parse_start("TRIM_HORIZON") == "TRIM_HORIZON"
    assert parse_start("90s", now) == now - timedelta(seconds=90)
    assert parse_start("1.5h", now) == now - timedelta(minutes=90)
    assert parse_start("2d", now) == now - timedelta(days=2)
    assert parse_start("1700000000.5") == 1700000000.5
    assert parse_start("2026-01-02T03:04:05Z") == now
    assert parse_start("2026-01-02T03:04:05") == now  # no offset: UTC
    assert parse_start("2026-01-02T05:04:05+02:00") == now
    with pytest.raises(UsageError, match="--from"):
        parse_start("yesterday")


# --- errors -------------------------------------------------------------------------------------


def test_missing_stream_is_one_line(kinesis_server):
    for command in (["describe", "no-such-stream"], ["put", "no-such-stream", "x"], ["delete", "no-such-stream"]):
        done = cli(*at(kinesis_server), *command)
        assert_clean_error(done, 1, "kinesis: error: ResourceNotFoundException: ")
        assert len(done.stderr.splitlines()) == 1, done.stderr
    done = cli(*at(kinesis_server), "tail", "no-such-stream", "--idle-timeout", "1")
    assert_clean_error(done, 1, "ResourceNotFoundException")


def test_no_credentials(kinesis_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["HOME"] = str(tmp_path)
    done = cli(*at(kinesis_server), "list", env=env)
    assert_clean_error(done, 1, "kinesis: error: no AWS credentials found")


def test_no_region(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    env["HOME"] = str(tmp_path)
    done = cli("list", env=env)
    assert_clean_error(done, 2, "kinesis: error: no region")


def test_profile_region_and_credentials_from_aws_config(kinesis_server, tmp_path):
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[profile cli-test]\nregion = eu-west-1\n")
    (aws / "credentials").write_text("[cli-test]\naws_access_key_id = 000000000000\naws_secret_access_key = x\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_EC2_METADATA_DISABLED"}
    env["HOME"] = str(tmp_path)
    name = unique_name("cli-region")
    assert cli(*at(kinesis_server), "--profile", "cli-test", "create", name, "--shards", "1", env=env).returncode == 0
    try:
        done = cli(*at(kinesis_server), "--profile", "cli-test", "describe", name, "--json", env=env)
        assert done.returncode == 0, done
        assert ":eu-west-1:" in json.loads(done.stdout)["StreamDescriptionSummary"]["StreamARN"]
    finally:
        cli(*at(kinesis_server), "--profile", "cli-test", "delete", name, env=env)


def test_unreachable_endpoint():
    done = cli("--endpoint-url", f"http://127.0.0.1:{free_port()}", "--retries", "0", "list")
    assert_clean_error(done, 1, "kinesis: error: could not reach the endpoint")


def test_put_with_nothing_to_read_from_a_terminal(kinesis_server, stream):
    controller, terminal = pty.openpty()
    try:
        command = [sys.executable, "-m", "kinesis", *at(kinesis_server), "put", stream]
        done = subprocess.run(command, stdin=terminal, capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.close(terminal)
        os.close(controller)
    assert_clean_error(done, 2, "kinesis: error: put: nothing to put: give DATA arguments, --file PATH")


def test_argument_mistakes_exit_2(kinesis_server, tmp_path, capsys):
    cases = [
        (["describe", "bad name!"], "stream_name"),
        (["tail", "s", "--from", "yesterday"], "--from"),
        (["put", "s", "--file", str(tmp_path / "missing.jsonl")], "cannot read"),
        (["put", "s", "x", "--file", "y"], "not both"),
        (["create", "s", "--shards", "1", "--tag", "novalue"], "KEY=VALUE"),
    ]
    for argv, fragment in cases:
        assert main([*at(kinesis_server), *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kinesis: error: ") and fragment in err, (argv, err)
    with pytest.raises(SystemExit) as info:  # argparse's own errors
        main(["create", "s"])
    assert info.value.code == 2
    assert "one of the arguments --shards --on-demand is required" in capsys.readouterr().err


# --- --local, serve, entry points ---------------------------------------------------------------


def test_local_uses_the_server_named_in_the_environment(kinesis_server, conn, stream):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # no credentials, no region
    env["KINESIS_LOCAL_ENDPOINT"] = kinesis_server.endpoint_url
    done = cli("--local", "list", env=env)
    assert done.returncode == 0, done
    assert stream in done.stdout.splitlines()


def test_local_without_a_server_starts_one_for_the_command():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = cli("--local", "create", "scratch", "--shards", "1", "--wait", env=env, timeout=120)
    assert done.returncode == 0, done
    assert "stream scratch is ACTIVE" in done.stdout
    assert "starting a local Kinesis server for this command only" in done.stderr


def test_serve_keeps_a_server_for_local_commands(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "kinesis", "serve"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline().decode().strip()  # printed once the server answers
            assert line.startswith("export KINESIS_LOCAL_ENDPOINT=http://127.0.0.1:")
            env["KINESIS_LOCAL_ENDPOINT"] = line.split("=", 1)[1]
            assert cli("--local", "create", "kept", "--shards", "1", "--wait", env=env).returncode == 0
            assert cli("--local", "list", env=env).stdout.splitlines() == ["kept"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert server.returncode == 0


def test_console_script_and_version():
    script = Path(sys.executable).parent / "kinesis"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done
    assert done.stdout.strip() == f"kinesis {kinesis.__version__}"
    help_text = cli("--help").stdout
    for command in ("list", "describe", "create", "delete", "put", "tail", "serve"):
        assert f"    {command} " in help_text
