//! What the producer retries, how long it waits, and copies of errors for many records.

use std::time::Duration;

use crate::errors::{KinesisError, Recovery};

/// Exponential backoff with full jitter: a random delay up to `base * 2^(failures-1)`, capped.
pub(crate) fn backoff(base: Duration, cap: Duration, failures: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(cap);
    ceiling.mul_f64(rand::random::<f64>())
}

/// Per-entry error codes worth another attempt.
pub(crate) fn retryable_entry_code(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException" | "InternalFailure" | "ServiceUnavailable" | "KMSThrottlingException"
    )
}

pub(crate) fn is_throttling(err: &KinesisError) -> bool {
    err.recovery() == Recovery::Throttled
}

/// Whole-call failures worth another attempt: throttling, 5xx, no answer, a garbled answer (the
/// same classification the reader uses).
pub(crate) fn retryable_error(err: &KinesisError) -> bool {
    matches!(err.recovery(), Recovery::Throttled | Recovery::Transient)
}

/// A PutRecords entry's error as the service error it stands for (status 400, as PutRecord gives).
pub(crate) fn entry_error(code: &str, message: &str) -> KinesisError {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string().into_bytes();
    KinesisError::Service { status: 400, body, request_id: None, error_type: Some(code.to_string()) }
}

/// A copy of an error for one more record (the Python-raising variant cannot occur here).
pub fn duplicate(err: &KinesisError) -> KinesisError {
    match err {
        KinesisError::InvalidArgument { arg, message } => {
            KinesisError::InvalidArgument { arg, message: message.clone() }
        }
        KinesisError::Service { status, body, request_id, error_type } => KinesisError::Service {
            status: *status,
            body: body.clone(),
            request_id: request_id.clone(),
            error_type: error_type.clone(),
        },
        KinesisError::Timeout(m) => KinesisError::Timeout(m.clone()),
        KinesisError::Connection(m) => KinesisError::Connection(m.clone()),
        KinesisError::Response { message, status, body } => {
            KinesisError::Response { message: message.clone(), status: *status, body: body.clone() }
        }
        KinesisError::NoCredentials(m) => KinesisError::NoCredentials(m.clone()),
        KinesisError::Python(err) => KinesisError::Internal(err.to_string()),
        KinesisError::Internal(m) => KinesisError::Internal(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for failures in 1..40 {
            let ceiling = base.saturating_mul(1u32 << (failures - 1).min(16)).min(cap);
            let delay = backoff(base, cap, failures);
            assert!(delay <= ceiling, "{failures}: {delay:?} > {ceiling:?}");
        }
    }

    #[test]
    fn throttling_5xx_and_lost_connections_are_retried_other_errors_are_not() {
        let service = |status: u16, code: &str| KinesisError::Service {
            status,
            body: Vec::new(),
            request_id: None,
            error_type: Some(code.to_string()),
        };
        assert!(retryable_error(&service(400, "ProvisionedThroughputExceededException")));
        assert!(is_throttling(&service(400, "LimitExceededException")));
        assert!(retryable_error(&service(500, "InternalFailure")));
        assert!(retryable_error(&service(503, "ServiceUnavailable")));
        assert!(retryable_error(&KinesisError::Connection("reset".into())));
        assert!(retryable_error(&KinesisError::Timeout("slow".into())));
        assert!(!retryable_error(&service(400, "ResourceNotFoundException")));
        assert!(!retryable_error(&service(400, "AccessDeniedException")));
        assert!(retryable_entry_code("InternalFailure"));
        assert!(!retryable_entry_code("KMSAccessDeniedException"));
        let copy = duplicate(&entry_error("InternalFailure", "m"));
        assert!(
            matches!(copy, KinesisError::Service { status: 400, error_type: Some(t), .. } if t == "InternalFailure")
        );
    }
}
