"""What the test suite's loopback HTTP servers (scripted_server, fault_proxy) share: a quiet HTTP/1.1
handler and threaded server, and the start/stop lifecycle of a server thread on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

TARGET_PREFIX = "Kinesis_20131202."


class QuietHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 (keep-alive) handler that logs nothing and sends every request to ``handle_request``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the client's
        # delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.handle_request()

    def do_GET(self) -> None:
        self.handle_request()

    def handle_request(self) -> None:
        raise NotImplementedError

    def read_kinesis_request(self) -> tuple[bytes, Optional[str], Any]:
        """The request's raw body, its action (from ``X-Amz-Target``) and its JSON body (None if not JSON)."""
        raw = self._read_body()
        target = self.headers.get("X-Amz-Target", "")
        action = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else (target or None)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return raw, action, body

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out, are killed or meet an injected reset break connections; that is expected.
        pass


class LoopbackServer:
    """A ``QuietServer`` on a free 127.0.0.1 port, served by a daemon thread; a context manager."""

    def __init__(self, handler: type, owner_attribute: str) -> None:
        self._stopping = threading.Event()
        self._httpd = QuietServer(("127.0.0.1", 0), handler)
        setattr(self._httpd, owner_attribute, self)
        self.port: int = self._httpd.server_address[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._thread: Optional[threading.Thread] = None

    def request_count(self) -> int:
        raise NotImplementedError

    def wait_for_requests(self, count: int = 1, timeout: float = 10.0) -> bool:
        return wait_until(lambda: self.request_count() >= count, timeout)

    def start(self) -> Any:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
