//! The producer's sender task: routes admitted records to their shards, aggregates, batches,
//! paces, sends PutRecords, retries what failed and hands outcomes to the delivery (see
//! `producer.rs` for the shared state and the guarantees).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::operation::put_records::PutRecordsOutput;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use aws_smithy_types::Blob;
use tokio::sync::mpsc;

use crate::aggregation::{deaggregate, effective_hash_key, Aggregator, UserRecord, OUTER_PARTITION_KEY};
use crate::errors::{KResult, KinesisError};
use crate::events::event;
use crate::producer::{bump, Config, Delivery, Outcome, Record, Release, Shared};
use crate::producer_retry::{backoff, entry_error, is_throttling, retryable_entry_code, retryable_error};
use crate::shard_map::{self, ShardMap};
use crate::streams::describe_stream_summary;
use crate::token_bucket::ShardPacer;

/// PutRecords calls in flight at once (each holds different shards).
const MAX_IN_FLIGHT: usize = 16;
/// The shard map is re-read at most this often when it keeps looking stale.
const SHARD_MAP_MIN_AGE: Duration = Duration::from_secs(1);
/// The stream's record size when DescribeStreamSummary does not say (moto): 1 MiB.
const DEFAULT_MAX_RECORD_SIZE: usize = 1024 * 1024;

/// Read the stream's record size and shard map, then run the sender until closed and drained.
pub(crate) async fn run<D: Delivery>(shared: Arc<Shared<D>>, client: Client) {
    // PutRecords gets no SDK retries: the sender retries only the entries that failed.
    let put_client = Client::from_conf(
        client.config().to_builder().retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled()).build(),
    );
    let started = async {
        let summary = describe_stream_summary(client.clone(), shared.config.stream.clone()).await?;
        let kib = summary.stream_description_summary().and_then(|s| s.max_record_size_in_kib());
        if let Some(kib) = kib.and_then(|k| usize::try_from(k).ok()).filter(|k| *k > 0) {
            shared.max_record_size.store(kib * 1024, Ordering::Relaxed);
        } else {
            shared.max_record_size.store(DEFAULT_MAX_RECORD_SIZE, Ordering::Relaxed);
        }
        shard_map::load(client.clone(), shared.config.stream.clone()).await
    }
    .await;
    let map = match started {
        Ok(map) => {
            shared.set_ready(Ok(()));
            map
        }
        Err(err) => {
            let err = Arc::new(err);
            shared.set_ready(Err(err.clone()));
            // Nothing can be sent: every record admitted meanwhile fails with the reason.
            let stranded = {
                let mut incoming = shared.incoming.lock().unwrap_or_else(PoisonError::into_inner);
                incoming.stopped = true;
                std::mem::take(&mut incoming.records)
            };
            let bytes = stranded.iter().map(Record::weight).sum();
            let count = stranded.len();
            let outcomes = stranded.into_iter().map(|r| (r.ticket, Outcome::Rejected(err.clone()))).collect();
            bump(&shared.metrics.user_records_failed, count);
            shared.delivery.deliver(outcomes, Release::new(shared.gauges.clone(), bytes, count));
            return;
        }
    };
    let (responses_tx, responses_rx) = mpsc::unbounded_channel();
    let (maps_tx, maps_rx) = mpsc::unbounded_channel();
    let mut sender = Sender {
        shared,
        client,
        put_client,
        map,
        generation: 0,
        map_loaded: Instant::now(),
        map_stale: false,
        map_mismatch: false,
        refreshing: false,
        shards: HashMap::new(),
        order: Vec::new(),
        rotation: 0,
        in_flight: 0,
        responses_tx,
        maps_tx,
    };
    sender.run(responses_rx, maps_rx).await;
}

struct Member<T> {
    ticket: T,
    weight: usize,
}

/// One Kinesis record to put: an aggregate or a user record sent as it is.
struct Entry<T> {
    data: Vec<u8>,
    partition_key: String,
    explicit_hash_key: Option<String>,
    members: Vec<Member<T>>,
    aggregated: bool,
    predicted: Arc<str>,
    generation: u64,
    /// When it may be sent without waiting for more records (raw records linger).
    due: Instant,
    /// The earliest `record_ttl` deadline of its records.
    deadline: Instant,
    attempts: u32,
    last_error: Option<Arc<KinesisError>>,
}

