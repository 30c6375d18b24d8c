//! `Producer`: the Python face of `producer.rs`, one class for both faces (like `Connection`).
//! `kinesis.Producer` blocks when the buffer is full and hands out `concurrent.futures.Future`s;
//! `kinesis.aio.Producer` (Python subclass, `_asynchronous = True`) gets None from `put` when the
//! buffer is full, awaits `_wait_for_space()`, and hands out asyncio futures.
//!
//! Outcomes reach the futures through `producer_delivery.rs`; `put_many` gets one future for all
//! its records.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{intern, IntoPyObjectExt};

use crate::client::{type_name, Connection};
use crate::producer::{self, Config, Record, Refusal, Shared};
use crate::producer_delivery::{exceptions, Group, PyDelivery, Ticket};
use crate::producer_retry::duplicate;
use crate::put_results;
use crate::records::explicit_hash_key;
use crate::records::{MAX_PUT_RECORDS_BYTES, MAX_PUT_RECORDS_ENTRIES};
use crate::runtime::{background_handle, block_on, current_pid, into_awaitable, Flavor};
use crate::validate;

/// How often a blocked put or flush wakes to run Python's signal handlers (Ctrl-C).
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// Largest aggregate or record size a stream can have (10 MiB).
const MAX_RECORD_SIZE_LIMIT: usize = 10 * 1024 * 1024;
/// Producer retries back off at most this long, whatever the connection's `retry_max_delay`.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Producer>()?;
    m.add_class::<put_results::PutResults>()?;
    m.add_function(wrap_pyfunction!(_flush_producers_at_exit, m)?)?;
    Ok(())
}

/// Flush every producer still holding records (each for at most its `exit_timeout`); returns
/// how many records remain unsent. Called by `atexit` before the runtimes stop.
#[pyfunction]
fn _flush_producers_at_exit(py: Python<'_>) -> usize {
    py.detach(producer::flush_all_blocking)
}

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

/// A record's arguments, checked; `names` gives each argument's name for error messages.
fn prepare(
    data: &Bound<'_, PyAny>,
    partition_key: &Bound<'_, PyAny>,
    explicit: Option<&Bound<'_, PyAny>>,
    max_record_size: usize,
    names: [&str; 3],
) -> PyResult<Record<()>> {
    let [data_name, key_name, ehk_name] = names;
    let partition_key = validate::text(key_name, partition_key)?;
    validate::partition_key(key_name, &partition_key)?;
    let data = validate::payload(data_name, data, true)?;
    let explicit_hash_key = explicit_hash_key(ehk_name, explicit)?;
    let size = data.len() + partition_key.len();
    if size > max_record_size {
        return Err(PyValueError::new_err(format!(
            "{data_name}: record of {size} bytes (data + partition key) exceeds the stream's maximum record size \
             of {max_record_size} bytes"
        )));
    }
    Ok(Record { data, partition_key, explicit_hash_key, ticket: () })
}

/// One item of `put_many`: `(data, partition_key[, explicit_hash_key])` or a PutRecords-style dict.
fn prepare_item(index: usize, item: &Bound<'_, PyAny>, max_record_size: usize) -> PyResult<Record<()>> {
    let fields = |names: [&str; 3]| -> PyResult<Record<()>> {
        if let Ok(tuple) = item.cast::<PyTuple>() {
            let n = tuple.len();
            if !(2..=3).contains(&n) {
                return Err(PyValueError::new_err(format!(
                    "records[{index}]: expected (data, partition_key) or (data, partition_key, explicit_hash_key), \
                     got a tuple of {n}"
                )));
            }
            let ehk = if n == 3 { Some(tuple.get_borrowed_item(2)?.to_owned()) } else { None };
            let (data, key) = (tuple.get_borrowed_item(0)?, tuple.get_borrowed_item(1)?);
            prepare(&data, &key, ehk.as_ref(), max_record_size, names)
        } else if let Ok(dict) = item.cast::<PyDict>() {
            for key in dict.keys() {
                let name: String = key.extract().unwrap_or_default();
                if !matches!(name.as_str(), "Data" | "PartitionKey" | "ExplicitHashKey") {
                    return Err(PyValueError::new_err(format!(
                        "records[{index}]: unknown field {name:?} (expected Data, PartitionKey, ExplicitHashKey)"
                    )));
                }
            }
            let data = dict
                .get_item("Data")?
                .ok_or_else(|| PyValueError::new_err(format!("records[{index}]: missing 'Data'")))?;
            let key = dict
                .get_item("PartitionKey")?
                .ok_or_else(|| PyValueError::new_err(format!("records[{index}]: missing 'PartitionKey'")))?;
            prepare(&data, &key, dict.get_item("ExplicitHashKey")?.as_ref(), max_record_size, names)
        } else {
            Err(PyTypeError::new_err(format!(
                "records[{index}]: expected a (data, partition_key) tuple or a dict, got {}",
                type_name(item)
            )))
        }
    };
    // Check with plain names first: formatting indexed names for every record would cost more
    // than the checks. Only a failing record is checked again, for the message.
    fields(["data", "partition_key", "explicit_hash_key"]).or_else(|_| {
        let names = [
            format!("records[{index}].data"),
            format!("records[{index}].partition_key"),
            format!("records[{index}].explicit_hash_key"),
        ];
        fields([&names[0], &names[1], &names[2]])
    })
}

