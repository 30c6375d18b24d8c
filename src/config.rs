//! Connection options: what the user passed (boto 2 keywords and ours), the boto config files'
//! `[Boto]` section, and the environment, settled into one `ConnectOptions` before connecting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder as HttpClientBuilder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::errors::{KResult, KinesisError};

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_CONNECT_TIMEOUT: f64 = 10.0;
pub const DEFAULT_READ_TIMEOUT: f64 = 60.0;
pub const DEFAULT_NUM_RETRIES: u32 = 5;
pub const DEFAULT_RETRY_BASE_DELAY: f64 = 0.1;
pub const DEFAULT_RETRY_MAX_DELAY: f64 = 20.0;
pub const DEFAULT_MAX_RECORD_SIZE: usize = 1024 * 1024;
/// The largest record size a stream can be configured for (`MaxRecordSizeInKiB` = 10,240).
pub const LARGEST_MAX_RECORD_SIZE: usize = 10 * 1024 * 1024;

/// What the user asked for, before the environment and config files are consulted.
#[derive(Clone, Debug, Default)]
pub struct RequestedOptions {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub is_secure: Option<bool>,
    pub path: Option<String>,
    pub validate_certs: Option<ValidateCerts>,
    pub proxy: Option<String>,
    pub proxy_port: Option<u16>,
    pub proxy_user: Option<String>,
    pub proxy_pass: Option<String>,
    pub connect_timeout: Option<f64>,
    pub read_timeout: Option<f64>,
    pub num_retries: Option<u32>,
    pub retry_base_delay: Option<f64>,
    pub retry_max_delay: Option<f64>,
    pub max_record_size: Option<usize>,
}

#[derive(Clone, Debug)]
pub enum ValidateCerts {
    Yes,
    No,
    /// Trust the certificates in this PEM file as well as the system's.
    CaBundle(PathBuf),
}

#[derive(Clone, Debug)]
pub struct ProxySettings {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Everything needed to build an SDK client, settled once per connection.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub region: String,
    /// `None`: the SDK's regional endpoint.
    pub endpoint_url: Option<String>,
    /// What `repr(conn)` and `conn.host` show.
    pub host: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub num_retries: u32,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub proxy: Option<ProxySettings>,
    pub extra_ca_pem: Option<Vec<u8>>,
    pub max_record_size: usize,
}

/// Region names as AWS spells them: lowercase words and digits joined by '-', ending in a number
/// (`us-east-1`, `us-gov-west-1`, `cn-northwest-1`). Anything else is a typo we can catch early.
pub fn validate_region(region: &str) -> KResult<()> {
    let parts: Vec<&str> = region.split('-').collect();
    let well_formed = region.len() <= 64
        && parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if well_formed {
        Ok(())
    } else {
        Err(KinesisError::invalid(
            "region_name",
            format!("{region:?} is not an AWS region name (expected something like 'us-east-1')"),
        ))
    }
}

/// The DNS suffix of the partition a region belongs to.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else {
        "amazonaws.com"
    }
}

pub fn default_host(region: &str) -> String {
    format!("kinesis.{region}.{}", dns_suffix(region))
}

fn validate_endpoint_url(arg: &'static str, url: &str) -> KResult<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        _ => Err(KinesisError::invalid(
            arg,
            format!("{url:?} is not an http:// or https:// URL (expected e.g. 'http://127.0.0.1:4567')"),
        )),
    }
}

/// A URL with any `user:password@` taken out, for messages.
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("<redacted>@{}", &rest[at + 1..]),
        Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_string()
}

fn positive_seconds(arg: &'static str, value: f64) -> KResult<Duration> {
    if value.is_finite() && value > 0.0 && value <= 86_400.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(KinesisError::invalid(arg, format!("must be a number of seconds > 0 and <= 86400, got {value}")))
    }
}

