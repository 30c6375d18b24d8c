//! `Connection`: the boto 2 `KinesisConnection`, in one class for both faces. A connection made
//! by `kinesis.layer1.KinesisConnection` blocks (GIL released); one made by
//! `kinesis.aio.KinesisConnection` returns awaitables. Both run the same Rust `async fn` per
//! operation; only `Connection::call` knows the difference.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Region};
use aws_sdk_kinesis::Client;
use aws_smithy_async::rt::sleep::TokioSleep;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::config::{
    default_host, read_boto_config, ConnectOptions, RequestedOptions, ValidateCerts, LARGEST_MAX_RECORD_SIZE,
};
use crate::convert::{Outcome, ToPy};
use crate::credentials::{resolve, CredentialOptions, CredentialSource};
use crate::errors::KResult;
use crate::records_json::FastGetRecords;
use crate::runtime::{block_on, current_pid, into_awaitable, Flavor};

/// One settled configuration and its SDK clients, one per runtime, rebuilt after a fork.
pub struct Session {
    pub options: ConnectOptions,
    source: CredentialSource,
    /// The provider that proved the credentials at connect time; reused by the blocking client.
    checked_provider: Mutex<Option<SharedCredentialsProvider>>,
    clients: Mutex<ClientCache>,
}

#[derive(Default)]
struct ClientCache {
    pid: u32,
    blocking: Option<Client>,
    background: Option<Client>,
}

impl Session {
    fn connect(py: Python<'_>, options: ConnectOptions, credentials: CredentialOptions) -> PyResult<Session> {
        let boto = read_boto_config();
        let http_client = options.http_client().map_err(|e| e.into_pyerr(py))?;
        let region = options.region.clone();
        let resolved = block_on(py, async move { resolve(&credentials, &boto, &region, http_client).await })?;
        let (source, provider) = resolved.map_err(|e| e.into_pyerr(py))?;
        crate::events::event!(info, "kinesis::credentials", "credentials from {}", source.describe());
        Ok(Session {
            options,
            source,
            checked_provider: Mutex::new(Some(provider)),
            clients: Mutex::new(ClientCache { pid: current_pid(), ..ClientCache::default() }),
        })
    }

    /// The same credentials source and options for another signing region.
    fn with_region(&self, region: String) -> Session {
        let mut options = self.options.clone();
        options.region = region;
        Session {
            options,
            source: self.source.clone(),
            checked_provider: Mutex::new(None),
            clients: Mutex::new(ClientCache { pid: current_pid(), ..ClientCache::default() }),
        }
    }

    pub fn client(&self, flavor: Flavor) -> KResult<Client> {
        let mut cache = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.pid != current_pid() {
            // Forked: the parent's pools belong to runtimes that do not run here.
            *cache = ClientCache { pid: current_pid(), ..ClientCache::default() };
            self.checked_provider.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
        let slot = match flavor {
            Flavor::Blocking => &mut cache.blocking,
            Flavor::Background => &mut cache.background,
        };
        if let Some(client) = slot {
            return Ok(client.clone());
        }
        let client = self.build_client(flavor)?;
        *slot = Some(client.clone());
        Ok(client)
    }

    fn build_client(&self, flavor: Flavor) -> KResult<Client> {
        let options = &self.options;
        let http_client = options.http_client()?;
        let checked = match flavor {
            Flavor::Blocking => self.checked_provider.lock().unwrap_or_else(PoisonError::into_inner).take(),
            Flavor::Background => None,
        };
        let provider = checked.unwrap_or_else(|| self.source.provider(&options.region, http_client.clone()));
        let retry = if options.num_retries == 0 {
            RetryConfig::disabled()
        } else {
            RetryConfig::standard()
                .with_max_attempts(options.num_retries + 1)
                .with_initial_backoff(options.retry_base_delay)
                .with_max_backoff(options.retry_max_delay)
        };
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build();
        let mut builder = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(options.region.clone()))
            .credentials_provider(provider)
            .http_client(http_client)
            .sleep_impl(TokioSleep::new())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(fast_get_records) = FastGetRecords::new() {
            builder = builder.interceptor(fast_get_records);
        }
        if let Some(url) = &options.endpoint_url {
            builder = builder.endpoint_url(url.clone());
        }
        Ok(Client::from_conf(builder.build()))
    }
}

#[pyclass(subclass, frozen, module = "kinesis._kinesis", name = "Connection")]
pub struct Connection {
    session: RwLock<Arc<Session>>,
    asynchronous: bool,
    closed: AtomicBool,
}

