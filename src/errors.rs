//! One error type for every failure of an operation, and its mapping to Python exceptions.
//!
//! Operations run without the GIL and return `KinesisError`; it becomes a Python exception only
//! when handed back to Python, using the classes defined in `kinesis/exceptions.py`.

use std::fmt;

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use crate::convert::json_to_py;

#[derive(Debug)]
pub enum KinesisError {
    /// An argument has the wrong value; `arg` names it.
    InvalidArgument { arg: &'static str, message: String },
    /// The service answered with an error status.
    Service { status: u16, body: Vec<u8>, request_id: Option<String>, error_type: Option<String> },
    /// No answer in time.
    Timeout(String),
    /// No answer at all: refused, reset, DNS failure.
    Connection(String),
    /// An answer that could not be understood.
    Response { message: String, status: Option<u16>, body: Option<String> },
    /// No credentials found.
    NoCredentials(String),
    /// A Python exception raised while waiting (KeyboardInterrupt from a signal handler).
    Python(PyErr),
    /// Anything else; should not happen, and says so.
    Internal(String),
}

pub type KResult<T> = Result<T, KinesisError>;

impl KinesisError {
    pub fn invalid(arg: &'static str, message: impl Into<String>) -> Self {
        KinesisError::InvalidArgument { arg, message: message.into() }
    }

    /// Turn into the matching Python exception; needs the GIL.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            KinesisError::InvalidArgument { arg, message } => PyValueError::new_err(format!("{arg}: {message}")),
            KinesisError::Python(err) => err,
            KinesisError::Service { status, body, request_id, error_type } => {
                service_error(py, status, &body, request_id, error_type).unwrap_or_else(|err| err)
            }
            KinesisError::Timeout(message) => simple_error(py, "TimeoutError", (message,)),
            KinesisError::Connection(message) => simple_error(py, "ConnectionError", (message,)),
            KinesisError::NoCredentials(message) => simple_error(py, "NoCredentialsError", (message,)),
            KinesisError::Response { message, status, body } => {
                simple_error(py, "ResponseError", (message, status, body))
            }
            KinesisError::Internal(message) => {
                PyRuntimeError::new_err(format!("kinesis internal error (please report it): {message}"))
            }
        }
    }
}

impl From<PyErr> for KinesisError {
    fn from(err: PyErr) -> Self {
        KinesisError::Python(err)
    }
}

impl fmt::Display for KinesisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KinesisError::InvalidArgument { arg, message } => {
                write!(f, "{arg}: {message}")
            }
            KinesisError::Service { status, error_type, .. } => {
                write!(f, "HTTP {status} {}", error_type.as_deref().unwrap_or("error"))
            }
            KinesisError::Timeout(m)
            | KinesisError::Connection(m)
            | KinesisError::NoCredentials(m)
            | KinesisError::Internal(m) => f.write_str(m),
            KinesisError::Response { message, .. } => f.write_str(message),
            KinesisError::Python(err) => write!(f, "{err}"),
        }
    }
}

fn exceptions_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE.get_or_try_init(py, || py.import("kinesis.exceptions").map(Bound::unbind)).map(|module| module.bind(py))
}

fn simple_error<'py, A>(py: Python<'py>, class_name: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let built = exceptions_module(py).and_then(|module| module.getattr(class_name)).and_then(|class| class.call1(args));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}

fn service_error(
    py: Python<'_>,
    status: u16,
    body: &[u8],
    request_id: Option<String>,
    error_type: Option<String>,
) -> PyResult<PyErr> {
    let body_obj: Py<PyAny> = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => json_to_py(py, &value)?,
        Err(_) => String::from_utf8_lossy(body).into_owned().into_pyobject(py)?.into_any().unbind(),
    };
    let reason = http_reason(status);
    let factory = exceptions_module(py)?.getattr("_server_error")?;
    let instance = factory.call1((status, reason, body_obj, request_id, error_type))?;
    Ok(PyErr::from_value(instance))
}

