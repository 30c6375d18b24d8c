"""Shared fixtures: the emulator (moto or kinesis-mock), a hermetic environment, connections and streams.

``KINESIS_TEST_SERVER`` selects the emulator: ``moto`` (default) or ``kinesis-mock``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from fault_proxy import FaultProxy
from kinesis.testing import free_port, server_answers
from scripted_server import ScriptedServer

TESTS_DIR = Path(__file__).resolve().parent
KINESIS_MOCK_DIR = TESTS_DIR / "kinesis-mock" / "node_modules" / "kinesis-local"

ACCESS_KEY_ID = "000000000000"  # kinesis-mock: a 12-digit key id selects the account; moto accepts anything
SECRET_ACCESS_KEY = "testsecretkeytestsecretkey"
REGION = "us-east-1"

# Variables that could make the tests read the developer's real configuration or reach the network.
_SCRUBBED_PREFIXES = ("AWS_", "BOTO_")
_SCRUBBED = {"BOTO_CONFIG", "BOTO_PATH", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
_SCRUBBED |= {"all_proxy"}


def hermetic_env(home: str, base: Optional[dict] = None) -> dict:
    """``base`` (default os.environ) without AWS/boto/proxy settings, with dummy credentials and ``HOME``."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED
    }
    env.update(
        HOME=home,
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@pytest.fixture(scope="session", autouse=True)
def _hermetic_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test runs with dummy credentials, an empty HOME and no AWS/boto configuration from the developer."""
    home = tmp_path_factory.mktemp("home")
    env = hermetic_env(str(home))
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key not in env:
                mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        yield home


@pytest.fixture(scope="session", autouse=True)
def _event_loop_for_pytest_asyncio_to_restore() -> Iterator[None]:
    """On Python 3.9, pytest-asyncio 1.x saves the current event loop before each async test with
    get_event_loop(), which there creates one; the next test's asyncio.run() unsets it, and it is
    collected unclosed: a ResourceWarning that fails whichever later test is running. Set (and close)
    one ourselves so there is always one to save."""
    if sys.version_info >= (3, 10):
        yield
        return
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    loop.close()


@dataclass
class EmulatorServer:
    name: str
    endpoint_url: str
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _start_emulator(name: str, log_path: Path, home: Path) -> EmulatorServer:
    port = free_port()
    env = hermetic_env(str(home))
    if name == "moto":
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        cwd = str(home)
    elif name == "kinesis-mock":
        if not (KINESIS_MOCK_DIR / "main.js").exists():
            pytest.exit(f"kinesis-mock is not installed: run `npm ci --prefix {TESTS_DIR / 'kinesis-mock'}`", 2)
        cmd = ["node", "main.js"]
        cwd = str(KINESIS_MOCK_DIR)  # it reads server.json (its TLS certificate) from the working directory
        durations = {
            name: "10ms"
            for name in (
                "CREATE_STREAM_DURATION",
                "DELETE_STREAM_DURATION",
                "REGISTER_STREAM_CONSUMER_DURATION",
                "DEREGISTER_STREAM_CONSUMER_DURATION",
                "START_STREAM_ENCRYPTION_DURATION",
                "STOP_STREAM_ENCRYPTION_DURATION",
                "MERGE_SHARDS_DURATION",
                "SPLIT_SHARD_DURATION",
                "UPDATE_SHARD_COUNT_DURATION",
                "UPDATE_STREAM_MODE_DURATION",
            )
        }
        env.update(
            durations,
            KINESIS_MOCK_PLAIN_PORT=str(port),
            KINESIS_MOCK_TLS_PORT=str(free_port()),
            SHARD_LIMIT="10000",
            ON_DEMAND_STREAM_COUNT_LIMIT="1000",
            LOG_LEVEL="ERROR",
            ROOT_LOG_LEVEL="ERROR",
            SHOULD_PERSIST_DATA="false",
            LOAD_DATA_IF_EXISTS="false",
            AWS_ACCOUNT_ID=ACCESS_KEY_ID,
        )
    else:
        pytest.exit(f"KINESIS_TEST_SERVER must be 'moto' or 'kinesis-mock', not {name!r}", 2)
    log = open(log_path, "wb")
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    server = EmulatorServer(name, f"http://127.0.0.1:{port}", "127.0.0.1", port, process, log_path)
    deadline = time.monotonic() + 60
    while not server_answers(port):
        if process.poll() is not None:
            pytest.exit(f"{name} exited with {process.returncode} on start:\n{server.log_tail()}", 2)
        if time.monotonic() > deadline:
            _stop_process(process)
            pytest.exit(f"{name} did not answer on port {port} within 60 s:\n{server.log_tail()}", 2)
        time.sleep(0.1)
    return server


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def kinesis_server(tmp_path_factory: pytest.TempPathFactory, _hermetic_environment: Path) -> Iterator[EmulatorServer]:
    """The emulator selected by ``KINESIS_TEST_SERVER``, on a free loopback port, for the whole session."""
    name = os.environ.get("KINESIS_TEST_SERVER", "moto")
    workdir = tmp_path_factory.mktemp(f"emulator-{name}")
    server = _start_emulator(name, workdir / "server.log", _hermetic_environment)
    try:
        yield server
    finally:
        _stop_process(server.process)


def pytest_report_header(config: pytest.Config) -> str:
    return f"kinesis emulator: {os.environ.get('KINESIS_TEST_SERVER', 'moto')}"


# --- connections and streams --------------------------------------------------------------------


@pytest.fixture
def conn(kinesis_server: EmulatorServer):
    import kinesis

    connection = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
    yield connection
    connection.close()


@pytest.fixture
async def aconn(kinesis_server: EmulatorServer):
    import kinesis.aio

    connection = kinesis.aio.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
    yield connection
    await connection.close()


def unique_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_active(conn, name: str, timeout: float = 15.0) -> dict:
    """Poll describe_stream_summary until the stream is ACTIVE; returns the summary."""
    deadline = time.monotonic() + timeout
    while True:
        summary = conn.describe_stream_summary(name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        if time.monotonic() > deadline:
            raise AssertionError(f"stream {name} not ACTIVE after {timeout} s: {summary}")
        time.sleep(0.02)


async def await_active(aconn, name: str, timeout: float = 15.0) -> dict:
    """The asyncio twin of ``wait_active``."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        summary = (await aconn.describe_stream_summary(name))["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        if time.monotonic() > deadline:
            raise AssertionError(f"stream {name} not ACTIVE after {timeout} s: {summary}")
        await asyncio.sleep(0.02)


def wait_deleted(conn, name: str, timeout: float = 15.0) -> None:
    """Poll until describe_stream_summary raises ResourceNotFoundException."""
    from kinesis.exceptions import ResourceNotFoundException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn.describe_stream_summary(name)
        except ResourceNotFoundException:
            return
        time.sleep(0.02)
    raise AssertionError(f"stream {name} still exists after {timeout} s")


def delete_quietly(conn, name: str) -> None:
    from kinesis.exceptions import ResourceNotFoundException

    try:
        conn.delete_stream(name, enforce_consumer_deletion=True)
    except ResourceNotFoundException:
        pass


def make_stream(conn, shard_count: int = 2, prefix: str = "test") -> str:
    name = unique_name(prefix)
    assert conn.create_stream(name, shard_count) is None
    wait_active(conn, name)
    return name


@contextmanager
def emulator_stream(kinesis_server: EmulatorServer, shard_count: int, prefix: str) -> Iterator[str]:
    """A stream made straight on the emulator (for tests that talk to it through a proxy), deleted after."""
    import kinesis

    direct = kinesis.connect_to_region(REGION, endpoint_url=kinesis_server.endpoint_url)
    name = make_stream(direct, shard_count, prefix=prefix)
    try:
        yield name
    finally:
        delete_quietly(direct, name)
        direct.close()


@pytest.fixture
def stream(conn) -> Iterator[str]:
    """A fresh ACTIVE stream with 2 shards, created and deleted through the module itself."""
    name = make_stream(conn, 2)
    yield name
    delete_quietly(conn, name)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A scripted Kinesis endpoint (see scripted_server.py)."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def scripted_conn(scripted: ScriptedServer):
    """A connection to the scripted server with fast retries and short timeouts."""
    import kinesis

    connection = kinesis.connect_to_region(
        REGION,
        endpoint_url=scripted.endpoint_url,
        retry_base_delay=0.01,
        retry_max_delay=0.05,
        read_timeout=5,
        connect_timeout=2,
    )
    yield connection
    connection.close()


@pytest.fixture
async def scripted_aconn(scripted: ScriptedServer):
    import kinesis.aio

    connection = kinesis.aio.connect_to_region(
        REGION,
        endpoint_url=scripted.endpoint_url,
        retry_base_delay=0.01,
        retry_max_delay=0.05,
        read_timeout=5,
        connect_timeout=2,
    )
    yield connection
    await connection.close()


@pytest.fixture
def fault_proxy(kinesis_server: EmulatorServer, request: pytest.FixtureRequest) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the emulator (see fault_proxy.py); no faults until a test adds rules.

    Its seed is ``KINESIS_FAULT_SEED`` if set, else derived from the test's id, so every test meets the
    same faults on every run. ``fault_proxy.connect(**options)`` makes a connection through it.
    """
    seed = int(os.environ.get("KINESIS_FAULT_SEED") or zlib.crc32(request.node.nodeid.encode()))
    with FaultProxy(kinesis_server.endpoint_url, seed=seed) as proxy:
        yield proxy
