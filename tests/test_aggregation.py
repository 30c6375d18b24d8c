"""KPL aggregation (kinesis.aggregation): the reference test vector, round trips, interop both ways with
aws-kinesis-agg, and the KCL's rules for what is not an aggregate. No server needed."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from pathlib import Path

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from kinesis.aggregation import MAGIC, aggregate, deaggregate, deaggregate_records, partition_key_hash

VECTOR_PROTOBUF = bytes.fromhex("0a01610a01621a0508001a01781a0508011a0179")
VECTOR = bytes.fromhex("f3899ac20a01610a01621a0508001a01781a0508011a0179b0031909ae75891ca94acec2ecce3125")
MAX_HASH_KEY = 2**128 - 1
CORPUS = Path(__file__).resolve().parent / "corpus" / "aggregation"

KEYS = ["a", "b", "user-42", "ключ", "🔑", "é", "x" * 256, "日本語のキー", " ", "a\x00b"]
EXPLICIT_HASH_KEYS = ["0", "1", str(MAX_HASH_KEY), str(2**127), "12345678901234567890"]


def wrap(message: bytes) -> bytes:
    """An aggregate around ``message`` with a correct digest."""
    return MAGIC + message + hashlib.md5(message).digest()


def random_records(rng: random.Random, n: int, ehk_share: float = 0.3) -> list[tuple[str, bytes, str | None]]:
    records = []
    for _ in range(n):
        key = rng.choice(KEYS) if rng.random() < 0.7 else f"k{rng.randrange(1000)}-ü"
        size = rng.choice([0, 0, 1, 7, 100, 127, 128, 300, 5000])
        data = rng.randbytes(size)
        ehk = rng.choice(EXPLICIT_HASH_KEYS) if rng.random() < ehk_share else None
        records.append((key, data, ehk))
    return records


def expected(records: list[tuple[str, bytes, str | None]]) -> list[dict]:
    out = []
    for i, (key, data, ehk) in enumerate(records):
        d = {"PartitionKey": key, "Data": data, "SubSequenceNumber": i}
        if ehk is not None:
            d["ExplicitHashKey"] = ehk
        out.append(d)
    return out


def their_deaggregate(data: bytes) -> list[dict]:
    """aws-kinesis-agg's deaggregator on a boto3-shaped record, mapped to our output shape."""
    outer = {"SequenceNumber": "49590338271490256608559692538361571095921575989136588898", "PartitionKey": "a"}
    outer |= {"ApproximateArrivalTimestamp": 0, "Data": data}
    out = []
    for r in iter_deaggregate_records([outer], data_format="Boto3"):
        k = r["kinesis"]
        d = {"PartitionKey": k["partitionKey"], "Data": base64.b64decode(k["data"])}
        d["SubSequenceNumber"] = k.get("subSequenceNumber")
        if k.get("explicitHashKey") is not None:
            d["ExplicitHashKey"] = k["explicitHashKey"]
        out.append(d)
    return out


def their_aggregates(records, max_size: int = 51_200) -> list[tuple[str, str | None, bytes]]:
    """aws-kinesis-agg's RecordAggregator: every full aggregate and the last partial one."""
    agg = RecordAggregator(max_size=max_size)
    out = []
    for key, data, ehk in records:
        full = agg.add_user_record(key, data, ehk)
        if full is not None:
            out.append(full.get_contents())
    last = agg.clear_and_get()
    if last is not None:
        out.append(last.get_contents())
    return out


# --- the reference test vector -------------------------------------------------------------------


def test_vector_encodes_byte_for_byte():
    assert aggregate([("a", b"x"), ("b", b"y")]) == VECTOR
    assert aggregate([{"PartitionKey": "a", "Data": b"x"}, {"PartitionKey": "b", "Data": "y"}]) == VECTOR
    assert aggregate((("a", bytearray(b"x"), None), ["b", "y"])) == VECTOR
    assert VECTOR[4:-16] == VECTOR_PROTOBUF
    assert hashlib.md5(VECTOR_PROTOBUF).digest() == VECTOR[-16:]


