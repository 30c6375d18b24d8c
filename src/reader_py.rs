//! The Python face of reading: `Record`, `ShardIterator` and `StreamReader`.
//!
//! Both iterators serve records from a buffer filled by Rust. Taking a buffered record costs one
//! uncontended lock and one small object; only an empty buffer makes the caller wait, with the
//! GIL released (sync face) or as an awaitable (asyncio face). On the asyncio face a buffered
//! record comes back as an already-finished awaitable, so `async for` costs little more than `for`.

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyType};
use pyo3::BoundObject;

use crate::client::{type_name, Connection, Session};
use crate::errors::KResult;
use crate::runtime::{background_handle, block_on, into_awaitable, Flavor};
use crate::shard_cursor::{ChildShardInfo, CursorOptions, ReadRecord, ShardCursor, StartAt};
use crate::stream_reader::{self, Checkpoint, ReaderConfig, SharedPositions, SharedStatus, StreamConsumer};
use crate::validate::{self, StreamRef};

const MAX_GET_RECORDS_LIMIT: i32 = 10_000;
const SHARD_END: &str = "SHARD_END";
/// GetRecords calls per second and shard: the service's limit for all consumers of a shard.
const DEFAULT_CALLS_PER_SECOND: f64 = 5.0;
/// How long an idle shard is left alone between polls; AWS advises about a second.
const DEFAULT_IDLE_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 * 1024 * 1024;
const DEFAULT_SHARD_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Record>()?;
    m.add_class::<ShardIterator>()?;
    m.add_class::<StreamReader>()?;
    m.add_class::<Ready>()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Record
// ---------------------------------------------------------------------------------------------

/// One user record read from a stream (a sub-record of a KPL aggregate, or a plain record).
#[pyclass(frozen, module = "kinesis._kinesis", name = "Record")]
pub struct Record(ReadRecord);