impl<T> Entry<T> {
    /// Size against the stream's and PutRecords' limits: data + partition key.
    fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// The aggregate being filled for one shard. Its first record is also kept as it is, because a
/// record that ends up alone is sent raw.
struct Building<T> {
    aggregator: Aggregator,
    first: Option<(Vec<u8>, String, Option<String>)>,
    members: Vec<Member<T>>,
    oldest: Option<Instant>,
}

impl<T> Default for Building<T> {
    fn default() -> Self {
        Building { aggregator: Aggregator::new(), first: None, members: Vec::new(), oldest: None }
    }
}

struct ShardQueue<T> {
    building: Building<T>,
    ready: VecDeque<Entry<T>>,
    in_flight: bool,
    pacer: Option<ShardPacer>,
    retry_at: Option<Instant>,
    failures: u32,
}

impl<T> ShardQueue<T> {
    fn is_idle(&self) -> bool {
        !self.in_flight && self.ready.is_empty() && self.building.members.is_empty()
    }
}

struct Batch<T> {
    entries: Vec<Entry<T>>,
    shards: Vec<Arc<str>>,
}

struct Response<T> {
    batch: Batch<T>,
    result: KResult<PutRecordsOutput>,
}

struct Sender<D: Delivery> {
    shared: Arc<Shared<D>>,
    client: Client,
    put_client: Client,
    map: ShardMap,
    generation: u64,
    map_loaded: Instant,
    map_stale: bool,
    /// The service put a record on another shard than predicted: hold sending until the map is new.
    map_mismatch: bool,
    refreshing: bool,
    shards: HashMap<Arc<str>, ShardQueue<D::Ticket>>,
    /// Shard ids in a stable order, walked from a rotating start so that no shard starves.
    order: Vec<Arc<str>>,
    rotation: usize,
    in_flight: usize,
    responses_tx: mpsc::UnboundedSender<Response<D::Ticket>>,
    maps_tx: mpsc::UnboundedSender<KResult<ShardMap>>,
}

/// Where records whose hash key no open shard covers wait (sent raw; the map is re-read).
fn unknown_shard() -> Arc<str> {
    Arc::from("")
}

impl<D: Delivery> Sender<D> {
    fn config(&self) -> &Config {
        &self.shared.config
    }

    fn flushing(&self) -> bool {
        self.shared.flushing.load(Ordering::SeqCst) > 0 || self.shared.is_closed()
    }

    fn aggregate_cap(&self) -> usize {
        self.config().max_aggregate_bytes.min(self.shared.max_record_size())
    }

    async fn run(
        &mut self,
        mut responses: mpsc::UnboundedReceiver<Response<D::Ticket>>,
        mut maps: mpsc::UnboundedReceiver<KResult<ShardMap>>,
    ) {
        loop {
            self.absorb();
            let now = Instant::now();
            self.expire(now);
            let mut wake_at = None;
            while self.in_flight < MAX_IN_FLIGHT {
                match self.build_batch(now, &mut wake_at) {
                    Some(batch) => self.send(batch),
                    None => break,
                }
            }
            if self.finished() {
                return;
            }
            self.maybe_refresh(now);
            let wake_at = self.next_wake(now, wake_at);
            // Wanting to hear about new records only when nothing is due sooner than they would be.
            let linger = self.config().linger;
            if wake_at.is_none_or(|at| at > now + linger) {
                self.shared.wake_on_put.store(true, Ordering::SeqCst);
                if !self.shared.incoming.lock().unwrap_or_else(PoisonError::into_inner).records.is_empty() {
                    continue;
                }
            }
            let sleep = async {
                match wake_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.shared.wake.notified() => {}
                Some(response) = responses.recv() => self.on_response(response),
                Some(map) = maps.recv() => self.on_map(map),
                () = sleep => {}
            }
            // Take whatever else is ready without another round of the loop per message.
            while let Ok(response) = responses.try_recv() {
                self.on_response(response);
            }
        }
    }

    /// Closed, nothing held, nothing in flight: stop taking records and end the task.
    fn finished(&mut self) -> bool {
        if !self.shared.is_closed() || self.in_flight > 0 || !self.shards.values().all(ShardQueue::is_idle) {
            return false;
        }
        let mut incoming = self.shared.incoming.lock().unwrap_or_else(PoisonError::into_inner);
        if incoming.records.is_empty() {
            incoming.stopped = true;
            true
        } else {
            false
        }
    }