fn items_of<'py>(records: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if records.is_instance_of::<PyDict>() || records.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "records: expected an iterable of (data, partition_key) tuples or dicts, got {}",
            type_name(records)
        )));
    }
    match records.cast::<PyList>() {
        Ok(list) => Ok(list.iter().collect()),
        Err(_) => records
            .try_iter()
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "records: expected an iterable of (data, partition_key) tuples or dicts, got {}",
                    type_name(records)
                ))
            })?
            .collect(),
    }
}

fn positive(arg: &str, value: f64) -> PyResult<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PyValueError::new_err(format!("{arg}: must be a positive number of seconds, got {value}")))
    }
}

fn non_negative(arg: &str, value: f64) -> PyResult<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(PyValueError::new_err(format!("{arg}: must be zero or more, got {value}")))
    }
}

fn in_range(arg: &str, value: usize, low: usize, high: usize) -> PyResult<usize> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(PyValueError::new_err(format!("{arg}: must be between {low} and {high}, got {value}")))
    }
}

fn timeout_arg(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    timeout.map(|t| non_negative("timeout", t).map(Duration::from_secs_f64)).transpose()
}

// ---------------------------------------------------------------------------------------------
// The class
// ---------------------------------------------------------------------------------------------

#[pyclass(subclass, frozen, module = "kinesis._kinesis", name = "Producer")]
pub struct Producer {
    shared: Arc<Shared<PyDelivery>>,
    event_loop: Arc<OnceLock<Py<PyAny>>>,
    asynchronous: bool,
    stream_name: String,
    /// The process that started the sender task; a forked child has no such task.
    pid: u32,
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Unreferenced: what it holds is still sent, then its task ends.
        self.shared.close();
    }
}

/// Ends a flush when the wait ends, however it ends (timeout, Ctrl-C, cancelled await).
struct FlushGuard(Arc<Shared<PyDelivery>>);

impl FlushGuard {
    fn new(shared: &Arc<Shared<PyDelivery>>) -> Self {
        shared.begin_flush();
        FlushGuard(shared.clone())
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.0.end_flush();
    }
}

impl Producer {
    fn future_class(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
        static FUTURE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        FUTURE
            .get_or_try_init(py, || Ok::<_, PyErr>(py.import("concurrent.futures")?.getattr("Future")?.unbind()))
            .map(|f| f.bind(py))
    }

