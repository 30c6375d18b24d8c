//! The data plane: shard iterators, GetRecords, PutRecord, PutRecords.

use aws_sdk_kinesis::operation::get_records::GetRecordsOutput;
use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorOutput;
use aws_sdk_kinesis::operation::put_record::PutRecordOutput;
use aws_sdk_kinesis::operation::put_records::PutRecordsOutput;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use aws_sdk_kinesis::Client;
use aws_smithy_types::{Blob, DateTime};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::client::{type_name, Connection};
use crate::convert::{self, set, set_opt, DataFormat, ToPy};
use crate::errors::{KResult, KinesisError};
use crate::records_json::{self, Page};
use crate::validate::{self, StreamRef};

pub const MAX_PUT_RECORDS_ENTRIES: usize = 500;
/// PutRecords' request cap (data + partition keys) in the current API reference.
pub const MAX_PUT_RECORDS_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_GET_RECORDS_LIMIT: i64 = 10_000;

const ITERATOR_TYPES: &[&str] =
    &["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];

pub struct ShardIteratorRequest {
    pub stream: StreamRef,
    pub shard_id: String,
    pub iterator_type: ShardIteratorType,
    pub starting_sequence_number: Option<String>,
    pub timestamp: Option<DateTime>,
}

pub async fn get_shard_iterator(client: Client, req: ShardIteratorRequest) -> KResult<GetShardIteratorOutput> {
    let (name, arn) = req.stream.split();
    Ok(client
        .get_shard_iterator()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .shard_id(req.shard_id)
        .shard_iterator_type(req.iterator_type)
        .set_starting_sequence_number(req.starting_sequence_number)
        .set_timestamp(req.timestamp)
        .send()
        .await?)
}

impl ToPy for GetShardIteratorOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set_opt!(d, "ShardIterator", self.shard_iterator);
        Ok(d.into_any().unbind())
    }
}

pub struct RecordsPage {
    pub output: GetRecordsOutput,
    /// The records, when they were read by `records_json` (then `output.records` is empty).
    pub page: Option<Page>,
    pub format: DataFormat,
}

pub async fn get_records(
    client: Client,
    shard_iterator: String,
    limit: Option<i32>,
    format: DataFormat,
) -> KResult<RecordsPage> {
    let call = client.get_records().shard_iterator(shard_iterator).set_limit(limit).send();
    let (answer, page) = records_json::capture_page(call).await;
    let output = answer?;
    // (A page read by records_json never has one: such answers are left to the SDK.)
    if output.records.iter().any(|record| record.sequence_number.is_empty()) {
        // The SDK fills a missing required field with "": a record without a sequence number
        // cannot be checkpointed or resumed from, so the page is not usable.
        return Err(malformed("GetRecords", "a record without a SequenceNumber"));
    }
    // No iterator means "the shard is closed" to a reader, which then stops reading it. The
    // service sends MillisBehindLatest on every page and ChildShards on a closed shard's last
    // one, so a page with none of the three (an empty body, `{}`) is a broken answer, not the end.
    if output.next_shard_iterator.is_none() && output.child_shards.is_none() && output.millis_behind_latest.is_none() {
        return Err(malformed("GetRecords", "no NextShardIterator, ChildShards or MillisBehindLatest"));
    }
    Ok(RecordsPage { output, page, format })
}

impl ToPy for RecordsPage {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let out = &self.output;
        let d = PyDict::new(py);
        let records = match &self.page {
            Some(page) => convert::page_records_list(py, page, self.format)?,
            None => convert::records_list(py, &out.records, self.format)?,
        };
        set!(d, "Records", records);
        set!(d, "NextShardIterator", &out.next_shard_iterator);
        set_opt!(d, "MillisBehindLatest", out.millis_behind_latest);
        if let Some(children) = &out.child_shards {
            set!(d, "ChildShards", convert::child_shards_list(py, children)?);
        }
        Ok(d.into_any().unbind())
    }
}

pub struct PutRecordRequest {
    pub stream: StreamRef,
    pub data: Vec<u8>,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub sequence_number_for_ordering: Option<String>,
}

