//! Stream administration: create, delete, describe, list, reshard, tags, retention,
//! monitoring, encryption, capacity mode, account limits.

use std::collections::HashMap;

use aws_sdk_kinesis::operation::describe_limits::DescribeLimitsOutput;
use aws_sdk_kinesis::operation::describe_stream::DescribeStreamOutput;
use aws_sdk_kinesis::operation::describe_stream_summary::DescribeStreamSummaryOutput;
use aws_sdk_kinesis::operation::disable_enhanced_monitoring::DisableEnhancedMonitoringOutput;
use aws_sdk_kinesis::operation::enable_enhanced_monitoring::EnableEnhancedMonitoringOutput;
use aws_sdk_kinesis::operation::list_streams::ListStreamsOutput;
use aws_sdk_kinesis::operation::list_tags_for_stream::ListTagsForStreamOutput;
use aws_sdk_kinesis::operation::update_shard_count::UpdateShardCountOutput;
use aws_sdk_kinesis::types::{
    EncryptionType, MetricsName, ScalingType, Shard, ShardFilter, ShardFilterType, StreamMode, StreamModeDetails,
};
use aws_sdk_kinesis::Client;
use aws_smithy_types::DateTime;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::client::{type_name, Connection};
use crate::convert::{self, set, set_opt, ToPy};
use crate::errors::KResult;
use crate::validate::{self, StreamRef};

const STREAM_MODES: &[&str] = &["PROVISIONED", "ON_DEMAND"];
const SHARD_LEVEL_METRICS: &[&str] = &[
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
    "ALL",
];
const SHARD_FILTER_TYPES: &[&str] =
    &["AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"];
/// The retention a stream can have: 24 hours to 365 days.
const MIN_RETENTION_HOURS: i64 = 24;
const MAX_RETENTION_HOURS: i64 = 8_760;

pub struct CreateStreamRequest {
    pub name: String,
    pub shard_count: Option<i32>,
    pub mode: Option<StreamMode>,
    pub tags: Option<HashMap<String, String>>,
    pub max_record_size_in_kib: Option<i32>,
}

pub async fn create_stream(client: Client, req: CreateStreamRequest) -> KResult<()> {
    client
        .create_stream()
        .stream_name(req.name)
        .set_shard_count(req.shard_count)
        .set_stream_mode_details(
            req.mode.map(|m| StreamModeDetails::builder().stream_mode(m).build()).transpose().ok().flatten(),
        )
        .set_tags(req.tags)
        .set_max_record_size_in_kib(req.max_record_size_in_kib)
        .send()
        .await?;
    Ok(())
}

pub async fn delete_stream(client: Client, stream: StreamRef, enforce_consumer_deletion: Option<bool>) -> KResult<()> {
    let (name, arn) = stream.split();
    client
        .delete_stream()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .set_enforce_consumer_deletion(enforce_consumer_deletion)
        .send()
        .await?;
    Ok(())
}

pub async fn describe_stream(
    client: Client,
    stream: StreamRef,
    limit: Option<i32>,
    exclusive_start_shard_id: Option<String>,
) -> KResult<DescribeStreamOutput> {
    let (name, arn) = stream.split();
    Ok(client
        .describe_stream()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .set_limit(limit)
        .set_exclusive_start_shard_id(exclusive_start_shard_id)
        .send()
        .await?)
}

impl ToPy for DescribeStreamOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        if let Some(description) = &self.stream_description {
            set!(d, "StreamDescription", convert::stream_description(py, description)?);
        }
        Ok(d.into_any().unbind())
    }
}

pub async fn describe_stream_summary(client: Client, stream: StreamRef) -> KResult<DescribeStreamSummaryOutput> {
    let (name, arn) = stream.split();
    Ok(client.describe_stream_summary().set_stream_name(name).set_stream_arn(arn).send().await?)
}

impl ToPy for DescribeStreamSummaryOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        if let Some(summary) = &self.stream_description_summary {
            set!(d, "StreamDescriptionSummary", convert::stream_description_summary(py, summary)?);
        }
        Ok(d.into_any().unbind())
    }
}

