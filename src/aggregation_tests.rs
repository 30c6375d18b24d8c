//! Unit tests of the KPL aggregation format (kept beside, not inside, the code under test).
use super::*;

const VECTOR_PROTOBUF: [u8; 20] = [
    0x0a, 0x01, 0x61, 0x0a, 0x01, 0x62, 0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 0x78, 0x1a, 0x05, 0x08, 0x01, 0x1a, 0x01,
    0x79,
];
const VECTOR_DIGEST: [u8; 16] =
    [0xb0, 0x03, 0x19, 0x09, 0xae, 0x75, 0x89, 0x1c, 0xa9, 0x4a, 0xce, 0xc2, 0xec, 0xce, 0x31, 0x25];

fn vector() -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.extend_from_slice(&VECTOR_PROTOBUF);
    v.extend_from_slice(&VECTOR_DIGEST);
    v
}

/// Wraps a protobuf message as an aggregate with a correct digest.
fn wrap(message: &[u8]) -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.extend_from_slice(message);
    v.extend_from_slice(&md5_digest(message));
    v
}

/// Tiny deterministic generator (xorshift64*), so the tests need no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn test_vector_encodes_byte_for_byte() {
    let records = [UserRecord::new("a", None, b"x"), UserRecord::new("b", None, b"y")];
    let mut agg = Aggregator::new();
    assert_eq!(agg.size_with(&records[0]), agg.size() + agg.added_size(&records[0]));
    for r in &records {
        let predicted = agg.size_with(r);
        assert_eq!(agg.add(r), predicted);
    }
    assert_eq!(agg.size(), 40);
    assert_eq!(agg.protobuf_size(), 20);
    assert_eq!(agg.len(), 2);
    assert_eq!(agg.outer_explicit_hash_key(), Some("16955237001963240173058271559858726497"));
    let bytes = agg.finish();
    assert_eq!(bytes.len(), 40);
    assert_eq!(bytes, vector());
    assert_eq!(aggregate(&records), vector());
}

#[test]
fn test_vector_decodes() {
    let v = vector();
    let d = deaggregate(&v).unwrap();
    assert_eq!(d.partition_keys, vec!["a", "b"]);
    assert!(d.explicit_hash_keys.is_empty());
    assert_eq!(d.records.len(), 2);
    assert_eq!(d.records[0].partition_key, "a");
    assert_eq!(d.records[0].data, b"x");
    assert_eq!(d.records[0].explicit_hash_key, None);
    assert_eq!(d.records[1].partition_key, "b");
    assert_eq!(d.records[1].partition_key_index, 1);
    assert_eq!(d.records[1].data, b"y");
}

#[test]
fn md5_of_a() {
    assert_eq!(partition_key_hash("a"), 16955237001963240173058271559858726497);
    assert_eq!(effective_hash_key("a", None), Some(16955237001963240173058271559858726497));
    assert_eq!(effective_hash_key("a", Some("7")), Some(7));
    assert_eq!(effective_hash_key("a", Some("07")), None);
}

#[test]
fn hash_key_parsing() {
    assert_eq!(parse_hash_key("0"), Some(0));
    assert_eq!(parse_hash_key("340282366920938463463374607431768211455"), Some(u128::MAX));
    assert_eq!(parse_hash_key("340282366920938463463374607431768211456"), None);
    assert_eq!(parse_hash_key("1000000000000000000000000000000000000000"), None);
    for bad in ["", "00", "01", "+1", "-1", " 1", "1 ", "1a", "٣"] {
        assert_eq!(parse_hash_key(bad), None, "{bad:?}");
    }
}

