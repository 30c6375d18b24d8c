//! KPL record aggregation: many user records packed into one Kinesis record, and back.
//!
//! An aggregated record's data is `MAGIC` (F3 89 9A C2), a proto2 `AggregatedRecord` message, and
//! the MD5 digest of that message (see shared/reference/aggregation-format.md). The protobuf is
//! encoded and decoded by hand here: the schema is three messages with a handful of fields.
//!
//! * [`Aggregator`] builds one aggregate incrementally and knows its exact encoded size at every
//!   step, so a producer can ask "would this record still fit in N bytes?" in O(1)
//!   ([`Aggregator::size_with`]). Partition keys and explicit hash keys are stored once each.
//! * [`deaggregate`] follows the KCL's rules: anything that is not a well-formed aggregate gives
//!   `None` and the caller keeps the record as it is. Decoding is zero-copy: every key and data
//!   slice borrows from the input, and allocation is bounded by the input length (every element
//!   pushed has consumed at least two input bytes; no length read from the input is trusted
//!   before it is checked against what remains).
//!
//! Pure Rust with no Python in it; the Python functions live in `aggregation_py.rs`.

// Part of this API is for the producer and the reader, which do not call it yet.

use std::collections::HashMap;

use md5::{Digest, Md5};

/// The four bytes an aggregated record's data starts with.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// Length of the MD5 digest that ends an aggregated record's data.
pub const DIGEST_LEN: usize = 16;
/// Bytes an aggregated record's data has besides its protobuf message (magic + digest).
pub const OVERHEAD: usize = MAGIC.len() + DIGEST_LEN;
/// The partition key the KPL gives the outer (aggregated) Kinesis record; its explicit hash key
/// routes it (see [`Aggregator::outer_explicit_hash_key`]).
pub const OUTER_PARTITION_KEY: &str = "a";
/// The KPL's default cap on an aggregated record's size (`AggregationMaxSize`).
pub const KPL_DEFAULT_MAX_SIZE: usize = 51_200;

// Field tags (field number << 3 | wire type) used by the encoder.
const TAG_PARTITION_KEY_TABLE: u8 = 0x0A; // AggregatedRecord.1, length-delimited
const TAG_EXPLICIT_HASH_KEY_TABLE: u8 = 0x12; // AggregatedRecord.2, length-delimited
const TAG_RECORDS: u8 = 0x1A; // AggregatedRecord.3, length-delimited
const TAG_PARTITION_KEY_INDEX: u8 = 0x08; // Record.1, varint
const TAG_EXPLICIT_HASH_KEY_INDEX: u8 = 0x10; // Record.2, varint
const TAG_DATA: u8 = 0x1A; // Record.3, length-delimited

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_START_GROUP: u8 = 3;
const WIRE_END_GROUP: u8 = 4;
const WIRE_FIXED32: u8 = 5;

/// How deep unknown groups may nest before the input is rejected (protobuf's own default limit).
const MAX_GROUP_DEPTH: u32 = 100;

/// MD5 of a partition key's UTF-8 bytes as an unsigned big-endian 128-bit integer: the hash key
/// Kinesis routes a record by when it has no explicit hash key.
pub fn partition_key_hash(key: &str) -> u128 {
    u128::from_be_bytes(md5_digest(key.as_bytes()))
}

/// Parses an explicit hash key the way the service accepts it: `0|[1-9][0-9]{0,38}` and at most
/// 2^128 - 1. Anything else (sign, spaces, leading zeros, overflow) is `None`.
pub fn parse_hash_key(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    match bytes {
        [] => return None,
        [b'0', _, ..] => return None,
        _ => {}
    }
    if bytes.len() > 39 {
        return None;
    }
    let mut value: u128 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    Some(value)
}

/// The hash key Kinesis routes a record by: the explicit hash key if there is one (`None` if it is
/// not a valid one), else the MD5 hash of the partition key.
pub fn effective_hash_key(partition_key: &str, explicit_hash_key: Option<&str>) -> Option<u128> {
    match explicit_hash_key {
        Some(ehk) => parse_hash_key(ehk),
        None => Some(partition_key_hash(partition_key)),
    }
}