    /// Route the records waiting in `incoming` to their shards.
    fn absorb(&mut self) {
        let records = {
            let mut incoming = self.shared.incoming.lock().unwrap_or_else(PoisonError::into_inner);
            incoming.bytes = 0;
            std::mem::take(&mut incoming.records)
        };
        if records.is_empty() {
            return;
        }
        let now = Instant::now();
        for record in records {
            self.route(record, now);
        }
    }

    fn queue(&mut self, shard_id: &Arc<str>) -> &mut ShardQueue<D::Ticket> {
        let rate_limit = self.shared.config.rate_limit;
        let order = &mut self.order;
        self.shards.entry(shard_id.clone()).or_insert_with(|| {
            order.push(shard_id.clone());
            ShardQueue {
                building: Building::default(),
                ready: VecDeque::new(),
                in_flight: false,
                pacer: rate_limit.map(|ratio| ShardPacer::new(ratio, Instant::now())),
                retry_at: None,
                failures: 0,
            }
        })
    }

    fn route(&mut self, record: Record<D::Ticket>, now: Instant) {
        let hash_key = effective_hash_key(&record.partition_key, record.explicit_hash_key.as_deref());
        let shard_id = match hash_key.and_then(|h| self.map.lookup(h)) {
            Some(id) => id.clone(),
            None => {
                self.map_stale = true;
                unknown_shard()
            }
        };
        let ttl = self.config().record_ttl;
        let linger = self.config().linger;
        let aggregate = self.config().aggregate && !shard_id.is_empty();
        let cap = self.aggregate_cap();
        let generation = self.generation;
        let raw_entry = |record: Record<D::Ticket>, shard_id: Arc<str>, due: Instant| {
            let weight = record.weight();
            Entry {
                data: record.data,
                partition_key: record.partition_key,
                explicit_hash_key: record.explicit_hash_key,
                members: vec![Member { ticket: record.ticket, weight }],
                aggregated: false,
                predicted: shard_id,
                generation,
                due,
                deadline: now + ttl,
                attempts: 0,
                last_error: None,
            }
        };
        if !aggregate {
            let entry = raw_entry(record, shard_id.clone(), now + linger);
            self.queue(&shard_id).ready.push_back(entry);
            return;
        }
        let user = UserRecord::new(&record.partition_key, record.explicit_hash_key.as_deref(), &record.data);
        let queue = self.queue(&shard_id);
        let fits = |aggregator: &Aggregator| aggregator.size_with(&user) + OUTER_PARTITION_KEY.len() <= cap;
        if !queue.building.members.is_empty() && !fits(&queue.building.aggregator) {
            let sealed = seal(&mut queue.building, &shard_id, generation, now, ttl);
            queue.ready.extend(sealed);
        }
        if queue.building.members.is_empty() && !fits(&queue.building.aggregator) {
            // Too big to share an aggregate with anything: it goes alone, as it is.
            let entry = raw_entry(record, shard_id.clone(), now);
            self.queue(&shard_id).ready.push_back(entry);
            return;
        }
        let building = &mut queue.building;
        building.aggregator.add(&user);
        let weight = record.weight();
        building.members.push(Member { ticket: record.ticket, weight });
        if building.first.is_none() && building.members.len() == 1 {
            building.first = Some((record.data, record.partition_key, record.explicit_hash_key));
            building.oldest = Some(now);
        } else {
            building.first = None;
        }
    }

    /// Fail the records whose `record_ttl` has passed (only entries not in flight).
    fn expire(&mut self, now: Instant) {
        let ttl = self.config().record_ttl;
        let generation = self.generation;
        let mut expired = Vec::new();
        for (shard_id, queue) in self.shards.iter_mut() {
            if queue.building.oldest.is_some_and(|oldest| oldest + ttl <= now) {
                let sealed = seal(&mut queue.building, shard_id, generation, now, ttl);
                queue.ready.extend(sealed);
            }
            while queue.ready.front().is_some_and(|e| e.deadline <= now) {
                if let Some(entry) = queue.ready.pop_front() {
                    expired.push(entry);
                }
            }
        }
        if expired.is_empty() {
            return;
        }
        let mut outcomes = Vec::new();
        let mut bytes = 0;
        for entry in expired {
            for member in entry.members {
                bytes += member.weight;
                outcomes.push((
                    member.ticket,
                    Outcome::Expired { attempts: entry.attempts, last_error: entry.last_error.clone() },
                ));
            }
        }
        bump(&self.shared.metrics.user_records_expired, outcomes.len());
        bump(&self.shared.metrics.user_records_failed, outcomes.len());
        self.deliver(outcomes, bytes);
    }

