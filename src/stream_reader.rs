//! Reading every shard of a stream at once, in the background, behind a bounded buffer.
//!
//! A coordinator task lists the shards (ListShards, paginated), starts one [`ShardCursor`] task per
//! shard whose parents are read to their end, and starts children as parents finish, so per-key
//! order holds across splits and merges. Shard tasks hand batches to the consumer through one
//! channel; a batch holds permits of a byte semaphore until the consumer is done with it, so a
//! slow consumer stops the fetching and memory stays bounded. A parent's end-of-shard marker goes
//! through the same channel after its last batch, and its children start only after that marker
//! was sent, so the consumer sees a parent's records before any of its children's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_kinesis::types::Shard;
use aws_sdk_kinesis::Client;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use crate::errors::{KResult, KinesisError, Recovery};
use crate::events::event;
use crate::pacing::Backoff;
use crate::shard_cursor::{ChildShardInfo, CursorOptions, ReadRecord, ShardCursor, StartAt};
use crate::validate::StreamRef;

/// Counted against the buffer for each record on top of its data, so that many tiny records are
/// bounded too (about what a record costs in memory besides its payload).
const RECORD_OVERHEAD_BYTES: usize = 96;

/// A shard's position for checkpoints: after this record, or past its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    After { sequence: Arc<str>, sub_sequence: Option<u64> },
    ShardEnd,
}

impl Checkpoint {
    fn resume_at(&self) -> Option<StartAt> {
        match self {
            Checkpoint::ShardEnd => None,
            Checkpoint::After { sequence, sub_sequence: None } => Some(StartAt::AfterSequence(sequence.to_string())),
            Checkpoint::After { sequence, sub_sequence: Some(sub) } => {
                Some(StartAt::AfterSubRecord { sequence: sequence.to_string(), sub_sequence: *sub })
            }
        }
    }
}

pub struct ReaderConfig {
    /// Identifies the service for the shared GetRecords budget.
    pub endpoint: String,
    pub stream: StreamRef,
    /// LATEST, TRIM_HORIZON or AtTimestamp: where shards without a checkpoint start.
    pub start: StartAt,
    pub checkpoints: HashMap<String, Checkpoint>,
    pub cursor: CursorOptions,
    pub max_buffered_bytes: usize,
    pub shard_refresh_interval: Duration,
}

/// What the consumer receives, in order.
pub enum Delivery {
    Records { records: Vec<ReadRecord>, _permit: OwnedSemaphorePermit },
    ShardEnd { shard_id: Arc<str> },
    Failed(KinesisError),
}

/// How far a shard is, for `StreamReader.shards()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardStatus {
    /// Waiting for its parents to be read to their end.
    Waiting,
    Reading,
    /// Read to its end (or, for a closed shard when starting at LATEST, nothing to read).
    Finished,
}

impl ShardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShardStatus::Waiting => "waiting",
            ShardStatus::Reading => "reading",
            ShardStatus::Finished => "finished",
        }
    }
}

pub type SharedStatus = Arc<Mutex<HashMap<String, ShardStatus>>>;

/// Aborts the background reading when the consumer goes away.
pub struct ReaderTask(JoinHandle<()>);

impl Drop for ReaderTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Positions per shard, after the last record handed out; shared with the Python object so that
/// they can be read while another thread waits for records.
pub type SharedPositions = Arc<Mutex<HashMap<Arc<str>, Checkpoint>>>;

/// A started reader: its consumer end, shard states, and a handle that stops it.
pub struct Spawned {
    pub consumer: StreamConsumer,
    pub status: SharedStatus,
    pub abort: AbortHandle,
    /// With `report_start`: resolves once every shard the reader starts with has its iterator
    /// (so LATEST means "from now"), or with the error that stopped the start, which then goes
    /// nowhere else. Without it, every error is delivered to the consumer.
    pub started: Option<oneshot::Receiver<KResult<()>>>,
}