pub async fn put_record(client: Client, req: PutRecordRequest) -> KResult<PutRecordOutput> {
    let (name, arn) = req.stream.split();
    let output = client
        .put_record()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .data(Blob::new(req.data))
        .partition_key(req.partition_key)
        .set_explicit_hash_key(req.explicit_hash_key)
        .set_sequence_number_for_ordering(req.sequence_number_for_ordering)
        .send()
        .await?;
    // A success without a sequence number (an error body under HTTP 200, an empty body) would
    // otherwise look like a stored record.
    if output.sequence_number.is_empty() || output.shard_id.is_empty() {
        return Err(malformed("PutRecord", "no SequenceNumber or ShardId"));
    }
    Ok(output)
}

/// An answer with HTTP 200 that parsed but cannot be a real answer to `action`.
fn malformed(action: &str, what: &str) -> KinesisError {
    KinesisError::Response {
        message: format!("the endpoint answered {action} with HTTP 200 but {what}; treating it as a failed call"),
        status: Some(200),
        body: None,
    }
}

impl ToPy for PutRecordOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "ShardId", &self.shard_id);
        set!(d, "SequenceNumber", &self.sequence_number);
        set_opt!(d, "EncryptionType", self.encryption_type.as_ref().map(|e| e.as_str()));
        Ok(d.into_any().unbind())
    }
}

pub async fn put_records(
    client: Client,
    stream: StreamRef,
    entries: Vec<PutRecordsRequestEntry>,
) -> KResult<PutRecordsOutput> {
    let (name, arn) = stream.split();
    let sent = entries.len();
    let output =
        client.put_records().set_stream_name(name).set_stream_arn(arn).set_records(Some(entries)).send().await?;
    // Results match records by position, so a different count cannot be matched up at all; an
    // entry with neither a sequence number nor an error code says nothing about its record.
    if output.records.len() != sent {
        let what = format!("{} results for {sent} records", output.records.len());
        return Err(malformed("PutRecords", &what));
    }
    let unknown = |entry: &aws_sdk_kinesis::types::PutRecordsResultEntry| {
        entry.sequence_number.as_deref().is_none_or(str::is_empty)
            && entry.error_code.as_deref().is_none_or(str::is_empty)
    };
    if output.records.iter().any(unknown) {
        return Err(malformed("PutRecords", "a result with neither a SequenceNumber nor an ErrorCode"));
    }
    Ok(output)
}

impl ToPy for PutRecordsOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "FailedRecordCount", self.failed_record_count.unwrap_or(0));
        set!(d, "Records", convert::put_records_entries(py, &self.records)?);
        set_opt!(d, "EncryptionType", self.encryption_type.as_ref().map(|e| e.as_str()));
        Ok(d.into_any().unbind())
    }
}

/// The optional explicit hash key, checked.
pub(crate) fn explicit_hash_key(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => {
            let text: String = if let Ok(s) = v.cast::<PyString>() {
                validate::utf8(arg, s)?.into_owned()
            } else if v.is_instance_of::<pyo3::types::PyInt>() && !v.is_instance_of::<pyo3::types::PyBool>() {
                v.str()?.to_cow()?.into_owned()
            } else {
                return Err(PyTypeError::new_err(format!("{arg}: expected a decimal str, got {}", type_name(v))));
            };
            validate::hash_key(arg, &text)?;
            Ok(Some(text))
        }
    }
}

