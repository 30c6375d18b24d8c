//! Events for Python's `logging`, under the `kinesis` logger and its children
//! (`kinesis.reader`, `kinesis.credentials`, ...).
//!
//! Only our own targets are forwarded: the SDK, hyper and rustls log through the same `log` facade,
//! and their messages are dropped in Rust without touching Python. Our events are rare (a retry, a
//! throttle, a shard ending), so each one asks Python whether its logger is enabled at that level;
//! nothing in a per-record or per-call path logs. Events never carry credentials.

use log::LevelFilter;
use pyo3::prelude::*;
use pyo3_log::{Caching, Logger};

/// Forward `kinesis::*` events to Python's `logging`. A second call (a re-imported module) keeps
/// the logger already installed.
pub fn install(py: Python<'_>) -> PyResult<()> {
    let logger = Logger::new(py, Caching::Loggers)?
        .filter(LevelFilter::Off)
        .filter_target("kinesis".to_owned(), LevelFilter::Debug);
    let _already_installed = logger.install();
    Ok(())
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
