//! Which open shard a hash key lands on, from ListShards, so that only records bound for the same
//! shard are aggregated together (the KCL drops an aggregate holding a record outside its shard).
//!
//! The map is rebuilt when it is found stale: a PutRecords entry landing on another shard than
//! predicted (a split, a merge, on-demand scaling), a hash key no open shard covers, or a timer.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_kinesis::types::Shard;
use aws_sdk_kinesis::Client;

use crate::aggregation::parse_hash_key;
use crate::errors::{KResult, KinesisError};
use crate::streams::{list_shards, ListShardsRequest};
use crate::validate::StreamRef;

#[derive(Clone, Debug)]
struct Range {
    start: u128,
    end: u128,
    shard_id: Arc<str>,
}

/// The open shards' hash key ranges, sorted, and each open shard's parents (so that a child's
/// records wait until what was bound for its parent is written).
#[derive(Clone, Debug, Default)]
pub struct ShardMap {
    ranges: Vec<Range>,
    parents: HashMap<Arc<str>, Vec<Arc<str>>>,
}

/// 2**128: moto 5.1 (the last moto for Python 3.9) reports it as the end of the last shard's range,
/// one past the largest hash key; it means the top of the hash space.
const ONE_PAST_THE_TOP: &str = "340282366920938463463374607431768211456";

/// The (inclusive) end of a shard's hash key range.
fn range_end(text: &str) -> Option<u128> {
    parse_hash_key(text).or_else(|| (text == ONE_PAST_THE_TOP).then_some(u128::MAX))
}

impl ShardMap {
    /// The map of the open shards (no ending sequence number) among `shards`.
    pub fn from_shards(shards: &[Shard]) -> KResult<ShardMap> {
        let mut ranges = Vec::new();
        let mut parents = HashMap::new();
        for shard in shards {
            let closed = shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some();
            if closed {
                continue;
            }
            let range = shard
                .hash_key_range()
                .ok_or_else(|| KinesisError::Internal(format!("shard {} has no hash key range", shard.shard_id())))?;
            let (start, end) = match (parse_hash_key(range.starting_hash_key()), range_end(range.ending_hash_key())) {
                (Some(start), Some(end)) if start <= end => (start, end),
                _ => {
                    return Err(KinesisError::Response {
                        message: format!("shard {} has an unreadable hash key range {range:?}", shard.shard_id()),
                        status: None,
                        body: None,
                    })
                }
            };
            let shard_id: Arc<str> = Arc::from(shard.shard_id());
            let lineage: Vec<Arc<str>> =
                shard.parent_shard_id().into_iter().chain(shard.adjacent_parent_shard_id()).map(Arc::from).collect();
            parents.insert(shard_id.clone(), lineage);
            ranges.push(Range { start, end, shard_id });
        }
        ranges.sort_by_key(|r| r.start);
        Ok(ShardMap { ranges, parents })
    }

    /// The open shard whose range holds `hash_key`; `None` if none does (the map is stale).
    pub fn lookup(&self, hash_key: u128) -> Option<&Arc<str>> {
        let after = self.ranges.partition_point(|r| r.start <= hash_key);
        let range = self.ranges.get(after.checked_sub(1)?)?;
        (hash_key <= range.end).then_some(&range.shard_id)
    }

    /// The shards `shard_id` was split or merged from (empty if unknown or none).
    pub fn parents(&self, shard_id: &str) -> &[Arc<str>] {
        self.parents.get(shard_id).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn contains(&self, shard_id: &str) -> bool {
        self.parents.contains_key(shard_id)
    }
}

/// Every page of ListShards, as a map of the open shards.
pub async fn load(client: Client, stream: StreamRef) -> KResult<ShardMap> {
    let request = ListShardsRequest {
        stream: Some(stream),
        next_token: None,
        exclusive_start_shard_id: None,
        max_results: None,
        stream_creation_timestamp: None,
        shard_filter: None,
        paginate: true,
    };
    let page = list_shards(client, request).await?;
    ShardMap::from_shards(&page.shards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kinesis::types::{HashKeyRange, SequenceNumberRange};

    fn shard(id: &str, start: u128, end: u128, closed: bool, parent: Option<&str>) -> Shard {
        shard_as_sent(id, &start.to_string(), &end.to_string(), closed, parent)
    }

    fn shard_as_sent(id: &str, start: &str, end: &str, closed: bool, parent: Option<&str>) -> Shard {
        let mut sequence = SequenceNumberRange::builder().starting_sequence_number("1");
        if closed {
            sequence = sequence.ending_sequence_number("2");
        }
        Shard::builder()
            .shard_id(id)
            .set_parent_shard_id(parent.map(str::to_string))
            .hash_key_range(
                HashKeyRange::builder().starting_hash_key(start).ending_hash_key(end).build().expect("complete range"),
            )
            .sequence_number_range(sequence.build().expect("complete range"))
            .build()
            .expect("complete shard")
    }

    #[test]
    fn lookup_finds_the_open_shard_holding_the_key() {
        let half = u128::MAX / 2;
        let shards = vec![
            shard("s2", half + 1, u128::MAX, false, Some("s0")),
            shard("s0", 0, u128::MAX, true, None),
            shard("s1", 0, half, false, Some("s0")),
        ];
        let map = ShardMap::from_shards(&shards).expect("valid shards");
        assert_eq!(map.ranges.len(), 2);
        assert_eq!(map.lookup(0).map(|s| &**s), Some("s1"));
        assert_eq!(map.lookup(half).map(|s| &**s), Some("s1"));
        assert_eq!(map.lookup(half + 1).map(|s| &**s), Some("s2"));
        assert_eq!(map.lookup(u128::MAX).map(|s| &**s), Some("s2"));
        assert_eq!(map.parents("s2"), &[Arc::<str>::from("s0")]);
        assert!(!map.contains("s0"));
    }

    #[test]
    fn a_gap_in_the_ranges_is_reported_as_none() {
        let shards = vec![shard("a", 10, 20, false, None), shard("b", 30, 40, false, None)];
        let map = ShardMap::from_shards(&shards).expect("valid shards");
        assert!(map.lookup(5).is_none());
        assert!(map.lookup(25).is_none());
        assert!(map.lookup(41).is_none());
        assert_eq!(map.lookup(35).map(|s| &**s), Some("b"));
    }

    #[test]
    fn a_range_ending_one_past_the_top_ends_at_the_top() {
        let shards = vec![shard_as_sent("a", "0", ONE_PAST_THE_TOP, false, None)];
        let map = ShardMap::from_shards(&shards).expect("moto 5.1's ranges are accepted");
        assert_eq!(map.lookup(u128::MAX).map(|s| &**s), Some("a"));
    }

    #[test]
    fn an_unreadable_range_is_a_response_error_naming_the_shard() {
        for (start, end) in [("0", "340282366920938463463374607431768211457"), ("5", "4"), ("x", "9")] {
            let shards = vec![shard_as_sent("bad", start, end, false, None)];
            match ShardMap::from_shards(&shards) {
                Err(KinesisError::Response { message, .. }) => assert!(message.contains("shard bad"), "{message}"),
                other => panic!("{start}..{end}: {other:?}"),
            }
        }
    }
}