pub async fn list_streams(
    client: Client,
    limit: Option<i32>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
) -> KResult<ListStreamsOutput> {
    Ok(client
        .list_streams()
        .set_limit(limit)
        .set_exclusive_start_stream_name(exclusive_start_stream_name)
        .set_next_token(next_token)
        .send()
        .await?)
}

impl ToPy for ListStreamsOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "StreamNames", PyList::new(py, &self.stream_names)?);
        set!(d, "HasMoreStreams", self.has_more_streams);
        set_opt!(d, "NextToken", &self.next_token);
        if let Some(summaries) = &self.stream_summaries {
            set!(d, "StreamSummaries", convert::stream_summaries_list(py, summaries)?);
        }
        Ok(d.into_any().unbind())
    }
}

pub struct ListShardsRequest {
    pub stream: Option<StreamRef>,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<i32>,
    pub stream_creation_timestamp: Option<DateTime>,
    pub shard_filter: Option<ShardFilter>,
    pub paginate: bool,
}

pub struct ShardsPage {
    pub shards: Vec<Shard>,
    pub next_token: Option<String>,
}

/// One ListShards page, or all of them with `paginate`. A follow-up page is asked for with the
/// token alone: the API rejects StreamName together with NextToken.
pub async fn list_shards(client: Client, req: ListShardsRequest) -> KResult<ShardsPage> {
    let (name, arn) = req.stream.map(StreamRef::split).unwrap_or((None, None));
    let first_page_has_token = req.next_token.is_some();
    let mut next_token = req.next_token;
    let mut shards = Vec::new();
    let mut first = true;
    loop {
        let mut call = client.list_shards().set_next_token(next_token.clone()).set_max_results(req.max_results);
        if first && !first_page_has_token {
            call = call
                .set_stream_name(name.clone())
                .set_stream_arn(arn.clone())
                .set_exclusive_start_shard_id(req.exclusive_start_shard_id.clone())
                .set_stream_creation_timestamp(req.stream_creation_timestamp)
                .set_shard_filter(req.shard_filter.clone());
        }
        let page = call.send().await?;
        shards.extend(page.shards.unwrap_or_default());
        next_token = page.next_token;
        first = false;
        if !req.paginate || next_token.is_none() {
            return Ok(ShardsPage { shards, next_token });
        }
    }
}

impl ToPy for ShardsPage {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "Shards", convert::shards_list(py, &self.shards)?);
        set_opt!(d, "NextToken", &self.next_token);
        Ok(d.into_any().unbind())
    }
}

pub async fn merge_shards(client: Client, stream: StreamRef, shard: String, adjacent: String) -> KResult<()> {
    let (name, arn) = stream.split();
    client
        .merge_shards()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .shard_to_merge(shard)
        .adjacent_shard_to_merge(adjacent)
        .send()
        .await?;
    Ok(())
}

pub async fn split_shard(
    client: Client,
    stream: StreamRef,
    shard: String,
    new_starting_hash_key: String,
) -> KResult<()> {
    let (name, arn) = stream.split();
    client
        .split_shard()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .shard_to_split(shard)
        .new_starting_hash_key(new_starting_hash_key)
        .send()
        .await?;
    Ok(())
}

pub async fn add_tags(client: Client, stream: StreamRef, tags: HashMap<String, String>) -> KResult<()> {
    let (name, arn) = stream.split();
    client.add_tags_to_stream().set_stream_name(name).set_stream_arn(arn).set_tags(Some(tags)).send().await?;
    Ok(())
}

pub async fn remove_tags(client: Client, stream: StreamRef, keys: Vec<String>) -> KResult<()> {
    let (name, arn) = stream.split();
    client.remove_tags_from_stream().set_stream_name(name).set_stream_arn(arn).set_tag_keys(Some(keys)).send().await?;
    Ok(())
}

pub async fn list_tags(
    client: Client,
    stream: StreamRef,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i32>,
) -> KResult<ListTagsForStreamOutput> {
    let (name, arn) = stream.split();
    Ok(client
        .list_tags_for_stream()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .set_exclusive_start_tag_key(exclusive_start_tag_key)
        .set_limit(limit)
        .send()
        .await?)
}

