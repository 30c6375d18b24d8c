//! Turning SDK outputs into the plain dicts boto 2 returned: keys exactly as on the wire,
//! optional keys present only when the service sent them, timestamps as float epoch seconds.
//! Conversion runs once the network work is over, with the GIL held.

use aws_sdk_kinesis::types::{
    ChildShard, Consumer, ConsumerDescription, EnhancedMetrics, HashKeyRange, MetricsName, PutRecordsResultEntry,
    Record, SequenceNumberRange, Shard, StreamDescription, StreamDescriptionSummary, StreamModeDetails, StreamSummary,
    Tag,
};
use aws_smithy_types::DateTime;
use base64::Engine;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::errors::KinesisError;
use crate::records_json::{Page, RecordFields};

/// Something an operation returns that can become a Python object.
pub trait ToPy: Send + 'static {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

/// Operations that answer with no content return `None`, like boto 2 on an empty 200 body.
impl ToPy for () {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

/// A finished operation, converted on the asyncio side: its error becomes the awaitable's
/// exception, its value the awaitable's result.
pub struct Outcome<T>(pub Result<T, KinesisError>);

impl<'py, T: ToPy> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        match self.0 {
            Ok(value) => value.to_py(py).map(|obj| obj.into_bound(py)),
            Err(err) => Err(err.into_pyerr(py)),
        }
    }
}

/// `d[key] = value` with an interned key; the `?` keeps builders short.
macro_rules! set {
    ($dict:expr, $key:literal, $value:expr) => {
        $dict.set_item(pyo3::intern!($dict.py(), $key), $value)?
    };
}

/// `d[key] = value` only when the value is present.
macro_rules! set_opt {
    ($dict:expr, $key:literal, $value:expr) => {
        if let Some(value) = $value {
            $dict.set_item(pyo3::intern!($dict.py(), $key), value)?
        }
    };
}

pub(crate) use {set, set_opt};

pub fn epoch_seconds(time: &DateTime) -> f64 {
    time.secs() as f64 + f64::from(time.subsec_nanos()) / 1e9
}

/// A serde_json value as plain Python objects (used for error bodies and `make_request`).
pub fn json_to_py(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_py(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

fn list_of<'py, I: IntoIterator>(
    py: Python<'py>,
    items: I,
    convert: impl Fn(Python<'py>, I::Item) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for item in items {
        list.append(convert(py, item)?)?;
    }
    Ok(list)
}

fn hash_key_range<'py>(py: Python<'py>, range: &HashKeyRange) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set!(d, "StartingHashKey", &range.starting_hash_key);
    set!(d, "EndingHashKey", &range.ending_hash_key);
    Ok(d)
}

fn sequence_number_range<'py>(py: Python<'py>, range: &SequenceNumberRange) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set!(d, "StartingSequenceNumber", &range.starting_sequence_number);
    set_opt!(d, "EndingSequenceNumber", &range.ending_sequence_number);
    Ok(d)
}

pub fn shard<'py>(py: Python<'py>, shard: &Shard) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set!(d, "ShardId", &shard.shard_id);
    set_opt!(d, "ParentShardId", &shard.parent_shard_id);
    set_opt!(d, "AdjacentParentShardId", &shard.adjacent_parent_shard_id);
    if let Some(range) = &shard.hash_key_range {
        set!(d, "HashKeyRange", hash_key_range(py, range)?);
    }
    if let Some(range) = &shard.sequence_number_range {
        set!(d, "SequenceNumberRange", sequence_number_range(py, range)?);
    }
    Ok(d.into_any())
}

pub fn child_shard<'py>(py: Python<'py>, child: &ChildShard) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set!(d, "ShardId", &child.shard_id);
    set!(d, "ParentShards", PyList::new(py, &child.parent_shards)?);
    if let Some(range) = &child.hash_key_range {
        set!(d, "HashKeyRange", hash_key_range(py, range)?);
    }
    Ok(d.into_any())
}

fn metric_names<'py>(py: Python<'py>, names: &[MetricsName]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, names.iter().map(MetricsName::as_str))
}