fn utc_datetime(py: Python<'_>, epoch_seconds: f64) -> PyResult<Bound<'_, PyAny>> {
    static FROM_TIMESTAMP: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    let (from_timestamp, utc) = FROM_TIMESTAMP.get_or_try_init(py, || -> PyResult<_> {
        let datetime = py.import("datetime")?;
        let from_timestamp = datetime.getattr("datetime")?.getattr("fromtimestamp")?.unbind();
        let utc = datetime.getattr("timezone")?.getattr("utc")?.unbind();
        Ok((from_timestamp, utc))
    })?;
    from_timestamp.bind(py).call1((epoch_seconds, utc.bind(py)))
}

#[pymethods]
impl Record {
    /// Make a record by hand (for testing code that consumes records).
    #[new]
    #[pyo3(signature = (data, partition_key, sequence_number, *, sub_sequence_number=None,
                        explicit_hash_key=None, approximate_arrival_timestamp=None, shard_id=None))]
    fn new(
        data: &Bound<'_, PyAny>,
        partition_key: &Bound<'_, PyAny>,
        sequence_number: &Bound<'_, PyAny>,
        sub_sequence_number: Option<&Bound<'_, PyAny>>,
        explicit_hash_key: Option<&Bound<'_, PyAny>>,
        approximate_arrival_timestamp: Option<&Bound<'_, PyAny>>,
        shard_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let sub_sequence_number = sub_sequence_number_arg(sub_sequence_number)?;
        let shard_id = validate::opt_text("shard_id", shard_id)?.unwrap_or_default();
        let data = validate::payload("data", data, true)?;
        let partition_key = validate::text("partition_key", partition_key)?;
        let sequence_number = validate::text("sequence_number", sequence_number)?;
        validate::sequence_number("sequence_number", &sequence_number)?;
        let explicit_hash_key = validate::opt_text("explicit_hash_key", explicit_hash_key)?;
        let arrival = match approximate_arrival_timestamp.filter(|v| !v.is_none()) {
            Some(value) => {
                Some(crate::convert::epoch_seconds(&validate::timestamp("approximate_arrival_timestamp", value)?))
            }
            None => None,
        };
        Ok(Record(ReadRecord {
            data: data.into(),
            partition_key: partition_key.into(),
            explicit_hash_key: explicit_hash_key.map(Arc::from),
            sequence_number: sequence_number.into(),
            sub_sequence_number,
            approximate_arrival: arrival,
            shard_id: shard_id.into(),
        }))
    }

    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.data)
    }

    #[getter]
    fn partition_key(&self) -> &str {
        &self.0.partition_key
    }

    #[getter]
    fn explicit_hash_key(&self) -> Option<&str> {
        self.0.explicit_hash_key.as_deref()
    }

    #[getter]
    fn sequence_number(&self) -> &str {
        &self.0.sequence_number
    }

    /// The record's index within its KPL aggregate, or None if it was not aggregated.
    #[getter]
    fn sub_sequence_number(&self) -> Option<u64> {
        self.0.sub_sequence_number
    }

    /// When the service received the record, as an aware UTC datetime.
    #[getter]
    fn approximate_arrival_timestamp<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0.approximate_arrival.map(|at| utc_datetime(py, at)).transpose()
    }

    #[getter]
    fn shard_id(&self) -> &str {
        &self.0.shard_id
    }

    /// The record as a dict with the wire's key names (``Data``, ``PartitionKey``, ...).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("Data", self.data(py))?;
        d.set_item("PartitionKey", self.partition_key())?;
        d.set_item("SequenceNumber", self.sequence_number())?;
        if let Some(sub) = self.0.sub_sequence_number {
            d.set_item("SubSequenceNumber", sub)?;
        }
        if let Some(key) = self.explicit_hash_key() {
            d.set_item("ExplicitHashKey", key)?;
        }
        if let Some(at) = self.approximate_arrival_timestamp(py)? {
            d.set_item("ApproximateArrivalTimestamp", at)?;
        }
        d.set_item("ShardId", self.shard_id())?;
        Ok(d)
    }

    fn __eq__(&self, other: PyRef<'_, Self>) -> bool {
        let (a, b) = (&self.0, &other.0);
        a.sequence_number == b.sequence_number
            && a.sub_sequence_number == b.sub_sequence_number
            && a.shard_id == b.shard_id
            && a.partition_key == b.partition_key
            && a.explicit_hash_key == b.explicit_hash_key
            && a.data == b.data
    }

    fn __hash__(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.0.shard_id.hash(&mut hasher);
        self.0.sequence_number.hash(&mut hasher);
        self.0.sub_sequence_number.hash(&mut hasher);
        hasher.finish()
    }

    /// Notebook view: a table of the record's fields (escaped by `kinesis._html`).
    fn _repr_html_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = &self.0;
        let rows: Vec<(&str, Py<PyAny>)> = vec![
            ("shard", PyString::new(py, &r.shard_id).into_any().unbind()),
            ("sequence number", PyString::new(py, &r.sequence_number).into_any().unbind()),
            ("sub-sequence number", r.sub_sequence_number.into_pyobject(py)?.into_any().unbind()),
            ("partition key", PyString::new(py, &r.partition_key).into_any().unbind()),
            ("explicit hash key", r.explicit_hash_key.as_deref().into_pyobject(py)?.into_any().unbind()),
            ("arrival", self.approximate_arrival_timestamp(py)?.into_pyobject(py)?.into_any().unbind()),
            ("data", PyString::new(py, &data_preview(&r.data)).into_any().unbind()),
        ];
        py.import("kinesis._html")?.getattr("html_table")?.call1(("Record", rows))
    }

    fn __repr__(&self) -> String {
        let shown = data_preview(&self.0.data);
        let sub = self.0.sub_sequence_number.map(|s| format!(", sub_sequence_number={s}")).unwrap_or_default();
        format!(
            "Record(shard_id={:?}, sequence_number={:?}{sub}, partition_key={:?}, data={shown})",
            &*self.0.shard_id, &*self.0.sequence_number, &*self.0.partition_key
        )
    }
}

fn sub_sequence_number_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    validate::opt_integer("sub_sequence_number", value)?
        .map(|n| {
            u64::try_from(n).map_err(|_| PyValueError::new_err(format!("sub_sequence_number: expected >= 0, got {n}")))
        })
        .transpose()
}