/// The reason phrase boto 2 exposed as `reason`.
pub fn http_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// An error and its causes as one line, without the debug dumps `DisplayErrorContext` appends.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Names after which an answer may carry a credential: AWS echoes the signed
/// `x-amz-security-token` header in the canonical request of a signature error, and the
/// `Authorization` header (whose `Credential=` starts with the access key id) in others; proxies'
/// error pages dump request headers. Matched without regard to case.
const CREDENTIAL_MARKERS: &[&str] = &[
    "credential=",
    "x-amz-security-token",
    "aws_session_token",
    "aws_security_token",
    "aws_secret_access_key",
    "aws_access_key_id",
    "sessiontoken",
    "secretaccesskey",
    "accesskeyid",
];
const REDACTED: &[u8] = b"<redacted>";

/// `body` with the value after every credential marker replaced by `<redacted>`, so that no
/// exception, message or log line built from an answer can show a key or a token.
pub fn redact_credentials(body: &[u8]) -> Vec<u8> {
    let lower = body.to_ascii_lowercase();
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    let mut at = 0;
    while at < body.len() {
        let Some(marker) = CREDENTIAL_MARKERS.iter().find(|m| lower[at..].starts_with(m.as_bytes())) else {
            at += 1;
            continue;
        };
        // Skip the separator (`:`, `=`, `": "`, `': '`...), then the value's run of token characters.
        let mut value = at + marker.len();
        while value < body.len() && value - at - marker.len() < 6 && b" \t\"'\\:=".contains(&body[value]) {
            value += 1;
        }
        let mut end = value;
        while end < body.len() && (body[end].is_ascii_alphanumeric() || b"+/=%_-".contains(&body[end])) {
            end += 1;
        }
        if end > value {
            out.extend_from_slice(&body[copied..value]);
            out.extend_from_slice(REDACTED);
            copied = end;
        }
        at = end.max(at + 1);
    }
    out.extend_from_slice(&body[copied..]);
    out
}

fn redact_text(text: &str) -> String {
    String::from_utf8_lossy(&redact_credentials(text.as_bytes())).into_owned()
}

/// The request id the service sent, under either header name AWS uses.
fn request_id(raw: &HttpResponse) -> Option<String> {
    let headers = raw.headers();
    headers.get("x-amzn-RequestId").or_else(|| headers.get("x-amz-request-id")).map(str::to_string)
}

/// The bare error type from a header or body value that may carry a `namespace#` prefix or a
/// `:url` suffix (both forms appear in awsJson error responses).
fn bare_error_type(raw: &str) -> String {
    let after_hash = raw.rsplit('#').next().unwrap_or(raw);
    after_hash.split(':').next().unwrap_or(after_hash).to_string()
}

impl<E> From<SdkError<E, HttpResponse>> for KinesisError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        // These two variants only say what went wrong through the error chain. A response error's
        // chain is kept to one line: `DisplayErrorContext` would append a debug dump of the whole
        // raw response (headers, body bytes, connection internals) to the exception's message.
        let chain = match &err {
            SdkError::ResponseError(_) => error_chain(&err),
            SdkError::ConstructionFailure(_) => DisplayErrorContext(&err).to_string(),
            _ => String::new(),
        };
        match err {
            SdkError::ServiceError(context) => {
                let code = context.err().code().map(bare_error_type);
                let raw = context.raw();
                let status = raw.status().as_u16();
                let request_id = request_id(raw);
                let body = raw.body().bytes().map(redact_credentials).unwrap_or_default();
                KinesisError::Service { status, body, request_id, error_type: code }
            }
            SdkError::TimeoutError(_) => KinesisError::Timeout(
                "the request timed out (no answer within read_timeout / connect_timeout on the last attempt)".into(),
            ),
            SdkError::DispatchFailure(failure) => {
                let detail =
                    failure.as_connector_error().map(|err| error_chain(err)).unwrap_or_else(|| format!("{failure:?}"));
                if failure.is_timeout() {
                    KinesisError::Timeout(format!("the request timed out: {detail}"))
                } else if failure.is_io() || failure.is_other() || failure.is_user() {
                    KinesisError::Connection(format!("could not reach the endpoint: {detail}"))
                } else {
                    KinesisError::Connection(detail)
                }
            }
            SdkError::ResponseError(context) if context.raw().status().as_u16() >= 300 => {
                // An error status whose body is not JSON (an HTML page from a proxy or load
                // balancer): still a server error, as boto 2 raised it, with the raw text as body.
                let raw = context.raw();
                let request_id = request_id(raw);
                let body = raw.body().bytes().map(redact_credentials).unwrap_or_default();
                KinesisError::Service { status: raw.status().as_u16(), body, request_id, error_type: None }
            }
            SdkError::ResponseError(context) => {
                let raw = context.raw();
                let status = raw.status().as_u16();
                let body = raw.body().bytes().map(|b| String::from_utf8_lossy(&redact_credentials(b)).into_owned());
                KinesisError::Response {
                    message: format!(
                        "the endpoint answered HTTP {status} with a body that could not be read: {}",
                        redact_text(&chain)
                    ),
                    status: Some(status),
                    body,
                }
            }
            SdkError::ConstructionFailure(_) => {
                let detail = chain;
                if detail.contains("credentials") || detail.contains("identity") {
                    KinesisError::NoCredentials(format!("could not load credentials: {detail}"))
                } else {
                    KinesisError::Internal(format!("could not build the request: {detail}"))
                }
            }
            other => KinesisError::Internal(format!("{}", DisplayErrorContext(&other))),
        }
    }
}

