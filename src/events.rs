//! Events for Python's `logging`, under the `kinesis` logger and its children
//! (`kinesis.reader`, `kinesis.credentials`, ...).
//!
//! Only our own targets are forwarded: the SDK, hyper and rustls log through the same `log` facade,
//! and their messages are dropped in Rust without touching Python. Our events are rare (a retry, a
//! throttle, a shard ending), so each one asks Python whether its logger is enabled at that level;
//! nothing in a per-record or per-call path logs. Events never carry credentials.

use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3_log::{Caching, Logger};

/// Forward `kinesis::*` events to Python's `logging`. A second call (a re-imported module) keeps
/// the logger already installed. Python's `logging` itself is only imported by the first event
/// that needs it (see `Forwarder::python_logger`), which keeps it out of `import kinesis`.
pub fn install(_py: Python<'_>) -> PyResult<()> {
    if log::set_boxed_logger(Box::new(Forwarder { python: OnceLock::new() })).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
    Ok(())
}

/// Only our own events: the SDK, hyper and rustls log under their crate names.
fn is_ours(metadata: &Metadata) -> bool {
    let target = metadata.target();
    target == "kinesis" || target.starts_with("kinesis::")
}

/// `event!(warn, "kinesis::reader", "...", args)`: log unless the interpreter is exiting (then
/// Python's logging may be gone, and taking the GIL could hang exit).
macro_rules! event {
    ($level:ident, $target:literal, $($arg:tt)+) => {
        if !$crate::runtime::exiting() {
            log::$level!(target: $target, $($arg)+)
        }
    };
}

pub(crate) use event;

/// pyo3-log, made safe to call from any point of a Python call.
///
/// Python code runs inside `logging` (our handlers' callers' handlers, `getLogger`, ...), so a
/// Ctrl-C that arrives meanwhile raises `KeyboardInterrupt` right there. pyo3-log leaves such an
/// exception set on the thread, where the next unrelated Python call silently discards it: the
/// signal is consumed and Ctrl-C is lost (a `kinesis tail` that ignored Ctrl-C). So an exception
/// from logging never stays pending: an interrupt is tripped again for the caller's next signal
/// check, and anything else is reported the way Python reports errors in `__del__`.
struct Forwarder {
    python: OnceLock<Logger>,
}

impl Forwarder {
    /// pyo3-log's logger, made on the first event that Python could show. Until the application
    /// imports `logging`, nothing can have configured it, so the root logger's default level
    /// (WARNING) applies: INFO and DEBUG events would be dropped anyway and are dropped here
    /// without importing it, while a warning or error imports it and reaches `logging`'s
    /// last-resort handler (stderr), as it would have with `logging` imported at start-up.
    fn python_logger(&self, py: Python<'_>, level: Level) -> PyResult<Option<&Logger>> {
        if let Some(logger) = self.python.get() {
            return Ok(Some(logger));
        }
        if level > Level::Warn && !py.import("sys")?.getattr("modules")?.contains("logging")? {
            return Ok(None);
        }
        // No target filters of its own: `is_ours` has already chosen what reaches it.
        let _lost_race = self.python.set(Logger::new(py, Caching::Loggers)?);
        Ok(self.python.get())
    }
}

impl Log for Forwarder {
    fn enabled(&self, metadata: &Metadata) -> bool {
        is_ours(metadata)
    }

    fn log(&self, record: &Record) {
        if !is_ours(record.metadata()) {
            return;
        }
        Python::attach(|py| {
            let earlier = PyErr::take(py);
            match self.python_logger(py, record.level()) {
                Ok(Some(logger)) => logger.log(record),
                Ok(None) => {}
                Err(err) => err.restore(py),
            }
            if let Some(raised) = PyErr::take(py) {
                report_logging_error(py, raised);
            }
            if let Some(earlier) = earlier {
                earlier.restore(py);
            }
        });
    }

    fn flush(&self) {}
}

fn report_logging_error(py: Python<'_>, raised: PyErr) {
    if raised.is_instance_of::<PyKeyboardInterrupt>(py) && on_main_thread(py).unwrap_or(false) {
        // The signal handler already ran (it only runs on the main thread): simulate the signal
        // again, so the wait this event came from raises KeyboardInterrupt at its next check.
        let interrupt = py.import("_thread").and_then(|thread| thread.call_method0("interrupt_main"));
        if let Err(err) = interrupt {
            err.write_unraisable(py, None);
        }
    } else {
        raised.write_unraisable(py, None);
    }
}

/// Whether this is Python's main thread (`threading` is loaded by now when `logging` is). Compared
/// by ident: `current_thread()` would register a dummy thread object for a tokio worker.
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let main_ident = threading.call_method0("main_thread")?.getattr("ident")?;
    main_ident.eq(threading.call_method0("get_ident")?)
}