#[test]
fn varint_lengths() {
    for (v, n) in [(0u64, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (u64::MAX, 10)] {
        assert_eq!(varint_len(v), n);
        let mut b = Vec::new();
        put_varint(&mut b, v);
        assert_eq!(b.len(), n);
        let mut r = Reader::new(&b);
        assert_eq!(r.varint(), Some(v));
        assert!(r.is_empty());
    }
}

#[test]
fn keys_are_deduplicated_and_ehk_written_only_when_given() {
    let records = [
        UserRecord::new("k", None, b"1"),
        UserRecord::new("k", Some("5"), b"2"),
        UserRecord::new("j", Some("5"), b"3"),
        UserRecord::new("k", None, b""),
    ];
    let mut agg = Aggregator::new();
    for r in &records {
        let predicted = agg.size_with(r);
        assert_eq!(agg.add(r), predicted);
    }
    let bytes = agg.finish();
    let d = deaggregate(&bytes).unwrap();
    assert_eq!(d.partition_keys, vec!["k", "j"]);
    assert_eq!(d.explicit_hash_keys, vec!["5"]);
    let got: Vec<_> = d.records.iter().map(|r| UserRecord::new(r.partition_key, r.explicit_hash_key, r.data)).collect();
    assert_eq!(got, records);
    // Record 0 has no explicit_hash_key_index field at all: 1a 05 08 00 1a 01 31.
    let message = &bytes[MAGIC.len()..bytes.len() - DIGEST_LEN];
    let first = message.iter().position(|&b| b == TAG_RECORDS).unwrap();
    assert_eq!(&message[first..first + 7], &[0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, b'1']);
}

#[test]
fn random_round_trips_with_exact_sizes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let long = "x".repeat(256);
    let keys = ["a", "b", "ключ", "🔑", long.as_str(), "é"];
    let ehks = ["0", "1", "340282366920938463463374607431768211455", "12345"];
    let mut data_pool = vec![0u8; 70_000];
    for b in data_pool.iter_mut() {
        *b = rng.next() as u8;
    }
    let mut agg = Aggregator::new();
    for round in 0..200 {
        let n = 1 + rng.below(300);
        let mut records = Vec::new();
        for _ in 0..n {
            let len = match rng.below(10) {
                0 => 0,
                1 => 20_000 + rng.below(50_000),
                _ => rng.below(200),
            };
            let start = rng.below(data_pool.len() - len + 1);
            let ehk = (rng.below(3) == 0).then(|| ehks[rng.below(ehks.len())]);
            records.push(UserRecord::new(keys[rng.below(keys.len())], ehk, &data_pool[start..start + len]));
        }
        for r in &records {
            let predicted = agg.size_with(r);
            assert_eq!(agg.add(r), predicted);
        }
        let size = agg.size();
        let bytes = if round % 2 == 0 { agg.take() } else { std::mem::take(&mut agg).finish() };
        assert!(agg.is_empty());
        assert_eq!(bytes.len(), size);
        let d = deaggregate(&bytes).unwrap();
        assert_eq!(d.records.len(), records.len());
        for (got, want) in d.records.iter().zip(&records) {
            assert_eq!(UserRecord::new(got.partition_key, got.explicit_hash_key, got.data), *want);
        }
    }
}

#[test]
fn framing_rules_give_none() {
    let v = vector();
    assert!(deaggregate(&[]).is_none());
    assert!(deaggregate(&MAGIC[..3]).is_none());
    assert!(deaggregate(&MAGIC).is_none());
    // Bad magic.
    let mut bad = v.clone();
    bad[0] ^= 1;
    assert!(deaggregate(&bad).is_none());
    // Exactly 16 bytes after the magic (even an empty message's correct digest).
    assert!(deaggregate(&wrap(&[])).is_none());
    let mut sixteen = MAGIC.to_vec();
    sixteen.extend_from_slice(&[0; 16]);
    assert!(deaggregate(&sixteen).is_none());
    // Digest mismatch, in the digest or in the message.
    for i in MAGIC.len()..v.len() {
        let mut bad = v.clone();
        bad[i] ^= 0x40;
        assert!(deaggregate(&bad).is_none(), "byte {i}");
    }
    // 17 bytes after the magic is enough when the message parses (one empty key, no records).
    let minimal = wrap(&[0x0a, 0x00]);
    let d = deaggregate(&minimal).unwrap();
    assert_eq!(d.partition_keys, vec![""]);
    assert!(d.records.is_empty());
}