/// The start of a record's data as text, with its size when cut.
fn data_preview(data: &[u8]) -> String {
    const SHOWN: usize = 40;
    let shown = String::from_utf8_lossy(&data[..data.len().min(SHOWN)]);
    if data.len() > SHOWN {
        format!("{shown:?}... ({} bytes)", data.len())
    } else {
        format!("{shown:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// A finished awaitable
// ---------------------------------------------------------------------------------------------

/// An awaitable whose result is already there: `await` returns it without a trip through the loop.
#[pyclass(module = "kinesis._kinesis", name = "_Ready")]
pub struct Ready(Option<Py<PyAny>>);

impl Ready {
    fn wrap(py: Python<'_>, value: impl for<'py> IntoPyObject<'py>) -> PyResult<Py<PyAny>> {
        let value = value.into_pyobject(py).map_err(Into::into)?.into_any().unbind();
        Ok(Py::new(py, Ready(Some(value)))?.into_any())
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<()> {
        let value = self.0.take().unwrap_or_else(|| py.None());
        Err(PyStopIteration::new_err((value,)))
    }

    /// Generator protocol, for code that drives awaitables by hand.
    fn send(&mut self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let _ = value; // an awaitable that is already done has no use for what it is sent
        self.__next__(py)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared iteration machinery
// ---------------------------------------------------------------------------------------------

/// Where an iterator gets its records from.
trait RecordSource: Send + 'static {
    /// A buffered record, without waiting.
    fn pop(&mut self) -> Option<ReadRecord>;
    /// Nothing buffered and nothing more will come.
    fn is_exhausted(&self) -> bool;
    /// Wait until a record is buffered (`Ok(true)`) or none ever will be (`Ok(false)`).
    fn fill(&mut self) -> impl Future<Output = KResult<bool>> + Send;
}

type Shared<S> = Arc<tokio::sync::Mutex<S>>;

/// Next record, waiting at most `idle_timeout` for one to arrive (then `None`).
async fn next_record<S: RecordSource>(
    shared: Shared<S>,
    idle_timeout: Option<Duration>,
) -> KResult<Option<ReadRecord>> {
    let mut source = shared.lock().await;
    if let Some(record) = source.pop() {
        return Ok(Some(record));
    }
    let filled = match idle_timeout {
        Some(limit) => match tokio::time::timeout(limit, source.fill()).await {
            Ok(filled) => filled?,
            Err(_elapsed) => false,
        },
        None => source.fill().await?,
    };
    Ok(if filled { source.pop() } else { None })
}

fn next_blocking<S: RecordSource>(
    py: Python<'_>,
    shared: &Shared<S>,
    idle_timeout: Option<Duration>,
) -> PyResult<Option<Record>> {
    if let Ok(mut source) = shared.try_lock() {
        if let Some(record) = source.pop() {
            return Ok(Some(Record(record)));
        }
        if source.is_exhausted() {
            return Ok(None);
        }
    }
    match block_on(py, next_record(shared.clone(), idle_timeout))? {
        Ok(record) => Ok(record.map(Record)),
        Err(err) => Err(err.into_pyerr(py)),
    }
}

/// The outcome of an awaited `__anext__`: a record, the end (StopAsyncIteration), or an error.
struct NextRecord(KResult<Option<ReadRecord>>);

impl<'py> IntoPyObject<'py> for NextRecord {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        match self.0 {
            Ok(Some(record)) => Ok(Bound::new(py, Record(record))?.into_any()),
            Ok(None) => Err(PyStopAsyncIteration::new_err(())),
            Err(err) => Err(err.into_pyerr(py)),
        }
    }
}

fn next_awaitable<S: RecordSource>(
    py: Python<'_>,
    shared: &Shared<S>,
    idle_timeout: Option<Duration>,
) -> PyResult<Py<PyAny>> {
    if let Ok(mut source) = shared.try_lock() {
        if let Some(record) = source.pop() {
            return Ready::wrap(py, Record(record));
        }
        if source.is_exhausted() {
            return Err(PyStopAsyncIteration::new_err(()));
        }
    }
    let fut = next_record(shared.clone(), idle_timeout);
    into_awaitable(py, async move { Ok(NextRecord(fut.await)) }).map(Bound::unbind)
}

/// How long iteration waits for a record before it ends; settable while iterating.
struct IdleTimeout(Mutex<Option<Duration>>);

impl IdleTimeout {
    fn new(value: Option<Duration>) -> Self {
        IdleTimeout(Mutex::new(value))
    }

    fn get(&self) -> Option<Duration> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, seconds: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = optional_seconds("idle_timeout", seconds)?;
        Ok(())
    }

    fn seconds(&self) -> Option<f64> {
        self.get().map(|d| d.as_secs_f64())
    }
}

fn is_asynchronous(cls: &Bound<'_, PyType>) -> bool {
    cls.getattr("_asynchronous").and_then(|v| v.is_truthy()).unwrap_or(false)
}

fn connection_session(connection: &Bound<'_, PyAny>) -> PyResult<Arc<Session>> {
    let connection = connection.cast::<Connection>().map_err(|_| {
        PyTypeError::new_err(format!(
            "connection: expected a connection from kinesis.connect_to_region(), got {}",
            type_name(connection)
        ))
    })?;
    connection.get().check_open()?;
    Ok(connection.get().session())
}

/// The service the session talks to, naming it in the shared GetRecords budget.
fn endpoint_key(session: &Session) -> String {
    session.options.endpoint_url.clone().unwrap_or_else(|| session.options.host.clone())
}

fn optional_seconds(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    match validate::opt_number(arg, value)? {
        None => Ok(None),
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(Some(Duration::from_secs_f64(seconds))),
        Some(seconds) => Err(PyValueError::new_err(format!("{arg}: expected seconds >= 0, got {seconds}"))),
    }
}

/// The options every reader shares, checked.
fn cursor_options(
    limit: Option<&Bound<'_, PyAny>>,
    deaggregate: Option<&Bound<'_, PyAny>>,
    max_calls_per_second: Option<&Bound<'_, PyAny>>,
    idle_interval: Option<&Bound<'_, PyAny>>,
) -> PyResult<CursorOptions> {
    let limit = validate::opt_integer("limit", limit)?;
    let limit = validate::optional_int_range("limit", limit, 1, i64::from(MAX_GET_RECORDS_LIMIT))?;
    let deaggregate = validate::opt_flag("deaggregate", deaggregate)?.unwrap_or(true);
    let max_calls_per_second =
        validate::opt_number("max_calls_per_second", max_calls_per_second)?.unwrap_or(DEFAULT_CALLS_PER_SECOND);
    if !(max_calls_per_second.is_finite() && max_calls_per_second > 0.0 && max_calls_per_second <= 1000.0) {
        return Err(PyValueError::new_err(format!(
            "max_calls_per_second: expected a number above 0 (the service allows 5 per shard), got {max_calls_per_second}"
        )));
    }
    let idle_interval = optional_seconds("idle_interval", idle_interval)?.unwrap_or(DEFAULT_IDLE_INTERVAL);
    Ok(CursorOptions { limit, deaggregate, calls_per_second: max_calls_per_second, idle_interval })
}

fn checkpoint_to_py<'py>(py: Python<'py>, checkpoint: &Checkpoint) -> PyResult<Bound<'py, PyAny>> {
    match checkpoint {
        Checkpoint::ShardEnd => Ok(PyString::new(py, SHARD_END).into_any()),
        Checkpoint::After { sequence, sub_sequence } => {
            let d = PyDict::new(py);
            d.set_item("sequence_number", &**sequence)?;
            d.set_item("sub_sequence_number", *sub_sequence)?;
            Ok(d.into_any())
        }
    }
}

fn checkpoint_from_py(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Checkpoint> {
    if let Ok(text) = value.extract::<String>() {
        return if text == SHARD_END {
            Ok(Checkpoint::ShardEnd)
        } else {
            Err(PyValueError::new_err(format!("{arg}: expected {SHARD_END:?} or a position dict, got {text:?}")))
        };
    }
    let shape = || {
        PyTypeError::new_err(format!(
            "{arg}: expected {{'sequence_number': str, 'sub_sequence_number': int or None}} or {SHARD_END:?}, got {}",
            type_name(value)
        ))
    };
    let sequence = value.get_item("sequence_number").map_err(|_| shape())?;
    let sequence = validate::text(&format!("{arg}['sequence_number']"), &sequence)?;
    validate::sequence_number(arg, &sequence)?;
    let sub_sequence = match value.get_item("sub_sequence_number") {
        Ok(sub) if !sub.is_none() => Some(sub.extract::<u64>().map_err(|_| {
            PyTypeError::new_err(format!("{arg}['sub_sequence_number']: expected an int >= 0 or None"))
        })?),
        _ => None,
    };
    Ok(Checkpoint::After { sequence: sequence.into(), sub_sequence })
}

fn positions_to_py<'py, 'a>(
    py: Python<'py>,
    positions: impl Iterator<Item = (&'a Arc<str>, &'a Checkpoint)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (shard, checkpoint) in positions {
        d.set_item(&**shard, checkpoint_to_py(py, checkpoint)?)?;
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// ShardIterator
// ---------------------------------------------------------------------------------------------

struct ShardSource {
    session: Arc<Session>,
    flavor: Flavor,
    cursor: ShardCursor,
    buffer: VecDeque<ReadRecord>,
    position: Arc<Mutex<Option<Checkpoint>>>,
    progress: Arc<Mutex<ShardProgress>>,
    closed: bool,
}

#[derive(Default)]
struct ShardProgress {
    children: Option<Vec<ChildShardInfo>>,
    millis_behind_latest: Option<i64>,
}

impl RecordSource for ShardSource {
    fn pop(&mut self) -> Option<ReadRecord> {
        let record = self.buffer.pop_front()?;
        let position =
            Checkpoint::After { sequence: record.sequence_number.clone(), sub_sequence: record.sub_sequence_number };
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) = Some(position);
        Some(record)
    }

    fn is_exhausted(&self) -> bool {
        self.buffer.is_empty() && (self.closed || self.cursor.is_finished())
    }

    async fn fill(&mut self) -> KResult<bool> {
        let client = self.session.client(self.flavor)?;
        while self.buffer.is_empty() {
            if self.is_exhausted() {
                return Ok(false);
            }
            let batch = self.cursor.next_batch(&client).await?;
            {
                let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
                progress.millis_behind_latest = batch.millis_behind_latest;
                if let Some(children) = batch.end {
                    progress.children = Some(children);
                }
            }
            self.buffer.extend(batch.records);
        }
        Ok(true)
    }
}

/// Follows one shard: yields its records in order, through expired iterators, throttling and
/// transient failures, until the shard ends (then `child_shards` tells what follows).
#[pyclass(subclass, frozen, module = "kinesis._kinesis", name = "ShardIterator")]
pub struct ShardIterator {
    source: Shared<ShardSource>,
    position: Arc<Mutex<Option<Checkpoint>>>,
    progress: Arc<Mutex<ShardProgress>>,
    asynchronous: bool,
    stream_name: String,
    shard_id: String,
    idle_timeout: IdleTimeout,
}

/// Parses the boto-style iterator arguments into where the cursor starts.
fn iterator_start(
    iterator_type: &str,
    sequence_number: Option<String>,
    sub_sequence_number: Option<u64>,
    timestamp: Option<&Bound<'_, PyAny>>,
) -> PyResult<StartAt> {
    let kind = ShardIteratorType::from(iterator_type);
    let needs_sequence = || {
        sequence_number.clone().ok_or_else(|| {
            PyValueError::new_err(format!("sequence_number: required with iterator_type={iterator_type:?}"))
        })
    };
    if sub_sequence_number.is_some()
        && !matches!(kind, ShardIteratorType::AtSequenceNumber | ShardIteratorType::AfterSequenceNumber)
    {
        return Err(PyValueError::new_err(
            "sub_sequence_number: only meaningful with AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER",
        ));
    }
    Ok(match kind {
        ShardIteratorType::Latest => StartAt::Latest,
        ShardIteratorType::TrimHorizon => StartAt::TrimHorizon,
        ShardIteratorType::AtTimestamp => {
            let value = timestamp
                .filter(|v| !v.is_none())
                .ok_or_else(|| PyValueError::new_err("timestamp: required with iterator_type='AT_TIMESTAMP'"))?;
            StartAt::AtTimestamp(validate::timestamp("timestamp", value)?)
        }
        ShardIteratorType::AtSequenceNumber => match sub_sequence_number {
            None | Some(0) => StartAt::AtSequence(needs_sequence()?),
            Some(sub) => StartAt::AfterSubRecord { sequence: needs_sequence()?, sub_sequence: sub - 1 },
        },
        ShardIteratorType::AfterSequenceNumber => match sub_sequence_number {
            None => StartAt::AfterSequence(needs_sequence()?),
            Some(sub) => StartAt::AfterSubRecord { sequence: needs_sequence()?, sub_sequence: sub },
        },
        _ => {
            return Err(PyValueError::new_err(format!(
                "iterator_type: {iterator_type:?} is not one of LATEST, TRIM_HORIZON, AT_TIMESTAMP, \
                 AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER"
            )))
        }
    })
}

#[pymethods]
impl ShardIterator {
    #[new]
    #[classmethod]
    #[pyo3(signature = (connection, stream_name, shard_id, iterator_type="LATEST", sequence_number=None,
                        timestamp=None, *, sub_sequence_number=None, deaggregate=None, limit=None,
                        max_calls_per_second=None, idle_interval=None, idle_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, PyType>,
        connection: &Bound<'_, PyAny>,
        stream_name: &Bound<'_, PyAny>,
        shard_id: &Bound<'_, PyAny>,
        iterator_type: &str,
        sequence_number: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
        sub_sequence_number: Option<&Bound<'_, PyAny>>,
        deaggregate: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        max_calls_per_second: Option<&Bound<'_, PyAny>>,
        idle_interval: Option<&Bound<'_, PyAny>>,
        idle_timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let sub_sequence_number = sub_sequence_number_arg(sub_sequence_number)?;
        let py = cls.py();
        let session = connection_session(connection)?;
        let stream_name = validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name.clone())?;
        let shard_id = validate::text("shard_id", shard_id)?;
        validate::resource_name("shard_id", &shard_id)?;
        let sequence_number = validate::opt_text("sequence_number", sequence_number)?;
        if let Some(seq) = &sequence_number {
            validate::sequence_number("sequence_number", seq)?;
        }
        let start = iterator_start(iterator_type, sequence_number, sub_sequence_number, timestamp)?;
        let options = cursor_options(limit, deaggregate, max_calls_per_second, idle_interval)?;
        let idle_timeout = optional_seconds("idle_timeout", idle_timeout)?;
        let asynchronous = is_asynchronous(cls);
        let mut cursor = ShardCursor::new(&endpoint_key(&session), stream, &shard_id, start, options);
        let flavor = if asynchronous { Flavor::Background } else { Flavor::Blocking };
        if !asynchronous {
            // Open now, so that LATEST means "from the moment the iterator was made", and a wrong
            // stream or shard fails here. The asyncio face opens on the first `__anext__`.
            let client = session.client(flavor).map_err(|e| e.into_pyerr(py))?;
            block_on(py, async { cursor.open(&client).await })?.map_err(|e| e.into_pyerr(py))?;
        }
        let position = Arc::new(Mutex::new(None));
        let progress = Arc::new(Mutex::new(ShardProgress::default()));
        let source = ShardSource {
            session,
            flavor,
            cursor,
            buffer: VecDeque::new(),
            position: position.clone(),
            progress: progress.clone(),
            closed: false,
        };
        Ok(ShardIterator {
            source: Arc::new(tokio::sync::Mutex::new(source)),
            position,
            progress,
            asynchronous,
            stream_name,
            shard_id,
            idle_timeout: IdleTimeout::new(idle_timeout),
        })
    }

    #[getter]
    fn shard_id(&self) -> &str {
        &self.shard_id
    }

    /// After the last record handed out: ``{'sequence_number': ..., 'sub_sequence_number': ...}``,
    /// ``'SHARD_END'`` once the shard was read to its end, or None before the first record.
    #[getter]
    fn position<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let ended = self.progress.lock().unwrap_or_else(PoisonError::into_inner).children.is_some();
        let position = self.position.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let buffered_empty = self.source.try_lock().map(|s| s.buffer.is_empty()).unwrap_or(false);
        if ended && buffered_empty {
            return Ok(Some(PyString::new(py, SHARD_END).into_any()));
        }
        position.as_ref().map(|p| checkpoint_to_py(py, p)).transpose()
    }

    /// How far behind the newest record of the shard the last answer was, in milliseconds.
    #[getter]
    fn millis_behind_latest(&self) -> Option<i64> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).millis_behind_latest
    }

    /// The shards that follow this one once it ended (``[{'ShardId':..., 'ParentShards': [...]}]``),
    /// or None while it is open.
    #[getter]
    fn child_shards<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(children) = &progress.children else {
            return Ok(None);
        };
        let items = children
            .iter()
            .map(|child| {
                let d = PyDict::new(py);
                d.set_item("ShardId", &child.shard_id)?;
                d.set_item("ParentShards", PyList::new(py, &child.parent_shards)?)?;
                Ok(d)
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items).map(Some)
    }

    /// True once the shard was read to its end (it was closed by a split or merge).
    #[getter]
    fn at_shard_end(&self) -> bool {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).children.is_some()
    }

    /// Stop: later iteration ends at once. Awaitable on the asyncio face.
    fn close(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Ok(mut source) = self.source.try_lock() {
            source.closed = true;
            source.buffer.clear();
        }
        finished(py, self.asynchronous)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        Ok(format!("{}(stream_name={:?}, shard_id={:?})", slf.get_type().name()?, this.stream_name, this.shard_id))
    }
}