def test_vector_decodes():
    assert deaggregate(VECTOR) == [
        {"PartitionKey": "a", "Data": b"x", "SubSequenceNumber": 0},
        {"PartitionKey": "b", "Data": b"y", "SubSequenceNumber": 1},
    ]
    assert deaggregate(bytearray(VECTOR)) == deaggregate(VECTOR)


def test_vector_matches_aws_kinesis_agg():
    assert their_aggregates([("a", b"x", None), ("b", b"y", None)]) == [("a", None, VECTOR)]
    assert their_deaggregate(VECTOR) == deaggregate(VECTOR)


def test_partition_key_hash():
    assert partition_key_hash("a") == 16955237001963240173058271559858726497
    rng = random.Random(7)
    for key in [*KEYS, *(f"{rng.random()}-ß-{i}" for i in range(100))]:
        assert partition_key_hash(key) == int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    assert 0 <= partition_key_hash("x" * 256) <= MAX_HASH_KEY


@pytest.mark.parametrize("name", sorted(p.stem for p in CORPUS.glob("*.bin")))
def test_corpus(name):
    blob = (CORPUS / f"{name}.bin").read_bytes()
    want = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    if want is not None:
        for d in want:
            d["Data"] = bytes.fromhex(d["Data"])
    assert deaggregate(blob) == want
    if want is not None and name.startswith(("aws-kinesis-agg-", "reference-")):
        assert aggregate([(d["PartitionKey"], d["Data"], d.get("ExplicitHashKey")) for d in want]) == blob


def test_corpus_is_there():
    assert len(list(CORPUS.glob("*.bin"))) >= 9


# --- round trips ---------------------------------------------------------------------------------


def test_random_round_trips():
    rng = random.Random(20240601)
    for _ in range(200):
        records = random_records(rng, rng.randrange(1, 120))
        blob = aggregate(records)
        assert blob[:4] == MAGIC
        assert deaggregate(blob) == expected(records)


def test_round_trip_shapes():
    records = [
        {"PartitionKey": "p", "Data": b"", "ExplicitHashKey": None},
        {"PartitionKey": "p", "Data": "héllo", "ExplicitHashKey": "99"},
        ("q", bytearray(b"\x00\x01"), "99"),
        ["🔑", "", None],
        ("p", b"z"),
    ]
    assert deaggregate(aggregate(records)) == [
        {"PartitionKey": "p", "Data": b"", "SubSequenceNumber": 0},
        {"PartitionKey": "p", "ExplicitHashKey": "99", "Data": "héllo".encode(), "SubSequenceNumber": 1},
        {"PartitionKey": "q", "ExplicitHashKey": "99", "Data": b"\x00\x01", "SubSequenceNumber": 2},
        {"PartitionKey": "🔑", "Data": b"", "SubSequenceNumber": 3},
        {"PartitionKey": "p", "Data": b"z", "SubSequenceNumber": 4},
    ]
    # A generator is fine too; a single record still makes a valid aggregate.
    assert deaggregate(aggregate(r for r in [("k", b"v")])) == [
        {"PartitionKey": "k", "Data": b"v", "SubSequenceNumber": 0}
    ]


def test_keys_are_stored_once():
    one = aggregate([("same-key", b"1", "42")])
    many = aggregate([("same-key", b"1", "42")] * 100)
    # Each further record costs its Record message only (1a 07 08 00 10 00 1a 01 31 = 9 bytes).
    assert len(many) - len(one) == 99 * 9
    subs = deaggregate(many)
    assert len(subs) == 100
    assert all(s["PartitionKey"] is subs[0]["PartitionKey"] for s in subs)  # one str shared


def test_large_aggregate_round_trips_across_threads():
    rng = random.Random(3)
    records = [(f"key-{i % 50}", rng.randbytes(1000), None) for i in range(1000)]
    blob = aggregate(records)
    assert len(blob) > 1_000_000
    want = expected(records)
    results = []

    def work():
        results.append(deaggregate(blob) == want)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


# --- interop with aws-kinesis-agg ----------------------------------------------------------------


@pytest.mark.parametrize("ehk_share", [0.0, 1.0])
def test_ours_deaggregated_by_aws_kinesis_agg(ehk_share):
    rng = random.Random(11 + int(ehk_share))
    for _ in range(60):
        records = random_records(rng, rng.randrange(1, 60), ehk_share=ehk_share)
        assert their_deaggregate(aggregate(records)) == expected(records)


