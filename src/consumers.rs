//! Enhanced fan-out consumers: register, describe, list, deregister.

use aws_sdk_kinesis::operation::describe_stream_consumer::DescribeStreamConsumerOutput;
use aws_sdk_kinesis::operation::list_stream_consumers::ListStreamConsumersOutput;
use aws_sdk_kinesis::operation::register_stream_consumer::RegisterStreamConsumerOutput;
use aws_sdk_kinesis::Client;
use aws_smithy_types::DateTime;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::client::Connection;
use crate::convert::{self, set, set_opt, ToPy};
use crate::errors::KResult;
use crate::validate;

/// A consumer is named by its ARN, or by its stream's ARN and its name.
#[derive(Clone, Debug, Default)]
pub struct ConsumerRef {
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    pub consumer_arn: Option<String>,
}

impl ConsumerRef {
    fn checked(
        stream_arn: Option<String>,
        consumer_name: Option<String>,
        consumer_arn: Option<String>,
    ) -> PyResult<Self> {
        match (&stream_arn, &consumer_name, &consumer_arn) {
            (_, _, Some(arn)) => validate::arn("consumer_arn", arn)?,
            (Some(stream), Some(name), None) => {
                validate::arn("stream_arn", stream)?;
                validate::resource_name("consumer_name", name)?;
            }
            _ => {
                return Err(PyValueError::new_err(
                    "consumer_arn: give consumer_arn, or both stream_arn and consumer_name",
                ))
            }
        }
        Ok(ConsumerRef { stream_arn, consumer_name, consumer_arn })
    }
}

pub async fn register(
    client: Client,
    stream_arn: String,
    consumer_name: String,
) -> KResult<RegisterStreamConsumerOutput> {
    Ok(client.register_stream_consumer().stream_arn(stream_arn).consumer_name(consumer_name).send().await?)
}

impl ToPy for RegisterStreamConsumerOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        if let Some(consumer) = &self.consumer {
            set!(d, "Consumer", convert::consumer(py, consumer)?);
        }
        Ok(d.into_any().unbind())
    }
}

pub async fn deregister(client: Client, target: ConsumerRef) -> KResult<()> {
    client
        .deregister_stream_consumer()
        .set_stream_arn(target.stream_arn)
        .set_consumer_name(target.consumer_name)
        .set_consumer_arn(target.consumer_arn)
        .send()
        .await?;
    Ok(())
}

pub async fn describe(client: Client, target: ConsumerRef) -> KResult<DescribeStreamConsumerOutput> {
    Ok(client
        .describe_stream_consumer()
        .set_stream_arn(target.stream_arn)
        .set_consumer_name(target.consumer_name)
        .set_consumer_arn(target.consumer_arn)
        .send()
        .await?)
}

impl ToPy for DescribeStreamConsumerOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        if let Some(description) = &self.consumer_description {
            set!(d, "ConsumerDescription", convert::consumer_description(py, description)?);
        }
        Ok(d.into_any().unbind())
    }
}

pub async fn list(
    client: Client,
    stream_arn: String,
    next_token: Option<String>,
    max_results: Option<i32>,
    stream_creation_timestamp: Option<DateTime>,
) -> KResult<ListStreamConsumersOutput> {
    Ok(client
        .list_stream_consumers()
        .stream_arn(stream_arn)
        .set_next_token(next_token)
        .set_max_results(max_results)
        .set_stream_creation_timestamp(stream_creation_timestamp)
        .send()
        .await?)
}

impl ToPy for ListStreamConsumersOutput {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        set!(d, "Consumers", convert::consumers_list(py, self.consumers.as_deref().unwrap_or_default())?);
        set_opt!(d, "NextToken", &self.next_token);
        Ok(d.into_any().unbind())
    }
}

#[pymethods]
impl Connection {
    fn register_stream_consumer(
        &self,
        py: Python<'_>,
        stream_arn: &Bound<'_, PyAny>,
        consumer_name: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let stream_arn: String = crate::validate::text("stream_arn", stream_arn)?;
        let consumer_name: String = crate::validate::text("consumer_name", consumer_name)?;
        validate::arn("stream_arn", &stream_arn)?;
        validate::resource_name("consumer_name", &consumer_name)?;
        self.call(py, move |client| register(client, stream_arn, consumer_name))
    }

    #[pyo3(signature = (stream_arn=None, consumer_name=None, consumer_arn=None))]
    fn deregister_stream_consumer(
        &self,
        py: Python<'_>,
        stream_arn: Option<&Bound<'_, PyAny>>,
        consumer_name: Option<&Bound<'_, PyAny>>,
        consumer_arn: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_arn: Option<String> = crate::validate::opt_text("stream_arn", stream_arn)?;
        let consumer_name: Option<String> = crate::validate::opt_text("consumer_name", consumer_name)?;
        let consumer_arn: Option<String> = crate::validate::opt_text("consumer_arn", consumer_arn)?;
        let target = ConsumerRef::checked(stream_arn, consumer_name, consumer_arn)?;
        self.call(py, move |client| deregister(client, target))
    }

    #[pyo3(signature = (stream_arn=None, consumer_name=None, consumer_arn=None))]
    fn describe_stream_consumer(
        &self,
        py: Python<'_>,
        stream_arn: Option<&Bound<'_, PyAny>>,
        consumer_name: Option<&Bound<'_, PyAny>>,
        consumer_arn: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_arn: Option<String> = crate::validate::opt_text("stream_arn", stream_arn)?;
        let consumer_name: Option<String> = crate::validate::opt_text("consumer_name", consumer_name)?;
        let consumer_arn: Option<String> = crate::validate::opt_text("consumer_arn", consumer_arn)?;
        let target = ConsumerRef::checked(stream_arn, consumer_name, consumer_arn)?;
        self.call(py, move |client| describe(client, target))
    }

    #[pyo3(signature = (stream_arn, next_token=None, max_results=None, stream_creation_timestamp=None))]
    fn list_stream_consumers(
        &self,
        py: Python<'_>,
        stream_arn: &Bound<'_, PyAny>,
        next_token: Option<&Bound<'_, PyAny>>,
        max_results: Option<&Bound<'_, PyAny>>,
        stream_creation_timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let stream_arn: String = crate::validate::text("stream_arn", stream_arn)?;
        let next_token: Option<String> = crate::validate::opt_text("next_token", next_token)?;
        let max_results: Option<i64> = crate::validate::opt_integer("max_results", max_results)?;
        validate::arn("stream_arn", &stream_arn)?;
        let max_results = validate::optional_int_range("max_results", max_results, 1, 10_000)?;
        let created = stream_creation_timestamp
            .filter(|t| !t.is_none())
            .map(|t| validate::timestamp("stream_creation_timestamp", t))
            .transpose()?;
        self.call(py, move |client| list(client, stream_arn, next_token, max_results, created))
    }
}