impl ToPy for ListTagsForStreamOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "Tags", convert::tags_list(py, &self.tags)?);
        set!(d, "HasMoreTags", self.has_more_tags);
        Ok(d.into_any().unbind())
    }
}

pub async fn update_shard_count(client: Client, stream: StreamRef, target: i32) -> KResult<UpdateShardCountOutput> {
    let (name, arn) = stream.split();
    Ok(client
        .update_shard_count()
        .set_stream_name(name)
        .set_stream_arn(arn)
        .target_shard_count(target)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await?)
}

impl ToPy for UpdateShardCountOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set_opt!(d, "StreamName", &self.stream_name);
        set_opt!(d, "CurrentShardCount", self.current_shard_count);
        set_opt!(d, "TargetShardCount", self.target_shard_count);
        set_opt!(d, "StreamARN", &self.stream_arn);
        Ok(d.into_any().unbind())
    }
}

pub async fn change_retention(client: Client, stream: StreamRef, hours: i32, increase: bool) -> KResult<()> {
    let (name, arn) = stream.split();
    if increase {
        client
            .increase_stream_retention_period()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .retention_period_hours(hours)
            .send()
            .await?;
    } else {
        client
            .decrease_stream_retention_period()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .retention_period_hours(hours)
            .send()
            .await?;
    }
    Ok(())
}

/// Enable and Disable answer with the same fields; one shape serves both.
pub struct MonitoringChange {
    stream_name: Option<String>,
    stream_arn: Option<String>,
    current: Option<Vec<MetricsName>>,
    desired: Option<Vec<MetricsName>>,
}

impl From<EnableEnhancedMonitoringOutput> for MonitoringChange {
    fn from(o: EnableEnhancedMonitoringOutput) -> Self {
        MonitoringChange {
            stream_name: o.stream_name,
            stream_arn: o.stream_arn,
            current: o.current_shard_level_metrics,
            desired: o.desired_shard_level_metrics,
        }
    }
}

impl From<DisableEnhancedMonitoringOutput> for MonitoringChange {
    fn from(o: DisableEnhancedMonitoringOutput) -> Self {
        MonitoringChange {
            stream_name: o.stream_name,
            stream_arn: o.stream_arn,
            current: o.current_shard_level_metrics,
            desired: o.desired_shard_level_metrics,
        }
    }
}

impl ToPy for MonitoringChange {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set_opt!(d, "StreamName", &self.stream_name);
        if let Some(current) = &self.current {
            set!(d, "CurrentShardLevelMetrics", convert::metrics_list(py, current)?);
        }
        if let Some(desired) = &self.desired {
            set!(d, "DesiredShardLevelMetrics", convert::metrics_list(py, desired)?);
        }
        set_opt!(d, "StreamARN", &self.stream_arn);
        Ok(d.into_any().unbind())
    }
}

pub async fn change_monitoring(
    client: Client,
    stream: StreamRef,
    metrics: Vec<MetricsName>,
    enable: bool,
) -> KResult<MonitoringChange> {
    let (name, arn) = stream.split();
    Ok(if enable {
        client
            .enable_enhanced_monitoring()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .set_shard_level_metrics(Some(metrics))
            .send()
            .await?
            .into()
    } else {
        client
            .disable_enhanced_monitoring()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .set_shard_level_metrics(Some(metrics))
            .send()
            .await?
            .into()
    })
}

pub async fn change_encryption(
    client: Client,
    stream: StreamRef,
    encryption_type: EncryptionType,
    key_id: String,
    start: bool,
) -> KResult<()> {
    let (name, arn) = stream.split();
    if start {
        client
            .start_stream_encryption()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .encryption_type(encryption_type)
            .key_id(key_id)
            .send()
            .await?;
    } else {
        client
            .stop_stream_encryption()
            .set_stream_name(name)
            .set_stream_arn(arn)
            .encryption_type(encryption_type)
            .key_id(key_id)
            .send()
            .await?;
    }
    Ok(())
}

