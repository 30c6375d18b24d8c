//! `PutResults`: what a `put_many` future resolves to when every record was written. A read-only
//! sequence of result dicts (`{"ShardId", "SequenceNumber"[, "SubSequenceNumber"]}`), made only
//! when first looked at: a bulk put that only checks `len()` or is never read costs no Python
//! object per record (and no garbage-collector work for them).

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::{intern, IntoPyObjectExt};

/// Where one record was written.
pub struct Written {
    pub shard_id: Arc<str>,
    pub sequence_number: Arc<str>,
    pub sub_sequence_number: Option<u32>,
}

/// Builds result dicts, sharing one str object per shard id and sequence number in a run.
#[derive(Default)]
pub struct DictMaker {
    shard: Option<(Arc<str>, Py<PyString>)>,
    sequence: Option<(Arc<str>, Py<PyString>)>,
}

impl DictMaker {
    fn text(py: Python<'_>, cache: &mut Option<(Arc<str>, Py<PyString>)>, value: &Arc<str>) -> Py<PyString> {
        match cache {
            Some((key, text)) if Arc::ptr_eq(key, value) => text.clone_ref(py),
            _ => {
                let text = PyString::new(py, value).unbind();
                *cache = Some((value.clone(), text.clone_ref(py)));
                text
            }
        }
    }

    pub fn dict<'py>(&mut self, py: Python<'py>, written: &Written) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item(intern!(py, "ShardId"), Self::text(py, &mut self.shard, &written.shard_id))?;
        d.set_item(intern!(py, "SequenceNumber"), Self::text(py, &mut self.sequence, &written.sequence_number))?;
        if let Some(sub) = written.sub_sequence_number {
            d.set_item(intern!(py, "SubSequenceNumber"), sub)?;
        }
        Ok(d)
    }
}

#[pyclass(frozen, sequence, module = "kinesis._kinesis", name = "PutResults")]
pub struct PutResults {
    written: Vec<Written>,
    /// The dicts, made on first access and kept, so that each access sees the same objects.
    list: OnceLock<Py<PyList>>,
}

impl PutResults {
    pub fn new(written: Vec<Written>) -> Self {
        PutResults { written, list: OnceLock::new() }
    }

    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        if let Some(list) = self.list.get() {
            return Ok(list.bind(py).clone());
        }
        let mut maker = DictMaker::default();
        let list = PyList::empty(py);
        for written in &self.written {
            list.append(maker.dict(py, written)?)?;
        }
        // Another thread may have made it meanwhile: keep whichever was first.
        let kept = self.list.get_or_init(|| list.unbind());
        Ok(kept.bind(py).clone())
    }
}

#[pymethods]
impl PutResults {
    fn __len__(&self) -> usize {
        self.written.len()
    }

    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.list(py)?.as_any().get_item(index)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.list(py)?.as_any().try_iter().map(Bound::into_any)
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.list(py)?.contains(value)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mine = self.list(py)?;
        if let Ok(other) = other.cast::<PutResults>() {
            return mine.eq(other.get().list(py)?);
        }
        if other.is_instance_of::<PyList>() {
            return mine.eq(other);
        }
        Ok(false)
    }

    /// The results as a plain list of dicts.
    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = self.list(py)?;
        PyList::new(py, list.iter())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("PutResults({})", self.list(py)?.repr()?))
    }
}

/// The Python value for a finished `put_many` whose records were all written.
pub fn into_py(py: Python<'_>, written: Vec<Written>) -> PyResult<Bound<'_, PyAny>> {
    PutResults::new(written).into_bound_py_any(py)
}