    fn deliver(&self, outcomes: Vec<(D::Ticket, Outcome)>, bytes: usize) {
        let release = Release::new(self.shared.gauges.clone(), bytes, outcomes.len());
        self.shared.delivery.deliver(outcomes, release);
    }

    /// A shard may send when nothing of its own or of its parents is in flight or queued before
    /// it, and it is not backing off.
    fn may_send(&self, shard_id: &Arc<str>, now: Instant) -> bool {
        let Some(queue) = self.shards.get(shard_id) else { return false };
        if queue.in_flight || queue.retry_at.is_some_and(|at| at > now) {
            return false;
        }
        self.map.parents(shard_id).iter().all(|parent| self.shards.get(parent).is_none_or(ShardQueue::is_idle))
    }

    /// The next PutRecords call, from the shards that have something due.
    fn build_batch(&mut self, now: Instant, wake_at: &mut Option<Instant>) -> Option<Batch<D::Ticket>> {
        if self.map_mismatch {
            // A record landed elsewhere than predicted (a split, a merge): aggregates built now could
            // mix records of two shards, which the KCL drops. Wait for the new map (one ListShards).
            return None;
        }
        let flushing = self.flushing();
        let linger = self.config().linger;
        let ttl = self.config().record_ttl;
        let max_records = self.config().max_batch_records;
        let max_bytes = self.config().max_batch_bytes;
        let per_shard = if self.config().preserve_order { 1 } else { max_records };
        let generation = self.generation;
        // Many raw records waiting: they fill a call, so they need not linger.
        let raw_waiting: usize = self.shards.values().map(|q| q.ready.len()).sum();
        let volume = raw_waiting >= max_records;
        let mut batch = Batch { entries: Vec::new(), shards: Vec::new() };
        let mut bytes = 0usize;
        let count = self.order.len();
        let start = self.rotation % count.max(1);
        self.rotation = self.rotation.wrapping_add(1);
        for i in 0..count {
            let shard_id = self.order[(start + i) % count].clone();
            if !self.may_send(&shard_id, now) {
                continue;
            }
            let Some(queue) = self.shards.get_mut(&shard_id) else { continue };
            let mut taken = 0;
            while taken < per_shard {
                if queue.ready.is_empty() {
                    let due = queue.building.oldest.map(|oldest| oldest + linger);
                    match due {
                        Some(at) if flushing || at <= now => {
                            let sealed = seal(&mut queue.building, &shard_id, generation, now, ttl);
                            queue.ready.extend(sealed);
                        }
                        Some(at) => {
                            *wake_at = earliest(*wake_at, at);
                            break;
                        }
                        None => break,
                    }
                }
                let Some(front) = queue.ready.front() else { break };
                if !(flushing || volume || front.due <= now) {
                    *wake_at = earliest(*wake_at, front.due);
                    break;
                }
                let size = front.size();
                if batch.entries.len() >= max_records || (!batch.entries.is_empty() && bytes + size > max_bytes) {
                    break;
                }
                if let Some(pacer) = queue.pacer.as_mut() {
                    let wait = pacer.wait_time(size, now);
                    if !wait.is_zero() {
                        *wake_at = earliest(*wake_at, now + wait);
                        break;
                    }
                    pacer.take(size, now);
                }
                if let Some(entry) = queue.ready.pop_front() {
                    bytes += size;
                    batch.entries.push(entry);
                    taken += 1;
                }
            }
            if taken > 0 {
                queue.in_flight = true;
                batch.shards.push(shard_id);
            }
            if batch.entries.len() >= max_records || bytes >= max_bytes {
                break;
            }
        }
        (!batch.entries.is_empty()).then_some(batch)
    }