/// Start reading in the background on `runtime`.
pub fn spawn(runtime: &Handle, client: Client, config: ReaderConfig, report_start: bool) -> Spawned {
    let (tx, rx) = unbounded_channel();
    let status: SharedStatus = Arc::new(Mutex::new(HashMap::new()));
    let positions: HashMap<Arc<str>, Checkpoint> = config
        .checkpoints
        .iter()
        .map(|(shard, checkpoint)| (Arc::<str>::from(shard.as_str()), checkpoint.clone()))
        .collect();
    // Only a caller that will wait for the start may take its error: otherwise the error could be
    // sent to a receiver that is about to be dropped, and the consumer would see a clean end.
    let (started_tx, started) = if report_start {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let coordinator = Coordinator::new(client, config, tx, status.clone(), started_tx);
    let handle = runtime.spawn(coordinator.run());
    let abort = handle.abort_handle();
    let consumer = StreamConsumer {
        rx,
        current: VecDeque::new(),
        permit: None,
        positions: Arc::new(Mutex::new(positions)),
        ended: false,
        pid: std::process::id(),
        _task: ReaderTask(handle),
    };
    Spawned { consumer, status, abort, started }
}

struct ShardEntry {
    parents: Vec<String>,
    open: bool,
    /// Listed when the reader started (as opposed to created while it runs).
    initial: bool,
    status: ShardStatus,
    /// Read (at least partly) by this reader or a previous one: its children start at TRIM_HORIZON.
    read: bool,
}

struct Coordinator {
    client: Client,
    config: ReaderConfig,
    tx: UnboundedSender<Delivery>,
    status: SharedStatus,
    shards: HashMap<String, ShardEntry>,
    buffer: Arc<Semaphore>,
    max_permits: u32,
    started: Option<oneshot::Sender<KResult<()>>>,
}

/// What shard tasks tell the coordinator.
enum ShardEvent {
    Opened,
    Ended { shard_id: String, children: Vec<ChildShardInfo> },
}

impl Coordinator {
    fn new(
        client: Client,
        config: ReaderConfig,
        tx: UnboundedSender<Delivery>,
        status: SharedStatus,
        started: Option<oneshot::Sender<KResult<()>>>,
    ) -> Self {
        let max_permits = u32::try_from(config.max_buffered_bytes.max(1)).unwrap_or(u32::MAX).min(
            // tokio's semaphore holds at most usize::MAX >> 3 permits.
            u32::MAX >> 3,
        );
        Coordinator {
            client,
            config,
            tx,
            status,
            shards: HashMap::new(),
            buffer: Arc::new(Semaphore::new(max_permits as usize)),
            max_permits,
            started,
        }
    }

    async fn run(mut self) {
        if let Err(err) = self.read_until_done().await {
            let undelivered = match self.started.take() {
                Some(started) => started.send(Err(err)).err().and_then(Result::err),
                None => Some(err),
            };
            if let Some(err) = undelivered {
                let _ = self.tx.send(Delivery::Failed(err));
            }
        }
    }

    fn report_started(&mut self) {
        if let Some(started) = self.started.take() {
            let _ = started.send(Ok(()));
        }
    }

    async fn read_until_done(&mut self) -> KResult<()> {
        let (events_tx, mut events) = unbounded_channel::<ShardEvent>();
        let mut tasks: JoinSet<KResult<()>> = JoinSet::new();
        self.refresh_shards(true).await?;
        for (shard_id, checkpoint) in &self.config.checkpoints {
            if let Some(entry) = self.shards.get_mut(shard_id) {
                entry.read = true;
                if *checkpoint == Checkpoint::ShardEnd {
                    entry.status = ShardStatus::Finished;
                }
            }
        }
        self.start_ready_shards(&mut tasks, &events_tx);
        let mut opening = tasks.len();
        if opening == 0 {
            self.report_started();
        }
        let mut refresh = tokio::time::interval(self.config.shard_refresh_interval);
        refresh.tick().await; // the first tick is immediate; the listing above was it
        loop {
            if self.all_done() {
                return Ok(()); // every shard closed and read: nothing more will ever come
            }
            tokio::select! {
                Some(event) = events.recv() => match event {
                    ShardEvent::Opened => {
                        opening = opening.saturating_sub(1);
                        if opening == 0 {
                            self.report_started();
                        }
                    }
                    ShardEvent::Ended { shard_id, children } => {
                        self.shard_ended(&shard_id, children);
                        // Emulators may not report children: list to find them either way.
                        self.refresh_shards(false).await?;
                        self.start_ready_shards(&mut tasks, &events_tx);
                    }
                },
                Some(joined) = tasks.join_next() => {
                    match joined {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => return Err(err),
                        Err(join_error) if join_error.is_panic() => {
                            return Err(KinesisError::Internal(format!("a shard reader panicked: {join_error}")));
                        }
                        Err(_) => {} // cancelled: the reader is closing
                    }
                }
                _ = refresh.tick() => {
                    self.refresh_shards(false).await?;
                    self.start_ready_shards(&mut tasks, &events_tx);
                }
                () = self.tx.closed() => return Ok(()),
            }
        }
    }

    fn shard_ended(&mut self, shard_id: &str, children: Vec<ChildShardInfo>) {
        let child_ids: Vec<&str> = children.iter().map(|c| c.shard_id.as_str()).collect();
        event!(info, "kinesis::reader", "{shard_id}: read to its end; children: {child_ids:?}");
        if let Some(entry) = self.shards.get_mut(shard_id) {
            entry.status = ShardStatus::Finished;
            entry.open = false;
        }
        for child in children {
            self.shards.entry(child.shard_id).or_insert(ShardEntry {
                parents: child.parent_shards,
                open: true,
                initial: false,
                status: ShardStatus::Waiting,
                read: false,
            });
        }
    }

    fn all_done(&self) -> bool {
        !self.shards.is_empty() && self.shards.values().all(|s| s.status == ShardStatus::Finished && !s.open)
    }

    /// List the stream's shards (all pages) and add the ones not known yet.
    async fn refresh_shards(&mut self, initial: bool) -> KResult<()> {
        let listed = list_shards(&self.client, &self.config.stream).await?;
        for shard in listed {
            let open = shard.sequence_number_range.as_ref().is_some_and(|r| r.ending_sequence_number.is_none());
            let parents: Vec<String> =
                shard.parent_shard_id.into_iter().chain(shard.adjacent_parent_shard_id).collect();
            if !initial && !self.shards.contains_key(&shard.shard_id) {
                event!(info, "kinesis::reader", "new shard {} (parents {parents:?})", shard.shard_id);
            }
            let entry = self.shards.entry(shard.shard_id).or_insert(ShardEntry {
                parents: parents.clone(),
                open,
                initial,
                status: ShardStatus::Waiting,
                read: false,
            });
            entry.open = open && entry.status != ShardStatus::Finished;
            if entry.parents.is_empty() {
                entry.parents = parents;
            }
        }
        self.publish_status();
        Ok(())
    }

    fn publish_status(&self) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.clear();
        status.extend(self.shards.iter().map(|(id, entry)| (id.clone(), entry.status)));
    }

    /// Start every waiting shard whose parents are finished (or unknown: trimmed away).
    fn start_ready_shards(&mut self, tasks: &mut JoinSet<KResult<()>>, events_tx: &UnboundedSender<ShardEvent>) {
        // A shard skipped here can make its children ready: repeat until nothing changes.
        loop {
            let mut ready: Vec<String> = self
                .shards
                .iter()
                .filter(|(_, entry)| entry.status == ShardStatus::Waiting)
                .filter(|(_, entry)| {
                    entry.parents.iter().all(|p| self.shards.get(p).is_none_or(|e| e.status == ShardStatus::Finished))
                })
                .map(|(id, _)| id.clone())
                .collect();
            if ready.is_empty() {
                break;
            }
            ready.sort();
            for shard_id in ready {
                match self.start_position(&shard_id) {
                    Some(start) => {
                        event!(debug, "kinesis::reader", "{shard_id}: reading from {start:?}");
                        if let Some(entry) = self.shards.get_mut(&shard_id) {
                            entry.status = ShardStatus::Reading;
                            entry.read = true;
                        }
                        let cursor = ShardCursor::new(
                            &self.config.endpoint,
                            self.config.stream.clone(),
                            &shard_id,
                            start,
                            self.config.cursor.clone(),
                        );
                        tasks.spawn(read_shard(
                            self.client.clone(),
                            cursor,
                            self.tx.clone(),
                            self.buffer.clone(),
                            self.max_permits,
                            events_tx.clone(),
                        ));
                    }
                    None => {
                        if let Some(entry) = self.shards.get_mut(&shard_id) {
                            entry.status = ShardStatus::Finished;
                        }
                    }
                }
            }
        }
        self.publish_status();
    }

    /// Where a shard starts, or `None` if there is nothing to read in it.
    fn start_position(&self, shard_id: &str) -> Option<StartAt> {
        let entry = self.shards.get(shard_id)?;
        if let Some(checkpoint) = self.config.checkpoints.get(shard_id) {
            return checkpoint.resume_at();
        }
        let parent_read = entry.parents.iter().any(|p| self.shards.get(p).is_some_and(|e| e.read));
        match &self.config.start {
            // Shards that existed at start begin where asked; LATEST on a closed one has nothing.
            StartAt::Latest if entry.initial && !parent_read => entry.open.then_some(StartAt::Latest),
            start if entry.initial && *start != StartAt::Latest => Some(start.clone()),
            // Created while reading, or following a parent we read: all of it, in order.
            _ => Some(StartAt::TrimHorizon),
        }
    }
}