/// True if `data` starts with the aggregation magic (a cheap pre-check; [`deaggregate`] decides).
pub fn has_magic(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

fn md5_digest(bytes: &[u8]) -> [u8; DIGEST_LEN] {
    Md5::digest(bytes).into()
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// One user record to aggregate, borrowed from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRecord<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
    pub data: &'a [u8],
}

impl<'a> UserRecord<'a> {
    pub fn new(partition_key: &'a str, explicit_hash_key: Option<&'a str>, data: &'a [u8]) -> Self {
        UserRecord { partition_key, explicit_hash_key, data }
    }
}

/// Bytes of a varint encoding `value` (1..=10).
const fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes of a one-byte tag, a length varint and `len` payload bytes.
fn len_delimited_size(len: usize) -> usize {
    1usize.saturating_add(varint_len(len as u64)).saturating_add(len)
}

fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn put_len_delimited(buf: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    buf.push(tag);
    put_varint(buf, payload.len() as u64);
    buf.extend_from_slice(payload);
}

/// A key table: each distinct key once, in first-seen order, already protobuf-encoded.
#[derive(Clone, Debug, Default)]
struct KeyTable {
    index: HashMap<String, u64>,
    encoded: Vec<u8>,
}

impl KeyTable {
    /// The key's index and the bytes adding it would cost (0 if it is already in the table).
    fn lookup(&self, key: &str) -> (u64, usize) {
        match self.index.get(key) {
            Some(&i) => (i, 0),
            None => (self.index.len() as u64, len_delimited_size(key.len())),
        }
    }

    fn insert(&mut self, tag: u8, key: &str) -> u64 {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.index.len() as u64;
        self.index.insert(key.to_owned(), i);
        put_len_delimited(&mut self.encoded, tag, key.as_bytes());
        i
    }

    fn clear(&mut self) {
        self.index.clear();
        self.encoded.clear();
    }
}

/// Builds one aggregated record. Sizes are exact and O(1) to query: [`Aggregator::size`] is the
/// length [`Aggregator::finish`] would return now, [`Aggregator::size_with`] the length after
/// adding one more record. The outer Kinesis record additionally carries its partition key
/// ([`OUTER_PARTITION_KEY`], 1 byte) against the stream's record size limit.
///
/// The aggregator does not validate keys (length, explicit hash key syntax) and does not check
/// that its records share a shard: that is the producer's job.
#[derive(Clone, Debug, Default)]
pub struct Aggregator {
    partition_keys: KeyTable,
    explicit_hash_keys: KeyTable,
    /// Encoded `records` entries (field 3), in order.
    records: Vec<u8>,
    count: usize,
    /// Hash key (decimal) of the first record: the outer record's explicit hash key.
    outer_explicit_hash_key: Option<String>,
}

impl Aggregator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of user records added.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Length of the protobuf message alone.
    pub fn protobuf_size(&self) -> usize {
        self.partition_keys.encoded.len() + self.explicit_hash_keys.encoded.len() + self.records.len()
    }

    /// Length of the aggregated record data [`Aggregator::finish`] would return now
    /// (magic + protobuf + digest).
    pub fn size(&self) -> usize {
        OVERHEAD + self.protobuf_size()
    }

    /// Bytes that adding `record` would add to [`Aggregator::size`].
    pub fn added_size(&self, record: &UserRecord<'_>) -> usize {
        let (pk_index, mut added) = self.partition_keys.lookup(record.partition_key);
        let mut inner = 1 + varint_len(pk_index);
        if let Some(ehk) = record.explicit_hash_key {
            let (ehk_index, ehk_cost) = self.explicit_hash_keys.lookup(ehk);
            added += ehk_cost;
            inner += 1 + varint_len(ehk_index);
        }
        inner = inner.saturating_add(len_delimited_size(record.data.len()));
        added.saturating_add(len_delimited_size(inner))
    }

    /// [`Aggregator::size`] after adding `record`: compare it with the cap before adding.
    pub fn size_with(&self, record: &UserRecord<'_>) -> usize {
        self.size().saturating_add(self.added_size(record))
    }

    /// Appends `record`; returns the new [`Aggregator::size`].
    pub fn add(&mut self, record: &UserRecord<'_>) -> usize {
        if self.count == 0 {
            self.outer_explicit_hash_key = Some(match record.explicit_hash_key {
                Some(ehk) => ehk.to_owned(),
                None => partition_key_hash(record.partition_key).to_string(),
            });
        }
        let pk_index = self.partition_keys.insert(TAG_PARTITION_KEY_TABLE, record.partition_key);
        let ehk_index =
            record.explicit_hash_key.map(|ehk| self.explicit_hash_keys.insert(TAG_EXPLICIT_HASH_KEY_TABLE, ehk));

        let mut inner = 1 + varint_len(pk_index) + len_delimited_size(record.data.len());
        if let Some(i) = ehk_index {
            inner += 1 + varint_len(i);
        }
        self.records.reserve(len_delimited_size(inner));
        self.records.push(TAG_RECORDS);
        put_varint(&mut self.records, inner as u64);
        self.records.push(TAG_PARTITION_KEY_INDEX);
        put_varint(&mut self.records, pk_index);
        if let Some(i) = ehk_index {
            self.records.push(TAG_EXPLICIT_HASH_KEY_INDEX);
            put_varint(&mut self.records, i);
        }
        put_len_delimited(&mut self.records, TAG_DATA, record.data);
        self.count += 1;
        self.size()
    }

    /// The explicit hash key the outer Kinesis record should carry so it lands on the shard of
    /// its first user record: that record's explicit hash key, else the decimal MD5 hash of its
    /// partition key. `None` while empty.
    pub fn outer_explicit_hash_key(&self) -> Option<&str> {
        self.outer_explicit_hash_key.as_deref()
    }

    /// Writes the aggregated record data (magic + protobuf + MD5) into `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.size());
        out.extend_from_slice(&MAGIC);
        let start = out.len();
        out.extend_from_slice(&self.partition_keys.encoded);
        out.extend_from_slice(&self.explicit_hash_keys.encoded);
        out.extend_from_slice(&self.records);
        let digest = md5_digest(&out[start..]);
        out.extend_from_slice(&digest);
    }

    /// The aggregated record data: magic + protobuf + MD5 of the protobuf. An empty aggregator
    /// gives 20 bytes that no decoder takes for an aggregate; send at least one record.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Like [`Aggregator::finish`], then empties the aggregator for reuse (keeping its buffers).
    pub fn take(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        self.clear();
        out
    }

    pub fn clear(&mut self) {
        self.partition_keys.clear();
        self.explicit_hash_keys.clear();
        self.records.clear();
        self.count = 0;
        self.outer_explicit_hash_key = None;
    }
}