fn non_negative_seconds(arg: &'static str, value: f64) -> KResult<Duration> {
    if value.is_finite() && (0.0..=3_600.0).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(KinesisError::invalid(arg, format!("must be a number of seconds >= 0 and <= 3600, got {value}")))
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A parsed INI file set: section name → lowercase key → value, later files winning key by key.
#[derive(Clone, Debug, Default)]
pub struct IniFiles {
    pub sections: HashMap<String, HashMap<String, String>>,
    pub files_read: Vec<PathBuf>,
}

impl IniFiles {
    pub fn read(paths: &[PathBuf]) -> Self {
        let mut ini = IniFiles::default();
        for path in paths {
            if let Ok(text) = std::fs::read_to_string(path) {
                ini.merge(&text);
                ini.files_read.push(path.clone());
            }
        }
        ini
    }

    /// configparser's subset that boto and AWS config files use: `[section]`, `key = value` or
    /// `key: value`, full-line `#`/`;` comments, indented continuation lines.
    pub fn merge(&mut self, text: &str) {
        let mut section: Option<String> = None;
        let mut last_key: Option<String> = None;
        for raw in text.lines() {
            let line = raw.trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let (Some(stripped), true) = (trimmed.strip_prefix('['), trimmed.ends_with(']')) {
                let name = stripped[..stripped.len() - 1].trim().to_string();
                self.sections.entry(name.clone()).or_default();
                section = Some(name);
                last_key = None;
                continue;
            }
            let Some(current) = section.as_ref() else {
                continue;
            };
            let entries = self.sections.entry(current.clone()).or_default();
            if line.starts_with(char::is_whitespace) {
                if let Some(value) = last_key.as_ref().and_then(|key| entries.get_mut(key)) {
                    value.push('\n');
                    value.push_str(trimmed);
                }
                continue;
            }
            if let Some(split_at) = trimmed.find(['=', ':']) {
                let key = trimmed[..split_at].trim().to_ascii_lowercase();
                let value = trimmed[split_at + 1..].trim().to_string();
                entries.insert(key.clone(), value);
                last_key = Some(key);
            }
        }
    }

    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }
}

fn home_dir() -> Option<PathBuf> {
    env_nonempty("HOME").map(PathBuf::from)
}

/// boto 2's config file list: only `$BOTO_CONFIG` if set; else the `$BOTO_PATH` list; else
/// `/etc/boto.cfg`, `~/.boto`, and a `.boto` beside the program (the current directory). Later wins.
pub fn boto_config_paths() -> Vec<PathBuf> {
    if let Some(single) = env_nonempty("BOTO_CONFIG") {
        return vec![PathBuf::from(single)];
    }
    if let Some(list) = std::env::var_os("BOTO_PATH") {
        return std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect();
    }
    let mut paths = vec![PathBuf::from("/etc/boto.cfg")];
    if let Some(home) = home_dir() {
        paths.push(home.join(".boto"));
    }
    paths.push(Path::new(".boto").to_path_buf());
    paths
}

pub fn read_boto_config() -> IniFiles {
    IniFiles::read(&boto_config_paths())
}

fn ini_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