#[test]
fn truncation_at_every_length_never_panics() {
    let mut agg = Aggregator::new();
    for i in 0..20 {
        let key = format!("key{}", i % 7);
        let ehk = (i % 3 == 0).then(|| format!("{}", i * 1000));
        let data = vec![i as u8; i * 13];
        agg.add(&UserRecord::new(&key, ehk.as_deref(), &data));
    }
    let full = agg.finish();
    assert_eq!(deaggregate(&full).unwrap().records.len(), 20);
    let message = &full[MAGIC.len()..full.len() - DIGEST_LEN];
    for len in 0..full.len() {
        assert!(deaggregate(&full[..len]).is_none(), "prefix {len}");
    }
    // A truncated message with a correct digest must not parse either (it cuts a field),
    // except where the cut falls between top-level fields.
    let mut boundaries = 0;
    for len in 1..message.len() {
        if deaggregate(&wrap(&message[..len])).is_some() {
            boundaries += 1;
        }
    }
    assert!(boundaries > 0 && boundaries < 40, "{boundaries}");
}

#[test]
fn malformed_protobuf_gives_none() {
    let cases: &[(&str, &[u8])] = &[
        ("index out of range", &[0x0a, 0x01, 0x61, 0x1a, 0x05, 0x08, 0x01, 0x1a, 0x01, 0x78]),
        (
            "huge index",
            &[
                0x0a, 0x01, 0x61, 0x1a, 0x0e, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x1a,
                0x01, 0x78,
            ],
        ),
        ("ehk index into an empty table", &[0x0a, 0x01, 0x61, 0x1a, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 0x78]),
        ("missing partition_key_index", &[0x0a, 0x01, 0x61, 0x1a, 0x03, 0x1a, 0x01, 0x78]),
        ("missing data", &[0x0a, 0x01, 0x61, 0x1a, 0x02, 0x08, 0x00]),
        ("record length past end", &[0x0a, 0x01, 0x61, 0x1a, 0x09, 0x08, 0x00, 0x1a, 0x01, 0x78]),
        ("data length past record", &[0x0a, 0x01, 0x61, 0x1a, 0x05, 0x08, 0x00, 0x1a, 0x02, 0x78, 0x78]),
        ("key length past end", &[0x0a, 0x05, 0x61]),
        ("huge length", &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61]),
        ("truncated varint", &[0x0a, 0x01, 0x61, 0x08, 0x80]),
        ("11-byte varint", &[0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        ("field number 0", &[0x00, 0x00]),
        ("wire type 6", &[0x0e, 0x00]),
        ("wire type 7", &[0x0f, 0x00]),
        ("stray end group", &[0x0c]),
        ("unterminated group", &[0x2b, 0x08, 0x01]),
        ("mismatched end group", &[0x2b, 0x34]),
        ("tag over 32 bits", &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00]),
        ("fixed64 truncated", &[0x29, 0x01, 0x02]),
        ("fixed32 truncated", &[0x2d, 0x01]),
        ("tag without key", &[0x0a, 0x01, 0x61, 0x1a, 0x09, 0x08, 0x00, 0x1a, 0x01, 0x78, 0x22, 0x02, 0x12, 0x00]),
        ("invalid utf-8 key", &[0x0a, 0x01, 0xff, 0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 0x78]),
        ("invalid utf-8 ehk", &[0x12, 0x02, 0xc3, 0x28]),
        ("bad field inside a record", &[0x0a, 0x01, 0x61, 0x1a, 0x06, 0x08, 0x00, 0x1a, 0x01, 0x78, 0x0f]),
    ];
    for (name, message) in cases {
        assert!(deaggregate(&wrap(message)).is_none(), "{name}");
    }
    // Groups nested past the limit.
    let mut deep = vec![0x2b; 101];
    deep.extend(std::iter::repeat_n(0x2c, 101));
    assert!(deaggregate(&wrap(&deep)).is_none());
    let mut ok = vec![0x2b; 100];
    ok.extend(std::iter::repeat_n(0x2c, 100));
    assert!(deaggregate(&wrap(&ok)).is_some());
}

