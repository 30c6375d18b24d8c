//! How outcomes reach Python: each record's ticket names its future (or its `put_many` group);
//! outcomes are settled in batches, one GIL acquisition per PutRecords answer, with
//! `concurrent.futures` futures resolved directly and asyncio futures through one
//! `loop.call_soon_threadsafe` per answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple};
use pyo3::{intern, IntoPyObjectExt};
use pyo3_async_runtimes::generic::Runtime as _;

use crate::producer::{Delivery, Outcome, Release};
use crate::producer_retry::duplicate;
use crate::put_results::{self, DictMaker, Written};
use crate::runtime::AsyncioBridge;

/// The future (or group of records sharing one future) a record's outcome goes to.
pub enum Ticket {
    Single(Py<PyAny>),
    Group(Arc<Group>, usize),
}

/// A `put_many` call: one future for all its records, settled when the last one ends.
pub struct Group {
    pub(crate) future: Mutex<Option<Py<PyAny>>>,
    pub(crate) remaining: AtomicUsize,
    pub(crate) outcomes: Mutex<Vec<Option<Outcome>>>,
}

enum Settled {
    One(Outcome),
    Many(Vec<Option<Outcome>>),
}

pub struct PyDelivery {
    /// The event loop of an asyncio producer, bound by its first put.
    pub(crate) event_loop: Arc<OnceLock<Py<PyAny>>>,
}

impl Delivery for PyDelivery {
    type Ticket = Ticket;

    fn deliver(&self, outcomes: Vec<(Ticket, Outcome)>, release: Release) {
        let mut settle: Vec<(Py<PyAny>, Settled)> = Vec::new();
        for (ticket, outcome) in outcomes {
            match ticket {
                Ticket::Single(future) => settle.push((future, Settled::One(outcome))),
                Ticket::Group(group, index) => {
                    {
                        let mut slots = group.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
                        if let Some(slot) = slots.get_mut(index) {
                            *slot = Some(outcome);
                        }
                    }
                    if group.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let future = group.future.lock().unwrap_or_else(PoisonError::into_inner).take();
                        let all = std::mem::take(&mut *group.outcomes.lock().unwrap_or_else(PoisonError::into_inner));
                        if let Some(future) = future {
                            settle.push((future, Settled::Many(all)));
                        }
                    }
                }
            }
        }
        if settle.is_empty() {
            return; // `release` drops here: nothing for Python to see
        }
        let event_loop = self.event_loop.clone();
        // Off the runtime's workers (taking the GIL may wait), and never once Python is exiting.
        AsyncioBridge::spawn_blocking(move || {
            Python::attach(|py| {
                if let Err(err) = settle_in_python(py, settle, event_loop.get()) {
                    err.write_unraisable(py, None);
                }
            });
            drop(release);
        });
    }
}

fn settle_function(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    SETTLE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("kinesis.producer")?.getattr("_settle")?.unbind()))
        .map(|f| f.bind(py))
}

pub(crate) fn exceptions(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("kinesis.exceptions")
}

fn invalid_state_error(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static INVALID_STATE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    INVALID_STATE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("concurrent.futures")?.getattr("InvalidStateError")?.unbind()))
        .map(|c| c.bind(py))
}

fn settle_in_python(py: Python<'_>, settle: Vec<(Py<PyAny>, Settled)>, event_loop: Option<&Py<PyAny>>) -> PyResult<()> {
    let mut values = ValueMaker::default();
    let Some(event_loop) = event_loop else {
        // concurrent.futures: resolved right here, one method call each. A future its owner
        // cancelled refuses with InvalidStateError; the record was written (or failed) all the same.
        for (future, settled) in settle {
            let (ok, value) = values.settled(py, settled)?;
            let method = if ok { intern!(py, "set_result") } else { intern!(py, "set_exception") };
            if let Err(err) = future.bind(py).call_method1(method, (value,)) {
                if !err.is_instance(py, invalid_state_error(py)?) {
                    err.write_unraisable(py, None);
                }
            }
        }
        return Ok(());
    };
    // asyncio futures may only be touched on their loop's thread: one call_soon_threadsafe per batch.
    let items = PyList::empty(py);
    for (future, settled) in settle {
        let (ok, value) = values.settled(py, settled)?;
        items.append(PyTuple::new(py, [future.into_bound(py), ok.into_bound_py_any(py)?, value])?)?;
    }
    // The loop may be closed by now; its futures then have no one to tell.
    let _ = event_loop.bind(py).call_method1(intern!(py, "call_soon_threadsafe"), (settle_function(py)?, items));
    Ok(())
}

/// Turns outcomes into Python values, sharing str objects between consecutive results.
#[derive(Default)]
struct ValueMaker {
    dicts: DictMaker,
}

impl ValueMaker {
    fn settled<'py>(&mut self, py: Python<'py>, settled: Settled) -> PyResult<(bool, Bound<'py, PyAny>)> {
        match settled {
            Settled::One(outcome) => self.outcome(py, outcome),
            Settled::Many(outcomes) => self.many(py, outcomes),
        }
    }

    fn outcome<'py>(&mut self, py: Python<'py>, outcome: Outcome) -> PyResult<(bool, Bound<'py, PyAny>)> {
        match outcome {
            Outcome::Sent { shard_id, sequence_number, sub_sequence_number } => {
                let written = Written { shard_id, sequence_number, sub_sequence_number };
                Ok((true, self.dicts.dict(py, &written)?.into_any()))
            }
            Outcome::Rejected(err) => {
                Ok((false, duplicate(&err).into_pyerr(py).into_value(py).into_bound(py).into_any()))
            }
            Outcome::Expired { attempts, last_error } => {
                let cause = last_error.map(|e| duplicate(&e).into_pyerr(py).into_value(py).into_any());
                let message = match &cause {
                    Some(_) => format!("record_ttl expired after {attempts} attempt(s); see last_error"),
                    None => "record_ttl expired before the record could be sent".to_string(),
                };
                let err = exceptions(py)?.getattr("RecordExpiredError")?.call1((message, attempts, cause))?;
                Ok((false, err))
            }
        }
    }

    fn many<'py>(&mut self, py: Python<'py>, outcomes: Vec<Option<Outcome>>) -> PyResult<(bool, Bound<'py, PyAny>)> {
        if outcomes.iter().all(|o| matches!(o, Some(Outcome::Sent { .. }))) {
            let written = outcomes
                .into_iter()
                .filter_map(|outcome| match outcome {
                    Some(Outcome::Sent { shard_id, sequence_number, sub_sequence_number }) => {
                        Some(Written { shard_id, sequence_number, sub_sequence_number })
                    }
                    _ => None,
                })
                .collect();
            return Ok((true, put_results::into_py(py, written)?));
        }
        let results = PyList::empty(py);
        let mut failed = 0usize;
        for outcome in outcomes {
            let (ok, value) = match outcome {
                Some(outcome) => self.outcome(py, outcome)?,
                None => (
                    false,
                    PyRuntimeError::new_err("kinesis internal error: no outcome")
                        .into_value(py)
                        .into_any()
                        .into_bound(py),
                ),
            };
            failed += usize::from(!ok);
            results.append(value)?;
        }
        if failed == 0 {
            return Ok((true, results.into_any()));
        }
        let message = format!("{failed} of {} records failed; see .results", results.len());
        let err = exceptions(py)?.getattr("PartialFailureError")?.call1((message, results))?;
        Ok((false, err))
    }
}
