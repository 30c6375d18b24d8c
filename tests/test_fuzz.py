"""Fuzzing (Hypothesis, derandomized and bounded) of the de-aggregator and of response handling.

The properties: ``deaggregate`` returns None or a list of sub-records whose total size is bounded by the
input, never raises on bytes; a call that gets any answer at all (random status, headers, JSON or bytes)
returns a result or raises a ``kinesis.exceptions.KinesisError``, never anything else, never hangs.

The checked-in corpora are run first, every time: ``tests/corpus/aggregation-fuzz/`` (hand-made hostile
aggregates, with the expected outcome in ``expected.json``) and ``tests/corpus/responses/`` (hostile
answers). Hypothesis also starts its mutations from them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kinesis import exceptions as kx
from kinesis.aggregation import MAGIC, aggregate, deaggregate, deaggregate_records
from scripted_server import Reply

CORPUS = Path(__file__).resolve().parent / "corpus"
AGGREGATION_SEEDS = CORPUS / "aggregation-fuzz"
RESPONSE_SEEDS = CORPUS / "responses"

# Deterministic and bounded: the same examples on every run, the whole module in a few seconds.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the de-aggregator --------------------------------------------------------------------------


def seal(message: bytes) -> bytes:
    """An aggregate's data around ``message``: magic, message, MD5 (so the parser really runs on it)."""
    return MAGIC + message + hashlib.md5(message).digest()


def check_deaggregated(data: bytes) -> None:
    result = deaggregate(data)
    if result is None:
        return
    assert data.startswith(MAGIC)
    assert sum(len(r["Data"]) for r in result) <= len(data)
    assert len(result) <= len(data) // 4
    for i, record in enumerate(result):
        assert isinstance(record["PartitionKey"], str) and isinstance(record["Data"], bytes)
        assert record["SubSequenceNumber"] == i
        assert set(record) <= {"PartitionKey", "ExplicitHashKey", "Data", "SubSequenceNumber"}


def aggregation_seeds() -> dict:
    expected = json.loads((AGGREGATION_SEEDS / "expected.json").read_text())
    return {name: ((AGGREGATION_SEEDS / f"{name}.bin").read_bytes(), outcome) for name, outcome in expected.items()}


SEEDS = aggregation_seeds()


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_aggregation_corpus(name):
    data, expected = SEEDS[name]
    result = deaggregate(data)
    assert (None if result is None else len(result)) == expected
    check_deaggregated(data)
    as_record = {"SequenceNumber": "1", "Data": data, "PartitionKey": "outer"}
    out = deaggregate_records([as_record])
    assert len(out) == (1 if expected is None else expected)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


# One protobuf field: a tag (any field number and wire type, mostly the ones the format uses) and a value
# that may lie about its length.
fields = st.tuples(
    st.one_of(st.sampled_from([1, 2, 3, 4]), st.integers(0, 2**29)),
    st.integers(0, 7),
    st.binary(max_size=40),
    st.one_of(st.none(), st.integers(0, 2**64 - 1)),
).map(
    lambda f: (
        varint(f[0] << 3 | f[1])
        + (
            varint(len(f[2]) if f[3] is None else f[3]) + f[2]
            if f[1] == 2
            else varint(f[3] or 0)
            if f[1] == 0
            else f[2]
        )
    )
)
protobuf_like = st.lists(fields, max_size=12).map(b"".join)


@FUZZ
@given(st.binary(max_size=2000))
def test_deaggregate_any_bytes(data):
    assert deaggregate(data) is None or data.startswith(MAGIC)
    check_deaggregated(MAGIC + data)


@FUZZ
@given(protobuf_like)
def test_deaggregate_sealed_garbage(message):
    check_deaggregated(seal(message))


@FUZZ
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    st.binary(max_size=16),
)
def test_deaggregate_mutated_seeds(name, edits, inserted):
    data, _ = SEEDS[name]
    message = bytearray(data[len(MAGIC) : -16])
    for position, value in edits:
        if message:
            message[position % len(message)] = value
    cut = edits[0][0] % (len(message) + 1)
    check_deaggregated(seal(bytes(message[:cut]) + inserted + bytes(message[cut:])))


user_records = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=20),
        st.binary(max_size=100),
        st.one_of(st.none(), st.integers(0, 2**128 - 1).map(str)),
    ),
    min_size=1,
    max_size=30,
)


@FUZZ
@given(user_records)
def test_aggregate_then_deaggregate_round_trips(records):
    blob = aggregate(records)
    result = deaggregate(blob)
    assert [(r["PartitionKey"], r["Data"], r.get("ExplicitHashKey")) for r in result] == records


@FUZZ
@given(
    st.lists(
        st.one_of(
            user_records.map(lambda records: {"Data": aggregate(records), "SequenceNumber": "7"}),
            st.binary(max_size=50).map(lambda b: {"Data": b}),
            st.binary(max_size=50).map(lambda b: {"Data": MAGIC + b}),
            st.text(max_size=20).map(lambda t: {"Data": t}),
            st.just({"PartitionKey": "no data"}),
            st.just({"Data": None}),
        ),
        max_size=10,
    )
)
def test_deaggregate_records_any_mix(records):
    out = deaggregate_records(records)
    plain = (
        [r for r in records if deaggregate(r["Data"]) is None]
        if all(isinstance(r.get("Data"), bytes) for r in records)
        else None
    )
    assert len(out) >= len([r for r in records if not isinstance(r.get("Data"), bytes)])
    if plain is not None:
        assert [r for r in out if any(r is p for p in plain)] == plain
    for record in out:
        assert isinstance(record, dict)


# --- response handling --------------------------------------------------------------------------

