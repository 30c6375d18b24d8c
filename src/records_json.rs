//! A faster reading of GetRecords answers, the one response whose size grows with the data.
//!
//! The SDK reads every response through its schema-driven JSON reader, which walks strings a
//! byte at a time and copies each one before base64-decoding it: for a page of 10,000 records of
//! 1 KiB that was the largest single cost of the client's CPU time (profiled with perf).
//! [`FastGetRecords`] is a client interceptor that, for GetRecords only, puts [`GetRecordsReader`]
//! in front of the SDK's own deserializer. It reads the usual successful answer (records, the next
//! iterator, how far behind) with serde_json, borrowing strings from the body, and decodes `Data`
//! with the decoder the SDK uses (base64-simd's standard alphabet).
//!
//! Inside [`capture_page`], which is how `records.rs` and the reader call GetRecords, the records
//! come back as a [`Page`] beside the SDK output instead of as SDK `Record`s, which saves three
//! allocations per record. Elsewhere the output is the same `GetRecordsOutput` the SDK builds.
//!
//! Anything else goes to the SDK unchanged: errors (any status but 200), a closed shard's last
//! page (one that lists child shards), and any answer this reader does not fully understand (a
//! missing or empty SequenceNumber, a missing Data, a timestamp that is not a finite number, bad base64, a duplicate key,
//! malformed JSON). The SDK then answers exactly as it did before this existed, error included.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::ops::Range;

use aws_sdk_kinesis::operation::get_records::builders::GetRecordsOutputBuilder;
use aws_sdk_kinesis::operation::get_records::{GetRecords, GetRecordsOutput};
use aws_sdk_kinesis::types::{EncryptionType, Record};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, Error, Output};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use aws_smithy_runtime_api::client::ser_de::{DeserializeResponse, SharedResponseDeserializer};
use aws_smithy_types::config_bag::{ConfigBag, FrozenLayer};
use aws_smithy_types::{Blob, DateTime};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Installs [`GetRecordsReader`] for each GetRecords call made through the client it is added to.
#[derive(Debug)]
pub struct FastGetRecords {
    /// The GetRecords operation's own settings, which hold the SDK's deserializer. The bag of a
    /// call cannot hand that out (it is not `Clone`, and ours shadows it there), so it is read
    /// from here: the same `GetRecords` runtime plugin the SDK applies to every call.
    sdk_settings: FrozenLayer,
}

impl FastGetRecords {
    /// None if this SDK version no longer stores a deserializer where it did; calls then keep the
    /// SDK's own reading.
    pub fn new() -> Option<Self> {
        let sdk_settings = GetRecords::new().config()?;
        sdk_settings.load::<SharedResponseDeserializer>()?;
        Some(FastGetRecords { sdk_settings })
    }
}

impl Intercept for FastGetRecords {
    fn name(&self) -> &'static str {
        "FastGetRecords"
    }

    /// Runs once per call, before any attempt. (A client interceptor's `read_before_execution`
    /// runs before the operation's settings are in the bag, so it cannot tell GetRecords apart.)
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().map(Metadata::name) == Some("GetRecords") {
            let reader = GetRecordsReader { sdk_settings: self.sdk_settings.clone() };
            cfg.interceptor_state().store_put(SharedResponseDeserializer::new(reader));
        }
        Ok(())
    }
}

/// Reads the common successful GetRecords answer itself and hands everything else to the SDK.
#[derive(Debug)]
struct GetRecordsReader {
    sdk_settings: FrozenLayer,
}

impl GetRecordsReader {
    /// The SDK's deserializer: checked to be there in FastGetRecords::new, and a frozen layer
    /// does not change.
    fn sdk(&self) -> Result<&SharedResponseDeserializer, OrchestratorError<Error>> {
        self.sdk_settings
            .load::<SharedResponseDeserializer>()
            .ok_or_else(|| OrchestratorError::other("the SDK's GetRecords deserializer went missing"))
    }
}

impl DeserializeResponse for GetRecordsReader {
    fn deserialize_streaming_with_config(
        &self,
        response: &mut HttpResponse,
        cfg: &ConfigBag,
    ) -> Option<Result<Output, OrchestratorError<Error>>> {
        self.sdk().ok()?.deserialize_streaming_with_config(response, cfg)
    }