pub async fn update_stream_mode(client: Client, stream_arn: String, mode: StreamMode) -> KResult<()> {
    let details = StreamModeDetails::builder()
        .stream_mode(mode)
        .build()
        .map_err(|err| crate::errors::KinesisError::invalid("stream_mode", err.to_string()))?;
    client.update_stream_mode().stream_arn(stream_arn).stream_mode_details(details).send().await?;
    Ok(())
}

pub async fn describe_limits(client: Client) -> KResult<DescribeLimitsOutput> {
    Ok(client.describe_limits().send().await?)
}

impl ToPy for DescribeLimitsOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "ShardLimit", self.shard_limit);
        set!(d, "OpenShardCount", self.open_shard_count);
        set!(d, "OnDemandStreamCount", self.on_demand_stream_count);
        set!(d, "OnDemandStreamCountLimit", self.on_demand_stream_count_limit);
        Ok(d.into_any().unbind())
    }
}

fn string_dict(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<HashMap<String, String>> {
    let dict = value
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err(format!("{arg}: expected a dict of str to str, got {}", type_name(value))))?;
    if dict.is_empty() || dict.len() > 50 {
        return Err(PyValueError::new_err(format!("{arg}: must hold 1 to 50 tags, got {}", dict.len())));
    }
    let mut out = HashMap::with_capacity(dict.len());
    for (key, item) in dict.iter() {
        let key: String = validate::text(&format!("{arg} key"), &key)?;
        let item: String = validate::text(&format!("{arg}[{key:?}]"), &item)?;
        if key.is_empty() || key.chars().count() > 128 || item.chars().count() > 256 {
            return Err(PyValueError::new_err(format!(
                "{arg}: tag keys are 1-128 characters and values at most 256, got key {key:?}"
            )));
        }
        out.insert(key, item);
    }
    Ok(out)
}

pub fn string_list(arg: &str, value: &Bound<'_, PyAny>, max: usize) -> PyResult<Vec<String>> {
    if value.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(format!("{arg}: expected a list of str, got a single str")));
    }
    let items: Vec<String> = value
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{arg}: expected a list of str, got {}", type_name(value))))?
        .enumerate()
        .map(|(i, item)| item.and_then(|item| validate::text(&format!("{arg}[{i}]"), &item)))
        .collect::<PyResult<_>>()?;
    if items.is_empty() || items.len() > max {
        return Err(PyValueError::new_err(format!("{arg}: expected 1 to {max} items, got {}", items.len())));
    }
    Ok(items)
}

fn parse_shard_filter(value: &Bound<'_, PyAny>) -> PyResult<ShardFilter> {
    let dict = value
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("shard_filter: expected a dict like {'Type': 'AT_LATEST'}"))?;
    let kind = dict.get_item("Type")?.ok_or_else(|| PyValueError::new_err("shard_filter: missing 'Type'"))?;
    let kind = validate::text("shard_filter['Type']", &kind)?;
    let kind = validate::one_of("shard_filter['Type']", &kind, SHARD_FILTER_TYPES)?;
    let shard_id = dict.get_item("ShardId")?.map(|v| validate::text("shard_filter['ShardId']", &v)).transpose()?;
    let timestamp =
        dict.get_item("Timestamp")?.map(|v| validate::timestamp("shard_filter['Timestamp']", &v)).transpose()?;
    ShardFilter::builder()
        .r#type(ShardFilterType::from(kind))
        .set_shard_id(shard_id)
        .set_timestamp(timestamp)
        .build()
        .map_err(|err| PyValueError::new_err(format!("shard_filter: {err}")))
}