/// None on the sync face, an awaitable resolving to None on the asyncio face.
fn finished(py: Python<'_>, asynchronous: bool) -> PyResult<Py<PyAny>> {
    if asynchronous {
        Ready::wrap(py, py.None())
    } else {
        Ok(py.None())
    }
}

// ---------------------------------------------------------------------------------------------
// StreamReader
// ---------------------------------------------------------------------------------------------

impl RecordSource for StreamConsumer {
    fn pop(&mut self) -> Option<ReadRecord> {
        StreamConsumer::pop(self)
    }

    fn is_exhausted(&self) -> bool {
        self.is_ended()
    }

    fn fill(&mut self) -> impl Future<Output = KResult<bool>> + Send {
        StreamConsumer::fill(self)
    }
}

/// Reads every shard of a stream concurrently, parents before children, behind a bounded buffer.
#[pyclass(subclass, frozen, module = "kinesis._kinesis", name = "StreamReader")]
pub struct StreamReader {
    source: Shared<StreamConsumer>,
    positions: SharedPositions,
    status: SharedStatus,
    abort: tokio::task::AbortHandle,
    asynchronous: bool,
    stream_name: String,
    checkpoints: Option<Py<PyAny>>,
    idle_timeout: IdleTimeout,
}

fn reader_start(value: &Bound<'_, PyAny>) -> PyResult<StartAt> {
    if let Ok(text) = value.cast::<PyString>() {
        return match &*text.to_cow()? {
            "LATEST" => Ok(StartAt::Latest),
            "TRIM_HORIZON" => Ok(StartAt::TrimHorizon),
            other => Err(PyValueError::new_err(format!(
                "start: expected 'LATEST', 'TRIM_HORIZON', a datetime or epoch seconds, got {other:?}"
            ))),
        };
    }
    Ok(StartAt::AtTimestamp(validate::timestamp("start", value)?))
}