/// Aggregates `records` into one record's data (for one or more records; see [`Aggregator`]).
#[cfg(test)]
pub fn aggregate(records: &[UserRecord<'_>]) -> Vec<u8> {
    let mut aggregator = Aggregator::new();
    for record in records {
        aggregator.add(record);
    }
    aggregator.finish()
}

// ---------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------

/// One user record out of an aggregate; everything borrows from the aggregate's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubRecord<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
    pub data: &'a [u8],
    /// Index of `partition_key` in [`Deaggregated::partition_keys`].
    pub partition_key_index: usize,
    /// Index of `explicit_hash_key` in [`Deaggregated::explicit_hash_keys`].
    pub explicit_hash_key_index: Option<usize>,
}

/// A decoded aggregate. `records[i]` has SubSequenceNumber `i`. The key tables are exposed so
/// that a caller can convert each distinct key once (e.g. to one Python str shared by records).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deaggregated<'a> {
    pub partition_keys: Vec<&'a str>,
    pub explicit_hash_keys: Vec<&'a str>,
    pub records: Vec<SubRecord<'a>>,
}

/// Decodes an aggregated record's data, following the KCL: `None` (not an aggregate: keep the
/// record unchanged) if it is shorter than 4 bytes, the magic differs, 16 or fewer bytes follow
/// the magic, the MD5 does not match, or the protobuf does not parse. "Does not parse" includes:
/// truncated or overlong fields, a varint over 10 bytes, field number 0, wire types 6 and 7, a
/// stray end-group, a missing required field (`Record.partition_key_index`, `Record.data`,
/// `Tag.key`), a key index outside its table, and (stricter than the KCL, which would substitute
/// U+FFFD) a key table entry that is not UTF-8. Unknown fields, and known fields with another wire
/// type, are skipped as protobuf does. An aggregate with no records gives `Some` with none.
pub fn deaggregate(data: &[u8]) -> Option<Deaggregated<'_>> {
    let rest = data.strip_prefix(&MAGIC)?;
    if rest.len() <= DIGEST_LEN {
        return None;
    }
    let (message, digest) = rest.split_at(rest.len() - DIGEST_LEN);
    if md5_digest(message) != digest {
        return None;
    }
    parse_aggregated_record(message)
}