#[pymethods]
impl Connection {
    #[pyo3(signature = (stream_name, shard_count=None, *, stream_mode=None, tags=None, max_record_size_in_kib=None))]
    fn create_stream(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        shard_count: Option<&Bound<'_, PyAny>>,
        stream_mode: Option<&Bound<'_, PyAny>>,
        tags: Option<&Bound<'_, PyAny>>,
        max_record_size_in_kib: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let shard_count: Option<i64> = crate::validate::opt_integer("shard_count", shard_count)?;
        let stream_mode: Option<String> = crate::validate::opt_text("stream_mode", stream_mode)?;
        let max_record_size_in_kib: Option<i64> =
            crate::validate::opt_integer("max_record_size_in_kib", max_record_size_in_kib)?;
        validate::resource_name("stream_name", &stream_name)?;
        let mode =
            stream_mode.map(|m| validate::one_of("stream_mode", &m, STREAM_MODES).map(StreamMode::from)).transpose()?;
        let shard_count = validate::optional_int_range("shard_count", shard_count, 1, 100_000)?;
        if shard_count.is_none() && mode != Some(StreamMode::OnDemand) {
            return Err(PyValueError::new_err("shard_count: required unless stream_mode='ON_DEMAND'"));
        }
        let tags = tags.filter(|t| !t.is_none()).map(|t| string_dict("tags", t)).transpose()?;
        let max_record_size_in_kib =
            validate::optional_int_range("max_record_size_in_kib", max_record_size_in_kib, 1024, 10_240)?;
        let req = CreateStreamRequest { name: stream_name, shard_count, mode, tags, max_record_size_in_kib };
        self.call(py, move |client| create_stream(client, req))
    }