    fn deserialize_nonstreaming_with_config(
        &self,
        response: &HttpResponse,
        cfg: &ConfigBag,
    ) -> Result<Output, OrchestratorError<Error>> {
        // A page left by an earlier attempt of this call must not outlive it.
        let _ = CAPTURED.try_with(RefCell::take);
        if response.status().as_u16() == 200 {
            if let Some(output) = response.body().bytes().and_then(sdk_output) {
                return Ok(Output::erase(output));
            }
        }
        self.sdk()?.deserialize_nonstreaming_with_config(response, cfg)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WirePage<'a> {
    #[serde(borrow)]
    records: Option<Vec<WireRecord<'a>>>,
    #[serde(borrow)]
    next_shard_iterator: Option<Cow<'a, str>>,
    millis_behind_latest: Option<i64>,
    /// Only counted: a page with children (a closed shard's last one) is left to the SDK.
    child_shards: Option<Vec<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireRecord<'a> {
    #[serde(borrow)]
    sequence_number: Option<Cow<'a, str>>,
    approximate_arrival_timestamp: Option<f64>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    partition_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    encryption_type: Option<Cow<'a, str>>,
}

/// The records of one GetRecords answer read here. Each payload is decoded into its own buffer
/// (a reader hands it out as is, and one record kept must not keep a whole page alive); the
/// sequence numbers and partition keys are copied back to back into one string, so a page of
/// 10,000 records costs 10,002 allocations where the SDK makes about 40,000.
#[derive(Debug, Default)]
pub struct Page {
    text: String,
    records: Vec<PageRecord>,
}

#[derive(Debug)]
struct PageRecord {
    data: Vec<u8>,
    sequence_number: Range<usize>,
    partition_key: Option<Range<usize>>,
    arrival: Option<DateTime>,
    encryption_type: Option<EncryptionType>,
}

/// A record's fields other than its payload, borrowed from a [`Page`] or an SDK record.
pub struct RecordFields<'a> {
    pub sequence_number: &'a str,
    pub partition_key: Option<&'a str>,
    pub arrival: Option<&'a DateTime>,
    pub encryption_type: Option<&'a EncryptionType>,
}

impl Page {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Each record's payload and other fields, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = (&[u8], RecordFields<'_>)> {
        self.records.iter().map(|record| (record.data.as_slice(), self.fields(record)))
    }

    fn fields<'a>(&'a self, record: &'a PageRecord) -> RecordFields<'a> {
        RecordFields {
            sequence_number: &self.text[record.sequence_number.clone()],
            partition_key: record.partition_key.clone().map(|range| &self.text[range]),
            arrival: record.arrival.as_ref(),
            encryption_type: record.encryption_type.as_ref(),
        }
    }

    /// Calls `each` with every record in order, its payload moved out of the page.
    pub fn into_records(mut self, mut each: impl FnMut(Vec<u8>, RecordFields<'_>)) {
        for mut record in std::mem::take(&mut self.records) {
            let data = std::mem::take(&mut record.data);
            each(data, self.fields(&record));
        }
    }

    /// The records as the SDK would have built them, for a call that did not ask for a Page.
    fn into_sdk_records(self) -> Option<Vec<Record>> {
        let mut built = Vec::with_capacity(self.len());
        let mut complete = true;
        self.into_records(|data, record| {
            let sdk_record = Record::builder()
                .sequence_number(record.sequence_number)
                .set_approximate_arrival_timestamp(record.arrival.copied())
                .data(Blob::new(data))
                .set_partition_key(record.partition_key.map(str::to_owned))
                .set_encryption_type(record.encryption_type.cloned())
                .build();
            match sdk_record {
                Ok(sdk_record) => built.push(sdk_record),
                Err(_) => complete = false,
            }
        });
        complete.then_some(built)
    }

    fn push(&mut self, wire: WireRecord<'_>) -> Option<()> {
        let data = base64_simd::STANDARD.decode_to_vec(wire.data?.as_bytes()).ok()?;
        let arrival = match wire.approximate_arrival_timestamp {
            // The SDK's own reading of an epoch-seconds number.
            Some(seconds) if seconds.is_finite() && (i64::MIN as f64..i64::MAX as f64).contains(&seconds) => {
                Some(DateTime::from_secs_f64(seconds))
            }
            Some(_) => return None,
            None => None,
        };
        // An empty one is left to the SDK too, so that `records.rs` checks for it in one place.
        let sequence_number = append(&mut self.text, &wire.sequence_number.filter(|s| !s.is_empty())?);
        let partition_key = wire.partition_key.map(|key| append(&mut self.text, &key));
        self.records.push(PageRecord {
            data,
            sequence_number,
            partition_key,
            arrival,
            encryption_type: wire.encryption_type.map(|name| EncryptionType::from(name.as_ref())),
        });
        Some(())
    }
}

fn append(text: &mut String, value: &str) -> Range<usize> {
    let start = text.len();
    text.push_str(value);
    start..text.len()
}

