"""kinesis.testing's local server and the README demo, run for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kinesis
import pytest
from kinesis.testing import LocalKinesisServer

ROOT = Path(__file__).resolve().parents[1]


def test_local_server_starts_answers_and_stops() -> None:
    server = LocalKinesisServer()
    with server:
        conn = server.connect()
        conn.create_stream("helper-stream", 1)
        assert "helper-stream" in conn.list_streams()["StreamNames"]
        assert "running" in repr(server)
    assert "stopped" in repr(server)
    stopped = server.connect(num_retries=0, connect_timeout=1)
    with pytest.raises(kinesis.exceptions.ConnectionError):
        stopped.list_streams()


def test_fixture_is_registered_as_a_pytest_plugin(kinesis_local_server: LocalKinesisServer) -> None:
    conn = kinesis_local_server.connect()
    assert isinstance(conn.list_streams()["StreamNames"], list)


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo finished: 6 records read back" in done.stdout
