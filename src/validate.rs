//! Checks on arguments at the Python boundary, so that bad input fails with a message naming the
//! argument before anything is sent.

use std::borrow::Cow;

use aws_smithy_types::DateTime;
use base64::Engine;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::client::type_name;

pub const MAX_PARTITION_KEY_CHARS: usize = 256;
pub const MAX_NAME_CHARS: usize = 128;

fn value_error(arg: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{arg}: {message}"))
}

/// A Python str as UTF-8. A str holding a lone surrogate (`'\ud800'`, e.g. from bytes decoded with
/// `errors='surrogateescape'`) cannot be encoded: that is a ValueError naming the argument, not a
/// bare UnicodeEncodeError that does not say which argument it was.
pub fn utf8<'a>(arg: &str, value: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    value.to_cow().map_err(|_| {
        value_error(arg, "not valid text: it holds a lone surrogate (such as '\\ud800') that UTF-8 cannot encode")
    })
}

/// A stream named by its name or by its ARN; every data operation accepts either.
#[derive(Clone, Debug)]
pub enum StreamRef {
    Name(String),
    Arn(String),
}

impl StreamRef {
    /// `(StreamName, StreamARN)` as the SDK builders' `set_stream_name` / `set_stream_arn` want.
    pub fn split(self) -> (Option<String>, Option<String>) {
        match self {
            StreamRef::Name(name) => (Some(name), None),
            StreamRef::Arn(arn) => (None, Some(arn)),
        }
    }
}

/// Resource names (streams, shards, consumers): 1–128 of `[a-zA-Z0-9_.-]`.
pub fn resource_name(arg: &str, value: &str) -> PyResult<()> {
    if value.is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(value_error(arg, format!("must be 1 to {MAX_NAME_CHARS} characters long, got {}", value.len())));
    }
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(value_error(
            arg,
            format!("{value:?} has {bad:?}; only letters, digits, '_', '.' and '-' are allowed"),
        ));
    }
    Ok(())
}

pub fn arn(arg: &str, value: &str) -> PyResult<()> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "kinesis" && !parts[5].is_empty() && value.len() <= 2048 {
        Ok(())
    } else {
        Err(value_error(arg, format!("{value:?} is not a Kinesis ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)")))
    }
}

pub fn stream(arg: &str, value: String) -> PyResult<StreamRef> {
    if value.starts_with("arn:") {
        arn(arg, &value)?;
        Ok(StreamRef::Arn(value))
    } else {
        resource_name(arg, &value)?;
        Ok(StreamRef::Name(value))
    }
}

pub fn partition_key(arg: &str, value: &str) -> PyResult<()> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_PARTITION_KEY_CHARS {
        return Err(value_error(arg, format!("must be 1 to {MAX_PARTITION_KEY_CHARS} characters long, got {chars}")));
    }
    Ok(())
}

/// Decimal `0 | [1-9][0-9]{0,38}` in 0 ..= 2^128 - 1.
pub fn hash_key(arg: &str, value: &str) -> PyResult<u128> {
    let canonical = value == "0" || (!value.starts_with('0') && !value.is_empty() && value.len() <= 39);
    match value.parse::<u128>() {
        Ok(n) if canonical && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(value_error(arg, format!("{value:?} is not a hash key (a decimal integer from 0 to 2**128 - 1)"))),
    }
}

/// Sequence numbers are decimal strings of up to 129 digits.
pub fn sequence_number(arg: &str, value: &str) -> PyResult<()> {
    if !value.is_empty() && value.len() <= 129 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(value_error(arg, format!("{value:?} is not a sequence number (a string of up to 129 digits)")))
    }
}

pub fn int_range(arg: &str, value: i64, low: i64, high: i64) -> PyResult<i32> {
    if (low..=high).contains(&value) {
        Ok(value as i32)
    } else {
        Err(value_error(arg, format!("must be between {low} and {high}, got {value}")))
    }
}

pub fn optional_int_range(arg: &str, value: Option<i64>, low: i64, high: i64) -> PyResult<Option<i32>> {
    value.map(|v| int_range(arg, v, low, high)).transpose()
}

pub fn one_of<'a>(arg: &str, value: &str, allowed: &[&'a str]) -> PyResult<&'a str> {
    allowed
        .iter()
        .find(|a| **a == value)
        .copied()
        .ok_or_else(|| value_error(arg, format!("{value:?} is not one of {}", allowed.join(", "))))
}

/// A point in time from a `datetime` (naive means UTC) or epoch seconds.
pub fn timestamp(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<DateTime> {
    let py = value.py();
    let seconds: f64 = if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!("{arg}: expected a datetime or epoch seconds, got bool")));
    } else if let Ok(seconds) = value.extract::<f64>() {
        seconds
    } else {
        let datetime = py.import("datetime")?;
        if !value.is_instance(&datetime.getattr("datetime")?)? {
            return Err(PyTypeError::new_err(format!(
                "{arg}: expected a datetime or epoch seconds, got {}",
                type_name(value)
            )));
        }
        let aware = if value.getattr("tzinfo")?.is_none() {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("tzinfo", datetime.getattr("timezone")?.getattr("utc")?)?;
            value.call_method("replace", (), Some(&kwargs))?
        } else {
            value.clone()
        };
        aware.call_method0("timestamp")?.extract()?
    };
    if !(0.0..=253_402_300_799.0).contains(&seconds) {
        return Err(value_error(arg, format!("{seconds} is not a time between 1970 and 9999")));
    }
    Ok(DateTime::from_secs_f64(seconds))
}