    #[pyo3(signature = (stream_name, *, enforce_consumer_deletion=None))]
    fn delete_stream(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = crate::validate::named::enforce_consumer_deletion)] enforce_consumer_deletion: Option<
            bool,
        >,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name)?;
        self.call(py, move |client| delete_stream(client, stream, enforce_consumer_deletion))
    }

    #[pyo3(signature = (stream_name, limit=None, exclusive_start_shard_id=None))]
    fn describe_stream(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        limit: Option<&Bound<'_, PyAny>>,
        exclusive_start_shard_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let limit: Option<i64> = crate::validate::opt_integer("limit", limit)?;
        let exclusive_start_shard_id: Option<String> =
            crate::validate::opt_text("exclusive_start_shard_id", exclusive_start_shard_id)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let limit = validate::optional_int_range("limit", limit, 1, 10_000)?;
        if let Some(shard) = &exclusive_start_shard_id {
            validate::resource_name("exclusive_start_shard_id", shard)?;
        }
        self.call(py, move |client| describe_stream(client, stream, limit, exclusive_start_shard_id))
    }

    fn describe_stream_summary(&self, py: Python<'_>, stream_name: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name)?;
        self.call(py, move |client| describe_stream_summary(client, stream))
    }

    #[pyo3(signature = (limit=None, exclusive_start_stream_name=None, *, next_token=None))]
    fn list_streams(
        &self,
        py: Python<'_>,
        limit: Option<&Bound<'_, PyAny>>,
        exclusive_start_stream_name: Option<&Bound<'_, PyAny>>,
        next_token: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let limit: Option<i64> = crate::validate::opt_integer("limit", limit)?;
        let exclusive_start_stream_name: Option<String> =
            crate::validate::opt_text("exclusive_start_stream_name", exclusive_start_stream_name)?;
        let next_token: Option<String> = crate::validate::opt_text("next_token", next_token)?;
        let limit = validate::optional_int_range("limit", limit, 1, 10_000)?;
        if let Some(name) = &exclusive_start_stream_name {
            validate::resource_name("exclusive_start_stream_name", name)?;
        }
        self.call(py, move |client| list_streams(client, limit, exclusive_start_stream_name, next_token))
    }

    #[pyo3(signature = (
        stream_name=None, *, next_token=None, exclusive_start_shard_id=None, max_results=None,
        stream_creation_timestamp=None, shard_filter=None, paginate=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn list_shards(
        &self,
        py: Python<'_>,
        stream_name: Option<&Bound<'_, PyAny>>,
        next_token: Option<&Bound<'_, PyAny>>,
        exclusive_start_shard_id: Option<&Bound<'_, PyAny>>,
        max_results: Option<&Bound<'_, PyAny>>,
        stream_creation_timestamp: Option<&Bound<'_, PyAny>>,
        shard_filter: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::paginate)] paginate: bool,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: Option<String> = crate::validate::opt_text("stream_name", stream_name)?;
        let next_token: Option<String> = crate::validate::opt_text("next_token", next_token)?;
        let exclusive_start_shard_id: Option<String> =
            crate::validate::opt_text("exclusive_start_shard_id", exclusive_start_shard_id)?;
        let max_results: Option<i64> = crate::validate::opt_integer("max_results", max_results)?;
        let stream = stream_name.map(|s| validate::stream("stream_name", s)).transpose()?;
        if stream.is_some() == next_token.is_some() {
            return Err(PyValueError::new_err(
                "stream_name: give either stream_name (first page) or next_token (later pages), not both or neither",
            ));
        }
        if let Some(shard) = &exclusive_start_shard_id {
            validate::resource_name("exclusive_start_shard_id", shard)?;
        }
        let req = ListShardsRequest {
            stream,
            next_token,
            exclusive_start_shard_id,
            max_results: validate::optional_int_range("max_results", max_results, 1, 10_000)?,
            stream_creation_timestamp: stream_creation_timestamp
                .filter(|t| !t.is_none())
                .map(|t| validate::timestamp("stream_creation_timestamp", t))
                .transpose()?,
            shard_filter: shard_filter.filter(|f| !f.is_none()).map(parse_shard_filter).transpose()?,
            paginate,
        };
        self.call(py, move |client| list_shards(client, req))
    }

    fn merge_shards(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        shard_to_merge: &Bound<'_, PyAny>,
        adjacent_shard_to_merge: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let shard_to_merge: String = crate::validate::text("shard_to_merge", shard_to_merge)?;
        let adjacent_shard_to_merge: String =
            crate::validate::text("adjacent_shard_to_merge", adjacent_shard_to_merge)?;
        let stream = validate::stream("stream_name", stream_name)?;
        validate::resource_name("shard_to_merge", &shard_to_merge)?;
        validate::resource_name("adjacent_shard_to_merge", &adjacent_shard_to_merge)?;
        self.call(py, move |client| merge_shards(client, stream, shard_to_merge, adjacent_shard_to_merge))
    }

    fn split_shard(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        shard_to_split: &Bound<'_, PyAny>,
        new_starting_hash_key: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let shard_to_split: String = crate::validate::text("shard_to_split", shard_to_split)?;
        let new_starting_hash_key: String = crate::validate::text("new_starting_hash_key", new_starting_hash_key)?;
        let stream = validate::stream("stream_name", stream_name)?;
        validate::resource_name("shard_to_split", &shard_to_split)?;
        validate::hash_key("new_starting_hash_key", &new_starting_hash_key)?;
        self.call(py, move |client| split_shard(client, stream, shard_to_split, new_starting_hash_key))
    }

    fn add_tags_to_stream(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let tags = string_dict("tags", tags)?;
        self.call(py, move |client| add_tags(client, stream, tags))
    }

    #[pyo3(signature = (stream_name, exclusive_start_tag_key=None, limit=None))]
    fn list_tags_for_stream(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        exclusive_start_tag_key: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let exclusive_start_tag_key: Option<String> =
            crate::validate::opt_text("exclusive_start_tag_key", exclusive_start_tag_key)?;
        let limit: Option<i64> = crate::validate::opt_integer("limit", limit)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let limit = validate::optional_int_range("limit", limit, 1, 50)?;
        self.call(py, move |client| list_tags(client, stream, exclusive_start_tag_key, limit))
    }

    fn remove_tags_from_stream(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        tag_keys: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let keys = string_list("tag_keys", tag_keys, 50)?;
        self.call(py, move |client| remove_tags(client, stream, keys))
    }

    #[pyo3(
        signature = (stream_name, target_shard_count, scaling_type="UNIFORM_SCALING".to_owned()),
        text_signature = "($self, stream_name, target_shard_count, scaling_type='UNIFORM_SCALING')"
    )]
    fn update_shard_count(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        target_shard_count: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = validate::named::scaling_type)] scaling_type: String,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let target_shard_count: i64 = crate::validate::integer("target_shard_count", target_shard_count)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let target = validate::int_range("target_shard_count", target_shard_count, 1, 100_000)?;
        validate::one_of("scaling_type", &scaling_type, &["UNIFORM_SCALING"])?;
        self.call(py, move |client| update_shard_count(client, stream, target))
    }

    fn increase_stream_retention_period(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        retention_period_hours: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let retention_period_hours: i64 = crate::validate::integer("retention_period_hours", retention_period_hours)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let hours = validate::int_range(
            "retention_period_hours",
            retention_period_hours,
            MIN_RETENTION_HOURS,
            MAX_RETENTION_HOURS,
        )?;
        self.call(py, move |client| change_retention(client, stream, hours, true))
    }

    fn decrease_stream_retention_period(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        retention_period_hours: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let retention_period_hours: i64 = crate::validate::integer("retention_period_hours", retention_period_hours)?;
        let stream = validate::stream("stream_name", stream_name)?;
        let hours = validate::int_range(
            "retention_period_hours",
            retention_period_hours,
            MIN_RETENTION_HOURS,
            MAX_RETENTION_HOURS,
        )?;
        self.call(py, move |client| change_retention(client, stream, hours, false))
    }

    fn enable_enhanced_monitoring(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        shard_level_metrics: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let (stream, metrics) = monitoring_args(stream_name, shard_level_metrics)?;
        self.call(py, move |client| change_monitoring(client, stream, metrics, true))
    }

    fn disable_enhanced_monitoring(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        shard_level_metrics: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let (stream, metrics) = monitoring_args(stream_name, shard_level_metrics)?;
        self.call(py, move |client| change_monitoring(client, stream, metrics, false))
    }

    fn start_stream_encryption(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        encryption_type: &Bound<'_, PyAny>,
        key_id: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let encryption_type: String = crate::validate::text("encryption_type", encryption_type)?;
        let key_id: String = crate::validate::text("key_id", key_id)?;
        let (stream, kind) = encryption_args(stream_name, &encryption_type, &key_id)?;
        self.call(py, move |client| change_encryption(client, stream, kind, key_id, true))
    }

    fn stop_stream_encryption(
        &self,
        py: Python<'_>,
        stream_name: &Bound<'_, PyAny>,
        encryption_type: &Bound<'_, PyAny>,
        key_id: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_name: String = crate::validate::text("stream_name", stream_name)?;
        let encryption_type: String = crate::validate::text("encryption_type", encryption_type)?;
        let key_id: String = crate::validate::text("key_id", key_id)?;
        let (stream, kind) = encryption_args(stream_name, &encryption_type, &key_id)?;
        self.call(py, move |client| change_encryption(client, stream, kind, key_id, false))
    }

    fn update_stream_mode(
        &self,
        py: Python<'_>,
        stream_arn: &Bound<'_, PyAny>,
        stream_mode: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_arn: String = crate::validate::text("stream_arn", stream_arn)?;
        let stream_mode: String = crate::validate::text("stream_mode", stream_mode)?;
        validate::arn("stream_arn", &stream_arn)?;
        let mode = StreamMode::from(validate::one_of("stream_mode", &stream_mode, STREAM_MODES)?);
        self.call(py, move |client| update_stream_mode(client, stream_arn, mode))
    }

    fn describe_limits(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.call(py, describe_limits)
    }
}

fn monitoring_args(stream_name: String, metrics: &Bound<'_, PyAny>) -> PyResult<(StreamRef, Vec<MetricsName>)> {
    let stream = validate::stream("stream_name", stream_name)?;
    let names = string_list("shard_level_metrics", metrics, SHARD_LEVEL_METRICS.len())?;
    let metrics = names
        .iter()
        .map(|m| validate::one_of("shard_level_metrics", m, SHARD_LEVEL_METRICS).map(MetricsName::from))
        .collect::<PyResult<_>>()?;
    Ok((stream, metrics))
}

fn encryption_args(stream_name: String, encryption_type: &str, key_id: &str) -> PyResult<(StreamRef, EncryptionType)> {
    let stream = validate::stream("stream_name", stream_name)?;
    let kind = EncryptionType::from(validate::one_of("encryption_type", encryption_type, &["KMS"])?);
    if key_id.is_empty() || key_id.len() > 2048 {
        return Err(PyValueError::new_err("key_id: must be 1 to 2048 characters long"));
    }
    Ok((stream, kind))
}