/// Reads protobuf wire format from a slice; every method returns `None` on malformed input.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for (i, &byte) in self.buf.iter().take(10).enumerate() {
            // The 10th byte contributes its low bit only; like protobuf, extra bits are dropped.
            value |= u64::from(byte & 0x7F).wrapping_shl(7 * i as u32);
            if byte < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Some(value);
            }
        }
        None // truncated, or more than 10 bytes
    }

    /// A tag as (field number, wire type).
    fn tag(&mut self) -> Option<(u32, u8)> {
        let tag = u32::try_from(self.varint()?).ok()?;
        let field = tag >> 3;
        if field == 0 {
            return None;
        }
        Some((field, (tag & 7) as u8))
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Some(head)
    }

    fn len_delimited(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.take(len)
    }

    /// Skips the value of a field with this wire type.
    fn skip(&mut self, field: u32, wire_type: u8, depth: u32) -> Option<()> {
        match wire_type {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.take(8).map(drop),
            WIRE_LEN => self.len_delimited().map(drop),
            WIRE_FIXED32 => self.take(4).map(drop),
            WIRE_START_GROUP => {
                if depth >= MAX_GROUP_DEPTH {
                    return None;
                }
                loop {
                    let (inner_field, inner_wire) = self.tag()?;
                    if inner_wire == WIRE_END_GROUP {
                        return (inner_field == field).then_some(());
                    }
                    self.skip(inner_field, inner_wire, depth + 1)?;
                }
            }
            _ => None, // a stray end-group, or wire type 6 / 7
        }
    }
}

fn utf8(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn parse_aggregated_record(message: &[u8]) -> Option<Deaggregated<'_>> {
    let mut out = Deaggregated::default();
    // Indices as read; checked against the tables once the whole message is read, since
    // protobuf allows the fields in any order.
    let mut indices: Vec<(u64, Option<u64>)> = Vec::new();
    let mut reader = Reader::new(message);
    while !reader.is_empty() {
        match reader.tag()? {
            (1, WIRE_LEN) => out.partition_keys.push(utf8(reader.len_delimited()?)?),
            (2, WIRE_LEN) => out.explicit_hash_keys.push(utf8(reader.len_delimited()?)?),
            (3, WIRE_LEN) => {
                let (pk, ehk, data) = parse_record(reader.len_delimited()?)?;
                indices.push((pk, ehk));
                out.records.push(SubRecord {
                    partition_key: "",
                    explicit_hash_key: None,
                    data,
                    partition_key_index: 0,
                    explicit_hash_key_index: None,
                });
            }
            (field, wire_type) => reader.skip(field, wire_type, 0)?,
        }
    }
    for (record, (pk, ehk)) in out.records.iter_mut().zip(indices) {
        let pk = usize::try_from(pk).ok()?;
        record.partition_key = out.partition_keys.get(pk)?;
        record.partition_key_index = pk;
        if let Some(ehk) = ehk {
            let ehk = usize::try_from(ehk).ok()?;
            record.explicit_hash_key = Some(out.explicit_hash_keys.get(ehk)?);
            record.explicit_hash_key_index = Some(ehk);
        }
    }
    Some(out)
}

/// A `Record` message: (partition_key_index, explicit_hash_key_index, data). A field that
/// appears twice keeps its last value, as in protobuf.
fn parse_record(message: &[u8]) -> Option<(u64, Option<u64>, &[u8])> {
    let mut pk = None;
    let mut ehk = None;
    let mut data = None;
    let mut reader = Reader::new(message);
    while !reader.is_empty() {
        match reader.tag()? {
            (1, WIRE_VARINT) => pk = Some(reader.varint()?),
            (2, WIRE_VARINT) => ehk = Some(reader.varint()?),
            (3, WIRE_LEN) => data = Some(reader.len_delimited()?),
            (4, WIRE_LEN) => check_tag(reader.len_delimited()?)?,
            (field, wire_type) => reader.skip(field, wire_type, 0)?,
        }
    }
    Some((pk?, ehk, data?))
}

/// A `Tag` message (unused, but protobuf requires its `key`).
fn check_tag(message: &[u8]) -> Option<()> {
    let mut has_key = false;
    let mut reader = Reader::new(message);
    while !reader.is_empty() {
        match reader.tag()? {
            (1, WIRE_LEN) => {
                reader.len_delimited()?;
                has_key = true;
            }
            (field, wire_type) => reader.skip(field, wire_type, 0)?,
        }
    }
    has_key.then_some(())
}

#[cfg(test)]
#[path = "aggregation_tests.rs"]
mod tests;
