//! The producer core: user records in, PutRecords out, one outcome per record back.
//!
//! Python threads admit records ([`Shared::try_reserve`], [`Shared::enqueue`]) into a bounded buffer;
//! one task on the background runtime (`producer_sender.rs`) routes them by hash key to the shard they will
//! land on, aggregates records of the same shard (KPL format), packs shards' entries into
//! PutRecords calls, paces each shard with token buckets, retries only the entries that failed,
//! and hands every record's outcome to a [`Delivery`] (the Python side: futures).
//!
//! Order: at most one PutRecords per shard is in flight, a failed entry goes back to the front of
//! its shard's queue, and with `preserve_order` a call holds at most one entry per shard, so no
//! later record of a shard can be accepted before an earlier one. A child shard waits until what
//! was bound for its parents is written.
//!
//! Nothing is dropped: every admitted record ends in exactly one outcome: sent, rejected by the
//! service (non-retryable), or expired after `record_ttl`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use tokio::sync::Notify;

use crate::errors::KinesisError;
use crate::validate::StreamRef;

/// Wake the sender once this many records or bytes wait unrouted, rather than on every put.
const WAKE_RECORDS: usize = 1024;
const WAKE_BYTES: usize = 1024 * 1024;

/// Settings, checked by the Python side.
#[derive(Clone, Debug)]
pub struct Config {
    pub stream: StreamRef,
    pub aggregate: bool,
    pub linger: Duration,
    pub max_batch_records: usize,
    pub max_batch_bytes: usize,
    pub max_aggregate_bytes: usize,
    pub max_buffered_bytes: usize,
    pub record_ttl: Duration,
    /// Fraction of a shard's write allowance to use; `None` sends unpaced.
    pub rate_limit: Option<f64>,
    pub preserve_order: bool,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub exit_timeout: Duration,
    /// The shard map is re-read at least this often (on-demand streams reshard on their own).
    pub shard_refresh_interval: Duration,
}

/// One user record as admitted.
pub struct Record<T> {
    pub data: Vec<u8>,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub ticket: T,
}

impl<T> Record<T> {
    /// What the record counts against the buffer (and the stream's record size, minus the EHK).
    pub fn weight(&self) -> usize {
        self.data.len() + self.partition_key.len() + self.explicit_hash_key.as_ref().map_or(0, String::len)
    }
}

/// How one record ended.
pub enum Outcome {
    Sent {
        shard_id: Arc<str>,
        sequence_number: Arc<str>,
        sub_sequence_number: Option<u32>,
    },
    /// The service refused it for good (or the stream went away).
    Rejected(Arc<KinesisError>),
    /// `record_ttl` passed first; `last_error` is what the last attempt got, if it was made.
    Expired {
        attempts: u32,
        last_error: Option<Arc<KinesisError>>,
    },
}

/// Where outcomes go. `deliver` must drop `release` only once the waiters can see the outcomes,
/// since that is what `flush()` and the buffer bound wait for.
pub trait Delivery: Send + Sync + 'static {
    type Ticket: Send + 'static;
    fn deliver(&self, outcomes: Vec<(Self::Ticket, Outcome)>, release: Release);
}

/// Buffer occupancy and the wake-ups of whoever waits on it.
#[derive(Default)]
pub struct Gauges {
    pub buffered_bytes: AtomicUsize,
    pub buffered_records: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
    changed_async: Notify,
}

impl Gauges {
    fn release(&self, bytes: usize, records: usize) {
        self.buffered_bytes.fetch_sub(bytes, Ordering::SeqCst);
        self.buffered_records.fetch_sub(records, Ordering::SeqCst);
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.changed.notify_all();
        self.changed_async.notify_waiters();
    }