impl Connection {
    pub fn session(&self) -> Arc<Session> {
        self.session.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn check_open(&self) -> PyResult<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(PyValueError::new_err("this connection is closed; make a new one with kinesis.connect_to_region()"))
        } else {
            Ok(())
        }
    }

    /// Run one operation: block on it (sync face) or hand back an awaitable (asyncio face).
    /// `operation` gets an SDK client for the runtime that will drive it.
    pub fn call<O, Fut>(&self, py: Python<'_>, operation: impl FnOnce(Client) -> Fut) -> PyResult<Py<PyAny>>
    where
        Fut: Future<Output = KResult<O>> + Send + 'static,
        O: ToPy,
    {
        self.check_open()?;
        let session = self.session();
        if self.asynchronous {
            let client = session.client(Flavor::Background).map_err(|e| e.into_pyerr(py))?;
            let fut = operation(client);
            into_awaitable(py, async move { Ok(Outcome(fut.await)) }).map(Bound::unbind)
        } else {
            let client = session.client(Flavor::Blocking).map_err(|e| e.into_pyerr(py))?;
            match block_on(py, operation(client))? {
                Ok(value) => value.to_py(py),
                Err(err) => Err(err.into_pyerr(py)),
            }
        }
    }

    /// A value for the sync face, or an awaitable resolving to it for the asyncio face.
    fn ready(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<PyAny>> {
        if self.asynchronous {
            into_awaitable(py, async move { Ok(value) }).map(Bound::unbind)
        } else {
            Ok(value)
        }
    }

    pub fn max_record_size(&self) -> usize {
        self.session().options.max_record_size
    }
}

fn optional_string(arg: &'static str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => match v.cast::<pyo3::types::PyString>() {
            Ok(s) => Ok(Some(crate::validate::utf8(arg, s)?.into_owned())),
            Err(_) => Err(PyTypeError::new_err(format!("{arg}: expected str or None, got {}", type_name(v)))),
        },
    }
}

/// An optional whole-number keyword in `low..=high`, converted to the width the options use; a
/// TypeError or ValueError naming it otherwise (not pyo3's unnamed OverflowError for -1 or 70000).
fn optional_count<T: TryFrom<i64>>(
    arg: &'static str,
    value: Option<&Bound<'_, PyAny>>,
    low: i64,
    high: i64,
) -> PyResult<Option<T>> {
    let Some(number) = crate::validate::opt_integer(arg, value)? else {
        return Ok(None);
    };
    let in_range = crate::validate::int_range(arg, number, low, high).map(|_| number)?;
    T::try_from(in_range).map(Some).map_err(|_| PyValueError::new_err(format!("{arg}: {number} is out of range")))
}

pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