impl RequestedOptions {
    /// Settle the options: keywords first, then the `[Boto]` section, then the environment.
    pub fn settle(mut self, boto: &IniFiles) -> KResult<ConnectOptions> {
        let region = self.region.take().unwrap_or_else(|| DEFAULT_REGION.to_string());
        validate_region(&region)?;

        let from_boto = |key: &str| boto.get("Boto", key).map(str::to_string);
        let is_secure = match self.is_secure {
            Some(v) => v,
            None => from_boto("is_secure").and_then(|v| ini_bool(&v)).unwrap_or(true),
        };
        let scheme = if is_secure { "https" } else { "http" };

        let endpoint_url = if let Some(url) = self.endpoint_url.as_deref() {
            Some(validate_endpoint_url("endpoint_url", url)?)
        } else if let Some(host) = self.host.as_deref() {
            if host.contains("://") {
                Some(validate_endpoint_url("host", host)?)
            } else {
                if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
                    return Err(KinesisError::invalid("host", format!("{host:?} is not a host name or address")));
                }
                let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.into() };
                let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
                let path = self.path.as_deref().filter(|p| *p != "/").unwrap_or("");
                Some(format!("{scheme}://{host}{port}{path}"))
            }
        } else if let Some(url) = env_nonempty("AWS_ENDPOINT_URL_KINESIS") {
            Some(validate_endpoint_url("AWS_ENDPOINT_URL_KINESIS", &url)?)
        } else if let Some(url) = env_nonempty("AWS_ENDPOINT_URL") {
            Some(validate_endpoint_url("AWS_ENDPOINT_URL", &url)?)
        } else if !is_secure || self.port.is_some() {
            let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
            Some(format!("{scheme}://{}{port}", default_host(&region)))
        } else {
            None
        };
        let host = endpoint_url.as_deref().map_or_else(|| default_host(&region), host_of);

        let validate_certs = match self.validate_certs.take() {
            Some(v) => v,
            None => match (from_boto("https_validate_certificates"), from_boto("ca_certificates_file")) {
                (Some(v), _) if ini_bool(&v) == Some(false) => ValidateCerts::No,
                (_, Some(path)) => ValidateCerts::CaBundle(PathBuf::from(path)),
                _ => ValidateCerts::Yes,
            },
        };
        let uses_tls = endpoint_url.as_deref().is_none_or(|u| u.starts_with("https://"));
        let extra_ca_pem = match validate_certs {
            ValidateCerts::Yes => None,
            ValidateCerts::No if !uses_tls => None,
            ValidateCerts::No => {
                return Err(KinesisError::invalid(
                    "validate_certs",
                    "turning certificate checks off is not supported for https endpoints; pass \
                     validate_certs='/path/to/ca.pem' to trust your server's certificate, or use an http:// endpoint",
                ))
            }
            ValidateCerts::CaBundle(path) => Some(std::fs::read(&path).map_err(|err| {
                KinesisError::invalid("validate_certs", format!("cannot read CA bundle {}: {err}", path.display()))
            })?),
        };

        let proxy_host = self.proxy.take().or_else(|| from_boto("proxy"));
        let proxy = match proxy_host {
            None => None,
            Some(proxy_host) => {
                let port = match self.proxy_port {
                    Some(p) => Some(p),
                    None => match from_boto("proxy_port") {
                        Some(p) => Some(p.parse::<u16>().map_err(|_| {
                            KinesisError::invalid("proxy_port", format!("{p:?} in the boto config is not a port"))
                        })?),
                        None => None,
                    },
                };
                let base = if proxy_host.contains("://") { proxy_host } else { format!("http://{proxy_host}") };
                let url = match port {
                    Some(p) => format!("{}:{p}", base.trim_end_matches('/')),
                    None => base,
                };
                Some(ProxySettings {
                    url,
                    user: self.proxy_user.take().or_else(|| from_boto("proxy_user")),
                    password: self.proxy_pass.take().or_else(|| from_boto("proxy_pass")),
                })
            }
        };

        let read_timeout = match self.read_timeout {
            Some(v) => v,
            None => from_boto("http_socket_timeout").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_READ_TIMEOUT),
        };
        let num_retries = match self.num_retries {
            Some(v) => v,
            None => from_boto("num_retries").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_NUM_RETRIES),
        };
        if num_retries > 100 {
            return Err(KinesisError::invalid("num_retries", format!("must be between 0 and 100, got {num_retries}")));
        }
        let max_record_size = self.max_record_size.unwrap_or(DEFAULT_MAX_RECORD_SIZE);
        if !(1..=LARGEST_MAX_RECORD_SIZE).contains(&max_record_size) {
            return Err(KinesisError::invalid(
                "max_record_size",
                format!("must be between 1 and {LARGEST_MAX_RECORD_SIZE} bytes, got {max_record_size}"),
            ));
        }
        let retry_base_delay =
            non_negative_seconds("retry_base_delay", self.retry_base_delay.unwrap_or(DEFAULT_RETRY_BASE_DELAY))?;
        let retry_max_delay =
            non_negative_seconds("retry_max_delay", self.retry_max_delay.unwrap_or(DEFAULT_RETRY_MAX_DELAY))?;

        Ok(ConnectOptions {
            region,
            endpoint_url,
            host,
            connect_timeout: positive_seconds(
                "connect_timeout",
                self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            )?,
            read_timeout: positive_seconds("read_timeout", read_timeout)?,
            num_retries,
            retry_base_delay,
            retry_max_delay: retry_max_delay.max(retry_base_delay),
            proxy,
            extra_ca_pem,
            max_record_size,
        })
    }
}

impl ConnectOptions {
    /// A new HTTP client with its own connection pool. Each runtime gets its own: a pooled
    /// connection is driven by a task of the runtime that opened it.
    pub fn http_client(&self) -> KResult<SharedHttpClient> {
        let proxy = match &self.proxy {
            None => ProxyConfig::from_env(),
            Some(settings) => {
                let mut config = ProxyConfig::all(settings.url.as_str()).map_err(|err| {
                    KinesisError::invalid("proxy", format!("{:?}: {err}", without_userinfo(&settings.url)))
                })?;
                if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
                    config = config.with_basic_auth(user.as_str(), password.as_str());
                }
                config
            }
        };
        let mut trust_store = TrustStore::default();
        if let Some(pem) = &self.extra_ca_pem {
            trust_store = trust_store.with_pem_certificate(pem.clone());
        }
        let tls_context = TlsContext::builder()
            .with_trust_store(trust_store)
            .build()
            .map_err(|err| KinesisError::invalid("validate_certs", format!("unusable CA bundle: {err}")))?;
        Ok(HttpClientBuilder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
                .tls_context(tls_context.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(proxy.clone()));
            connector.build()
        }))
    }
}
