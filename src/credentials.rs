//! Where credentials come from: boto 2's sources in boto 2's order, then the modern AWS chain.
//!
//! 1. the `aws_access_key_id` / `aws_secret_access_key` / `security_token` keywords;
//! 2. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN` or `AWS_SECURITY_TOKEN`);
//! 3. the named profile (`profile_name` or `AWS_PROFILE`) in `~/.aws/credentials` / `~/.aws/config`
//!    (static keys, SSO, assume-role, credential_process), else `[profile NAME]` in the boto config;
//! 4. the `default` profile of `~/.aws/credentials` / `~/.aws/config`;
//! 5. `[Credentials]` in the boto config files;
//! 6. web identity, container (ECS/EKS) and EC2 instance metadata credentials.
//!
//! The source is chosen once, when the connection is made; each runtime then builds its own
//! provider from it, since refreshing providers keep HTTP connections bound to one runtime.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::imds;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::region::Region;

use crate::config::IniFiles;
use crate::errors::{KResult, KinesisError};

/// Keeps IMDS from stalling a connection off EC2: one quick attempt, then move on.
const IMDS_TIMEOUT: Duration = Duration::from_millis(300);
const PROVIDER_NAME: &str = "kinesis";

#[derive(Clone, Default)]
pub struct CredentialOptions {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub profile_name: Option<String>,
}

impl std::fmt::Debug for CredentialOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even in debug output.
        f.debug_struct("CredentialOptions").field("profile_name", &self.profile_name).finish_non_exhaustive()
    }
}

/// How to get credentials; cheap to rebuild a provider from.
#[derive(Clone, Debug)]
pub enum CredentialSource {
    Static { credentials: Credentials, origin: String },
    AwsProfile { name: String },
    WebIdentity,
    Container,
    InstanceMetadata,
}

impl CredentialSource {
    /// A human-readable origin, shown as `conn.credential_source`.
    pub fn describe(&self) -> String {
        match self {
            CredentialSource::Static { origin, .. } => origin.clone(),
            CredentialSource::AwsProfile { name } => {
                format!("profile {name:?} in the AWS config files")
            }
            CredentialSource::WebIdentity => "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)".into(),
            CredentialSource::Container => "container credentials endpoint".into(),
            CredentialSource::InstanceMetadata => "EC2 instance metadata".into(),
        }
    }

    /// A provider for this source whose HTTP traffic, if any, uses `http_client`.
    pub fn provider(&self, region: &str, http_client: SharedHttpClient) -> SharedCredentialsProvider {
        let config = ProviderConfig::without_region()
            .with_region(Some(Region::new(region.to_string())))
            .with_http_client(http_client);
        match self {
            CredentialSource::Static { credentials, .. } => SharedCredentialsProvider::new(credentials.clone()),
            CredentialSource::AwsProfile { name } => SharedCredentialsProvider::new(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&config)
                    .profile_name(name)
                    .build(),
            ),
            CredentialSource::WebIdentity => SharedCredentialsProvider::new(
                aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                    .configure(&config)
                    .build(),
            ),
            CredentialSource::Container => SharedCredentialsProvider::new(
                aws_config::ecs::EcsCredentialsProvider::builder().configure(&config).build(),
            ),
            CredentialSource::InstanceMetadata => SharedCredentialsProvider::new(
                aws_config::imds::credentials::ImdsCredentialsProvider::builder()
                    .configure(&config)
                    .imds_client(imds_client(&config))
                    .build(),
            ),
        }
    }
}

