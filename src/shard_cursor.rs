//! Reading one shard: the GetRecords loop users otherwise write by hand, with its traps handled.
//!
//! A [`ShardCursor`] follows `NextShardIterator`, waits its turn in the shard's call budget, polls
//! an idle shard less often, retries throttling and transient failures forever (with backoff),
//! gets a new iterator when the old one expired (from the last record it fetched), de-aggregates
//! KPL records, and reports the shard's end with its children. It changes its state only once an
//! answer arrived, so a caller may drop `next_batch` at any await point (timeout, Ctrl-C) and call
//! it again later without losing or repeating records.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::operation::get_records::GetRecordsOutput;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use aws_smithy_types::DateTime;
use bytes::Bytes;

use crate::aggregation;
use crate::convert::epoch_seconds;
use crate::errors::{KResult, KinesisError, Recovery};
use crate::events::event;
use crate::pacing::{Backoff, CallBudget};
use crate::records_json::{self, Page};
use crate::validate::StreamRef;

/// Backoff after throttling or a transient failure: from 100 ms, doubling to 5 s.
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(5);

/// When an iterator opened at LATEST expires before any record arrived, reading resumes at the
/// time it was opened, minus this margin for clock skew between us and the service: a record put
/// just before the reader started may then be returned, but none put after it is skipped.
const LATEST_RENEWAL_MARGIN: Duration = Duration::from_secs(1);

/// Where a cursor starts reading its shard.
#[derive(Clone, Debug, PartialEq)]
pub enum StartAt {
    Latest,
    TrimHorizon,
    AtTimestamp(DateTime),
    AtSequence(String),
    AfterSequence(String),
    /// After one sub-record of an aggregated record: the aggregate is read again and the
    /// sub-records up to and including `sub_sequence` are dropped.
    AfterSubRecord {
        sequence: String,
        sub_sequence: u64,
    },
}

impl StartAt {
    /// The GetShardIterator arguments for this position.
    fn request(&self) -> (ShardIteratorType, Option<String>, Option<DateTime>) {
        match self {
            StartAt::Latest => (ShardIteratorType::Latest, None, None),
            StartAt::TrimHorizon => (ShardIteratorType::TrimHorizon, None, None),
            StartAt::AtTimestamp(at) => (ShardIteratorType::AtTimestamp, None, Some(*at)),
            StartAt::AtSequence(seq) => (ShardIteratorType::AtSequenceNumber, Some(seq.clone()), None),
            StartAt::AfterSequence(seq) => (ShardIteratorType::AfterSequenceNumber, Some(seq.clone()), None),
            StartAt::AfterSubRecord { sequence, .. } => {
                (ShardIteratorType::AtSequenceNumber, Some(sequence.clone()), None)
            }
        }
    }
}

/// One user record as read: a plain Kinesis record, or one sub-record of an aggregate.
#[derive(Clone, Debug)]
pub struct ReadRecord {
    /// A slice of the Kinesis record's data (sub-records share their aggregate's buffer).
    pub data: Bytes,
    pub partition_key: Arc<str>,
    pub explicit_hash_key: Option<Arc<str>>,
    pub sequence_number: Arc<str>,
    /// The index within its aggregate; `None` for a record that was not aggregated.
    pub sub_sequence_number: Option<u64>,
    pub approximate_arrival: Option<f64>,
    pub shard_id: Arc<str>,
}

/// A shard that follows a closed one (from a split or a merge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildShardInfo {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
}

/// What one GetRecords call gave.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<ReadRecord>,
    /// Bytes of record data in `records` (for buffer accounting).
    pub bytes: usize,
    pub millis_behind_latest: Option<i64>,
    /// `Some` once the shard is closed and read to its end: its children, as far as known.
    pub end: Option<Vec<ChildShardInfo>>,
}

#[derive(Clone, Debug)]
pub struct CursorOptions {
    pub limit: Option<i32>,
    pub deaggregate: bool,
    pub calls_per_second: f64,
    /// How long to leave a shard alone after an answer with no records that is not behind.
    pub idle_interval: Duration,
}

pub struct ShardCursor {
    stream: StreamRef,
    shard_id: Arc<str>,
    start: StartAt,
    options: CursorOptions,
    budget: CallBudget,
    backoff: Backoff,
    iterator: Option<String>,
    /// When the first iterator was issued; used to renew an expired LATEST iterator.
    opened_at: Option<SystemTime>,
    /// The sequence number of the last Kinesis record fetched (aggregates count once).
    last_sequence: Option<Arc<str>>,
    /// Sub-records still to drop when resuming inside an aggregate.
    skip_through: Option<(String, u64)>,
    finished: bool,
}

