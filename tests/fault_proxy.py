"""A fault-injecting loopback proxy between the client and an emulator (moto or kinesis-mock).

It forwards Kinesis JSON requests (``POST /`` with ``X-Amz-Target: Kinesis_20131202.<Action>``) to the
upstream URL over one keep-alive connection per client connection, and on the requests a test's rules pick
it answers a fault instead::

    with FaultProxy(kinesis_server.endpoint_url, seed=7) as proxy:
        proxy.add("PutRecords", Fault.fail_entries(0.2), rate=0.5)   # half the calls lose 20% of entries
        proxy.add("*", Fault.reset_before(), rate=0.05)             # 5% of all calls: connection reset
        conn = kinesis.connect_to_region("us-east-1", endpoint_url=proxy.endpoint_url)
        ...
        assert proxy.counts["fail_entries"] > 0

Choosing is reproducible: rule ``k`` draws from its own ``random.Random`` seeded with ``(seed, k)`` once for
every request it matches, so whether it fires on the n-th matching request depends only on the seed, and
the faults a sequence of calls meets are the same on every run. When several rules fire for one request,
the first one added wins. ``count=`` caps how often a rule fires (``rate=1.0, count=2``: the next two).

Fault kinds (``Fault.<kind>(...)``; a fault's ``kind`` is its key in ``counts``):

==================  ==========================================================================================
``throttle``        400 ``ProvisionedThroughputExceededException``, JSON body as the service sends it; not forwarded
``limit_exceeded``  400 ``LimitExceededException``; not forwarded
``status_code(c)``  HTTP ``c`` (500 → ``InternalFailure``, 503 → ``ServiceUnavailable``), JSON error body;
                    its kind (the key in ``counts``) is ``status``
``fail_entries(f)`` PutRecords only: a fraction ``f`` of the entries fail with ``ErrorCode``
                    ``ProvisionedThroughputExceededException`` / ``InternalFailure`` in an HTTP 200. As the
                    service does, failed entries are not written (the rest are forwarded and their real
                    results spliced in; the trimmed request's signature no longer matches, which the
                    emulators do not check); ``withhold=False`` forwards all and only rewrites the answer.
``reset_before``    read the request, then reset the connection (RST) without forwarding or answering
``reset_after``     forward (the emulator does the work), then reset: "the service accepted it, the answer
                    was lost"; a retried put writes the record twice
``reset_mid``       forward, send the status line, headers and half the body, then reset
``delay(s)``        forward, then answer ``s`` seconds later (past a client's read timeout: it gives up)
``truncate``        forward, answer a complete HTTP response whose JSON body is cut in half
``non_json``        answer a 200 (or ``status=``) HTML page instead of JSON; not forwarded
``expire_iterator`` GetRecords: 400 ``ExpiredIteratorException``; not forwarded
==================  ==========================================================================================

``proxy.exchanges`` records every request: its action, JSON body, the fault applied (or None) and whether it
reached the emulator; ``proxy.counts`` counts faults by kind; ``proxy.faults(action)`` is the sequence of
faults (or None) the action's requests met, in arrival order; ``proxy.forwarded(action)`` the exchanges that
reached the emulator; ``proxy.connections_accepted`` the client connections (fewer than requests: keep-alive).
``proxy.clear()`` drops the rules. ``proxy.connect(**options)`` / ``proxy.aconnect(**options)`` make a
``kinesis`` / ``kinesis.aio`` connection through the proxy with fast retries and short timeouts. In the tests,
the ``fault_proxy`` fixture (conftest.py) is a started proxy in front of the session's emulator, seeded from
the test's id (or ``KINESIS_FAULT_SEED``).

Only the standard library is used, so the proxy can run anywhere the tests run.
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import socket
import struct
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Optional

from loopback_http import LoopbackServer, QuietHandler

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
ENTRY_ERROR_CODES = ("ProvisionedThroughputExceededException", "InternalFailure")
# Hop-by-hop headers are the proxy's own business on each side; the body is always re-framed.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te", "upgrade"}

# Connection options for tests: retries that do not slow the suite down, timeouts that end a stuck test.
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "read_timeout": 5, "connect_timeout": 2}

# What the service says for each error status (type, message).
_STATUS_ERRORS = {
    500: ("InternalFailure", "The request processing has failed because of an unknown error."),
    502: ("BadGateway", "Bad gateway"),
    503: ("ServiceUnavailable", "The service is unavailable. Please try again later."),
    504: ("GatewayTimeout", "Gateway timeout"),
}


@dataclass(frozen=True)
class Fault:
    """One kind of misbehaviour; build with the class methods."""

    kind: str
    status: int = 0
    seconds: float = 0.0
    fraction: float = 0.0
    withhold: bool = True
    error_type: str = ""
    message: str = ""

    @classmethod
    def throttle(cls) -> Fault:
        message = "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000."
        return cls("throttle", status=400, error_type="ProvisionedThroughputExceededException", message=message)

    @classmethod
    def limit_exceeded(cls) -> Fault:
        message = "Rate exceeded for stream s under account 000000000000."
        return cls("limit_exceeded", status=400, error_type="LimitExceededException", message=message)

    @classmethod
    def expire_iterator(cls) -> Fault:
        message = "Iterator expired. The iterator was created at time 0 while right now it is 300001."
        return cls("expire_iterator", status=400, error_type="ExpiredIteratorException", message=message)

    @classmethod
    def status_code(cls, status: int) -> Fault:
        error_type, message = _STATUS_ERRORS.get(status, ("InternalFailure", f"HTTP {status}"))
        return cls("status", status=status, error_type=error_type, message=message)

    @classmethod
    def fail_entries(cls, fraction: float, withhold: bool = True) -> Fault:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction: must be between 0 and 1, got {fraction}")
        return cls("fail_entries", fraction=fraction, withhold=withhold)

    @classmethod
    def reset_before(cls) -> Fault:
        return cls("reset_before")

    @classmethod
    def reset_after(cls) -> Fault:
        return cls("reset_after")

    @classmethod
    def reset_mid(cls) -> Fault:
        return cls("reset_mid")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def truncate(cls) -> Fault:
        return cls("truncate")

    @classmethod
    def non_json(cls, status: int = 200) -> Fault:
        return cls("non_json", status=status)

    @property
    def forwards(self) -> bool:
        """Whether the request reaches the emulator (possibly trimmed, for ``fail_entries``)."""
        return self.kind in {"fail_entries", "reset_after", "reset_mid", "delay", "truncate"}


@dataclass
class Rule:
    action: str  # an action name, or "*" for all
    fault: Fault
    rate: float
    rng: random.Random
    entries_rng: random.Random  # fail_entries: which entries fail, apart from when the rule fires
    count: Optional[int] = None
    fired: int = 0

    def draw(self, action: Optional[str]) -> bool:
        """Whether this rule fires for a request; always draws when it matches, so sequences reproduce."""
        if self.action != "*" and self.action != action:
            return False
        hit = self.rng.random() < self.rate
        return hit and (self.count is None or self.fired < self.count)


@dataclass
class Exchange:
    """One request the proxy received and what it did with it."""

    action: Optional[str]
    body: Any
    fault: Optional[str]
    forwarded: bool = False
    status: Optional[int] = None
    failed_entries: list = field(default_factory=list)  # fail_entries: indices made to fail


@dataclass
class _Upstream:
    status: int
    reason: str
    headers: list
    body: bytes


class _Handler(QuietHandler):
    server: Any  # a QuietServer with .proxy

    def setup(self) -> None:
        super().setup()
        self._upstream: Optional[http.client.HTTPConnection] = None
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()
            self.server.proxy._track(self.connection, add=False)

    def handle_request(self) -> None:
        proxy: FaultProxy = self.server.proxy
        raw, action, body = self.read_kinesis_request()
        rule = proxy._pick(action)
        exchange = Exchange(action=action, body=body, fault=rule.fault.kind if rule else None)
        proxy._record(exchange)
        try:
            self._respond(exchange, rule, raw)
        except OSError:  # the client went away (it timed out, or was killed)
            self.close_connection = True

    def _respond(self, exchange: Exchange, rule: Optional[Rule], raw: bytes) -> None:
        if rule is None:
            self._relay(self._forward(exchange, raw))
            return
        fault = rule.fault
        kind = fault.kind
        if kind in {"throttle", "limit_exceeded", "expire_iterator", "status"}:
            error = {"__type": fault.error_type, "message": fault.message}
            self._send(fault.status, json.dumps(error).encode(), headers=[("x-amzn-ErrorType", fault.error_type)])
        elif kind == "non_json":
            page = b"<html><body><h1>502 Bad Gateway</h1>The upstream sent nonsense.</body></html>"
            self._send(fault.status, page, content_type="text/html")
        elif kind == "reset_before":
            self._reset()
        elif kind == "reset_after":
            self._forward(exchange, raw)
            self._reset()
        elif kind == "reset_mid":
            upstream = self._forward(exchange, raw)
            self._send_head(upstream.status, upstream.headers, len(upstream.body))
            self.wfile.write(upstream.body[: len(upstream.body) // 2])
            self.wfile.flush()
            self._reset()
        elif kind == "truncate":
            upstream = self._forward(exchange, raw)
            body = upstream.body[: max(1, len(upstream.body) // 2)]
            self._send(upstream.status, body, headers=upstream.headers)
        elif kind == "delay":
            upstream = self._forward(exchange, raw)
            if self.server.proxy._stopping.wait(fault.seconds):
                self._reset()
                return
            self._relay(upstream)
        elif kind == "fail_entries":
            self._relay(self._fail_entries(exchange, rule, raw))
        else:  # pragma: no cover - Fault's constructors make only the kinds above
            raise AssertionError(f"unknown fault kind {kind!r}")

    # --- upstream side --------------------------------------------------------------------------
    def _forward(self, exchange: Exchange, raw: bytes) -> _Upstream:
        proxy = self.server.proxy
        # Host and every other header go as they came: the signature covers them (the emulators do
        # not check it, which is what lets fail_entries trim the body).
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(raw))
        for attempt in range(2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
            try:
                self._upstream.request(self.command, self.path, body=raw, headers=headers)
                response = self._upstream.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                # The emulator closed an idle keep-alive connection: reconnect once.
                self._upstream.close()
                self._upstream = None
                if attempt:
                    raise
                continue
            exchange.forwarded = True
            exchange.status = response.status
            if response.will_close:
                self._upstream.close()
                self._upstream = None
            return _Upstream(response.status, response.reason, response.getheaders(), body)
        raise AssertionError("unreachable")

    def _fail_entries(self, exchange: Exchange, rule: Rule, raw: bytes) -> _Upstream:
        fault = rule.fault
        request = exchange.body if isinstance(exchange.body, dict) else {}
        entries = request.get("Records")
        if exchange.action != "PutRecords" or not isinstance(entries, list) or not entries:
            return self._forward(exchange, raw)
        failing = self.server.proxy._choose_failing(rule, len(entries))
        exchange.failed_entries = failing
        kept = [e for i, e in enumerate(entries) if i not in failing] if fault.withhold else entries
        results: list = []
        upstream: Optional[_Upstream] = None
        if kept:
            trimmed = json.dumps({**request, "Records": kept}).encode() if fault.withhold else raw
            upstream = self._forward(exchange, trimmed)
            if upstream.status != 200:
                return upstream
            results = list(json.loads(upstream.body).get("Records") or [])
        answer: list = []
        kept_results = iter(results)
        for i in range(len(entries)):
            if fault.withhold and i not in failing:
                answer.append(next(kept_results))
                continue
            real = results[i] if not fault.withhold else None
            if i in failing:
                code = ENTRY_ERROR_CODES[i % len(ENTRY_ERROR_CODES)]
                answer.append({"ErrorCode": code, "ErrorMessage": f"{code} (injected by the fault proxy)"})
            else:
                answer.append(real)
        failed = sum(1 for r in answer if r.get("ErrorCode"))
        body = json.dumps({"FailedRecordCount": failed, "Records": answer}).encode()
        headers = upstream.headers if upstream else [("Content-Type", JSON_CONTENT_TYPE)]
        return _Upstream(200, "OK", headers, body)

    # --- client side ----------------------------------------------------------------------------
    def _send_head(self, status: int, headers: list, length: int) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() not in {"date", "server"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(
        self, status: int, body: bytes, headers: Optional[list] = None, content_type: str = JSON_CONTENT_TYPE
    ) -> None:
        headers = list(headers or [])
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", content_type))
        if not any(k.lower() == "x-amzn-requestid" for k, _ in headers):
            headers.append(("x-amzn-RequestId", f"fault-proxy-{self.server.proxy.request_count()}"))
        self._send_head(status, headers, len(body))
        self.wfile.write(body)
        self.wfile.flush()

    def _relay(self, upstream: _Upstream) -> None:
        self._send(upstream.status, upstream.body, headers=upstream.headers)

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0), as a crashed peer or a middlebox does."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class FaultProxy(LoopbackServer):
    """A threaded HTTP/1.1 proxy on 127.0.0.1 that forwards to ``upstream_url`` and injects faults."""

    def __init__(self, upstream_url: str, seed: int = 0) -> None:
        parsed = urllib.parse.urlsplit(upstream_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"upstream_url: expected http://HOST:PORT, got {upstream_url!r}")
        self.upstream_host: str = parsed.hostname
        self.upstream_port: int = parsed.port or 80
        self.upstream_netloc: str = parsed.netloc
        self.seed = seed
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self.exchanges: list[Exchange] = []
        self.counts: collections.Counter = collections.Counter()
        self._sockets: set = set()
        self._connections: list = []
        self.connections_accepted = 0  # client TCP connections; fewer than requests means keep-alive works
        super().__init__(_Handler, "proxy")

    # --- the plan -------------------------------------------------------------------------------
    def add(self, action: str, fault: Fault, rate: float = 1.0, count: Optional[int] = None) -> FaultProxy:
        """Apply ``fault`` to a fraction ``rate`` of ``action``'s requests ("*": every action)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate: must be between 0 and 1, got {rate}")
        with self._lock:
            index = len(self._rules)
            rng = random.Random(f"{self.seed}:{index}")
            entries_rng = random.Random(f"{self.seed}:{index}:entries")
            self._rules.append(Rule(action, fault, rate, rng, entries_rng, count))
        return self

    def clear(self) -> None:
        """Drop every rule (later requests pass through); the record of what happened is kept."""
        with self._lock:
            self._rules.clear()

    def _pick(self, action: Optional[str]) -> Optional[Rule]:
        with self._lock:
            candidates = [rule for rule in self._rules if rule.draw(action)]
            if not candidates:
                return None
            winner = candidates[0]  # a rule's count is used up only by the faults it applied
            winner.fired += 1
            self.counts[winner.fault.kind] += 1
            return winner

    def _choose_failing(self, rule: Rule, total: int) -> list:
        with self._lock:
            return [i for i in range(total) if rule.entries_rng.random() < rule.fault.fraction]

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
                self.connections_accepted += 1
            else:
                self._sockets.discard(sock)

    # --- inspection -----------------------------------------------------------------------------
    def request_count(self, action: Optional[str] = None) -> int:
        with self._lock:
            return sum(1 for e in self.exchanges if action is None or e.action == action)

    def faults(self, action: Optional[str] = None) -> list:
        """The fault kind (or None) each request met, in arrival order; only ``action``'s if given."""
        with self._lock:
            return [e.fault for e in self.exchanges if action is None or e.action == action]

    def forwarded(self, action: Optional[str] = None) -> list:
        """The exchanges that reached the emulator."""
        with self._lock:
            return [e for e in self.exchanges if e.forwarded and (action is None or e.action == action)]

    # --- connections through the proxy ---------------------------------------------------------
    def connect(self, **options: Any) -> Any:
        """A ``kinesis`` connection through the proxy: fast retries, short timeouts (override any); closed
        by ``stop()``."""
        import kinesis

        connection = kinesis.connect_to_region("us-east-1", endpoint_url=self.endpoint_url, **{**FAST, **options})
        self._connections.append(connection)
        return connection

    def aconnect(self, **options: Any) -> Any:
        """The ``kinesis.aio`` twin of ``connect`` (close it yourself: closing is awaited)."""
        import kinesis.aio

        return kinesis.aio.connect_to_region("us-east-1", endpoint_url=self.endpoint_url, **{**FAST, **options})

    # --- lifecycle ------------------------------------------------------------------------------
    def stop(self) -> None:
        for connection in self._connections:
            connection.close()
        self._stopping.set()
        with self._lock:
            live = list(self._sockets)
        for sock in live:  # wake handlers blocked reading an idle keep-alive connection
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().stop()