/// Build one PutRecords entry from a caller's dict without modifying it.
fn put_records_entry(
    index: usize,
    item: &Bound<'_, PyAny>,
    b64_encode: bool,
    max_record_size: usize,
) -> PyResult<(PutRecordsRequestEntry, usize)> {
    let arg = format!("records[{index}]");
    let record = item.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!("{arg}: expected a dict with 'Data' and 'PartitionKey', got {}", type_name(item)))
    })?;
    let data = record.get_item("Data")?.ok_or_else(|| PyValueError::new_err(format!("{arg}: missing 'Data'")))?;
    let key = record
        .get_item("PartitionKey")?
        .ok_or_else(|| PyValueError::new_err(format!("{arg}: missing 'PartitionKey'")))?;
    let key: String = validate::text(&format!("{arg}['PartitionKey']"), &key)?;
    validate::partition_key(&format!("{arg}['PartitionKey']"), &key)?;
    let data = validate::payload(&format!("{arg}['Data']"), &data, b64_encode)?;
    let size = data.len() + key.len();
    validate::size_limit(&arg, size, max_record_size)?;
    let hash_key =
        explicit_hash_key(&format!("{arg}['ExplicitHashKey']"), record.get_item("ExplicitHashKey")?.as_ref())?;
    for field in record.keys() {
        let known =
            field.extract::<String>().is_ok_and(|n| matches!(n.as_str(), "Data" | "PartitionKey" | "ExplicitHashKey"));
        if !known {
            return Err(PyValueError::new_err(format!(
                "{arg}: unknown field {} (expected Data, PartitionKey, ExplicitHashKey)",
                field.repr()?
            )));
        }
    }
    let entry = PutRecordsRequestEntry::builder()
        .data(Blob::new(data))
        .partition_key(key)
        .set_explicit_hash_key(hash_key)
        .build()
        .map_err(|err| PyValueError::new_err(format!("{arg}: {err}")))?;
    Ok((entry, size))
}

#[pymethods]
impl Connection {
    #[pyo3(signature = (stream_name, shard_id, shard_iterator_type, starting_sequence_number=None, *, timestamp=None))]
    fn get_shard_iterator(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        shard_id: &Bound<'_, PyAny>,
        shard_iterator_type: &Bound<'_, PyAny>,
        starting_sequence_number: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let shard_id: String = crate::validate::text("shard_id", shard_id)?;
        let shard_iterator_type: String = crate::validate::text("shard_iterator_type", shard_iterator_type)?;
        let starting_sequence_number: Option<String> =
            crate::validate::opt_text("starting_sequence_number", starting_sequence_number)?;
        let stream = validate::stream("stream_name", stream_name)?;
        validate::resource_name("shard_id", &shard_id)?;
        let kind = validate::one_of("shard_iterator_type", &shard_iterator_type, ITERATOR_TYPES)?;
        let needs_sequence = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
        match (&starting_sequence_number, needs_sequence) {
            (Some(seq), true) => validate::sequence_number("starting_sequence_number", seq)?,
            (None, true) => {
                return Err(PyValueError::new_err(format!(
                    "starting_sequence_number: required with shard_iterator_type={kind}"
                )))
            }
            (Some(_), false) => {
                return Err(PyValueError::new_err(format!(
                    "starting_sequence_number: only used with AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER, not {kind}"
                )))
            }
            (None, false) => {}
        }
        let timestamp = match (timestamp.filter(|t| !t.is_none()), kind == "AT_TIMESTAMP") {
            (Some(t), true) => Some(validate::timestamp("timestamp", t)?),
            (None, true) => {
                return Err(PyValueError::new_err("timestamp: required with shard_iterator_type=AT_TIMESTAMP"))
            }
            (Some(_), false) => {
                return Err(PyValueError::new_err(format!("timestamp: only used with AT_TIMESTAMP, not {kind}")))
            }
            (None, false) => None,
        };
        let req = ShardIteratorRequest {
            stream,
            shard_id,
            iterator_type: ShardIteratorType::from(kind),
            starting_sequence_number,
            timestamp,
        };
        self.call(py, move |client| get_shard_iterator(client, req))
    }