/// What a long-running reader or producer should do about a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The service asked us to slow down: wait with backoff and try again.
    Throttled,
    /// The shard iterator is too old: get a new one from the last position, then try again.
    ExpiredIterator,
    /// A failure that usually passes (5xx, reset, timeout, garbled answer): back off and retry.
    Transient,
    /// Retrying cannot help (missing stream, no permission, bad argument): give up and report.
    Fatal,
}

impl KinesisError {
    pub fn recovery(&self) -> Recovery {
        match self {
            KinesisError::Service { status, error_type, .. } => match error_type.as_deref() {
                Some("ProvisionedThroughputExceededException" | "LimitExceededException" | "ThrottlingException")
                | Some("KMSThrottlingException") => Recovery::Throttled,
                Some("ExpiredIteratorException") => Recovery::ExpiredIterator,
                Some("InternalFailure" | "InternalFailureException" | "ServiceUnavailable") => Recovery::Transient,
                _ if *status >= 500 || *status == 429 => Recovery::Transient,
                _ => Recovery::Fatal,
            },
            KinesisError::Timeout(_) | KinesisError::Connection(_) | KinesisError::Response { .. } => {
                Recovery::Transient
            }
            KinesisError::InvalidArgument { .. }
            | KinesisError::NoCredentials(_)
            | KinesisError::Python(_)
            | KinesisError::Internal(_) => Recovery::Fatal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_credentials;

    fn redacted(text: &str) -> String {
        String::from_utf8(redact_credentials(text.as_bytes())).unwrap_or_default()
    }

    #[test]
    fn values_after_credential_markers_are_cut_out() {
        assert_eq!(redacted("x-amz-security-token:FQo+/=\nnext"), "x-amz-security-token:<redacted>\nnext");
        assert_eq!(redacted("Credential=AKID1/2026/us-east-1, S"), "Credential=<redacted>, S");
        assert_eq!(redacted("{'X-Amz-Security-Token': 'abc'}"), "{'X-Amz-Security-Token': '<redacted>'}");
        assert_eq!(redacted(r#"{\"SessionToken\": \"t0k\"}"#), r#"{\"SessionToken\": \"<redacted>\"}"#);
        assert_eq!(redacted("X-Amz-Security-Token=a%2Fb&x=1"), "X-Amz-Security-Token=<redacted>&x=1");
    }

    #[test]
    fn everything_else_is_left_alone() {
        for text in
            ["", "plain", "SignedHeaders=host;x-amz-security-token;x-amz-target", "credential=", "\u{e9}t\u{e9}"]
        {
            assert_eq!(redacted(text), text);
        }
        assert_eq!(redact_credentials(b"\xff\xfe"), b"\xff\xfe");
    }
}