    /// A new pending future of this face: `concurrent.futures.Future`, or the running loop's.
    fn new_future<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if !self.asynchronous {
            return Self::future_class(py)?.call0();
        }
        let running = py.import(intern!(py, "asyncio"))?.call_method0(intern!(py, "get_running_loop"))?;
        let bound = self.event_loop.get_or_init(|| running.clone().unbind());
        if !bound.bind(py).is(&running) {
            return Err(PyRuntimeError::new_err(
                "this kinesis.aio.Producer belongs to another event loop; make one producer per loop",
            ));
        }
        running.call_method0(intern!(py, "create_future"))
    }

    fn refusal(&self, py: Python<'_>, refusal: Refusal) -> PyErr {
        let (class, message) = match refusal {
            Refusal::Closed => ("ProducerClosedError", "this producer is closed; make a new one".to_string()),
            Refusal::Stopped(Some(err)) => return duplicate(&err).into_pyerr(py),
            Refusal::Stopped(None) => ("ProducerClosedError", "this producer has stopped".to_string()),
        };
        match exceptions(py).and_then(|m| m.getattr(class)).and_then(|c| c.call1((message,))) {
            Ok(err) => PyErr::from_value(err),
            Err(err) => err,
        }
    }

    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.pid != current_pid() {
            return Err(PyRuntimeError::new_err(
                "this producer was made in the parent process before fork(); its sender does not run here: \
                 make a new kinesis.Producer in this process",
            ));
        }
        if self.shared.is_closed() {
            Err(self.refusal(py, Refusal::Closed))
        } else {
            Ok(())
        }
    }

    fn buffer_full(&self, py: Python<'_>, bytes: usize) -> PyErr {
        let message = format!(
            "the producer's buffer is full ({} of max_buffered_bytes={} bytes in use; this put needs {bytes})",
            self.shared.gauges.buffered_bytes.load(Ordering::SeqCst),
            self.shared.config.max_buffered_bytes
        );
        match exceptions(py).and_then(|m| m.getattr("BufferFullError")).and_then(|c| c.call1((message,))) {
            Ok(err) => PyErr::from_value(err),
            Err(err) => err,
        }
    }

    /// Reserve room for `bytes`: at once, or (sync face, `block`) waiting with the GIL released.
    /// `Ok(false)`: no room and the caller should wait asynchronously.
    fn reserve(&self, py: Python<'_>, bytes: usize, records: usize, block: bool) -> PyResult<bool> {
        loop {
            self.check_open(py)?;
            if self.shared.try_reserve(bytes, records) {
                return Ok(true);
            }
            if !block {
                return Err(self.buffer_full(py, bytes));
            }
            if self.asynchronous {
                return Ok(false);
            }
            let shared = &self.shared;
            py.detach(|| shared.gauges.wait_blocking(SIGNAL_CHECK_INTERVAL, || shared.has_room_for(bytes)));
            py.check_signals()?;
        }
    }

    fn enqueue(&self, py: Python<'_>, records: Vec<Record<Ticket>>, bytes: usize) -> PyResult<()> {
        self.shared.enqueue(records, bytes).map_err(|refusal| self.refusal(py, refusal))
    }

    fn flush_blocking(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<bool> {
        let _flushing = FlushGuard::new(&self.shared);
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(at) => at.saturating_duration_since(std::time::Instant::now()).min(SIGNAL_CHECK_INTERVAL),
                None => SIGNAL_CHECK_INTERVAL,
            };
            let shared = &self.shared;
            if py.detach(|| shared.gauges.wait_blocking(slice, || shared.is_empty())) {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|at| std::time::Instant::now() >= at) {
                return Ok(false);
            }
        }
    }

    fn flush_awaitable(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Py<PyAny>> {
        let shared = self.shared.clone();
        into_awaitable(py, async move {
            let _flushing = FlushGuard::new(&shared);
            let emptied = shared.gauges.wait(|| shared.is_empty());
            Ok(match timeout {
                Some(t) => tokio::time::timeout(t, emptied).await.is_ok(),
                None => {
                    emptied.await;
                    true
                }
            })
        })
        .map(Bound::unbind)
    }
}

