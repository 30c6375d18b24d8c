//! The `kinesis._kinesis` extension module: wiring only. See each module for its concern.
#![deny(unsafe_code)]

mod aggregation;
mod aggregation_py;
mod client;
mod config;
mod consumers;
mod convert;
mod credentials;
mod errors;
mod events;
mod pacing;
mod producer;
mod producer_delivery;
mod producer_py;
mod producer_retry;
mod producer_sender;
mod put_results;
mod reader_py;
mod records;
mod records_json;
mod runtime;
mod shard_cursor;
mod shard_map;
mod stream_reader;
mod streams;
mod token_bucket;
mod validate;

use pyo3::prelude::*;

#[pymodule]
fn _kinesis(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    events::install(m.py())?;
    m.add_class::<client::Connection>()?;
    m.add_function(wrap_pyfunction!(runtime::_shutdown_runtimes, m)?)?;
    aggregation_py::register(m)?;
    reader_py::register(m)?;
    producer_py::register(m)?;
    Ok(())
}