    /// Block (call without the GIL) until `done()` or `timeout` passes; `false` on timeout.
    pub fn wait_blocking(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = self.changed.wait_timeout(guard, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Wait until `done()`.
    pub async fn wait(&self, done: impl Fn() -> bool) {
        loop {
            let notified = self.changed_async.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return;
            }
            notified.await;
        }
    }
}

/// Records and bytes to give back to the buffer when dropped.
pub struct Release {
    gauges: Arc<Gauges>,
    bytes: usize,
    records: usize,
}

impl Release {
    pub(crate) fn new(gauges: Arc<Gauges>, bytes: usize, records: usize) -> Self {
        Release { gauges, bytes, records }
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        self.gauges.release(self.bytes, self.records);
    }
}

#[derive(Default)]
pub struct Metrics {
    pub user_records_put: AtomicU64,
    pub user_records_sent: AtomicU64,
    pub user_records_failed: AtomicU64,
    pub user_records_expired: AtomicU64,
    pub kinesis_records_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub batches: AtomicU64,
    pub retries: AtomicU64,
    pub throttles: AtomicU64,
    pub shard_map_refreshes: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64, by: usize) {
    counter.fetch_add(by as u64, Ordering::Relaxed);
}

pub(crate) struct Incoming<T> {
    pub(crate) records: Vec<Record<T>>,
    pub(crate) bytes: usize,
    /// The sender has exited: nothing more will be taken.
    pub(crate) stopped: bool,
}

/// Why a record cannot be admitted.
pub enum Refusal {
    Closed,
    Stopped(Option<Arc<KinesisError>>),
}

/// What the Python threads and the sender task share.
pub struct Shared<D: Delivery> {
    pub config: Config,
    pub delivery: D,
    pub gauges: Arc<Gauges>,
    pub metrics: Metrics,
    pub(crate) incoming: Mutex<Incoming<D::Ticket>>,
    pub(crate) wake: Notify,
    pub(crate) wake_on_put: AtomicBool,
    pub(crate) flushing: AtomicUsize,
    pub(crate) closed: AtomicBool,
    pub(crate) max_record_size: AtomicUsize,
    /// The outcome of the first DescribeStreamSummary + ListShards.
    pub(crate) ready: OnceLock<Result<(), Arc<KinesisError>>>,
    ready_notify: Notify,
}

impl<D: Delivery> Shared<D> {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn max_record_size(&self) -> usize {
        self.max_record_size.load(Ordering::Relaxed)
    }