fn imds_client(config: &ProviderConfig) -> imds::Client {
    imds::Client::builder()
        .configure(config)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .max_attempts(1)
        .build()
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn static_pair(
    access_key_id: Option<String>,
    secret: Option<String>,
    token: Option<String>,
    names: (&'static str, &'static str),
    origin: String,
) -> KResult<Option<CredentialSource>> {
    match (access_key_id, secret) {
        (Some(id), Some(secret)) => Ok(Some(CredentialSource::Static {
            credentials: Credentials::new(id, secret, token, None, PROVIDER_NAME),
            origin,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(KinesisError::invalid(names.1, format!("{} was given without {}", names.0, names.1))),
        (None, Some(_)) => Err(KinesisError::invalid(names.0, format!("{} was given without {}", names.1, names.0))),
    }
}

fn aws_shared_files() -> (PathBuf, PathBuf) {
    let home = env_nonempty("HOME").map(PathBuf::from).unwrap_or_default();
    let credentials = env_nonempty("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws").join("credentials"));
    let config = env_nonempty("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| home.join(".aws").join("config"));
    (credentials, config)
}

/// Whether a profile of that name exists in the AWS shared files (credentials or config).
fn aws_profile_exists(name: &str) -> bool {
    let (credentials_path, config_path) = aws_shared_files();
    let credentials = IniFiles::read(&[credentials_path]);
    let config = IniFiles::read(&[config_path]);
    credentials.has_section(name)
        || config.has_section(&format!("profile {name}"))
        || (name == "default" && config.has_section("default"))
}

fn boto_section_pair(boto: &IniFiles, section: &str, origin: String) -> KResult<Option<CredentialSource>> {
    let get = |key: &str| boto.get(section, key).map(str::to_string);
    static_pair(
        get("aws_access_key_id"),
        get("aws_secret_access_key"),
        get("aws_security_token").or_else(|| get("aws_session_token")),
        ("aws_access_key_id", "aws_secret_access_key"),
        origin,
    )
}

fn boto_files_text(boto: &IniFiles) -> String {
    if boto.files_read.is_empty() {
        "no boto config file found (BOTO_CONFIG, BOTO_PATH, /etc/boto.cfg, ~/.boto, ./.boto)".into()
    } else {
        boto.files_read.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// Choose the credential source, verifying that it yields credentials. Returns the source and
/// the provider used to check it (built on `http_client`, reusable on the same runtime).
pub async fn resolve(
    options: &CredentialOptions,
    boto: &IniFiles,
    region: &str,
    http_client: SharedHttpClient,
) -> KResult<(CredentialSource, SharedCredentialsProvider)> {
    let source = choose(options, boto).await?;
    let source = match source {
        Some(source) => source,
        None => match modern_chain(region, http_client.clone()).await {
            Some(source) => source,
            None => return Err(no_credentials(boto)),
        },
    };
    let provider = source.provider(region, http_client);
    if let Err(err) = provider.provide_credentials().await {
        return Err(KinesisError::NoCredentials(format!(
            "credentials from {} could not be loaded: {}",
            source.describe(),
            aws_sdk_kinesis::error::DisplayErrorContext(&err)
        )));
    }
    Ok((source, provider))
}

async fn choose(options: &CredentialOptions, boto: &IniFiles) -> KResult<Option<CredentialSource>> {
    if let Some(source) = static_pair(
        options.access_key_id.clone(),
        options.secret_access_key.clone(),
        options.session_token.clone(),
        ("aws_access_key_id", "aws_secret_access_key"),
        "the aws_access_key_id/aws_secret_access_key arguments".into(),
    )? {
        return Ok(Some(source));
    }
    let env_pair = static_pair(
        env_nonempty("AWS_ACCESS_KEY_ID"),
        env_nonempty("AWS_SECRET_ACCESS_KEY"),
        env_nonempty("AWS_SESSION_TOKEN").or_else(|| env_nonempty("AWS_SECURITY_TOKEN")),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into(),
    )?;
    if let Some(source) = env_pair {
        return Ok(Some(source));
    }
    let named_profile = options.profile_name.clone().or_else(|| env_nonempty("AWS_PROFILE"));
    if let Some(name) = named_profile {
        if aws_profile_exists(&name) {
            return Ok(Some(CredentialSource::AwsProfile { name }));
        }
        let section = format!("profile {name}");
        if let Some(source) = boto_section_pair(boto, &section, format!("[{section}] in {}", boto_files_text(boto)))? {
            return Ok(Some(source));
        }
        let (credentials_path, config_path) = aws_shared_files();
        return Err(KinesisError::NoCredentials(format!(
            "profile {name:?} was not found: looked in {}, {} and the boto config files ({})",
            credentials_path.display(),
            config_path.display(),
            boto_files_text(boto)
        )));
    }
    if aws_profile_exists("default") {
        return Ok(Some(CredentialSource::AwsProfile { name: "default".into() }));
    }
    boto_section_pair(boto, "Credentials", format!("[Credentials] in {}", boto_files_text(boto)))
}

/// Web identity, container, then instance metadata: the parts of the AWS chain boto 2 lacked.
async fn modern_chain(region: &str, http_client: SharedHttpClient) -> Option<CredentialSource> {
    if env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && env_nonempty("AWS_ROLE_ARN").is_some() {
        return Some(CredentialSource::WebIdentity);
    }
    if env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        return Some(CredentialSource::Container);
    }
    if imds_disabled() {
        return None;
    }
    let probe = CredentialSource::InstanceMetadata.provider(region, http_client);
    probe.provide_credentials().await.ok().map(|_| CredentialSource::InstanceMetadata)
}

fn imds_disabled() -> bool {
    env_nonempty("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn no_credentials(boto: &IniFiles) -> KinesisError {
    let (credentials_path, config_path) = aws_shared_files();
    let imds = if imds_disabled() {
        "EC2 instance metadata (skipped: AWS_EC2_METADATA_DISABLED=true)"
    } else {
        "EC2 instance metadata (no answer)"
    };
    KinesisError::NoCredentials(format!(
        "no AWS credentials found. Looked at: the aws_access_key_id/aws_secret_access_key arguments; \
         environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; profile \"default\" in {} and {}; \
         [Credentials] in the boto config files ({}); web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN); \
         container credentials (AWS_CONTAINER_CREDENTIALS_*); {}. Set AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, run `aws configure`, or pass aws_access_key_id=... and aws_secret_access_key=... \
         (local emulators accept any values).",
        credentials_path.display(),
        config_path.display(),
        boto_files_text(boto),
        imds
    ))
}
