"""A scripted Kinesis endpoint for error, retry, timeout and validation tests.

It speaks just enough of the Kinesis JSON protocol (``POST /`` with ``X-Amz-Target:
Kinesis_20131202.<Action>``) to answer what a test queued, and records every request it saw::

    with ScriptedServer() as server:
        server.queue("PutRecord", Reply.error("ProvisionedThroughputExceededException"), Reply.json({...}))
        conn = kinesis.connect_to_region("us-east-1", endpoint_url=server.endpoint_url)
        ...
        assert server.actions() == ["PutRecord", "PutRecord"]

Replies are taken first from the action's queue, then from the action's sticky reply (``always``), then
from ``default`` (``canned_success``: a minimal valid 200 answer for the action). A reply may be a
``Reply`` or a callable taking the ``Request`` and returning a ``Reply``.
"""

from __future__ import annotations

import base64
import collections
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from loopback_http import LoopbackServer, QuietHandler

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass
class Request:
    """One request the server received."""

    action: Optional[str]
    body: Any
    raw: bytes
    headers: dict  # lower-cased header names
    path: str
    method: str
    received_at: float

    @property
    def access_key_id(self) -> Optional[str]:
        """The access key id from the SigV4 ``Authorization`` header, if any."""
        auth = self.headers.get("authorization", "")
        marker = "Credential="
        if marker not in auth:
            return None
        return auth.split(marker, 1)[1].split("/", 1)[0]