    /// Take room for `bytes` more in the buffer, or say no. A single put larger than the whole
    /// buffer is let in when the buffer is empty, so it cannot wait forever.
    pub fn try_reserve(&self, bytes: usize, records: usize) -> bool {
        let gauges = &self.gauges;
        let limit = self.config.max_buffered_bytes;
        let mut current = gauges.buffered_bytes.load(Ordering::SeqCst);
        loop {
            if current != 0 && current.saturating_add(bytes) > limit {
                return false;
            }
            match gauges.buffered_bytes.compare_exchange_weak(
                current,
                current + bytes,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        gauges.buffered_records.fetch_add(records, Ordering::SeqCst);
        true
    }

    /// Give back a reservation that was not used.
    pub fn unreserve(&self, bytes: usize, records: usize) {
        self.gauges.release(bytes, records);
    }

    /// Whether a put of `bytes` could be reserved now (for waiters).
    pub fn has_room_for(&self, bytes: usize) -> bool {
        let current = self.gauges.buffered_bytes.load(Ordering::SeqCst);
        current == 0 || current.saturating_add(bytes) <= self.config.max_buffered_bytes
    }

    /// Hand reserved records to the sender. On refusal the reservation is given back and the
    /// records are dropped: the caller raises instead of handing out their futures.
    pub fn enqueue(&self, records: Vec<Record<D::Ticket>>, bytes: usize) -> Result<(), Refusal> {
        let count = records.len();
        let notify = {
            let mut incoming = self.incoming.lock().unwrap_or_else(PoisonError::into_inner);
            if incoming.stopped || self.is_closed() {
                drop(incoming);
                self.gauges.release(bytes, count);
                let refusal = match self.ready.get() {
                    Some(Err(err)) => Refusal::Stopped(Some(err.clone())),
                    _ if self.is_closed() => Refusal::Closed,
                    _ => Refusal::Stopped(None),
                };
                return Err(refusal);
            }
            let before = incoming.records.len();
            incoming.records.extend(records);
            incoming.bytes += bytes;
            let crossed = (before < WAKE_RECORDS && incoming.records.len() >= WAKE_RECORDS)
                || (incoming.bytes >= WAKE_BYTES && incoming.bytes - bytes < WAKE_BYTES);
            crossed || self.wake_on_put.swap(false, Ordering::SeqCst)
        };
        bump(&self.metrics.user_records_put, count);
        if notify {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Send everything now, until [`Shared::end_flush`].
    pub fn begin_flush(&self) {
        self.flushing.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub fn end_flush(&self) {
        self.flushing.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn is_empty(&self) -> bool {
        self.gauges.buffered_records.load(Ordering::SeqCst) == 0
    }

    /// Refuse further puts; the sender sends what it holds, then stops.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// The outcome of the start-up calls, once known.
    pub async fn wait_ready(&self) -> Result<(), Arc<KinesisError>> {
        loop {
            let notified = self.ready_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(result) = self.ready.get() {
                return result.clone();
            }
            notified.await;
        }
    }

    pub(crate) fn set_ready(&self, result: Result<(), Arc<KinesisError>>) {
        let _ = self.ready.set(result);
        self.ready_notify.notify_waiters();
    }
}

/// Every live producer, for the flush at interpreter exit.
pub trait Flushable: Send + Sync {
    fn begin_flush(&self);
    fn end_flush(&self);
    fn pending_records(&self) -> usize;
    fn exit_timeout(&self) -> Duration;
}

impl<D: Delivery> Flushable for Shared<D> {
    fn begin_flush(&self) {
        Shared::begin_flush(self)
    }
    fn end_flush(&self) {
        Shared::end_flush(self)
    }
    fn pending_records(&self) -> usize {
        self.gauges.buffered_records.load(Ordering::SeqCst)
    }
    fn exit_timeout(&self) -> Duration {
        self.config.exit_timeout
    }
}

static LIVE: Mutex<Vec<Weak<dyn Flushable>>> = Mutex::new(Vec::new());

fn register(producer: Weak<dyn Flushable>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|p| p.strong_count() > 0);
    live.push(producer);
}

/// Flush every producer still holding records, each for at most its `exit_timeout`; returns
/// how many records are still unsent after that. Blocks: call without the GIL.
pub fn flush_all_blocking() -> usize {
    let producers: Vec<Arc<dyn Flushable>> =
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade).collect();
    let start = Instant::now();
    for producer in &producers {
        producer.begin_flush();
    }
    loop {
        let waiting: Vec<&Arc<dyn Flushable>> =
            producers.iter().filter(|p| p.pending_records() > 0 && start.elapsed() < p.exit_timeout()).collect();
        if waiting.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for producer in &producers {
        producer.end_flush();
    }
    producers.iter().map(|p| p.pending_records()).sum()
}

/// Start a producer: the sender task runs on `runtime` until closed and drained.
pub fn start<D: Delivery>(
    config: Config,
    delivery: D,
    client: Client,
    fallback_max_record_size: usize,
    runtime: &tokio::runtime::Handle,
) -> Arc<Shared<D>> {
    let shared = Arc::new(Shared {
        config,
        delivery,
        gauges: Arc::new(Gauges::default()),
        metrics: Metrics::default(),
        incoming: Mutex::new(Incoming { records: Vec::new(), bytes: 0, stopped: false }),
        wake: Notify::new(),
        wake_on_put: AtomicBool::new(false),
        flushing: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        max_record_size: AtomicUsize::new(fallback_max_record_size),
        ready: OnceLock::new(),
        ready_notify: Notify::new(),
    });
    let weak: Weak<Shared<D>> = Arc::downgrade(&shared);
    register(weak);
    let task_shared = shared.clone();
    runtime.spawn(async move { crate::producer_sender::run(task_shared, client).await });
    shared
}
