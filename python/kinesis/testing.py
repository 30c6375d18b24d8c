"""A local Kinesis server for demos and for testing your own code without AWS.

``LocalKinesisServer`` runs moto's Kinesis server (``pip install 'kinesis[local]'``) in a child
process on a free loopback port and stops it when done::

    from kinesis.testing import LocalKinesisServer

    with LocalKinesisServer() as server:
        conn = server.connect()
        conn.create_stream("events", 1)

With pytest, the ``kinesis_local_server`` fixture gives one server per test session.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any, Optional

from kinesis.layer1 import KinesisConnection

__all__ = ["LocalKinesisServer", "free_port", "kinesis_local_server", "server_answers"]

# Any values work: the local server does not check signatures.
LOCAL_ACCESS_KEY_ID = "000000000000"
LOCAL_SECRET_ACCESS_KEY = "local-secret-access-key"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_answers(port: int) -> bool:
    """True once something on 127.0.0.1:``port`` answers a Kinesis ListStreams request with any status."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            headers = {"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": "application/x-amz-json-1.1"}
            conn.request("POST", "/", body=b"{}", headers=headers)
            conn.getresponse().read()
            return True
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


class LocalKinesisServer:
    """moto's Kinesis server in a child process, on ``127.0.0.1`` and a free port."""

    def __init__(self, port: Optional[int] = None, start_timeout: float = 30.0) -> None:
        self.host = "127.0.0.1"
        self.port = port if port is not None else free_port()
        self.start_timeout = start_timeout
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._log: Optional[Any] = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalKinesisServer:
        if self._process is not None:
            return self
        try:
            import moto.server  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "the local server needs moto: pip install 'kinesis[local]' (or pip install 'moto[server]')"
            ) from None
        self._log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]
        self._process = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + self.start_timeout
        while not server_answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise RuntimeError(f"the local Kinesis server did not start on port {self.port}:\n{output}")
            time.sleep(0.05)
        return self

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return str(self._log.read()[-4000:].decode(errors="replace"))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def connect(self, region_name: str = "us-east-1", **kw_params: Any) -> KinesisConnection:
        """A connection to this server, with placeholder credentials unless you give your own."""
        kw_params.setdefault("aws_access_key_id", LOCAL_ACCESS_KEY_ID)
        kw_params.setdefault("aws_secret_access_key", LOCAL_SECRET_ACCESS_KEY)
        from kinesis import connect_to_region

        return connect_to_region(region_name, endpoint_url=self.endpoint_url, **kw_params)

    def __enter__(self) -> LocalKinesisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalKinesisServer({self.endpoint_url}, {state})"


try:
    import pytest
except ImportError:  # pytest is optional: the fixture exists only where pytest does.
    pass
else:

    @pytest.fixture(scope="session")
    def kinesis_local_server() -> Iterator[LocalKinesisServer]:
        """A local Kinesis server for the whole test session."""
        with LocalKinesisServer() as server:
            yield server