/// The rest of the answer, and the page; None when the SDK should read `body` instead.
fn read_page(body: &[u8]) -> Option<(GetRecordsOutputBuilder, Page)> {
    let wire: WirePage<'_> = serde_json::from_slice(body).ok()?;
    if wire.child_shards.as_ref().is_some_and(|children| !children.is_empty()) {
        return None;
    }
    let next_shard_iterator = wire.next_shard_iterator?.into_owned();
    let wire_records = wire.records?;
    let mut page = Page::default();
    page.records.reserve_exact(wire_records.len());
    for record in wire_records {
        page.push(record)?;
    }
    let rest = GetRecordsOutput::builder()
        .next_shard_iterator(next_shard_iterator)
        .set_millis_behind_latest(wire.millis_behind_latest)
        // An empty list is kept, as the SDK keeps it.
        .set_child_shards(wire.child_shards.map(|_| Vec::new()));
    Some((rest, page))
}

tokio::task_local! {
    /// Set by [`capture_page`] for the GetRecords call it runs: the deserializer, which runs
    /// inside that call's task, leaves the page here instead of building SDK records.
    static CAPTURED: RefCell<Option<Page>>;
}

/// Runs `call` (a GetRecords `send()`) and returns its answer with the records it read here, if
/// any: then the answer's own `records` is empty and the page holds them. Without a page
/// (an answer the SDK read), the answer's `records` are the records.
pub async fn capture_page<T>(call: impl Future<Output = T>) -> (T, Option<Page>) {
    CAPTURED
        .scope(RefCell::new(None), async move {
            let answer = call.await;
            (answer, CAPTURED.with(RefCell::take))
        })
        .await
}