fn enhanced_monitoring<'py>(py: Python<'py>, metrics: &[EnhancedMetrics]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, metrics, |py, m| {
        let d = PyDict::new(py);
        if let Some(names) = &m.shard_level_metrics {
            set!(d, "ShardLevelMetrics", metric_names(py, names)?);
        }
        Ok(d.into_any())
    })
}

fn stream_mode_details<'py>(py: Python<'py>, details: &StreamModeDetails) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set!(d, "StreamMode", details.stream_mode.as_str());
    Ok(d)
}

pub fn stream_description<'py>(py: Python<'py>, s: &StreamDescription) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set!(d, "StreamName", &s.stream_name);
    set!(d, "StreamARN", &s.stream_arn);
    set!(d, "StreamStatus", s.stream_status.as_str());
    if let Some(mode) = &s.stream_mode_details {
        set!(d, "StreamModeDetails", stream_mode_details(py, mode)?);
    }
    set!(d, "Shards", list_of(py, &s.shards, shard)?);
    set!(d, "HasMoreShards", s.has_more_shards);
    set!(d, "RetentionPeriodHours", s.retention_period_hours);
    set!(d, "StreamCreationTimestamp", epoch_seconds(&s.stream_creation_timestamp));
    set!(d, "EnhancedMonitoring", enhanced_monitoring(py, &s.enhanced_monitoring)?);
    set_opt!(d, "EncryptionType", s.encryption_type.as_ref().map(|e| e.as_str()));
    set_opt!(d, "KeyId", &s.key_id);
    Ok(d)
}

pub fn stream_description_summary<'py>(py: Python<'py>, s: &StreamDescriptionSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set!(d, "StreamName", &s.stream_name);
    set!(d, "StreamARN", &s.stream_arn);
    set_opt!(d, "StreamId", &s.stream_id);
    set!(d, "StreamStatus", s.stream_status.as_str());
    if let Some(mode) = &s.stream_mode_details {
        set!(d, "StreamModeDetails", stream_mode_details(py, mode)?);
    }
    set!(d, "RetentionPeriodHours", s.retention_period_hours);
    set!(d, "StreamCreationTimestamp", epoch_seconds(&s.stream_creation_timestamp));
    set!(d, "EnhancedMonitoring", enhanced_monitoring(py, &s.enhanced_monitoring)?);
    set_opt!(d, "EncryptionType", s.encryption_type.as_ref().map(|e| e.as_str()));
    set_opt!(d, "KeyId", &s.key_id);
    set!(d, "OpenShardCount", s.open_shard_count);
    set_opt!(d, "ConsumerCount", s.consumer_count);
    set_opt!(d, "MaxRecordSizeInKiB", s.max_record_size_in_kib);
    if let Some(warm) = &s.warm_throughput {
        let w = PyDict::new(py);
        set_opt!(w, "TargetMiBps", warm.target_mibps);
        set_opt!(w, "CurrentMiBps", warm.current_mibps);
        set!(d, "WarmThroughput", w);
    }
    Ok(d)
}

pub fn stream_summary<'py>(py: Python<'py>, s: &StreamSummary) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set!(d, "StreamName", &s.stream_name);
    set!(d, "StreamARN", &s.stream_arn);
    set!(d, "StreamStatus", s.stream_status.as_str());
    if let Some(mode) = &s.stream_mode_details {
        set!(d, "StreamModeDetails", stream_mode_details(py, mode)?);
    }
    set_opt!(d, "StreamCreationTimestamp", s.stream_creation_timestamp.as_ref().map(epoch_seconds));
    Ok(d.into_any())
}

pub fn tag<'py>(py: Python<'py>, t: &Tag) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set!(d, "Key", &t.key);
    set_opt!(d, "Value", &t.value);
    Ok(d.into_any())
}

pub fn consumer<'py>(py: Python<'py>, c: &Consumer) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set!(d, "ConsumerName", &c.consumer_name);
    set!(d, "ConsumerARN", &c.consumer_arn);
    set!(d, "ConsumerStatus", c.consumer_status.as_str());
    set!(d, "ConsumerCreationTimestamp", epoch_seconds(&c.consumer_creation_timestamp));
    Ok(d.into_any())
}