async fn read_shard(
    client: Client,
    mut cursor: ShardCursor,
    tx: UnboundedSender<Delivery>,
    buffer: Arc<Semaphore>,
    max_permits: u32,
    events: UnboundedSender<ShardEvent>,
) -> KResult<()> {
    cursor.open(&client).await?;
    let _ = events.send(ShardEvent::Opened);
    loop {
        let batch = cursor.next_batch(&client).await?;
        if !batch.records.is_empty() {
            let cost = batch.bytes + batch.records.len() * RECORD_OVERHEAD_BYTES;
            let permits = u32::try_from(cost).unwrap_or(u32::MAX).clamp(1, max_permits);
            let Ok(permit) = buffer.clone().acquire_many_owned(permits).await else {
                return Ok(()); // semaphore closed: the reader is closing
            };
            if tx.send(Delivery::Records { records: batch.records, _permit: permit }).is_err() {
                return Ok(());
            }
        }
        if let Some(children) = batch.end {
            let shard_id = cursor.shard_id().clone();
            let _ = tx.send(Delivery::ShardEnd { shard_id: shard_id.clone() });
            let _ = events.send(ShardEvent::Ended { shard_id: shard_id.to_string(), children });
            return Ok(());
        }
    }
}

/// Every shard of the stream, following NextToken; throttling and transient failures are retried.
pub async fn list_shards(client: &Client, stream: &StreamRef) -> KResult<Vec<Shard>> {
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let mut request = client.list_shards();
        request = match &next_token {
            // The stream must not be named together with a NextToken.
            Some(token) => request.next_token(token),
            None => {
                let (name, arn) = stream.clone().split();
                request.set_stream_name(name).set_stream_arn(arn)
            }
        };
        match request.send().await.map_err(KinesisError::from) {
            Ok(page) => {
                backoff.reset();
                shards.extend(page.shards.unwrap_or_default());
                match page.next_token {
                    Some(token) if !token.is_empty() => next_token = Some(token),
                    _ => return Ok(shards),
                }
            }
            Err(err) => match err.recovery() {
                Recovery::Throttled | Recovery::Transient => {
                    let delay = backoff.next_delay();
                    event!(warn, "kinesis::reader", "ListShards: {err}; retrying in {delay:?}");
                    tokio::time::sleep(delay).await
                }
                Recovery::ExpiredIterator | Recovery::Fatal => return Err(err),
            },
        }
    }
}