@dataclass
class Reply:
    """What to answer.

    ``mode``: ``"reply"`` answers normally; ``"close"`` drops the connection without answering;
    ``"truncate"`` sends the status line and headers announcing the full body, then only part of it,
    then closes. ``delay`` seconds are waited before doing any of it.
    """

    status: int = 200
    body: Union[bytes, str, dict, list, None] = b"{}"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    mode: str = "reply"

    @classmethod
    def json(cls, body: Any, status: int = 200, **kw: Any) -> Reply:
        return cls(status=status, body=body, **kw)

    @classmethod
    def empty(cls, status: int = 200, **kw: Any) -> Reply:
        """A response with an empty body (real AWS answers CreateStream and friends like this)."""
        return cls(status=status, body=b"", **kw)

    @classmethod
    def error(
        cls,
        error_type: str,
        message: str = "scripted error",
        status: int = 400,
        request_id: Optional[str] = None,
        **kw: Any,
    ) -> Reply:
        headers = dict(kw.pop("headers", {}))
        if request_id is not None:
            headers["x-amzn-RequestId"] = request_id
        return cls(status=status, body={"__type": error_type, "message": message}, headers=headers, **kw)

    @classmethod
    def raw(cls, body: bytes, status: int = 200, content_type: str = JSON_CONTENT_TYPE, **kw: Any) -> Reply:
        headers = {"Content-Type": content_type, **kw.pop("headers", {})}
        return cls(status=status, body=body, headers=headers, **kw)

    @classmethod
    def close(cls, delay: float = 0.0) -> Reply:
        return cls(mode="close", delay=delay)

    @classmethod
    def truncated(cls, body: bytes = b'{"StreamDescription": {"StreamName": "s"', status: int = 200) -> Reply:
        return cls(status=status, body=body, mode="truncate")

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        """Answer only after ``seconds`` (a client with a shorter read timeout gives up first)."""
        return cls(delay=seconds)

    def encoded_body(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


ReplySource = Union[Reply, Callable[[Request], Reply]]


class _Handler(QuietHandler):
    server: Any  # a QuietServer with .scripted

    def handle_request(self) -> None:
        scripted: ScriptedServer = self.server.scripted
        raw, action, body = self.read_kinesis_request()
        request = Request(
            action=action,
            body=body,
            raw=raw,
            headers={k.lower(): v for k, v in self.headers.items()},
            path=self.path,
            method=self.command,
            received_at=time.monotonic(),
        )
        reply = scripted._record_and_pick(request)
        if reply.delay and scripted._stopping.wait(reply.delay):
            self.close_connection = True
            return
        try:
            self._send(reply, scripted)
        except OSError:  # the client gave up (timeout) and closed its end
            self.close_connection = True

    def _send(self, reply: Reply, scripted: ScriptedServer) -> None:
        if reply.mode == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = reply.encoded_body()
        headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": f"scripted-{scripted.request_count()}"}
        for key, value in reply.headers.items():
            for existing in [k for k in headers if k.lower() == key.lower()]:
                del headers[existing]
            headers[key] = value
        self.send_response(reply.status)
        for key, value in headers.items():
            self.send_header(key, value)
        if reply.mode == "truncate":
            self.send_header("Content-Length", str(len(payload) + 100))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


class ScriptedServer(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 that answers scripted Kinesis responses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict = collections.defaultdict(collections.deque)
        self._always: dict = {}
        self.default: ReplySource = canned_success
        self.requests: list = []
        super().__init__(_Handler, "scripted")

    # scripting -------------------------------------------------------------------------------
    def queue(self, action: str, *replies: ReplySource) -> ScriptedServer:
        """Answer the next requests for ``action`` with these replies, in order."""
        with self._lock:
            self._queues[action].extend(replies)
        return self

    def always(self, action: str, reply: ReplySource) -> ScriptedServer:
        """Answer every request for ``action`` (once its queue is empty) with ``reply``."""
        with self._lock:
            self._always[action] = reply
        return self

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._always.clear()
            self.requests.clear()
            self.default = canned_success

    # inspection ------------------------------------------------------------------------------
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def actions(self) -> list:
        with self._lock:
            return [r.action for r in self.requests]

    def _record_and_pick(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(request.action)
            if queue:
                source = queue.popleft()
            else:
                source = self._always.get(request.action, self.default)
        return source(request) if callable(source) else source


# Canned successful bodies, shaped as the service sends them.
SHARD_0 = {
    "ShardId": "shardId-000000000000",
    "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)},
    "SequenceNumberRange": {"StartingSequenceNumber": "49590338271490256608559692538361571095921575989136588802"},
}


def describe_stream_body(name: str = "s", status: str = "ACTIVE") -> dict:
    return {
        "StreamDescription": {
            "StreamName": name,
            "StreamARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}",
            "StreamStatus": status,
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "Shards": [SHARD_0],
            "HasMoreShards": False,
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": 1700000000.0,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }
    }


def put_record_body(shard_id: str = "shardId-000000000000", sequence_number: str = "1") -> dict:
    return {"ShardId": shard_id, "SequenceNumber": sequence_number}


def get_records_body(*payloads: bytes) -> dict:
    return {
        "Records": [
            {
                "SequenceNumber": str(i + 1),
                "ApproximateArrivalTimestamp": 1700000000.5 + i,
                "Data": base64.b64encode(p).decode("ascii"),
                "PartitionKey": "pk",
            }
            for i, p in enumerate(payloads)
        ],
        "NextShardIterator": "next-iterator",
        "MillisBehindLatest": 0,
    }


def canned_success(request: Request) -> Reply:
    """A minimal, valid successful answer for ``request.action`` (the SDK insists on required fields)."""
    body = request.body if isinstance(request.body, dict) else {}
    name = body.get("StreamName") or "s"
    action = request.action
    if action == "PutRecord":
        return Reply.json(put_record_body())
    if action == "PutRecords":
        records = body.get("Records") or []
        entries = [put_record_body(sequence_number=str(i + 1)) for i in range(len(records))]
        return Reply.json({"FailedRecordCount": 0, "Records": entries})
    if action == "GetRecords":
        return Reply.json(get_records_body())
    if action == "GetShardIterator":
        return Reply.json({"ShardIterator": "scripted-iterator"})
    if action == "ListStreams":
        return Reply.json({"StreamNames": [], "HasMoreStreams": False})
    if action == "DescribeStream":
        return Reply.json(describe_stream_body(name))
    if action == "DescribeStreamSummary":
        return Reply.json(describe_stream_summary_body(name))
    if action == "ListShards":
        return Reply.json({"Shards": [SHARD_0]})
    if action == "ListTagsForStream":
        return Reply.json({"Tags": [], "HasMoreTags": False})
    return Reply.json({})


def describe_stream_summary_body(name: str = "s", status: str = "ACTIVE") -> dict:
    return {
        "StreamDescriptionSummary": {
            "StreamName": name,
            "StreamARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}",
            "StreamStatus": status,
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": 1700000000.0,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
            "OpenShardCount": 1,
            "ConsumerCount": 0,
        }
    }


def shards_body(count: int) -> list:
    """``count`` open shards splitting the hash key range evenly, as ListShards lists them."""
    step = 2**128 // count
    shards = []
    for i in range(count):
        end = 2**128 - 1 if i == count - 1 else (i + 1) * step - 1
        shards.append(
            {
                "ShardId": f"shardId-{i:012d}",
                "HashKeyRange": {"StartingHashKey": str(i * step), "EndingHashKey": str(end)},
                "SequenceNumberRange": {"StartingSequenceNumber": str(10**20 * (i + 1))},
            }
        )
    return shards