/// The SDK output for a page read here; None when the SDK should read the answer instead.
fn sdk_output(body: &[u8]) -> Option<GetRecordsOutput> {
    let (rest, page) = read_page(body)?;
    let captured = CAPTURED.try_with(|_| ()).is_ok();
    let records = if captured {
        CAPTURED.with(|slot| slot.replace(Some(page)));
        Vec::new()
    } else {
        page.into_sdk_records()?
    };
    rest.set_records(Some(records)).build().ok()
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use aws_credential_types::Credentials;
    use std::time::Duration;

    use aws_sdk_kinesis::config::retry::RetryConfig;
    use aws_sdk_kinesis::config::{BehaviorVersion, Region};
    use aws_sdk_kinesis::Client;

    use super::*;

    /// Answers one HTTP request per body, in order, each on its own connection.
    fn answer_with(bodies: Vec<(u16, &'static str)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (status, body) in bodies {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut content_length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            content_length = value.trim().parse().unwrap();
                        }
                    }
                }
                reader.read_exact(&mut vec![0; content_length]).unwrap();
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let mut stream = reader.into_inner();
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body.as_bytes()).unwrap();
            }
        });
        format!("http://{address}")
    }

    /// Through a real SDK client: plain pages are read here, the rest by the SDK, and both give
    /// the caller the same kind of answer.
    #[tokio::test]
    async fn a_client_reads_plain_pages_here_and_the_rest_through_the_sdk() {
        let plain_page = r#"{"Records":[{"SequenceNumber":"7","Data":"aGk=","PartitionKey":"k"}],"NextShardIterator":"next","MillisBehindLatest":0}"#;
        let endpoint = answer_with(vec![
            (200, plain_page),
            (200, plain_page),
            (
                200,
                r#"{"Records":[],"MillisBehindLatest":0,"ChildShards":[{"ShardId":"c","ParentShards":["p"],"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"1"}}]}"#,
            ),
            (400, r#"{"__type":"ExpiredIteratorException","message":"Iterator expired"}"#),
            (500, r#"{"__type":"InternalFailureException"}"#),
            (200, plain_page),
        ]);
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
            .interceptor(FastGetRecords::new().unwrap())
            .build();
        let client = Client::from_conf(config);

        let plain = client.get_records().shard_iterator("it").send().await.unwrap();
        assert_eq!(plain.records[0].data.as_ref(), b"hi");
        assert_eq!(plain.next_shard_iterator.as_deref(), Some("next"));

        let (captured, page) = capture_page(client.get_records().shard_iterator("it").send()).await;
        let captured = captured.unwrap();
        assert!(captured.records.is_empty());
        assert_eq!(captured.next_shard_iterator.as_deref(), Some("next"));
        let page = page.expect("read here: the page comes apart from the answer");
        let records: Vec<_> = page.records().collect();
        let [(data, record)] = &records[..] else { panic!("one record") };
        assert_eq!((*data, record.sequence_number, record.partition_key), (&b"hi"[..], "7", Some("k")));

        let (last, page) = capture_page(client.get_records().shard_iterator("it").send()).await;
        assert!(page.is_none(), "the SDK read that one");
        let last = last.unwrap();
        assert!(last.next_shard_iterator.is_none());
        assert_eq!(last.child_shards.unwrap()[0].shard_id, "c");

        let expired = client.get_records().shard_iterator("it").send().await.unwrap_err();
        assert!(expired.into_service_error().is_expired_iterator_exception());

        // A page is the one of the attempt that succeeded.
        let (retried, page) = capture_page(client.get_records().shard_iterator("it").send()).await;
        assert_eq!(retried.unwrap().next_shard_iterator.as_deref(), Some("next"));
        assert_eq!(page.expect("read here").len(), 1);
    }

    /// A newer SDK that stores its deserializer elsewhere would silently lose this speed-up.
    #[test]
    fn finds_the_sdk_deserializer() {
        assert!(FastGetRecords::new().is_some());
    }

    #[test]
    fn reads_a_page_of_records() {
        let body = br#"{"Records":[
            {"SequenceNumber":"4955","ApproximateArrivalTimestamp":1764143000.125,"Data":"aGVsbG8=",
             "PartitionKey":"p\u00e9","EncryptionType":"NONE","Unknown":[1,{"x":null}]},
            {"SequenceNumber":"4956","Data":"","PartitionKey":"k"}],
            "NextShardIterator":"AAA\/B=","MillisBehindLatest":12}"#;
        let output = sdk_output(body).expect("a plain page");
        assert_eq!(output.next_shard_iterator.as_deref(), Some("AAA/B="));
        assert_eq!(output.millis_behind_latest, Some(12));
        assert!(output.child_shards.is_none());
        let [first, second] = output.records.as_slice() else { panic!("two records") };
        assert_eq!(first.sequence_number, "4955");
        assert_eq!(first.data.as_ref(), b"hello");
        assert_eq!(first.partition_key.as_deref(), Some("pé"));
        assert_eq!(first.encryption_type, Some(EncryptionType::None));
        assert_eq!(first.approximate_arrival_timestamp, Some(DateTime::from_secs_f64(1764143000.125)));
        assert_eq!(second.data.as_ref(), b"");
        assert!(second.approximate_arrival_timestamp.is_none());
    }

    #[test]
    fn reads_an_empty_page_and_escaped_base64() {
        let output = sdk_output(br#"{"Records":[],"NextShardIterator":"it","MillisBehindLatest":0}"#).expect("empty");
        assert!(output.records.is_empty());
        assert!(output.child_shards.is_none());
        let no_children = sdk_output(br#"{"Records":[],"NextShardIterator":"it","ChildShards":[]}"#);
        assert_eq!(no_children.expect("no children").child_shards, Some(Vec::new()));
        let escaped = br#"{"Records":[{"SequenceNumber":"1","Data":"YS9i\/w=="}],"NextShardIterator":"it"}"#;
        assert_eq!(sdk_output(escaped).expect("escaped").records[0].data.as_ref(), b"a/b\xff");
    }

    #[test]
    fn leaves_everything_else_to_the_sdk() {
        for body in [
            &br#"{"Records":[],"ChildShards":[{"ShardId":"s-1","ParentShards":["s-0"]}]}"#[..],
            br#"{"Records":[],"NextShardIterator":"it","ChildShards":[{"ShardId":"s-1"}]}"#,
            br#"{"Records":[]}"#,
            br#"{"NextShardIterator":"it"}"#,
            br#"{}"#,
            br#"{"Records":[{"Data":"aGk="}],"NextShardIterator":"it"}"#,
            br#"{"Records":[{"SequenceNumber":"1"}],"NextShardIterator":"it"}"#,
            br#"{"Records":[{"SequenceNumber":"","Data":""}],"NextShardIterator":"it"}"#,
            br#"{"Records":[{"SequenceNumber":"1","Data":"not base64!"}],"NextShardIterator":"it"}"#,
            br#"{"Records":[{"SequenceNumber":"1","Data":"","ApproximateArrivalTimestamp":"2020"}],"NextShardIterator":"it"}"#,
            br#"{"Records":[{"SequenceNumber":"1","Data":"","ApproximateArrivalTimestamp":1e300}],"NextShardIterator":"it"}"#,
            br#"{"Records":[],"NextShardIterator":"it","NextShardIterator":"again"}"#,
            br#"{"Records":[],"NextShardIterator":"it""#,
            br#"{"__type":"ExpiredIteratorException","message":"expired"}"#,
        ] {
            assert!(sdk_output(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }
}