#[pymethods]
impl Producer {
    #[new]
    #[classmethod]
    #[pyo3(signature = (
        connection, stream_name, *, aggregate=true, linger_ms=100.0, max_batch_records=MAX_PUT_RECORDS_ENTRIES,
        max_batch_bytes=5 * 1024 * 1024, max_aggregate_bytes=crate::aggregation::KPL_DEFAULT_MAX_SIZE, max_buffered_bytes=64 * 1024 * 1024,
        record_ttl=30.0, rate_limit=Some(1.0), preserve_order=true, exit_timeout=30.0,
        shard_refresh_interval=60.0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, PyType>,
        connection: &Bound<'_, PyAny>,
        stream_name: &Bound<'_, PyAny>,
        aggregate: bool,
        linger_ms: f64,
        max_batch_records: usize,
        max_batch_bytes: usize,
        max_aggregate_bytes: usize,
        max_buffered_bytes: usize,
        record_ttl: f64,
        rate_limit: Option<f64>,
        preserve_order: bool,
        exit_timeout: f64,
        shard_refresh_interval: f64,
    ) -> PyResult<Self> {
        let py = cls.py();
        let connection = connection.cast::<Connection>().map_err(|_| {
            PyTypeError::new_err(format!(
                "connection: expected a kinesis connection (kinesis.connect_to_region(...)), got {}",
                type_name(connection)
            ))
        })?;
        let stream_name = validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name.clone())?;
        let linger = Duration::from_secs_f64(non_negative("linger_ms", linger_ms)? / 1000.0);
        let max_batch_records = in_range("max_batch_records", max_batch_records, 1, MAX_PUT_RECORDS_ENTRIES)?;
        let max_batch_bytes = in_range("max_batch_bytes", max_batch_bytes, 1, MAX_PUT_RECORDS_BYTES)?;
        let max_aggregate_bytes = in_range("max_aggregate_bytes", max_aggregate_bytes, 1, MAX_RECORD_SIZE_LIMIT)?;
        let max_buffered_bytes = in_range("max_buffered_bytes", max_buffered_bytes, 1, usize::MAX)?;
        let record_ttl = Duration::from_secs_f64(positive("record_ttl", record_ttl)?);
        let rate_limit = match rate_limit {
            Some(r) if !(r.is_finite() && r > 0.0) => {
                return Err(PyValueError::new_err(format!(
                    "rate_limit: must be a positive fraction of a shard's write allowance (1.0 = all of it) or None, \
                     got {r}"
                )))
            }
            other => other,
        };
        let exit_timeout = Duration::from_secs_f64(non_negative("exit_timeout", exit_timeout)?);
        let shard_refresh_interval =
            Duration::from_secs_f64(positive("shard_refresh_interval", shard_refresh_interval)?);
        let connection = connection.get();
        let session = connection.session();
        let client = session.client(Flavor::Background).map_err(|e| e.into_pyerr(py))?;
        let retry_base_delay = session.options.retry_base_delay.max(Duration::from_millis(1));
        let config = Config {
            stream,
            aggregate,
            linger,
            max_batch_records,
            max_batch_bytes,
            max_aggregate_bytes,
            max_buffered_bytes,
            record_ttl,
            rate_limit,
            preserve_order,
            retry_base_delay,
            retry_max_delay: session.options.retry_max_delay.clamp(retry_base_delay, MAX_BACKOFF.max(retry_base_delay)),
            exit_timeout,
            shard_refresh_interval,
        };
        let asynchronous = cls.getattr("_asynchronous").and_then(|v| v.is_truthy()).unwrap_or(false);
        let event_loop = Arc::new(OnceLock::new());
        let delivery = PyDelivery { event_loop: event_loop.clone() };
        let shared = producer::start(config, delivery, client, connection.max_record_size(), &background_handle()?);
        let producer = Producer { shared, event_loop, asynchronous, stream_name, pid: current_pid() };
        if !asynchronous {
            // The sync face reads the stream's record size and shard map before returning, so a
            // missing stream fails here. The asyncio face does it in `_ready()`.
            let shared = producer.shared.clone();
            if let Err(err) = block_on(py, async move { shared.wait_ready().await })? {
                return Err(duplicate(&err).into_pyerr(py));
            }
        }
        Ok(producer)
    }

    /// Put one record; returns a future resolving to its result dict. On the asyncio face, None
    /// when the buffer is full: the Python subclass then awaits `_wait_for_space()` and tries again.
    #[pyo3(signature = (data, partition_key, explicit_hash_key=None, *, block=true))]
    fn put(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        partition_key: &Bound<'_, PyAny>,
        explicit_hash_key: Option<&Bound<'_, PyAny>>,
        block: bool,
    ) -> PyResult<Option<Py<PyAny>>> {
        let max = self.shared.max_record_size();
        let record =
            prepare(data, partition_key, explicit_hash_key, max, ["data", "partition_key", "explicit_hash_key"])?;
        let bytes = record.weight();
        if !self.reserve(py, bytes, 1, block)? {
            return Ok(None);
        }
        let future = match self.new_future(py) {
            Ok(future) => future,
            Err(err) => {
                self.shared.unreserve(bytes, 1);
                return Err(err);
            }
        };
        let Record { data, partition_key, explicit_hash_key, .. } = record;
        let ticket = Ticket::Single(future.clone().unbind());
        self.enqueue(py, vec![Record { data, partition_key, explicit_hash_key, ticket }], bytes)?;
        Ok(Some(future.unbind()))
    }

    /// Put many records; returns one future resolving to the list of their results, in order
    /// (None as `put` on the asyncio face).
    #[pyo3(signature = (records, *, block=true))]
    fn put_many(&self, py: Python<'_>, records: &Bound<'_, PyAny>, block: bool) -> PyResult<Option<Py<PyAny>>> {
        let items = items_of(records)?;
        let max = self.shared.max_record_size();
        let prepared: Vec<Record<()>> =
            items.iter().enumerate().map(|(i, item)| prepare_item(i, item, max)).collect::<PyResult<_>>()?;
        drop(items);
        let count = prepared.len();
        let bytes: usize = prepared.iter().map(Record::weight).sum();
        if count == 0 {
            self.check_open(py)?;
            let future = self.new_future(py)?;
            future.call_method1(intern!(py, "set_result"), (put_results::into_py(py, Vec::new())?,))?;
            return Ok(Some(future.unbind()));
        }
        if !self.reserve(py, bytes, count, block)? {
            return Ok(None);
        }
        let future = match self.new_future(py) {
            Ok(future) => future,
            Err(err) => {
                self.shared.unreserve(bytes, count);
                return Err(err);
            }
        };
        let group = Arc::new(Group {
            future: Mutex::new(Some(future.clone().unbind())),
            remaining: AtomicUsize::new(count),
            outcomes: Mutex::new((0..count).map(|_| None).collect()),
        });
        let records = prepared
            .into_iter()
            .enumerate()
            .map(|(index, r)| Record {
                data: r.data,
                partition_key: r.partition_key,
                explicit_hash_key: r.explicit_hash_key,
                ticket: Ticket::Group(group.clone(), index),
            })
            .collect();
        self.enqueue(py, records, bytes)?;
        Ok(Some(future.unbind()))
    }

    /// Awaitable: done once some room was freed in the buffer (or it is empty).
    fn _wait_for_space(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let shared = self.shared.clone();
        into_awaitable(py, async move {
            let limit = shared.config.max_buffered_bytes;
            let seen = shared.gauges.buffered_bytes.load(Ordering::SeqCst);
            shared
                .gauges
                .wait(|| {
                    let now = shared.gauges.buffered_bytes.load(Ordering::SeqCst);
                    now == 0 || now < seen || now < limit || shared.is_closed()
                })
                .await;
            Ok(())
        })
        .map(Bound::unbind)
    }

    /// Awaitable: done once the stream's settings and shard map are read; raises if they can't be.
    fn _ready(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let shared = self.shared.clone();
        into_awaitable(py, async move {
            match shared.wait_ready().await {
                Ok(()) => Ok(()),
                Err(err) => Err(Python::attach(|py| duplicate(&err).into_pyerr(py))),
            }
        })
        .map(Bound::unbind)
    }

    /// Send everything buffered now and wait until every record put so far has its outcome.
    /// Returns False if `timeout` seconds passed first. Awaitable on the asyncio face.
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = timeout_arg(timeout)?;
        if self.asynchronous {
            self.flush_awaitable(py, timeout)
        } else {
            self.flush_blocking(py, timeout)?.into_py_any(py)
        }
    }

    /// Refuse further puts, then flush. Records still unsent after `timeout` keep being sent in
    /// the background until their outcome. Awaitable on the asyncio face.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = timeout_arg(timeout)?;
        self.shared.close();
        if self.asynchronous {
            self.flush_awaitable(py, timeout)
        } else {
            self.flush_blocking(py, timeout)?.into_py_any(py)
        }
    }

    /// Counters since the producer started, and what it holds now.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.shared.metrics;
        let g = &self.shared.gauges;
        let d = PyDict::new(py);
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        d.set_item("records_put", load(&m.user_records_put))?;
        d.set_item("records_sent", load(&m.user_records_sent))?;
        d.set_item("records_failed", load(&m.user_records_failed))?;
        d.set_item("records_expired", load(&m.user_records_expired))?;
        d.set_item("kinesis_records_sent", load(&m.kinesis_records_sent))?;
        d.set_item("bytes_sent", load(&m.bytes_sent))?;
        d.set_item("batches", load(&m.batches))?;
        d.set_item("retries", load(&m.retries))?;
        d.set_item("throttles", load(&m.throttles))?;
        d.set_item("shard_map_refreshes", load(&m.shard_map_refreshes))?;
        d.set_item("buffered_records", g.buffered_records.load(Ordering::SeqCst))?;
        d.set_item("buffered_bytes", g.buffered_bytes.load(Ordering::SeqCst))?;
        Ok(d)
    }

    #[getter]
    fn stream_name(&self) -> &str {
        &self.stream_name
    }

    #[getter]
    fn closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The largest record (data + partition key, bytes) the stream takes; read at start.
    #[getter]
    fn max_record_size(&self) -> usize {
        self.shared.max_record_size()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let class_name = slf.get_type().name()?.to_string();
        let this = slf.get();
        let state = if this.shared.is_closed() { "closed" } else { "open" };
        Ok(format!("<{class_name} stream={:?} {state}>", this.stream_name))
    }
}