#[pymethods]
impl Connection {
    #[new]
    #[classmethod]
    #[pyo3(signature = (
        *, aws_access_key_id=None, aws_secret_access_key=None, security_token=None, profile_name=None,
        is_secure=None, port=None, host=None, debug=0, https_connection_factory=None, region=None,
        proxy=None, proxy_port=None, proxy_user=None, proxy_pass=None, validate_certs=None, path=None,
        provider=None, endpoint_url=None, aws_session_token=None, connect_timeout=None, read_timeout=None,
        num_retries=None, retry_base_delay=None, retry_max_delay=None, max_record_size=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, PyType>,
        aws_access_key_id: Option<&Bound<'_, PyAny>>,
        aws_secret_access_key: Option<&Bound<'_, PyAny>>,
        security_token: Option<&Bound<'_, PyAny>>,
        profile_name: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::is_secure)] is_secure: Option<bool>,
        port: Option<&Bound<'_, PyAny>>,
        host: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::debug)] debug: Option<i64>,
        https_connection_factory: Option<&Bound<'_, PyAny>>,
        region: Option<&Bound<'_, PyAny>>,
        proxy: Option<&Bound<'_, PyAny>>,
        proxy_port: Option<&Bound<'_, PyAny>>,
        proxy_user: Option<&Bound<'_, PyAny>>,
        proxy_pass: Option<&Bound<'_, PyAny>>,
        validate_certs: Option<&Bound<'_, PyAny>>,
        path: Option<&Bound<'_, PyAny>>,
        provider: Option<&Bound<'_, PyAny>>,
        endpoint_url: Option<&Bound<'_, PyAny>>,
        aws_session_token: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::connect_timeout)] connect_timeout: Option<f64>,
        #[pyo3(from_py_with = crate::validate::named::read_timeout)] read_timeout: Option<f64>,
        num_retries: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::validate::named::retry_base_delay)] retry_base_delay: Option<f64>,
        #[pyo3(from_py_with = crate::validate::named::retry_max_delay)] retry_max_delay: Option<f64>,
        max_record_size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let py = cls.py();
        let _ = debug; // boto 2's wire-level debug printing; use the `kinesis` logger instead.
        if https_connection_factory.is_some_and(|f| !f.is_none()) {
            return Err(PyValueError::new_err(
                "https_connection_factory: custom connection factories are not supported; \
                 use validate_certs='/path/to/ca.pem' or proxy=... instead",
            ));
        }
        if let Some(name) = optional_string("provider", provider)? {
            if name != "aws" {
                return Err(PyValueError::new_err(format!("provider: only 'aws' is supported, got {name:?}")));
            }
        }
        let (region_name, region_endpoint) = match region {
            Some(info) if !info.is_none() => {
                let name = info
                    .getattr("name")
                    .and_then(|n| n.extract::<String>())
                    .map_err(|_| PyTypeError::new_err("region: expected a RegionInfo (with .name and .endpoint)"))?;
                let endpoint = info.getattr("endpoint").ok().and_then(|e| e.extract::<String>().ok());
                (Some(name), endpoint)
            }
            _ => (None, None),
        };
        let validate_certs = match validate_certs {
            None => None,
            Some(v) if v.is_none() => None,
            Some(v) => {
                if let Ok(flag) = v.extract::<bool>() {
                    Some(if flag { ValidateCerts::Yes } else { ValidateCerts::No })
                } else if let Ok(path) = v.extract::<std::path::PathBuf>() {
                    Some(ValidateCerts::CaBundle(path))
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "validate_certs: expected bool or a CA bundle path, got {}",
                        type_name(v)
                    )));
                }
            }
        };
        let mut host = optional_string("host", host)?;
        if host.is_none() {
            // A RegionInfo pointing somewhere other than the region's standard endpoint is boto 2's
            // way of picking an endpoint; the standard one is left to the SDK and AWS_ENDPOINT_URL*.
            if let (Some(name), Some(endpoint)) = (&region_name, &region_endpoint) {
                if *endpoint != default_host(name) {
                    host = Some(endpoint.clone());
                }
            }
        }
        let requested = RequestedOptions {
            region: region_name,
            endpoint_url: optional_string("endpoint_url", endpoint_url)?,
            host,
            port: optional_count("port", port, 0, u16::MAX.into())?,
            is_secure,
            path: optional_string("path", path)?,
            validate_certs,
            proxy: optional_string("proxy", proxy)?,
            proxy_port: optional_count("proxy_port", proxy_port, 0, u16::MAX.into())?,
            proxy_user: optional_string("proxy_user", proxy_user)?,
            proxy_pass: optional_string("proxy_pass", proxy_pass)?,
            connect_timeout,
            read_timeout,
            num_retries: optional_count("num_retries", num_retries, 0, 100)?,
            retry_base_delay,
            retry_max_delay,
            max_record_size: optional_count("max_record_size", max_record_size, 1, LARGEST_MAX_RECORD_SIZE as i64)?,
        };
        let credentials = CredentialOptions {
            access_key_id: optional_string("aws_access_key_id", aws_access_key_id)?,
            secret_access_key: optional_string("aws_secret_access_key", aws_secret_access_key)?,
            session_token: optional_string("aws_session_token", aws_session_token)?
                .or(optional_string("security_token", security_token)?),
            profile_name: optional_string("profile_name", profile_name)?,
        };
        let boto = read_boto_config();
        let options = requested.settle(&boto).map_err(|e| e.into_pyerr(py))?;
        let session = Session::connect(py, options, credentials)?;
        let asynchronous = cls.getattr("_asynchronous").and_then(|v| v.is_truthy()).unwrap_or(false);
        Ok(Connection { session: RwLock::new(Arc::new(session)), asynchronous, closed: AtomicBool::new(false) })
    }

    /// The endpoint's host (and port), as boto 2's `conn.host`.
    #[getter]
    fn host(&self) -> String {
        self.session().options.host.clone()
    }

    /// The region requests are signed for.
    #[getter]
    fn region_name(&self) -> String {
        self.session().options.region.clone()
    }

    /// A `RegionInfo` for the signing region, as boto 2's `conn.region`.
    #[getter]
    fn region<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session();
        let kwargs = PyDict::new(py);
        kwargs.set_item("name", &session.options.region)?;
        kwargs.set_item("endpoint", &session.options.host)?;
        py.import("kinesis.regioninfo")?.getattr("RegionInfo")?.call((), Some(&kwargs))
    }

    /// boto 2 scripts set this to sign for an emulator's region; it changes the signing region.
    #[getter]
    fn auth_region_name(&self) -> String {
        self.region_name()
    }

    #[setter]
    fn set_auth_region_name(&self, region: String) -> PyResult<()> {
        crate::config::validate_region(&region).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut guard = self.session.write().unwrap_or_else(PoisonError::into_inner);
        let next = guard.with_region(region);
        *guard = Arc::new(next);
        Ok(())
    }

    /// Always "kinesis"; boto 2 scripts set it for emulators, which is accepted and needless here.
    #[getter]
    fn auth_service_name(&self) -> &'static str {
        "kinesis"
    }

    #[setter]
    fn set_auth_service_name(&self, service: String) -> PyResult<()> {
        if service == "kinesis" {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!("auth_service_name: only 'kinesis' can be signed for, got {service:?}")))
        }
    }

    /// Where the credentials came from (never the credentials themselves).
    #[getter]
    fn credential_source(&self) -> String {
        self.session().source.describe()
    }

    #[getter]
    fn endpoint_url(&self) -> Option<String> {
        self.session().options.endpoint_url.clone()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    #[getter(max_record_size)]
    fn py_max_record_size(&self) -> usize {
        self.max_record_size()
    }

    /// Drop the connection pools; later calls raise ValueError. Awaitable on the asyncio face.
    fn close(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.closed.store(true, Ordering::Release);
        let session = self.session();
        *session.clients.lock().unwrap_or_else(PoisonError::into_inner) = ClientCache::default();
        self.ready(py, py.None())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let class_name = slf.get_type().name()?.to_string();
        Ok(format!("{class_name}:{}", slf.get().host()))
    }
}