def test_ours_with_mixed_explicit_hash_keys_deaggregated_by_aws_kinesis_agg():
    # aws-kinesis-agg 1.2 gives a record without explicit_hash_key_index the table's first entry
    # (protobuf's default index 0), so only keys, data and order are comparable here; our encoding
    # omits the index as the KPL does, and our decoder gets it right.
    rng = random.Random(12)
    for _ in range(30):
        records = random_records(rng, rng.randrange(2, 60), ehk_share=0.5)
        blob = aggregate(records)
        theirs = their_deaggregate(blob)
        assert [(d["PartitionKey"], d["Data"], d["SubSequenceNumber"]) for d in theirs] == [
            (k, data, i) for i, (k, data, _) in enumerate(records)
        ]
        assert deaggregate(blob) == expected(records)


def test_aws_kinesis_agg_deaggregated_by_us():
    rng = random.Random(13)
    records = random_records(rng, 3000, ehk_share=0.4)
    aggregates = their_aggregates(records, max_size=51_200)
    assert len(aggregates) > 10
    got = []
    for outer_key, outer_ehk, blob in aggregates:
        assert len(blob) <= 51_200
        subs = deaggregate(blob)
        assert subs is not None
        assert [s["SubSequenceNumber"] for s in subs] == list(range(len(subs)))
        # The outer record is routed like its first user record.
        assert outer_key == subs[0]["PartitionKey"]
        assert outer_ehk == subs[0].get("ExplicitHashKey")
        got.extend({k: v for k, v in s.items() if k != "SubSequenceNumber"} for s in subs)
    want = [{k: v for k, v in d.items() if k != "SubSequenceNumber"} for d in expected(records)]
    assert got == want


def test_byte_identical_to_aws_kinesis_agg():
    # Both write the key tables then the records, each key once in first-seen order.
    rng = random.Random(14)
    for _ in range(40):
        records = random_records(rng, rng.randrange(1, 80), ehk_share=0.4)
        [(_, _, theirs)] = their_aggregates(records, max_size=1024 * 1024)
        assert aggregate(records) == theirs


# --- not an aggregate: None ----------------------------------------------------------------------


def test_not_aggregated_gives_none():
    assert deaggregate(b"") is None
    assert deaggregate(b"\xf3\x89\x9a") is None
    assert deaggregate(MAGIC) is None
    assert deaggregate(b"plain old record data") is None
    assert deaggregate(b"\x00" + VECTOR[1:]) is None  # bad magic
    assert deaggregate(MAGIC + b"\x00" * 16) is None  # 16 bytes after the magic
    assert deaggregate(wrap(b"")) is None  # likewise, with a correct digest
    assert deaggregate(wrap(b"\x0a\x00")) == []  # parses: one empty key, no records


def test_bad_digest_gives_none():
    for i in range(4, len(VECTOR)):
        bad = bytearray(VECTOR)
        bad[i] ^= 0x01
        assert deaggregate(bytes(bad)) is None, i


def test_truncated_gives_none():
    blob = aggregate(
        [(KEYS[i % len(KEYS)], bytes([i]) * (i % 9), EXPLICIT_HASH_KEYS[i % 5] if i % 3 else None) for i in range(40)]
    )
    assert len(deaggregate(blob)) == 40
    for n in range(len(blob)):
        assert deaggregate(blob[:n]) is None, n
    # Truncated protobuf with a digest that matches: None unless the cut falls between fields.
    message = blob[4:-16]
    assert deaggregate(wrap(message[:-1])) is None


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("0a01611a0508011a0178", id="partition key index out of range"),
        pytest.param("0a01611a07080010001a0178", id="explicit hash key index into empty table"),
        pytest.param("0a01611a031a0178", id="record without partition_key_index"),
        pytest.param("0a01611a020800", id="record without data"),
        pytest.param("0a01611a0908001a0178", id="record longer than the message"),
        pytest.param("0a01611a0508001a027878", id="data longer than the record"),
        pytest.param("0aff", id="truncated length"),
        pytest.param("0affffffff0f61", id="huge length"),
        pytest.param("0e00", id="wire type 6"),
        pytest.param("0f00", id="wire type 7"),
        pytest.param("0c", id="stray end group"),
        pytest.param("2b0801", id="unterminated group"),
        pytest.param("0000", id="field number 0"),
        pytest.param("088080808080808080808000", id="11-byte varint"),
        pytest.param("0a01611a0908001a017822021200", id="tag without key"),
        pytest.param("0a01ff1a0508001a0178", id="partition key not UTF-8"),
        pytest.param("ffffffffffffffffffffffff", id="garbage"),
    ],
)
def test_garbage_protobuf_with_correct_digest_gives_none(message):
    assert deaggregate(wrap(bytes.fromhex(message))) is None