pub fn consumer_description<'py>(py: Python<'py>, c: &ConsumerDescription) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set!(d, "ConsumerName", &c.consumer_name);
    set!(d, "ConsumerARN", &c.consumer_arn);
    set!(d, "ConsumerStatus", c.consumer_status.as_str());
    set!(d, "ConsumerCreationTimestamp", epoch_seconds(&c.consumer_creation_timestamp));
    set!(d, "StreamARN", &c.stream_arn);
    Ok(d)
}

pub fn put_records_entry<'py>(py: Python<'py>, e: &PutRecordsResultEntry) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set_opt!(d, "SequenceNumber", &e.sequence_number);
    set_opt!(d, "ShardId", &e.shard_id);
    set_opt!(d, "ErrorCode", &e.error_code);
    set_opt!(d, "ErrorMessage", &e.error_message);
    Ok(d.into_any())
}

/// How record payloads are handed to Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// boto 2's default, made lossless: `str` when the payload is UTF-8, else `bytes`.
    TextOrBytes,
    /// Always `bytes`.
    Bytes,
    /// The base64 text as on the wire (boto 2's `b64_decode=False`).
    Base64,
}

pub fn payload<'py>(py: Python<'py>, data: &[u8], format: DataFormat) -> Bound<'py, PyAny> {
    match format {
        DataFormat::TextOrBytes => match std::str::from_utf8(data) {
            Ok(text) => PyString::new(py, text).into_any(),
            Err(_) => PyBytes::new(py, data).into_any(),
        },
        DataFormat::Bytes => PyBytes::new(py, data).into_any(),
        DataFormat::Base64 => PyString::new(py, &base64::engine::general_purpose::STANDARD.encode(data)).into_any(),
    }
}

pub fn record<'py>(py: Python<'py>, r: &Record, format: DataFormat) -> PyResult<Bound<'py, PyAny>> {
    let fields = RecordFields {
        sequence_number: &r.sequence_number,
        partition_key: r.partition_key.as_deref(),
        arrival: r.approximate_arrival_timestamp.as_ref(),
        encryption_type: r.encryption_type.as_ref(),
    };
    record_dict(py, r.data.as_ref(), &fields, format)
}

fn record_dict<'py>(
    py: Python<'py>,
    data: &[u8],
    r: &RecordFields<'_>,
    format: DataFormat,
) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    set!(d, "SequenceNumber", r.sequence_number);
    set_opt!(d, "ApproximateArrivalTimestamp", r.arrival.map(epoch_seconds));
    set!(d, "Data", payload(py, data, format));
    set_opt!(d, "PartitionKey", r.partition_key);
    set_opt!(d, "EncryptionType", r.encryption_type.map(|e| e.as_str()));
    Ok(d.into_any())
}

pub fn shards_list<'py>(py: Python<'py>, shards: &[Shard]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, shards, shard)
}

pub fn child_shards_list<'py>(py: Python<'py>, children: &[ChildShard]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, children, child_shard)
}

pub fn records_list<'py>(py: Python<'py>, records: &[Record], format: DataFormat) -> PyResult<Bound<'py, PyList>> {
    list_of(py, records, |py, r| record(py, r, format))
}

pub fn page_records_list<'py>(py: Python<'py>, page: &Page, format: DataFormat) -> PyResult<Bound<'py, PyList>> {
    list_of(py, page.records(), |py, (data, fields)| record_dict(py, data, &fields, format))
}

pub fn tags_list<'py>(py: Python<'py>, tags: &[Tag]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, tags, tag)
}

pub fn consumers_list<'py>(py: Python<'py>, consumers: &[Consumer]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, consumers, consumer)
}

pub fn stream_summaries_list<'py>(py: Python<'py>, summaries: &[StreamSummary]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, summaries, stream_summary)
}

pub fn put_records_entries<'py>(py: Python<'py>, entries: &[PutRecordsResultEntry]) -> PyResult<Bound<'py, PyList>> {
    list_of(py, entries, put_records_entry)
}

pub fn metrics_list<'py>(py: Python<'py>, names: &[MetricsName]) -> PyResult<Bound<'py, PyList>> {
    metric_names(py, names)
}