# The calls whose answers are fuzzed, by action.
CALLS = {
    "GetRecords": lambda c: c.get_records("iterator"),
    "PutRecords": lambda c: c.put_records([{"Data": b"x", "PartitionKey": "k"}] * 2, "s"),
    "PutRecord": lambda c: c.put_record("s", b"x", "k"),
    "DescribeStream": lambda c: c.describe_stream("s"),
}


def reply_of(entry: dict) -> Reply:
    if "json" in entry:
        body: Any = json.dumps(entry["json"]).encode()
    elif "body_hex" in entry:
        body = bytes.fromhex(entry["body_hex"])
    else:
        body = entry.get("text", "").encode()
    return Reply(status=entry["status"], body=body, headers=dict(entry.get("headers", {})))


def response_seeds() -> dict:
    return {path.stem: json.loads(path.read_text()) for path in sorted(RESPONSE_SEEDS.glob("*.json"))}


RESPONSES = response_seeds()


def outcome(scripted, conn, action: str, reply: Reply) -> Any:
    """Answer ``action`` with ``reply`` once; the call's result or its exception, which must be a KinesisError."""
    scripted.reset()
    scripted.always(action, reply)
    try:
        result = CALLS[action](conn)
    except BaseException as err:  # judged by checked_outcome
        return checked_outcome(action, reply, err)
    return checked_outcome(action, reply, result)


async def outcome_async(scripted, conn, action: str, reply: Reply) -> Any:
    """``outcome`` for the asyncio face, whose results and errors come back through the event loop."""
    scripted.reset()
    scripted.always(action, reply)
    try:
        result = await CALLS[action](conn)
    except BaseException as err:  # judged by checked_outcome
        return checked_outcome(action, reply, err)
    return checked_outcome(action, reply, result)


def checked_outcome(action: str, reply: Reply, result: Any) -> Any:
    if isinstance(result, BaseException):
        if not isinstance(result, kx.KinesisError):  # anything else is the bug these tests look for
            pytest.fail(f"{action} answered {reply.status} {reply.encoded_body()[:200]!r} raised {result!r}")
        return result
    assert isinstance(result, dict), result
    assert reply.status < 300, f"an error status {reply.status} became a result: {result!r}"
    return result


@pytest.fixture
def fuzz_conn(scripted):
    import kinesis

    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, num_retries=0, read_timeout=2)
    yield conn
    conn.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_corpus(scripted, fuzz_conn, name):
    entry = RESPONSES[name]
    result = outcome(scripted, fuzz_conn, entry["action"], reply_of(entry))
    assert ("result" if isinstance(result, dict) else type(result).__name__) == entry["expect"], result


@pytest.mark.timeout(30)
async def test_response_corpus_async(scripted):
    import kinesis.aio

    url = scripted.endpoint_url
    async with kinesis.aio.connect_to_region("us-east-1", endpoint_url=url, num_retries=0, read_timeout=2) as conn:
        for name, entry in RESPONSES.items():
            result = await outcome_async(scripted, conn, entry["action"], reply_of(entry))
            shown = "result" if isinstance(result, dict) else type(result).__name__
            assert shown == entry["expect"], (name, result)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = [
    "Records", "NextShardIterator", "MillisBehindLatest", "ChildShards", "FailedRecordCount", "SequenceNumber",
    "ShardId", "Data", "PartitionKey", "ApproximateArrivalTimestamp", "ErrorCode", "ErrorMessage", "EncryptionType",
    "StreamDescription", "StreamName", "StreamStatus", "Shards", "HasMoreShards", "__type", "message",
]  # fmt: skip
# Objects with the real field names and values of any type, nested like the real answers.
shaped = st.recursive(
    json_values,
    lambda children: (
        st.dictionaries(st.sampled_from(FIELD_NAMES), children, max_size=6) | st.lists(children, max_size=3)
    ),
    max_leaves=30,
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
bodies = st.one_of(
    shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from(sorted(RESPONSES)).flatmap(
        lambda name: st.integers(0, 400).map(lambda cut: reply_of(RESPONSES[name]).encoded_body()[:cut])
    ),
)
replies = st.builds(
    lambda status, body, content_type, error_type, request_id: Reply(
        status=status,
        body=body,
        headers={
            **({"Content-Type": content_type} if content_type is not None else {}),
            **({"x-amzn-ErrorType": error_type} if error_type is not None else {}),
            "x-amzn-RequestId": request_id,
        },
    ),
    st.one_of(st.sampled_from([200, 200, 200, 400, 403, 413, 500, 503]), st.integers(200, 599)),
    bodies,
    st.one_of(st.none(), st.sampled_from(["application/x-amz-json-1.1", "application/json", "text/html"]), header_text),
    st.one_of(st.none(), header_text),
    header_text,
)


@pytest.mark.timeout(120)
@FUZZ
@given(action=st.sampled_from(sorted(CALLS)), reply=replies)
def test_any_answer_is_a_result_or_a_kinesis_error(scripted, fuzz_conn, action, reply):
    outcome(scripted, fuzz_conn, action, reply)


@pytest.mark.timeout(60)
@settings(FUZZ, max_examples=100)
@given(st.sampled_from(sorted(CALLS)), st.binary(min_size=1, max_size=200))
def test_get_records_data_of_any_bytes_round_trips(scripted, fuzz_conn, action, payload):
    # Valid answers with arbitrary payload bytes: decoding never fails and never alters them.
    body = {
        "Records": [
            {"SequenceNumber": "1", "ApproximateArrivalTimestamp": 1.0, "PartitionKey": "k",
             "Data": base64.b64encode(payload).decode()}
        ],
        "NextShardIterator": "next",
    }  # fmt: skip
    scripted.reset()
    scripted.always("GetRecords", Reply.json(body))
    page = fuzz_conn.get_records("iterator", as_bytes=True)
    assert page["Records"][0]["Data"] == payload