    #[pyo3(signature = (shard_iterator, limit=None, b64_decode=true, *, as_bytes=false))]
    fn get_records(
        &self,
        py: Python<'_>,
        shard_iterator: &Bound<'_, PyAny>,
        limit: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::b64_decode)] b64_decode: bool,
        #[pyo3(from_py_with = crate::validate::named::as_bytes)] as_bytes: bool,
    ) -> PyResult<Py<PyAny>> {
        let shard_iterator: String = crate::validate::text("shard_iterator", shard_iterator)?;
        let limit: Option<i64> = crate::validate::opt_integer("limit", limit)?;
        if shard_iterator.is_empty() || shard_iterator.len() > 512 {
            return Err(PyValueError::new_err("shard_iterator: must be 1 to 512 characters long"));
        }
        let limit = validate::optional_int_range("limit", limit, 1, MAX_GET_RECORDS_LIMIT)?;
        let format = match (b64_decode, as_bytes) {
            (false, _) => DataFormat::Base64,
            (true, true) => DataFormat::Bytes,
            (true, false) => DataFormat::TextOrBytes,
        };
        self.call(py, move |client| get_records(client, shard_iterator, limit, format))
    }

    #[pyo3(signature = (
        stream_name, data, partition_key, explicit_hash_key=None, sequence_number_for_ordering=None,
        exclusive_minimum_sequence_number=None, b64_encode=true
    ))]
    #[allow(clippy::too_many_arguments)]
    fn put_record(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        partition_key: &Bound<'_, PyAny>,
        explicit_hash_key: Option<&Bound<'_, PyAny>>,
        sequence_number_for_ordering: Option<&Bound<'_, PyAny>>,
        exclusive_minimum_sequence_number: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::b64_encode)] b64_encode: bool,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let partition_key: String = crate::validate::text("partition_key", partition_key)?;
        let sequence_number_for_ordering: Option<String> =
            crate::validate::opt_text("sequence_number_for_ordering", sequence_number_for_ordering)?;
        let exclusive_minimum_sequence_number: Option<String> =
            crate::validate::opt_text("exclusive_minimum_sequence_number", exclusive_minimum_sequence_number)?;
        let stream = validate::stream("stream_name", stream_name)?;
        validate::partition_key("partition_key", &partition_key)?;
        let data = validate::payload("data", data, b64_encode)?;
        validate::size_limit("data", data.len() + partition_key.len(), self.max_record_size())?;
        let explicit_hash_key = self::explicit_hash_key("explicit_hash_key", explicit_hash_key)?;
        if let Some(seq) = &sequence_number_for_ordering {
            validate::sequence_number("sequence_number_for_ordering", seq)?;
        }
        // boto 2 accepted exclusive_minimum_sequence_number and never sent it; so do we.
        if let Some(seq) = &exclusive_minimum_sequence_number {
            validate::sequence_number("exclusive_minimum_sequence_number", seq)?;
        }
        let req = PutRecordRequest { stream, data, partition_key, explicit_hash_key, sequence_number_for_ordering };
        self.call(py, move |client| put_record(client, req))
    }

    #[pyo3(signature = (records, stream_name, b64_encode=true))]
    fn put_records(
        &self,
        py: Python<'_>,
        records: &Bound<'_, PyAny>,
        stream_name: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = crate::validate::named::b64_encode)] b64_encode: bool,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name)?;
        if records.is_instance_of::<PyDict>() || records.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!("records: expected a list of dicts, got {}", type_name(records))));
        }
        let items: Vec<Bound<'_, PyAny>> = match records.cast::<PyList>() {
            Ok(list) => list.iter().collect(),
            Err(_) => records
                .try_iter()
                .map_err(|_| {
                    PyTypeError::new_err(format!("records: expected a list of dicts, got {}", type_name(records)))
                })?
                .collect::<PyResult<_>>()?,
        };
        if items.is_empty() || items.len() > MAX_PUT_RECORDS_ENTRIES {
            return Err(PyValueError::new_err(format!(
                "records: PutRecords takes 1 to {MAX_PUT_RECORDS_ENTRIES} records, got {}",
                items.len()
            )));
        }
        let max_record_size = self.max_record_size();
        let mut entries = Vec::with_capacity(items.len());
        let mut total = 0usize;
        for (index, item) in items.iter().enumerate() {
            let (entry, size) = put_records_entry(index, item, b64_encode, max_record_size)?;
            total += size;
            entries.push(entry);
        }
        if total > MAX_PUT_RECORDS_BYTES {
            return Err(PyValueError::new_err(format!(
                "records: {total} bytes in one PutRecords request exceeds the {MAX_PUT_RECORDS_BYTES}-byte limit; split the batch"
            )));
        }
        self.call(py, move |client| put_records(client, stream, entries))
    }
}
