//! The Python face of `aggregation.rs`: `aggregate`, `deaggregate` and `partition_key_hash`
//! (re-exported with docs by `python/kinesis/aggregation.py`).

use std::borrow::Cow;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::aggregation::{self, Aggregator, Deaggregated, UserRecord};
use crate::validate::utf8;

/// Inputs at least this long are decoded with the GIL released (MD5 + parse of a KPL-sized
/// aggregate takes tens of microseconds; below this, releasing costs more than it frees).
const DETACH_THRESHOLD: usize = 16 * 1024;

/// Longest partition key the service accepts, in Unicode characters.
const MAX_PARTITION_KEY_CHARS: usize = 256;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(deaggregate, m)?)?;
    m.add_function(wrap_pyfunction!(deaggregate_records, m)?)?;
    m.add_function(wrap_pyfunction!(partition_key_hash, m)?)?;
    Ok(())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().qualname().map(|n| n.to_string()).unwrap_or_else(|_| "object".to_owned())
}

/// A record's data as bytes: borrowed from `bytes`, copied from `bytearray`, UTF-8 of a `str`.
enum Data<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl Data<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b.as_bytes(),
            Data::Owned(v) => v,
        }
    }
}

fn extract_data<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Data<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        Ok(Data::Bytes(b.clone()))
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        Ok(Data::Owned(b.to_vec()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Data::Owned(utf8(what, s)?.into_owned().into_bytes()))
    } else {
        Err(PyTypeError::new_err(format!("{what} must be bytes, bytearray or str, not {}", type_name(obj))))
    }
}

fn extract_partition_key<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, str>> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be str, not {}", type_name(obj))))?;
    let key = utf8(what, s)?;
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_PARTITION_KEY_CHARS {
        return Err(PyValueError::new_err(format!(
            "{what} must be 1 to {MAX_PARTITION_KEY_CHARS} characters long, got {chars}"
        )));
    }
    Ok(key)
}

fn extract_explicit_hash_key<'a>(obj: Option<&'a Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Cow<'a, str>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let s = obj
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be str or None, not {}", type_name(obj))))?;
    let key = utf8(what, s)?;
    if aggregation::parse_hash_key(&key).is_none() {
        return Err(PyValueError::new_err(format!(
            "{what} must be a decimal integer from 0 to 2**128 - 1 without sign or leading zeros, got {key:?}"
        )));
    }
    Ok(Some(key))
}

/// aggregate(records) -> bytes
///
/// Packs user records into the data of one KPL aggregated record.
#[pyfunction]
fn aggregate<'py>(py: Python<'py>, records: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    const SHAPE: &str = "(partition_key, data[, explicit_hash_key]) tuples or dicts with \
                         'PartitionKey', 'Data' and optionally 'ExplicitHashKey'";
    if records.is_instance_of::<PyString>()
        || records.is_instance_of::<PyBytes>()
        || records.is_instance_of::<PyByteArray>()
        || records.is_instance_of::<PyDict>()
    {
        return Err(PyTypeError::new_err(format!("records must be a list of {SHAPE}, not {}", type_name(records))));
    }
    let iter = records
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("records must be a list of {SHAPE}, not {}", type_name(records))))?;
    let mut aggregator = Aggregator::new();
    for (i, item) in iter.enumerate() {
        let item = item?;
        let (pk, data, ehk) = if let Ok(d) = item.cast::<PyDict>() {
            let pk = d
                .get_item(pyo3::intern!(py, "PartitionKey"))?
                .ok_or_else(|| PyValueError::new_err(format!("records[{i}] has no 'PartitionKey'")))?;
            let data = d
                .get_item(pyo3::intern!(py, "Data"))?
                .ok_or_else(|| PyValueError::new_err(format!("records[{i}] has no 'Data'")))?;
            let ehk = d.get_item(pyo3::intern!(py, "ExplicitHashKey"))?;
            (pk, data, ehk)
        } else if item.is_instance_of::<PyTuple>() || item.is_instance_of::<PyList>() {
            let n = item.len()?;
            if !(2..=3).contains(&n) {
                return Err(PyValueError::new_err(format!(
                    "records[{i}] must have 2 or 3 items (partition_key, data[, explicit_hash_key]), got {n}"
                )));
            }
            let ehk = if n == 3 { Some(item.get_item(2)?) } else { None };
            (item.get_item(0)?, item.get_item(1)?, ehk)
        } else {
            return Err(PyTypeError::new_err(format!(
                "records[{i}] must be a tuple or a dict, not {}",
                type_name(&item)
            )));
        };
        let pk = extract_partition_key(&pk, &format!("records[{i}] partition key"))?;
        let data = extract_data(&data, &format!("records[{i}] data"))?;
        let ehk = extract_explicit_hash_key(ehk.as_ref(), &format!("records[{i}] explicit hash key"))?;
        aggregator.add(&UserRecord::new(&pk, ehk.as_deref(), data.as_slice()));
    }
    if aggregator.is_empty() {
        return Err(PyValueError::new_err("records must not be empty"));
    }
    Ok(PyBytes::new(py, &aggregator.finish()))
}

/// Decodes `bytes` if it is an aggregate, with the GIL released for large inputs.
fn decode<'a>(py: Python<'_>, bytes: &'a [u8]) -> Option<Deaggregated<'a>> {
    if !aggregation::has_magic(bytes) {
        return None;
    }
    if bytes.len() >= DETACH_THRESHOLD {
        py.detach(|| aggregation::deaggregate(bytes))
    } else {
        aggregation::deaggregate(bytes)
    }
}