fn load_checkpoints(
    store: &Bound<'_, PyAny>,
    stream_name: &str,
) -> PyResult<std::collections::HashMap<String, Checkpoint>> {
    let loaded = store.call_method1("load", (stream_name,)).map_err(|err| {
        if err.is_instance_of::<pyo3::exceptions::PyAttributeError>(store.py()) {
            PyTypeError::new_err(format!(
                "checkpoints: expected a checkpoint store with load() and save() (e.g. \
                 kinesis.FileCheckpointStore), got {}",
                type_name(store)
            ))
        } else {
            err
        }
    })?;
    let mut checkpoints = std::collections::HashMap::new();
    if loaded.is_none() {
        return Ok(checkpoints);
    }
    let items = loaded.call_method0("items").map_err(|_| {
        PyTypeError::new_err(format!("checkpoints.load() must return a dict, got {}", type_name(&loaded)))
    })?;
    for item in items.try_iter()? {
        let (shard, value): (String, Bound<'_, PyAny>) = item?.extract()?;
        let checkpoint = checkpoint_from_py(&format!("checkpoint of shard {shard}"), &value)?;
        checkpoints.insert(shard, checkpoint);
    }
    Ok(checkpoints)
}

#[pymethods]
impl StreamReader {
    #[new]
    #[classmethod]
    #[pyo3(signature = (connection, stream_name, start=None, *,
                        checkpoints=None, idle_timeout=None, deaggregate=None, limit=None,
                        max_calls_per_second=None, idle_interval=None, max_buffered_bytes=None,
                        shard_refresh_interval=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, PyType>,
        connection: &Bound<'_, PyAny>,
        stream_name: &Bound<'_, PyAny>,
        start: Option<&Bound<'_, PyAny>>,
        checkpoints: Option<Bound<'_, PyAny>>,
        idle_timeout: Option<&Bound<'_, PyAny>>,
        deaggregate: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        max_calls_per_second: Option<&Bound<'_, PyAny>>,
        idle_interval: Option<&Bound<'_, PyAny>>,
        max_buffered_bytes: Option<&Bound<'_, PyAny>>,
        shard_refresh_interval: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let max_buffered_bytes = match validate::opt_integer("max_buffered_bytes", max_buffered_bytes)? {
            None => DEFAULT_MAX_BUFFERED_BYTES,
            Some(n) => usize::try_from(n).unwrap_or(0),
        };
        let py = cls.py();
        let session = connection_session(connection)?;
        let stream_name = validate::text("stream_name", stream_name)?;
        let stream: StreamRef = validate::stream("stream_name", stream_name.clone())?;
        let start = start.filter(|v| !v.is_none()).map(reader_start).transpose()?.unwrap_or(StartAt::Latest);
        let cursor = cursor_options(limit, deaggregate, max_calls_per_second, idle_interval)?;
        let idle_timeout = optional_seconds("idle_timeout", idle_timeout)?;
        if max_buffered_bytes < 1024 {
            return Err(PyValueError::new_err(format!(
                "max_buffered_bytes: expected at least 1024, got {max_buffered_bytes}"
            )));
        }
        let shard_refresh_interval = match optional_seconds("shard_refresh_interval", shard_refresh_interval)? {
            None => DEFAULT_SHARD_REFRESH_INTERVAL,
            Some(d) if d.is_zero() => {
                return Err(PyValueError::new_err("shard_refresh_interval: expected seconds > 0"));
            }
            Some(d) => d,
        };
        let checkpoints = checkpoints.filter(|c| !c.is_none());
        let loaded = match &checkpoints {
            Some(store) => load_checkpoints(store, &stream_name)?,
            None => Default::default(),
        };
        let config = ReaderConfig {
            endpoint: endpoint_key(&session),
            stream,
            start,
            checkpoints: loaded,
            cursor,
            max_buffered_bytes,
            shard_refresh_interval,
        };
        let client = session.client(Flavor::Background).map_err(|e| e.into_pyerr(py))?;
        let runtime = background_handle()?;
        let asynchronous = is_asynchronous(cls);
        // The sync face waits until every shard has its iterator, so that LATEST means "from now"
        // and a missing stream fails here; the asyncio face cannot wait in a constructor.
        let stream_reader::Spawned { consumer, status, abort, started } =
            stream_reader::spawn(&runtime, client, config, !asynchronous);
        if let Some(started) = started {
            if let Ok(Err(err)) = block_on(py, started)? {
                abort.abort();
                return Err(err.into_pyerr(py));
            }
        }
        Ok(StreamReader {
            positions: consumer.positions(),
            source: Arc::new(tokio::sync::Mutex::new(consumer)),
            status,
            abort,
            asynchronous,
            stream_name,
            checkpoints: checkpoints.map(Bound::unbind),
            idle_timeout: IdleTimeout::new(idle_timeout),
        })
    }

    /// Per shard, after the last record handed out: ``{'sequence_number', 'sub_sequence_number'}``
    /// or ``'SHARD_END'``. What ``checkpoint()`` saves.
    #[getter]
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let positions = self.positions.lock().unwrap_or_else(PoisonError::into_inner).clone();
        positions_to_py(py, positions.iter())
    }

    /// Every shard known and how far it is: ``{'shardId-...': 'waiting' | 'reading' | 'finished'}``.
    fn shards<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ids: Vec<&String> = status.keys().collect();
        ids.sort();
        for id in ids {
            d.set_item(id, status[id].as_str())?;
        }
        Ok(d)
    }

    /// Save ``positions`` to the checkpoint store. Call it once the records handed out so far are
    /// processed; a reader made later with the same store continues right after them.
    fn checkpoint(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Some(store) = &self.checkpoints else {
            return Err(PyValueError::new_err(
                "checkpoint(): this reader has no checkpoint store; pass checkpoints=kinesis.FileCheckpointStore(path)",
            ));
        };
        let saved = store.bind(py).call_method1("save", (&self.stream_name, self.positions(py)?))?;
        let awaitable = saved.hasattr("__await__")?;
        match (self.asynchronous, awaitable) {
            (true, true) => Ok(saved.unbind()),
            (false, true) => Err(PyTypeError::new_err(
                "checkpoint(): the store's save() is a coroutine; use it with kinesis.aio.StreamReader",
            )),
            (asynchronous, false) => finished(py, asynchronous),
        }
    }

    /// Stop reading; buffered records are dropped and iteration ends. Awaitable on the asyncio face.
    fn close(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.abort.abort();
        if let Ok(mut source) = self.source.try_lock() {
            source.close();
        }
        finished(py, self.asynchronous)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let status = this.status.lock().unwrap_or_else(PoisonError::into_inner);
        let reading = status.values().filter(|s| s.as_str() == "reading").count();
        Ok(format!(
            "{}(stream_name={:?}, shards={}, reading={reading})",
            slf.get_type().name()?,
            this.stream_name,
            status.len()
        ))
    }
}

