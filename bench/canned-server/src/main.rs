//! A canned Kinesis endpoint for bench/run.py's `threads` workload, so that the server is not the
//! bottleneck when 8 client threads share one connection pool (moto and kinesis-mock are: each
//! spends about one core on far fewer requests than a client can make).
//!
//! Usage: `canned-server [PORT]`. It listens on 127.0.0.1:PORT (0, the default, picks a free port)
//! and prints the port it got as the first line of stdout. HTTP/1.1 with keep-alive, one tokio
//! current-thread runtime: it never uses more than one core.
//!
//! It answers the Kinesis JSON protocol (`X-Amz-Target: Kinesis_20131202.<Op>`) for what the
//! benchmark calls and nothing else: `PutRecord` (always shard 0, an increasing sequence number),
//! and, for setup, `CreateStream`, `DescribeStream`, `DescribeStreamSummary`, `ListStreams` and
//! `ListShards` (one ACTIVE shard for any stream name). Every other target gets HTTP 400
//! `UnknownOperationException`. Each body is read in full; only setup calls parse it (for the stream
//! name). Signatures are not checked and nothing is stored but stream names.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const TARGET_PREFIX: &str = "Kinesis_20131202.";
const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
const SHARD_ID: &str = "shardId-000000000000";
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

/// PutRecord's sequence numbers: 56 decimal digits, like Kinesis's, increasing by one per record.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Names given to CreateStream, for ListStreams.
static STREAMS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        None => 0,
        Some(arg) => arg
            .parse()
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad port {arg:?}: {err}")))?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    runtime.block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("{}", listener.local_addr()?.port());
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, created));
            // A client that goes away mid-request is not this server's problem.
            let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(socket), service).await;
        });
    }
}

async fn handle(request: Request<Incoming>, created: f64) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = request.into_body().collect().await?.to_bytes();
    let (status, payload) = match target.strip_prefix(TARGET_PREFIX) {
        Some("PutRecord") => (StatusCode::OK, put_record()),
        Some(operation) => setup(operation, &body, created),
        None => unknown(&target),
    };
    let mut response = Response::new(Full::new(Bytes::from(payload)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    Ok(response)
}

fn put_record() -> String {
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(r#"{{"ShardId":"{SHARD_ID}","SequenceNumber":"49{sequence:054}"}}"#)
}

fn unknown(target: &str) -> (StatusCode, String) {
    let message = format!("canned-server does not answer X-Amz-Target {target:?}");
    (StatusCode::BAD_REQUEST, json!({"__type": "UnknownOperationException", "message": message}).to_string())
}

fn shard() -> Value {
    json!({
        "ShardId": SHARD_ID,
        "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "340282366920938463463374607431768211455"},
        "SequenceNumberRange": {"StartingSequenceNumber": format!("49{:054}", 0)},
    })
}

/// The calls that set a stream up: parsed (they are few), answered for any stream name.
fn setup(operation: &str, body: &[u8], created: f64) -> (StatusCode, String) {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let name = request.get("StreamName").and_then(Value::as_str).unwrap_or("unnamed").to_owned();
    let arn = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}");
    let mut streams = STREAMS.lock().unwrap_or_else(PoisonError::into_inner);
    let answer = match operation {
        "CreateStream" => {
            if !streams.contains(&name) {
                streams.push(name);
            }
            json!({})
        }
        "DescribeStreamSummary" => json!({"StreamDescriptionSummary": {
            "StreamName": name,
            "StreamARN": arn,
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": created,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
            "OpenShardCount": 1,
            "ConsumerCount": 0,
        }}),
        "DescribeStream" => json!({"StreamDescription": {
            "StreamName": name,
            "StreamARN": arn,
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "Shards": [shard()],
            "HasMoreShards": false,
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": created,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }}),
        "ListStreams" => json!({"StreamNames": *streams, "HasMoreStreams": false}),
        "ListShards" => json!({"Shards": [shard()]}),
        _ => return unknown(&format!("{TARGET_PREFIX}{operation}")),
    };
    (StatusCode::OK, answer.to_string())
}