/// The consumer's end of a reader: hands out records one by one and tracks positions.
pub struct StreamConsumer {
    rx: UnboundedReceiver<Delivery>,
    current: VecDeque<ReadRecord>,
    /// Buffer space held by `current`, given back when it is used up.
    permit: Option<OwnedSemaphorePermit>,
    /// Per shard: after the last record handed out (or its end).
    positions: SharedPositions,
    ended: bool,
    /// The process that started the reading: after `fork()`, its tasks do not exist in a child.
    pid: u32,
    _task: ReaderTask,
}

impl StreamConsumer {
    /// The next buffered record, if any, without waiting.
    pub fn pop(&mut self) -> Option<ReadRecord> {
        let record = self.current.pop_front()?;
        if self.current.is_empty() {
            self.permit = None;
        }
        let position =
            Checkpoint::After { sequence: record.sequence_number.clone(), sub_sequence: record.sub_sequence_number };
        self.positions.lock().unwrap_or_else(PoisonError::into_inner).insert(record.shard_id.clone(), position);
        Some(record)
    }

    /// Wait for the next batch of records. `Ok(false)` once reading is over (every shard closed
    /// and read, or the reader closed).
    pub async fn fill(&mut self) -> KResult<bool> {
        if self.current.is_empty() && std::process::id() != self.pid {
            // Waiting would hang: nothing runs the reading in this process.
            return Err(KinesisError::Python(pyo3::exceptions::PyRuntimeError::new_err(
                "this StreamReader was made before os.fork(); make a new one in the child process",
            )));
        }
        while self.current.is_empty() {
            if self.ended {
                return Ok(false);
            }
            match self.rx.recv().await {
                Some(Delivery::Records { records, _permit }) => {
                    self.current = records.into();
                    self.permit = Some(_permit);
                }
                Some(Delivery::ShardEnd { shard_id }) => {
                    self.positions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(shard_id, Checkpoint::ShardEnd);
                }
                Some(Delivery::Failed(err)) => {
                    self.ended = true;
                    return Err(err);
                }
                None => self.ended = true,
            }
        }
        Ok(true)
    }

    pub fn positions(&self) -> SharedPositions {
        self.positions.clone()
    }

    pub fn is_ended(&self) -> bool {
        self.ended && self.current.is_empty()
    }

    pub fn close(&mut self) {
        self.ended = true;
        self.current.clear();
        self.permit = None;
        self.rx.close();
    }
}