/// What both readers share, the same on each: the iteration protocols (the sync class refuses
/// `async for` and the asyncio class `for`), `stream_name`, `idle_timeout` and context managers.
/// A second `#[pymethods]` block per class (the `multiple-pymethods` feature).
macro_rules! reader_protocol {
    ($class:ident) => {
        #[pymethods]
        impl $class {
            fn __iter__(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
                if slf.asynchronous {
                    return Err(PyTypeError::new_err(concat!(
                        "this is kinesis.aio.",
                        stringify!($class),
                        ": use `async for`"
                    )));
                }
                Ok(slf)
            }

            fn __next__(&self, py: Python<'_>) -> PyResult<Option<Record>> {
                if self.asynchronous {
                    return Err(PyTypeError::new_err(concat!(
                        "this is kinesis.aio.",
                        stringify!($class),
                        ": use `async for`"
                    )));
                }
                next_blocking(py, &self.source, self.idle_timeout.get())
            }

            fn __aiter__(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
                if !slf.asynchronous {
                    return Err(PyTypeError::new_err(concat!(
                        "kinesis.",
                        stringify!($class),
                        " is iterated with `for`; use kinesis.aio.",
                        stringify!($class),
                        " for `async for`"
                    )));
                }
                Ok(slf)
            }

            fn __anext__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                next_awaitable(py, &self.source, self.idle_timeout.get())
            }

            #[getter]
            fn stream_name(&self) -> &str {
                &self.stream_name
            }

            /// Seconds without a record after which iteration ends (None: wait forever); may be
            /// changed between loops, e.g. to drain what is left with a short wait.
            #[getter]
            fn get_idle_timeout(&self) -> Option<f64> {
                self.idle_timeout.seconds()
            }

            #[setter]
            fn set_idle_timeout(&self, seconds: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
                self.idle_timeout.set(seconds)
            }

            fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }

            fn __exit__(
                &self,
                py: Python<'_>,
                _exc: &Bound<'_, PyAny>,
                _value: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<()> {
                self.close(py).map(drop)
            }

            fn __aenter__(slf: PyRef<'_, Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
                let this = slf.into_pyobject(py)?.into_any().unbind();
                Ready::wrap(py, this)
            }

            fn __aexit__(
                &self,
                py: Python<'_>,
                _exc: &Bound<'_, PyAny>,
                _value: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<Py<PyAny>> {
                self.close(py)?;
                Ready::wrap(py, py.None())
            }
        }
    };
}

reader_protocol!(ShardIterator);
reader_protocol!(StreamReader);

impl Drop for StreamReader {
    fn drop(&mut self) {
        self.abort.abort();
    }
}