impl ShardCursor {
    pub fn new(endpoint: &str, stream: StreamRef, shard_id: &str, start: StartAt, options: CursorOptions) -> Self {
        let stream_key = match &stream {
            StreamRef::Name(name) => name.clone(),
            StreamRef::Arn(arn) => arn.clone(),
        };
        let budget = CallBudget::new(endpoint, &stream_key, shard_id, options.calls_per_second);
        let skip_through = match &start {
            StartAt::AfterSubRecord { sequence, sub_sequence } => Some((sequence.clone(), *sub_sequence)),
            _ => None,
        };
        ShardCursor {
            stream,
            shard_id: Arc::from(shard_id),
            start,
            options,
            budget,
            backoff: Backoff::new(RETRY_BASE, RETRY_CAP),
            iterator: None,
            opened_at: None,
            last_sequence: None,
            skip_through,
            finished: false,
        }
    }

    pub fn shard_id(&self) -> &Arc<str> {
        &self.shard_id
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Get the first shard iterator now (so that LATEST means "from now"), retrying transient failures.
    pub async fn open(&mut self, client: &Client) -> KResult<()> {
        while self.iterator.is_none() && !self.finished {
            self.try_open(client).await?;
        }
        Ok(())
    }

    /// Where a new iterator must start: after the last record fetched, or where reading began.
    fn resume_position(&self) -> StartAt {
        match (&self.last_sequence, &self.start, self.opened_at) {
            (Some(seq), _, _) => match &self.skip_through {
                // Still inside the aggregate we resumed in: read it again and keep skipping.
                Some((sequence, sub_sequence)) if sequence.as_str() == &**seq => {
                    StartAt::AfterSubRecord { sequence: sequence.clone(), sub_sequence: *sub_sequence }
                }
                _ => StartAt::AfterSequence(seq.to_string()),
            },
            (None, StartAt::Latest, Some(opened)) => {
                let since = opened.checked_sub(LATEST_RENEWAL_MARGIN).unwrap_or(opened);
                StartAt::AtTimestamp(DateTime::from(since))
            }
            (None, start, _) => start.clone(),
        }
    }

    /// One GetShardIterator attempt; a retryable failure waits its backoff and returns Ok.
    async fn try_open(&mut self, client: &Client) -> KResult<()> {
        let (kind, sequence, timestamp) = self.resume_position().request();
        let (name, arn) = self.stream.clone().split();
        let answer = client
            .get_shard_iterator()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .shard_id(&*self.shard_id)
            .shard_iterator_type(kind)
            .set_starting_sequence_number(sequence)
            .set_timestamp(timestamp)
            .send()
            .await
            .map_err(KinesisError::from);
        match answer {
            Ok(output) => {
                self.backoff.reset();
                self.opened_at.get_or_insert_with(SystemTime::now);
                match output.shard_iterator {
                    Some(iterator) => self.iterator = Some(iterator),
                    // No iterator: a closed shard with nothing after the position.
                    None => self.finished = true,
                }
                Ok(())
            }
            Err(err) => self.wait_after(err).await,
        }
    }

    /// Backs off after a retryable failure; returns the failure if retrying cannot help.
    async fn wait_after(&mut self, err: KinesisError) -> KResult<()> {
        let shard = &self.shard_id;
        match err.recovery() {
            Recovery::Fatal => {
                event!(error, "kinesis::reader", "{shard}: giving up: {err}");
                Err(err)
            }
            Recovery::ExpiredIterator => {
                let from = self.last_sequence.as_deref().unwrap_or("where reading started");
                event!(info, "kinesis::reader", "{shard}: shard iterator expired; renewing it after {from}");
                self.iterator = None;
                Ok(())
            }
            Recovery::Throttled | Recovery::Transient => {
                let delay = self.backoff.next_delay();
                if err.recovery() == Recovery::Throttled {
                    event!(info, "kinesis::reader", "{shard}: throttled ({err}); retrying in {delay:?}");
                } else {
                    event!(warn, "kinesis::reader", "{shard}: {err}; retrying in {delay:?}");
                }
                // Through the shared budget, so other readers of this shard slow down too.
                self.budget.hold_off(delay);
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }

    /// The next GetRecords answer, possibly with no records (the shard is idle). After the shard
    /// ended, returns an empty batch with `end` set again.
    pub async fn next_batch(&mut self, client: &Client) -> KResult<Batch> {
        loop {
            if self.finished {
                return Ok(Batch { end: Some(Vec::new()), ..Batch::default() });
            }
            let Some(iterator) = self.iterator.clone() else {
                self.try_open(client).await?;
                continue;
            };
            self.budget.wait_turn().await;
            let call = client.get_records().shard_iterator(iterator).set_limit(self.options.limit).send();
            let (answer, page) = records_json::capture_page(call).await;
            match answer.map_err(KinesisError::from) {
                Ok(output) => {
                    self.backoff.reset();
                    return Ok(self.take(output, page));
                }
                Err(err) => self.wait_after(err).await?,
            }
        }
    }

    /// Accept an answer: move the iterator on and turn the records into user records. The
    /// records are in `page` when `records_json` read them, else in `output.records`.
    fn take(&mut self, output: GetRecordsOutput, page: Option<Page>) -> Batch {
        let millis_behind_latest = output.millis_behind_latest;
        let mut batch = Batch { millis_behind_latest, ..Batch::default() };
        match page {
            Some(page) => {
                batch.records.reserve(page.len());
                page.into_records(|data, record| {
                    let template = self.plain_record(
                        Bytes::from(data),
                        record.partition_key.unwrap_or_default(),
                        record.sequence_number,
                        record.arrival,
                    );
                    self.accept(template, &mut batch);
                });
            }
            None => {
                batch.records.reserve(output.records.len());
                for record in output.records {
                    let template = self.plain_record(
                        Bytes::from(record.data.into_inner()),
                        record.partition_key.as_deref().unwrap_or_default(),
                        &record.sequence_number,
                        record.approximate_arrival_timestamp.as_ref(),
                    );
                    self.accept(template, &mut batch);
                }
            }
        }
        match output.next_shard_iterator {
            Some(next) => {
                self.iterator = Some(next);
                if batch.records.is_empty() && millis_behind_latest.unwrap_or(0) == 0 {
                    // Caught up and nothing new: poll this shard less often while it stays idle.
                    self.budget.hold_off(self.options.idle_interval);
                }
            }
            None => {
                self.iterator = None;
                self.finished = true;
                let children = output.child_shards.unwrap_or_default();
                batch.end = Some(
                    children
                        .into_iter()
                        .map(|child| ChildShardInfo { shard_id: child.shard_id, parent_shards: child.parent_shards })
                        .collect(),
                );
            }
        }
        batch
    }

    /// A Kinesis record of this shard as it came (before any de-aggregation).
    fn plain_record(&self, data: Bytes, partition_key: &str, sequence: &str, arrival: Option<&DateTime>) -> ReadRecord {
        ReadRecord {
            data,
            partition_key: Arc::from(partition_key),
            explicit_hash_key: None, // the service does not return it for plain records
            sequence_number: Arc::from(sequence),
            sub_sequence_number: None,
            approximate_arrival: arrival.map(epoch_seconds),
            shard_id: self.shard_id.clone(),
        }
    }

    /// Adds one record of the answer to `batch`: de-aggregated if it is an aggregate, and
    /// without what was already handed out before a resume from inside an aggregate.
    fn accept(&mut self, record: ReadRecord, batch: &mut Batch) {
        self.last_sequence = Some(record.sequence_number.clone());
        let skip_through = match self.skip_through.take() {
            Some((seq, sub)) if seq.as_str() == &*record.sequence_number => Some(sub),
            // Any other first record: the resumed aggregate is no longer there (trimmed).
            _ => None,
        };
        let unpacked = self.options.deaggregate
            && aggregation::has_magic(&record.data)
            && push_sub_records(&record, skip_through, batch);
        if !unpacked && skip_through.is_none() {
            batch.bytes += record.data.len();
            batch.records.push(record);
        }
    }
}

/// De-aggregates `outer` into `batch`, dropping sub-records up to `skip_through`. Returns false
/// when the data is not a valid aggregate (the KCL then hands the record out unchanged).
fn push_sub_records(outer: &ReadRecord, skip_through: Option<u64>, batch: &mut Batch) -> bool {
    let Some(decoded) = aggregation::deaggregate(&outer.data) else {
        return false;
    };
    // Each distinct key is allocated once and shared by the sub-records that use it.
    let partition_keys: Vec<Arc<str>> = decoded.partition_keys.iter().map(|k| Arc::from(*k)).collect();
    let explicit_hash_keys: Vec<Arc<str>> = decoded.explicit_hash_keys.iter().map(|k| Arc::from(*k)).collect();
    let first_kept = skip_through.map_or(0, |sub| sub.saturating_add(1));
    for (index, sub) in decoded.records.iter().enumerate() {
        let index = index as u64;
        if index < first_kept {
            continue;
        }
        let Some(partition_key) = partition_keys.get(sub.partition_key_index) else {
            continue; // deaggregate() checked every index; unreachable, but never panic
        };
        batch.bytes += sub.data.len();
        batch.records.push(ReadRecord {
            data: outer.data.slice_ref(sub.data),
            partition_key: partition_key.clone(),
            explicit_hash_key: sub.explicit_hash_key_index.and_then(|i| explicit_hash_keys.get(i).cloned()),
            sequence_number: outer.sequence_number.clone(),
            sub_sequence_number: Some(index),
            approximate_arrival: outer.approximate_arrival,
            shard_id: outer.shard_id.clone(),
        });
    }
    true
}