def test_unknown_fields_are_skipped():
    message = bytes.fromhex(
        "289601"  # field 5, varint
        "0a0161"  # partition key "a"
        "310102030405060708"  # field 6, fixed64
        "3d01020304"  # field 7, fixed32
        "42020000"  # field 8, bytes
        "4b080153544c"  # field 9, a group holding a varint and a group
        "120137"  # explicit hash key "7"
        "1a11"  # record (17 bytes):
        "22060a016b120176"  # tags: key "k", value "v" (field 4, unused)
        "08001000"  # indices
        "1a0178"  # data "x"
        "3001"  # field 6, varint
    )
    assert deaggregate(wrap(message)) == [
        {"PartitionKey": "a", "ExplicitHashKey": "7", "Data": b"x", "SubSequenceNumber": 0}
    ]


def test_fuzz_random_messages_with_valid_digest():
    rng = random.Random(99)
    pieces = [b"\x0a", b"\x12", b"\x1a", b"\x08", b"\x10", b"\x22", b"\x00", b"\x01", b"\x05", b"\x7f", b"\x80", b"a"]
    seed = aggregate(random_records(rng, 5))[4:-16]
    parsed = 0
    for i in range(20_000):
        if i % 2:
            message = b"".join(
                rng.choice(pieces) if rng.random() < 0.6 else rng.randbytes(1) for _ in range(rng.randrange(1, 40))
            )
        else:  # mutate a real message
            m = bytearray(seed)
            for _ in range(rng.randrange(1, 4)):
                m[rng.randrange(len(m))] = rng.randrange(256)
            message = bytes(m[: rng.randrange(1, len(m) + 1)])
        result = deaggregate(wrap(message))
        if result is not None:
            parsed += 1
            assert isinstance(result, list)
            for n, sub in enumerate(result):
                assert isinstance(sub["PartitionKey"], str)
                assert isinstance(sub["Data"], bytes)
                assert sub["SubSequenceNumber"] == n
    assert parsed > 100


# --- deaggregate_records ------------------------------------------------------------------------


def test_deaggregate_records_expands_in_order():
    arrival = 1_700_000_000.5
    plain = {"SequenceNumber": "1", "ApproximateArrivalTimestamp": arrival, "Data": b"raw", "PartitionKey": "p"}
    text = {"SequenceNumber": "2", "ApproximateArrivalTimestamp": arrival, "Data": "text", "PartitionKey": "p"}
    blob = aggregate([("a", b"x"), ("b", b"y", "7")])
    outer = {"SequenceNumber": "3", "ApproximateArrivalTimestamp": arrival, "Data": blob, "PartitionKey": "a"}
    outer["EncryptionType"] = "KMS"
    bad = dict(outer, SequenceNumber="4", Data=blob[:-1] + bytes([blob[-1] ^ 1]))
    no_data = {"SequenceNumber": "5"}
    out = deaggregate_records([plain, outer, text, bad, no_data])
    assert out[0] is plain and out[3] is text and out[4] is bad and out[5] is no_data
    assert out[1:3] == [
        {"SequenceNumber": "3", "ApproximateArrivalTimestamp": arrival, "Data": b"x", "PartitionKey": "a"}
        | {"EncryptionType": "KMS", "SubSequenceNumber": 0},
        {"SequenceNumber": "3", "ApproximateArrivalTimestamp": arrival, "Data": b"y", "PartitionKey": "b"}
        | {"EncryptionType": "KMS", "ExplicitHashKey": "7", "SubSequenceNumber": 1},
    ]
    assert out[1]["ApproximateArrivalTimestamp"] is arrival
    assert outer["Data"] is blob and "SubSequenceNumber" not in outer  # input untouched
    assert deaggregate_records([]) == []
    assert deaggregate_records(iter([plain])) == [plain]