    fn send(&mut self, batch: Batch<D::Ticket>) {
        self.in_flight += 1;
        bump(&self.shared.metrics.batches, 1);
        let client = self.put_client.clone();
        let stream = self.config().stream.clone();
        let responses = self.responses_tx.clone();
        let entries: Vec<PutRecordsRequestEntry> = batch
            .entries
            .iter()
            .filter_map(|e| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(e.data.clone()))
                    .partition_key(e.partition_key.clone())
                    .set_explicit_hash_key(e.explicit_hash_key.clone())
                    .build()
                    .ok()
            })
            .collect();
        tokio::spawn(async move {
            let result = crate::records::put_records(client, stream, entries).await;
            // The receiver lives as long as the sender task; if it is gone, so is everything.
            let _ = responses.send(Response { batch, result });
        });
    }

    fn on_response(&mut self, response: Response<D::Ticket>) {
        self.in_flight -= 1;
        let now = Instant::now();
        let Response { batch, result } = response;
        for shard_id in &batch.shards {
            if let Some(queue) = self.shards.get_mut(shard_id) {
                queue.in_flight = false;
            }
        }
        let mut outcomes = Vec::new();
        let mut bytes = 0usize;
        let mut retry: Vec<Entry<D::Ticket>> = Vec::new();
        match result {
            Ok(output) => {
                let results = output.records;
                if results.len() != batch.entries.len() {
                    let err = Arc::new(KinesisError::Response {
                        message: format!(
                            "PutRecords answered {} results for {} records",
                            results.len(),
                            batch.entries.len()
                        ),
                        status: Some(200),
                        body: None,
                    });
                    for mut entry in batch.entries {
                        entry.last_error = Some(err.clone());
                        retry.push(entry);
                    }
                } else {
                    for (entry, result) in batch.entries.into_iter().zip(results) {
                        match (result.error_code, result.shard_id, result.sequence_number) {
                            (None, Some(shard_id), Some(sequence_number)) => {
                                let metrics = &self.shared.metrics;
                                bump(&metrics.kinesis_records_sent, 1);
                                bump(&metrics.bytes_sent, entry.size());
                                bump(&metrics.user_records_sent, entry.members.len());
                                if *shard_id != *entry.predicted && entry.generation == self.generation {
                                    self.map_stale = true;
                                    self.map_mismatch = true;
                                }
                                let shard_id: Arc<str> = Arc::from(shard_id);
                                let sequence_number: Arc<str> = Arc::from(sequence_number);
                                let aggregated = entry.aggregated;
                                for (index, member) in entry.members.into_iter().enumerate() {
                                    bytes += member.weight;
                                    outcomes.push((
                                        member.ticket,
                                        Outcome::Sent {
                                            shard_id: shard_id.clone(),
                                            sequence_number: sequence_number.clone(),
                                            sub_sequence_number: aggregated.then_some(index as u32),
                                        },
                                    ));
                                }
                                if let Some(queue) = self.shards.get_mut(&entry.predicted) {
                                    queue.failures = 0;
                                }
                            }
                            (code, _, _) => {
                                let code = code.unwrap_or_else(|| "InternalFailure".to_string());
                                let message = result.error_message.unwrap_or_default();
                                let retryable = retryable_entry_code(&code);
                                let err = Arc::new(entry_error(&code, &message));
                                if code == "ProvisionedThroughputExceededException" {
                                    bump(&self.shared.metrics.throttles, 1);
                                }
                                if retryable {
                                    let mut entry = entry;
                                    entry.last_error = Some(err);
                                    retry.push(entry);
                                } else {
                                    self.reject(entry, err, &mut outcomes, &mut bytes);
                                }
                            }
                        }
                    }
                }
            }
            Err(err) => {
                let throttled = is_throttling(&err);
                if throttled {
                    bump(&self.shared.metrics.throttles, 1);
                }
                let retryable = throttled || retryable_error(&err);
                let count = batch.entries.len();
                if throttled {
                    event!(info, "kinesis::producer", "PutRecords of {count} entries throttled ({err}); retrying");
                } else if retryable {
                    event!(warn, "kinesis::producer", "PutRecords of {count} entries failed ({err}); retrying");
                } else {
                    event!(error, "kinesis::producer", "PutRecords of {count} entries rejected: {err}");
                    self.map_stale = true;
                }
                let err = Arc::new(err);
                for mut entry in batch.entries {
                    if retryable {
                        entry.last_error = Some(err.clone());
                        retry.push(entry);
                    } else {
                        self.reject(entry, err.clone(), &mut outcomes, &mut bytes);
                    }
                }
            }
        }
        // Back to the front of their shards, in their order, before anything newer.
        bump(&self.shared.metrics.retries, retry.len());
        if !retry.is_empty() {
            event!(info, "kinesis::producer", "{} PutRecords entries failed and will be sent again", retry.len());
        }
        if self.map_mismatch {
            event!(
                info,
                "kinesis::producer",
                "a record landed on another shard than predicted: re-reading the shard map"
            );
        }
        let (base, cap) = (self.config().retry_base_delay, self.config().retry_max_delay);
        for mut entry in retry.into_iter().rev() {
            entry.attempts += 1;
            let queue = self.queue(&entry.predicted.clone());
            queue.failures = queue.failures.saturating_add(1);
            queue.retry_at = Some(now + backoff(base, cap, queue.failures));
            queue.ready.push_front(entry);
        }
        if !outcomes.is_empty() {
            self.deliver(outcomes, bytes);
        }
    }

    fn reject(
        &self,
        entry: Entry<D::Ticket>,
        err: Arc<KinesisError>,
        outcomes: &mut Vec<(D::Ticket, Outcome)>,
        bytes: &mut usize,
    ) {
        bump(&self.shared.metrics.user_records_failed, entry.members.len());
        for member in entry.members {
            *bytes += member.weight;
            outcomes.push((member.ticket, Outcome::Rejected(err.clone())));
        }
    }

    fn maybe_refresh(&mut self, now: Instant) {
        if self.refreshing {
            return;
        }
        let age = now.saturating_duration_since(self.map_loaded);
        if !((self.map_stale && age >= SHARD_MAP_MIN_AGE) || age >= self.config().shard_refresh_interval) {
            return;
        }
        self.refreshing = true;
        let client = self.client.clone();
        let stream = self.config().stream.clone();
        let maps = self.maps_tx.clone();
        tokio::spawn(async move {
            let _ = maps.send(shard_map::load(client, stream).await);
        });
    }

    fn on_map(&mut self, map: KResult<ShardMap>) {
        self.refreshing = false;
        self.map_loaded = Instant::now();
        let map = match map {
            Ok(map) => map,
            Err(err) => {
                // Keep the old map; the next round tries again.
                event!(warn, "kinesis::producer", "could not read the shard map ({err}); keeping the old one");
                return;
            }
        };
        bump(&self.shared.metrics.shard_map_refreshes, 1);
        self.map = map;
        self.map_stale = false;
        self.map_mismatch = false;
        self.generation += 1;
        // What waits for shards that closed (or for no known shard) is routed again by the new map,
        // oldest first and before anything newer, so that no unsent aggregate straddles the children.
        // Children wait for what their parents still have in flight.
        let mut orphans: Vec<Record<D::Ticket>> = Vec::new();
        let ttl = self.config().record_ttl;
        let now = Instant::now();
        let generation = self.generation;
        let map = &self.map;
        for (shard_id, queue) in self.shards.iter_mut() {
            if shard_id.is_empty() || !map.contains(shard_id) {
                let sealed = seal(&mut queue.building, shard_id, generation, now, ttl);
                queue.ready.extend(sealed);
                orphans.extend(queue.ready.drain(..).flat_map(unpack));
            }
        }
        for record in orphans {
            self.route(record, now);
        }
        // Forget idle queues of shards that are gone.
        let map = &self.map;
        self.shards.retain(|id, queue| map.contains(id) || !queue.is_idle());
        let shards = &self.shards;
        self.order.retain(|id| shards.contains_key(id));
    }

    fn next_wake(&mut self, now: Instant, mut wake_at: Option<Instant>) -> Option<Instant> {
        let ttl = self.config().record_ttl;
        for queue in self.shards.values() {
            if let Some(at) = queue.retry_at.filter(|at| *at > now) {
                if !queue.ready.is_empty() || !queue.building.members.is_empty() {
                    wake_at = earliest(wake_at, at);
                }
            }
            if let Some(front) = queue.ready.front() {
                wake_at = earliest(wake_at, front.deadline);
            }
            if let Some(oldest) = queue.building.oldest {
                wake_at = earliest(wake_at, oldest + ttl);
            }
        }
        if self.map_stale && !self.refreshing {
            wake_at = earliest(wake_at, self.map_loaded + SHARD_MAP_MIN_AGE);
        }
        if !self.refreshing && !self.shared.is_closed() {
            wake_at = earliest(wake_at, self.map_loaded + self.config().shard_refresh_interval);
        }
        wake_at
    }
}