/// Record payload bytes: `str` is UTF-8 encoded, bytes-like objects are taken as they are. With
/// `b64_encode=False` (boto 2), the caller hands over base64 text, which is decoded here.
pub fn payload(arg: &str, value: &Bound<'_, PyAny>, b64_encode: bool) -> PyResult<Vec<u8>> {
    let raw: Vec<u8> = if let Ok(text) = value.cast::<PyString>() {
        utf8(arg, text)?.as_bytes().to_vec()
    } else if let Ok(bytes) = value.cast::<PyBytes>() {
        bytes.as_bytes().to_vec()
    } else if let Ok(array) = value.cast::<PyByteArray>() {
        array.to_vec()
    } else if value.hasattr("__buffer__").unwrap_or(false) || value.is_instance_of::<pyo3::types::PyMemoryView>() {
        value.py().get_type::<PyBytes>().call1((value,))?.extract::<Vec<u8>>()?
    } else {
        return Err(PyTypeError::new_err(format!("{arg}: expected str or bytes, got {}", type_name(value))));
    };
    if b64_encode {
        Ok(raw)
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(&raw)
            .map_err(|err| value_error(arg, format!("b64_encode=False expects base64 text: {err}")))
    }
}

pub fn size_limit(arg: &str, size: usize, limit: usize) -> PyResult<()> {
    if size > limit {
        Err(value_error(
            arg,
            format!(
                "record of {size} bytes (data + partition key) exceeds the limit of {limit} bytes (max_record_size)"
            ),
        ))
    } else {
        Ok(())
    }
}

/// A `str` argument, with a TypeError that names it.
pub fn text(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(utf8(arg, s)?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!("{arg}: expected str, got {}", type_name(value)))),
    }
}

pub fn opt_text(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    value.filter(|v| !v.is_none()).map(|v| text(arg, v)).transpose()
}

/// An `int` argument (bool is refused: `True` as a count is a mistake), with a TypeError naming it.
pub fn integer(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_instance_of::<pyo3::types::PyBool>() || !value.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!("{arg}: expected int, got {}", type_name(value))));
    }
    value.extract::<i64>().map_err(|_| value_error(arg, format!("{value} is out of range")))
}

pub fn opt_integer(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    value.filter(|v| !v.is_none()).map(|v| integer(arg, v)).transpose()
}

/// An optional number (int or float; bool is refused), with a TypeError naming the argument.
/// Checked here rather than by pyo3's own conversion, whose error names the argument only in an
/// exception note, which Python 3.9 and 3.10 do not have.
pub fn opt_number(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!("{arg}: expected a number, got bool")));
    }
    value
        .extract::<f64>()
        .map(Some)
        .map_err(|_| PyTypeError::new_err(format!("{arg}: expected a number, got {}", type_name(value))))
}

/// An optional True/False, with a TypeError naming the argument (see `opt_number`).
pub fn opt_flag(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<bool>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    value
        .cast::<pyo3::types::PyBool>()
        .map(|b| Some(b.is_true()))
        .map_err(|_| PyTypeError::new_err(format!("{arg}: expected True or False, got {}", type_name(value))))
}

/// Extractors for `#[pyo3(from_py_with = ...)]`, one per argument that pyo3 would otherwise convert
/// itself: their errors name the argument on every Python version (pyo3 names it only in an
/// exception note, which Python 3.9 and 3.10 do not have). Defaults stay in the signatures.
pub mod named {
    use pyo3::prelude::*;

    macro_rules! flag {
        ($($name:ident),*) => {$(
            pub fn $name(value: &Bound<'_, PyAny>) -> PyResult<bool> {
                // None is refused here, not read as False: b64_encode=None must not mean "decode".
                super::opt_flag(stringify!($name), Some(value))?.ok_or_else(|| {
                    pyo3::exceptions::PyTypeError::new_err(concat!(stringify!($name), ": expected True or False, got None"))
                })
            }
        )*};
    }
    macro_rules! optional_flag {
        ($($name:ident),*) => {$(
            pub fn $name(value: &Bound<'_, PyAny>) -> PyResult<Option<bool>> {
                super::opt_flag(stringify!($name), Some(value))
            }
        )*};
    }
    macro_rules! optional_number {
        ($($name:ident),*) => {$(
            pub fn $name(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
                super::opt_number(stringify!($name), Some(value))
            }
        )*};
    }

    flag!(b64_encode, b64_decode, as_bytes, paginate);
    optional_flag!(is_secure, enforce_consumer_deletion);
    optional_number!(connect_timeout, read_timeout, retry_base_delay, retry_max_delay);

    pub fn scaling_type(value: &Bound<'_, PyAny>) -> PyResult<String> {
        super::text("scaling_type", value)
    }

    pub fn debug(value: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
        super::opt_integer("debug", Some(value))
    }
}