def test_deaggregate_records_matches_aws_kinesis_agg():
    rng = random.Random(15)
    records = random_records(rng, 500, ehk_share=0.0)
    outers = [
        {"SequenceNumber": str(i), "ApproximateArrivalTimestamp": 0, "Data": blob, "PartitionKey": key}
        for i, (key, _, blob) in enumerate(their_aggregates(records, max_size=20_000))
    ]
    ours = deaggregate_records(outers)
    theirs = [r["kinesis"] for r in iter_deaggregate_records(outers, data_format="Boto3")]
    assert len(ours) == len(theirs) == 500
    for o, t in zip(ours, theirs):
        assert (o["SequenceNumber"], o["PartitionKey"], o["Data"], o["SubSequenceNumber"]) == (
            t["sequenceNumber"],
            t["partitionKey"],
            base64.b64decode(t["data"]),
            t["subSequenceNumber"],
        )


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ("abc", "records must be a list"),
        ({"Data": b""}, "records must be a list"),
        (3, "records must be a list"),
        ([{"Data": b""}, ("a", b"x")], r"records\[1\] must be a dict, not tuple"),
    ],
)
def test_deaggregate_records_rejects_non_records(records, match):
    with pytest.raises(TypeError, match=match):
        deaggregate_records(records)


# --- argument errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "error", "match"),
    [
        ("abc", TypeError, "records must be a list"),
        (b"abc", TypeError, "records must be a list"),
        ({"PartitionKey": "a", "Data": b"x"}, TypeError, "records must be a list"),
        (5, TypeError, "records must be a list"),
        ([], ValueError, "records must not be empty"),
        ([1], TypeError, r"records\[0\] must be a tuple or a dict"),
        ([("a",)], ValueError, r"records\[0\] must have 2 or 3 items"),
        ([("a", b"x", None, None)], ValueError, r"records\[0\] must have 2 or 3 items"),
        ([("a", b"x"), (1, b"x")], TypeError, r"records\[1\] partition key must be str, not int"),
        ([(b"a", b"x")], TypeError, r"records\[0\] partition key must be str, not bytes"),
        ([("", b"x")], ValueError, r"records\[0\] partition key must be 1 to 256 characters"),
        ([("x" * 257, b"x")], ValueError, r"records\[0\] partition key must be 1 to 256 characters"),
        ([("a", 1)], TypeError, r"records\[0\] data must be bytes, bytearray or str, not int"),
        ([("a", None)], TypeError, r"records\[0\] data must be bytes"),
        ([("a", b"x", 5)], TypeError, r"records\[0\] explicit hash key must be str or None, not int"),
        ([("a", b"x", "01")], ValueError, r"records\[0\] explicit hash key must be a decimal integer"),
        ([("a", b"x", "-1")], ValueError, r"records\[0\] explicit hash key"),
        ([("a", b"x", str(2**128))], ValueError, r"records\[0\] explicit hash key"),
        ([{"Data": b"x"}], ValueError, r"records\[0\] has no 'PartitionKey'"),
        ([{"PartitionKey": "a"}], ValueError, r"records\[0\] has no 'Data'"),
    ],
)
def test_aggregate_rejects_bad_records(records, error, match):
    with pytest.raises(error, match=match):
        aggregate(records)


def test_aggregate_accepts_limits():
    blob = aggregate([("x" * 256, b"", "0"), ("🔑" * 256, b"", str(MAX_HASH_KEY))])
    assert [d["PartitionKey"] for d in deaggregate(blob)] == ["x" * 256, "🔑" * 256]


@pytest.mark.parametrize("data", ["text", None, 5, memoryview(b"abc"), [1, 2]])
def test_deaggregate_rejects_non_bytes(data):
    with pytest.raises(TypeError, match="data must be bytes or bytearray"):
        deaggregate(data)


def test_partition_key_hash_rejects_non_str():
    with pytest.raises(TypeError, match="key must be str, not bytes"):
        partition_key_hash(b"a")