#[test]
fn unknown_fields_are_skipped() {
    let message: &[u8] = &[
        0x28, 0x96, 0x01, // field 5 varint
        0x0a, 0x01, 0x61, // pk "a"
        0x31, 1, 2, 3, 4, 5, 6, 7, 8, // field 6 fixed64
        0x3d, 1, 2, 3, 4, // field 7 fixed32
        0x42, 0x02, 0x00, 0x00, // field 8 bytes
        0x4b, 0x08, 0x01, 0x53, 0x54, 0x4c, // field 9 group holding a varint and a group
        0x08, 0x05, // field 1 with the wrong wire type: unknown, skipped
        0x12, 0x01, 0x37, // ehk "7"
        0x1a, 0x17, // record, 23 bytes:
        0x22, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76, // tag {key "k", value "v"}
        0x08, 0x00, 0x10, 0x00, // indices
        0x0a, 0x01, 0x61, // field 1 with the wrong wire type inside Record
        0x1a, 0x01, 0x7a, // data "z" (overwritten below: last one wins)
        0x1a, 0x01, 0x78, // data "x"
        0x30, 0x01, // field 6 varint
    ];
    let bytes = wrap(message);
    let d = deaggregate(&bytes).unwrap();
    assert_eq!(d.records.len(), 1);
    let r = d.records[0];
    assert_eq!((r.partition_key, r.explicit_hash_key, r.data), ("a", Some("7"), &b"x"[..]));
    // Tables after records are fine too.
    let late = wrap(&[0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 0x78, 0x0a, 0x01, 0x61]);
    assert_eq!(deaggregate(&late).unwrap().records[0].partition_key, "a");
}

#[test]
fn random_messages_never_panic() {
    let mut rng = Rng(42);
    let alphabet = [0x0a, 0x12, 0x1a, 0x08, 0x10, 0x22, 0x00, 0x01, 0x02, 0x05, 0x7f, 0x80, 0xff, 0x2b, 0x2c, 0x61];
    let mut parsed = 0;
    for _ in 0..20_000 {
        let len = 1 + rng.below(40);
        let message: Vec<u8> = (0..len)
            .map(|_| if rng.below(2) == 0 { alphabet[rng.below(alphabet.len())] } else { rng.next() as u8 })
            .collect();
        if let Some(d) = deaggregate(&wrap(&message)) {
            parsed += 1;
            for r in &d.records {
                assert_eq!(d.partition_keys[r.partition_key_index], r.partition_key);
            }
        }
    }
    assert!(parsed > 0);
}

/// The checked-in corpus of hostile aggregates (`tests/corpus/aggregation-fuzz`, shared with the Python
/// fuzz tests): each gives its expected outcome, and thousands of mutations of each, resealed so the
/// parser runs on them, never panic and never yield more data than they hold.
#[test]
fn fuzz_corpus_and_its_mutations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/aggregation-fuzz");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json")).expect("json");
    let expected = expected.as_object().expect("an object of name → outcome");
    assert!(expected.len() >= 20);
    let mut rng = Rng(7);
    for (name, outcome) in expected {
        let data = std::fs::read(dir.join(format!("{name}.bin"))).expect("corpus file");
        let got = deaggregate(&data).map(|d| d.records.len() as u64);
        assert_eq!(got, outcome.as_u64(), "{name}");
        let message = &data[MAGIC.len()..data.len() - DIGEST_LEN];
        // Fewer rounds for the big seeds: each round digests the whole message again (a debug build).
        let rounds = (400_000 / (message.len() + 100)).clamp(20, 2_000);
        for _ in 0..rounds {
            let mut mutated = message.to_vec();
            for _ in 0..1 + rng.below(4) {
                match rng.below(3) {
                    0 if !mutated.is_empty() => {
                        let at = rng.below(mutated.len());
                        mutated[at] = rng.next() as u8;
                    }
                    1 if !mutated.is_empty() => {
                        mutated.truncate(rng.below(mutated.len()));
                    }
                    _ => {
                        let at = rng.below(mutated.len() + 1);
                        mutated.insert(at, rng.next() as u8);
                    }
                }
            }
            let sealed = wrap(&mutated);
            if let Some(d) = deaggregate(&sealed) {
                let data_bytes: usize = d.records.iter().map(|r| r.data.len()).sum();
                assert!(data_bytes <= sealed.len(), "{name}: more data out than in");
            }
        }
    }
}