/// The user records of an unsent entry, with their tickets, in order (to be routed again).
fn unpack<T>(entry: Entry<T>) -> Vec<Record<T>> {
    let Entry { data, partition_key, explicit_hash_key, members, aggregated, .. } = entry;
    if !aggregated {
        let ticket = members.into_iter().next();
        return ticket
            .map(|m| Record { data, partition_key, explicit_hash_key, ticket: m.ticket })
            .into_iter()
            .collect();
    }
    // Our own aggregates always decode; the members are its records in order.
    let Some(users) = deaggregate(&data) else { return Vec::new() };
    users
        .records
        .iter()
        .zip(members)
        .map(|(user, member)| Record {
            data: user.data.to_vec(),
            partition_key: user.partition_key.to_string(),
            explicit_hash_key: user.explicit_hash_key.map(str::to_string),
            ticket: member.ticket,
        })
        .collect()
}

fn earliest(current: Option<Instant>, candidate: Instant) -> Option<Instant> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

/// Turn the aggregate being built into an entry (raw if it holds one record).
fn seal<T>(
    building: &mut Building<T>,
    shard_id: &Arc<str>,
    generation: u64,
    now: Instant,
    ttl: Duration,
) -> Option<Entry<T>> {
    if building.members.is_empty() {
        return None;
    }
    let oldest = building.oldest.take().unwrap_or(now);
    let members = std::mem::take(&mut building.members);
    let (data, partition_key, explicit_hash_key, aggregated) = match building.first.take() {
        Some((data, key, ehk)) if members.len() == 1 => {
            building.aggregator.clear();
            (data, key, ehk, false)
        }
        _ => {
            let ehk = building.aggregator.outer_explicit_hash_key().map(str::to_string);
            (building.aggregator.take(), OUTER_PARTITION_KEY.to_string(), ehk, true)
        }
    };
    Some(Entry {
        data,
        partition_key,
        explicit_hash_key,
        members,
        aggregated,
        predicted: shard_id.clone(),
        generation,
        due: now,
        deadline: oldest + ttl,
        attempts: 0,
        last_error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregation::deaggregate;

    fn building_with(records: &[(&[u8], &str)]) -> Building<usize> {
        let mut building = Building::default();
        for (i, (data, key)) in records.iter().enumerate() {
            building.aggregator.add(&UserRecord::new(key, None, data));
            building.members.push(Member { ticket: i, weight: data.len() + key.len() });
            if i == 0 {
                building.first = Some((data.to_vec(), key.to_string(), None));
                building.oldest = Some(Instant::now());
            } else {
                building.first = None;
            }
        }
        building
    }

    #[test]
    fn a_record_alone_is_sealed_raw_and_many_as_one_aggregate() {
        let shard: Arc<str> = Arc::from("shardId-0");
        let now = Instant::now();
        let ttl = Duration::from_secs(30);
        let mut alone = building_with(&[(b"x", "k1")]);
        let entry = seal(&mut alone, &shard, 0, now, ttl).expect("one record");
        assert!(!entry.aggregated);
        assert_eq!((entry.data.as_slice(), entry.partition_key.as_str()), (&b"x"[..], "k1"));
        assert!(alone.members.is_empty() && alone.aggregator.is_empty());
        assert!(seal(&mut alone, &shard, 0, now, ttl).is_none());

        let mut many = building_with(&[(b"x", "k1"), (b"y", "k2")]);
        let entry = seal(&mut many, &shard, 0, now, ttl).expect("two records");
        assert!(entry.aggregated);
        assert_eq!(entry.partition_key, OUTER_PARTITION_KEY);
        assert_eq!(entry.explicit_hash_key, Some(crate::aggregation::partition_key_hash("k1").to_string()));
        let users = deaggregate(&entry.data).expect("an aggregate");
        assert_eq!(users.records.iter().map(|r| r.data).collect::<Vec<_>>(), vec![&b"x"[..], &b"y"[..]]);
        assert_eq!(entry.members.iter().map(|m| m.ticket).collect::<Vec<_>>(), vec![0, 1]);
    }
}