/// A dict with `base`'s items (if any) and the sub-record keys, values to be replaced.
fn template<'py>(py: Python<'py>, base: Option<&Bound<'py, PyDict>>, with_ehk: bool) -> PyResult<Bound<'py, PyDict>> {
    let d = match base {
        Some(base) => base.copy()?,
        None => PyDict::new(py),
    };
    let k_ehk = pyo3::intern!(py, "ExplicitHashKey");
    d.set_item(pyo3::intern!(py, "PartitionKey"), py.None())?;
    if with_ehk {
        d.set_item(k_ehk, py.None())?;
    } else if d.contains(k_ehk)? {
        d.del_item(k_ehk)?;
    }
    d.set_item(pyo3::intern!(py, "Data"), py.None())?;
    d.set_item(pyo3::intern!(py, "SubSequenceNumber"), py.None())?;
    Ok(d)
}

/// The sub-records of `decoded` as dicts `{'PartitionKey', 'ExplicitHashKey' (if present), 'Data',
/// 'SubSequenceNumber'}`, each also holding `base`'s other items (e.g. the outer record's
/// SequenceNumber and ApproximateArrivalTimestamp, shared, not copied). For the reader.
pub fn subrecords_to_py<'py>(
    py: Python<'py>,
    decoded: &Deaggregated<'_>,
    base: Option<&Bound<'py, PyDict>>,
    out: &mut Vec<Bound<'py, PyDict>>,
) -> PyResult<()> {
    // Each distinct key becomes one Python str, shared by every record that uses it.
    let partition_keys: Vec<Bound<'py, PyString>> =
        decoded.partition_keys.iter().map(|k| PyString::new(py, k)).collect();
    let explicit_hash_keys: Vec<Bound<'py, PyString>> =
        decoded.explicit_hash_keys.iter().map(|k| PyString::new(py, k)).collect();
    let k_pk = pyo3::intern!(py, "PartitionKey");
    let k_ehk = pyo3::intern!(py, "ExplicitHashKey");
    let k_data = pyo3::intern!(py, "Data");
    let k_ssn = pyo3::intern!(py, "SubSequenceNumber");
    // Copying a dict that already has the keys, then replacing the values, is cheaper than
    // building each dict from empty (no resizing, no hashing of new keys).
    let plain = template(py, base, false)?;
    let with_ehk = if explicit_hash_keys.is_empty() { None } else { Some(template(py, base, true)?) };

    out.reserve(decoded.records.len());
    for (i, record) in decoded.records.iter().enumerate() {
        let ehk = record.explicit_hash_key_index.and_then(|j| explicit_hash_keys.get(j));
        let d = match (ehk, &with_ehk) {
            (Some(ehk), Some(template)) => {
                let d = template.copy()?;
                d.set_item(k_ehk, ehk)?;
                d
            }
            _ => plain.copy()?,
        };
        if let Some(pk) = partition_keys.get(record.partition_key_index) {
            d.set_item(k_pk, pk)?;
        }
        d.set_item(k_data, PyBytes::new(py, record.data))?;
        d.set_item(k_ssn, i)?;
        out.push(d);
    }
    Ok(())
}

/// deaggregate(data) -> list[dict] | None
///
/// Unpacks a KPL aggregated record's data; None when it is not one.
#[pyfunction]
fn deaggregate<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyList>>> {
    let copied;
    let bytes: &[u8] = if let Ok(b) = data.cast::<PyBytes>() {
        b.as_bytes()
    } else if let Ok(b) = data.cast::<PyByteArray>() {
        copied = b.to_vec();
        &copied
    } else {
        return Err(PyTypeError::new_err(format!("data must be bytes or bytearray, not {}", type_name(data))));
    };
    let Some(decoded) = decode(py, bytes) else {
        return Ok(None);
    };
    let mut dicts = Vec::new();
    subrecords_to_py(py, &decoded, None, &mut dicts)?;
    Ok(Some(PyList::new(py, dicts)?))
}

/// deaggregate_records(records) -> list[dict]
///
/// Expands the aggregated records among GetRecords-style record dicts.
#[pyfunction]
fn deaggregate_records<'py>(py: Python<'py>, records: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    if records.is_instance_of::<PyString>() || records.is_instance_of::<PyBytes>() || records.is_instance_of::<PyDict>()
    {
        return Err(PyTypeError::new_err(format!(
            "records must be a list of record dicts, not {}",
            type_name(records)
        )));
    }
    let iter = records.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("records must be a list of record dicts, not {}", type_name(records)))
    })?;
    let k_data = pyo3::intern!(py, "Data");
    let mut out: Vec<Bound<'py, PyAny>> = Vec::new();
    let mut subs = Vec::new();
    for (i, item) in iter.enumerate() {
        let item = item?;
        let record = item
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err(format!("records[{i}] must be a dict, not {}", type_name(&item))))?;
        let data = record.get_item(k_data)?;
        let decoded = match data.as_ref().map(|d| d.cast::<PyBytes>()) {
            Some(Ok(bytes)) => decode(py, bytes.as_bytes()),
            _ => None,
        };
        match decoded {
            Some(decoded) => {
                subrecords_to_py(py, &decoded, Some(record), &mut subs)?;
                out.extend(subs.drain(..).map(Bound::into_any));
            }
            None => out.push(item.clone()),
        }
    }
    PyList::new(py, out)
}

/// partition_key_hash(key) -> int
///
/// The 128-bit hash key Kinesis derives from a partition key.
#[pyfunction]
fn partition_key_hash(key: &Bound<'_, PyAny>) -> PyResult<u128> {
    let s =
        key.cast::<PyString>().map_err(|_| PyTypeError::new_err(format!("key must be str, not {}", type_name(key))))?;
    Ok(aggregation::partition_key_hash(&utf8("key", s)?))
}
