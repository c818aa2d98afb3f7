//! Typed configuration from environment variables, validated at start; every error names the
//! variable. The README's configuration table lists the same variables.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use secrecy::SecretString;

use crate::crypto::MasterKey;

/// Where the server runs; production refuses development shortcuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development and tests: a fixed development master key is allowed.
    Development,
    /// Production: every secret must be configured.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Compact,
}

/// A configuration error, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// How the public port answers `/metrics` (see [`Settings::public_metrics`]).
#[derive(Debug, Clone, Copy)]
pub enum PublicMetrics<'a> {
    /// Served to anyone (development only).
    Open,
    /// Served to requests that carry this bearer token.
    Bearer(&'a SecretString),
    /// Not served: 404.
    Hidden,
}

/// Which SMS provider sends, with its credentials.
#[derive(Clone)]
pub enum SmsProviderSettings {
    /// Accepts and logs (ids only); nothing leaves the machine. The offline default.
    Sandbox,
    /// LINK Mobility Common Platform (`LINK_*`).
    LinkPlatform {
        /// `LINK_BASE_URL`.
        base_url: String,
        /// `LINK_USERNAME`.
        username: String,
        /// `LINK_PASSWORD`.
        password: SecretString,
        /// `LINK_PLATFORM_ID`.
        platform_id: String,
        /// `LINK_PLATFORM_PARTNER_ID`.
        platform_partner_id: String,
        /// `LINK_GATE_ID` (delivery reports).
        gate_id: Option<String>,
    },
    /// SMSAPI by LINK Mobility Poland (`SMSAPI_*`).
    Smsapi {
        /// `SMSAPI_BASE_URL` (default `https://api.smsapi.pl`).
        base_url: String,
        /// `SMSAPI_TOKEN`.
        token: SecretString,
    },
}

/// Everything the server needs to start.
#[derive(Clone)]
pub struct Settings {
    /// `PRAXIS_ENV`.
    pub environment: Environment,
    /// `BIND_ADDR`: address the HTTP server binds (port 0 picks a free one).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_URL`: how clients reach the server.
    pub public_url: String,
    /// `DATABASE_URL`: the owner connection, used for migrations only.
    pub database_url: SecretString,
    /// `APP_DATABASE_URL`: the application-role connection used for all requests and jobs.
    pub app_database_url: SecretString,
    /// `APP_DATABASE_PASSWORD`: set on the application role by `migrate` when given.
    pub app_database_password: Option<SecretString>,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `AUTO_MIGRATE`: create and migrate the database when the server starts.
    pub auto_migrate: bool,
    /// `MASTER_KEY`: wraps every practice's data keys.
    pub master_key: MasterKey,
    /// `OPERATOR_API_KEY`: enables the operator API when set.
    pub operator_api_key: Option<SecretString>,
    /// `SESSION_IDLE_TIMEOUT_SECS`.
    pub session_idle_timeout: Duration,
    /// `SESSION_ABSOLUTE_TIMEOUT_SECS`.
    pub session_absolute_timeout: Duration,
    /// `SETUP_TOKEN_TTL_HOURS`.
    pub setup_token_ttl: Duration,
    /// `LOGIN_RATE_PER_MINUTE`: per client IP, over every login and setup route.
    pub login_rate_per_minute: u32,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `AUDIT_SEAL_INTERVAL_MS`: how often the audit sealer runs.
    pub audit_seal_interval: Duration,
    /// `PASSWORD_HASH_CONCURRENCY`: argon2 hashes that may run at once (memory bound).
    pub password_hash_concurrency: usize,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `TOTP_ISSUER`: the name authenticator apps show.
    pub totp_issuer: String,
    /// `SMS_PROVIDER`: `sandbox` (default), `link_platform` or `smsapi`.
    pub sms_provider: SmsProviderSettings,
    /// `SMS_SENDER`: alphanumeric sender id (2–11 of a-z A-Z 0-9, not starting with a digit).
    pub sms_sender: String,
    /// `SMS_CALLBACK_TOKEN`: the secret path segment of the delivery-report and inbound
    /// callback URLs (at least 24 characters). Random per process when unset (development).
    pub sms_callback_token: SecretString,
    /// `LINK_GATE_USERNAME` / `LINK_GATE_PASSWORD`: the Basic credentials stored on the LINK
    /// gate; platform callbacks without them are refused.
    pub link_gate_credentials: Option<(String, SecretString)>,
    /// `SMS_RECONCILE_SECS`: how long a platform send whose answer was lost waits for a
    /// delivery report naming it before it is sent again.
    pub sms_reconcile_after: Duration,
    /// `SMS_RETRY_BASE_MS`: first retry delay after a retryable provider error (doubles).
    pub sms_retry_base: Duration,
    /// `SMS_PROVIDER_TIMEOUT_MS`: how long a provider call may take; a call that times out is
    /// in doubt (the provider may have the message) and settled as described in notifications.
    pub sms_provider_timeout: Duration,
    /// `SMS_SEND_CONCURRENCY`: sends in flight per worker process. A send waits mostly on the
    /// provider (tens to hundreds of milliseconds per call), so this is sized for its latency.
    pub sms_send_concurrency: usize,
    /// `SMS_SEND_BATCH`: send jobs fetched from the queue per poll.
    pub sms_send_batch: usize,
    /// `METRICS_TOKEN`: bearer token that `/metrics` on the public port requires when set.
    pub metrics_token: Option<SecretString>,
    /// `METRICS_BIND_ADDR`: a separate listen address serving only `/metrics` (for a scraper on
    /// an internal network); the public port then does not serve it unless `METRICS_TOKEN` is set.
    pub metrics_bind_addr: Option<SocketAddr>,
    /// `JOB_HEARTBEAT_MS`: worker heartbeat; a worker silent for three is presumed dead and
    /// its jobs run again.
    pub job_heartbeat: Duration,
    /// `JOB_POLL_MS`: how often an idle worker looks for due jobs (the latency of a new job).
    pub job_poll: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets and connection strings are never printed.
        f.debug_struct("Settings")
            .field("environment", &self.environment)
            .field("bind_addr", &self.bind_addr)
            .field("public_url", &self.public_url)
            .field("auto_migrate", &self.auto_migrate)
            .finish_non_exhaustive()
    }
}

/// The development master key: 32 bytes, known to everyone, refused in production.
const DEV_MASTER_KEY: [u8; 32] = *b"praxis-development-key-not-prod!";

/// The database the server uses when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/praxis";

/// The application role created by `migrate`.
pub const APP_ROLE: &str = "praxis_app";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let environment = match get("PRAXIS_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(_) => return Err(err("PRAXIS_ENV", "must be 'development' or 'production'")),
        };
        let bind_addr = parse(
            &get,
            "BIND_ADDR",
            "127.0.0.1:8080".parse().expect("valid address"),
        )?;
        let public_url = get("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind_addr}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(err("PUBLIC_URL", "must start with http:// or https://"));
        }
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(err("DATABASE_URL", "must be a postgres:// URL"));
        }
        let app_database_url = match get("APP_DATABASE_URL") {
            Some(url) => url,
            None => app_url_from_owner_url(&database_url)
                .ok_or_else(|| err("DATABASE_URL", "has no user part to replace"))?,
        };
        let master_key = match get("MASTER_KEY") {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| err("MASTER_KEY", "must be base64"))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| err("MASTER_KEY", "must decode to exactly 32 bytes"))?;
                MasterKey::new(key)
            }
            None if environment == Environment::Production => {
                return Err(err("MASTER_KEY", "is required when PRAXIS_ENV=production"));
            }
            None => MasterKey::new(DEV_MASTER_KEY),
        };
        if environment == Environment::Production && master_key.is(&DEV_MASTER_KEY) {
            return Err(err(
                "MASTER_KEY",
                "is the development key; generate one with `openssl rand -base64 32`",
            ));
        }
        let operator_api_key = get("OPERATOR_API_KEY").map(SecretString::from);
        if let Some(k) = &operator_api_key {
            use secrecy::ExposeSecret;
            if k.expose_secret().len() < 32 {
                return Err(err("OPERATOR_API_KEY", "must be at least 32 characters"));
            }
        }
        let log_format = match get("LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("compact") => LogFormat::Compact,
            None if environment == Environment::Production => LogFormat::Json,
            None => LogFormat::Compact,
            Some(_) => return Err(err("LOG_FORMAT", "must be 'json' or 'compact'")),
        };
        let required = |var: &'static str| {
            get(var).ok_or_else(|| err(var, "is required for this SMS_PROVIDER"))
        };
        let sms_provider = match get("SMS_PROVIDER").as_deref() {
            None | Some("sandbox") => SmsProviderSettings::Sandbox,
            Some("link_platform") => SmsProviderSettings::LinkPlatform {
                base_url: https_url(required("LINK_BASE_URL")?, "LINK_BASE_URL", environment)?,
                username: required("LINK_USERNAME")?,
                password: SecretString::from(required("LINK_PASSWORD")?),
                platform_id: required("LINK_PLATFORM_ID")?,
                platform_partner_id: required("LINK_PLATFORM_PARTNER_ID")?,
                gate_id: get("LINK_GATE_ID"),
            },
            Some("smsapi") => SmsProviderSettings::Smsapi {
                base_url: https_url(
                    get("SMSAPI_BASE_URL").unwrap_or_else(|| "https://api.smsapi.pl".to_owned()),
                    "SMSAPI_BASE_URL",
                    environment,
                )?,
                token: SecretString::from(required("SMSAPI_TOKEN")?),
            },
            Some(_) => {
                return Err(err(
                    "SMS_PROVIDER",
                    "must be sandbox, link_platform or smsapi",
                ));
            }
        };
        if environment == Environment::Production
            && matches!(sms_provider, SmsProviderSettings::Sandbox)
            && !parse_bool(&get, "ALLOW_SANDBOX_PROVIDERS", false)?
        {
            return Err(err(
                "SMS_PROVIDER",
                "is the sandbox; set a real provider or ALLOW_SANDBOX_PROVIDERS=true",
            ));
        }
        let sms_sender = get("SMS_SENDER").unwrap_or_else(|| "Praxis".to_owned());
        let sender_ok = (2..=11).contains(&sms_sender.len())
            && sms_sender.chars().all(|c| c.is_ascii_alphanumeric())
            && !sms_sender.starts_with(|c: char| c.is_ascii_digit());
        if !sender_ok {
            return Err(err(
                "SMS_SENDER",
                "must be 2 to 11 letters or digits, not starting with a digit",
            ));
        }
        let sms_callback_token = match get("SMS_CALLBACK_TOKEN") {
            Some(t)
                if t.len() >= 24
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                t
            }
            Some(_) => {
                return Err(err(
                    "SMS_CALLBACK_TOKEN",
                    "must be at least 24 letters, digits, '-' or '_'",
                ));
            }
            None if environment == Environment::Production
                && !matches!(sms_provider, SmsProviderSettings::Sandbox) =>
            {
                return Err(err(
                    "SMS_CALLBACK_TOKEN",
                    "is required for this SMS_PROVIDER",
                ));
            }
            None => crate::crypto::random_token("cb"),
        };
        let link_gate_credentials = match (get("LINK_GATE_USERNAME"), get("LINK_GATE_PASSWORD")) {
            (Some(u), Some(p)) => Some((u, SecretString::from(p))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(err(
                    "LINK_GATE_PASSWORD",
                    "is required with LINK_GATE_USERNAME",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "LINK_GATE_USERNAME",
                    "is required with LINK_GATE_PASSWORD",
                ));
            }
        };
        let metrics_token = get("METRICS_TOKEN").map(SecretString::from);
        if let Some(k) = &metrics_token {
            use secrecy::ExposeSecret;
            if k.expose_secret().len() < 32 {
                return Err(err("METRICS_TOKEN", "must be at least 32 characters"));
            }
        }
        let metrics_bind_addr =
            match get("METRICS_BIND_ADDR") {
                Some(v) => Some(v.parse().map_err(|_| {
                    err("METRICS_BIND_ADDR", "must be an address like 10.0.0.5:9090")
                })?),
                None => None,
            };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Self {
            environment,
            bind_addr,
            public_url,
            database_url: SecretString::from(database_url),
            app_database_url: SecretString::from(app_database_url),
            app_database_password: get("APP_DATABASE_PASSWORD").map(SecretString::from),
            database_max_connections: parse(&get, "DATABASE_MAX_CONNECTIONS", 20)?,
            auto_migrate: parse_bool(&get, "AUTO_MIGRATE", true)?,
            master_key,
            operator_api_key,
            session_idle_timeout: Duration::from_secs(parse(
                &get,
                "SESSION_IDLE_TIMEOUT_SECS",
                30 * 60,
            )?),
            session_absolute_timeout: Duration::from_secs(parse(
                &get,
                "SESSION_ABSOLUTE_TIMEOUT_SECS",
                12 * 3600,
            )?),
            setup_token_ttl: Duration::from_secs(
                3600 * parse::<u64>(&get, "SETUP_TOKEN_TTL_HOURS", 72)?,
            ),
            login_rate_per_minute: positive(
                parse(&get, "LOGIN_RATE_PER_MINUTE", 30)?,
                "LOGIN_RATE_PER_MINUTE",
            )?,
            max_body_bytes: parse(&get, "MAX_BODY_BYTES", 64 * 1024)?,
            audit_seal_interval: Duration::from_millis(parse(
                &get,
                "AUDIT_SEAL_INTERVAL_MS",
                2000,
            )?),
            password_hash_concurrency: positive(
                parse(&get, "PASSWORD_HASH_CONCURRENCY", cores as u32)?,
                "PASSWORD_HASH_CONCURRENCY",
            )? as usize,
            log_format,
            totp_issuer: get("TOTP_ISSUER").unwrap_or_else(|| "Praxis".to_owned()),
            sms_provider,
            sms_sender,
            sms_callback_token: SecretString::from(sms_callback_token),
            link_gate_credentials,
            sms_reconcile_after: Duration::from_secs(parse(&get, "SMS_RECONCILE_SECS", 900)?),
            sms_retry_base: Duration::from_millis(parse(&get, "SMS_RETRY_BASE_MS", 30_000)?),
            sms_provider_timeout: Duration::from_millis(
                positive(
                    parse(&get, "SMS_PROVIDER_TIMEOUT_MS", 10_000)?,
                    "SMS_PROVIDER_TIMEOUT_MS",
                )?
                .into(),
            ),
            sms_send_concurrency: positive(
                parse(&get, "SMS_SEND_CONCURRENCY", 128)?,
                "SMS_SEND_CONCURRENCY",
            )? as usize,
            sms_send_batch: positive(parse(&get, "SMS_SEND_BATCH", 32)?, "SMS_SEND_BATCH")?
                as usize,
            metrics_token,
            metrics_bind_addr,
            job_heartbeat: Duration::from_millis(positive(
                parse(&get, "JOB_HEARTBEAT_MS", 5_000)?,
                "JOB_HEARTBEAT_MS",
            )? as u64),
            job_poll: Duration::from_millis(positive(
                parse(&get, "JOB_POLL_MS", 200)?,
                "JOB_POLL_MS",
            )? as u64),
        })
    }

    /// How `/metrics` is served on the public port: behind `METRICS_TOKEN` when one is set;
    /// otherwise not at all when it has a listener of its own or in production, and openly only
    /// on a development machine.
    pub fn public_metrics(&self) -> PublicMetrics<'_> {
        match (
            &self.metrics_token,
            self.metrics_bind_addr,
            self.environment,
        ) {
            (Some(token), _, _) => PublicMetrics::Bearer(token),
            (None, None, Environment::Development) => PublicMetrics::Open,
            (None, _, _) => PublicMetrics::Hidden,
        }
    }

    /// Whether the development master key is in use.
    pub fn uses_development_key(&self) -> bool {
        self.master_key.is(&DEV_MASTER_KEY)
    }
}

/// `postgres://owner:pw@host/db` → `postgres://praxis_app@host/db`.
pub fn app_url_from_owner_url(owner: &str) -> Option<String> {
    let (scheme, rest) = owner.split_once("://")?;
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let host_part = match authority_and_path.rsplit_once('@') {
        Some((_, host)) => host,
        None => authority_and_path,
    };
    let mut url = format!("{scheme}://{APP_ROLE}@{host_part}");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(url)
}

/// Provider URLs are https in production (plain http is for local simulators).
fn https_url(
    url: String,
    var: &'static str,
    environment: Environment,
) -> Result<String, ConfigError> {
    let ok = url.starts_with("https://")
        || (environment == Environment::Development && url.starts_with("http://"));
    if ok {
        Ok(url)
    } else {
        Err(err(var, "must be an https:// URL"))
    }
}

fn err(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_owned(),
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| err(var, "is not a valid value")),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(err(var, "must be true or false")),
    }
}

fn positive(v: u32, var: &'static str) -> Result<u32, ConfigError> {
    if v == 0 {
        Err(err(var, "must be greater than zero"))
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_for_development() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert!(s.uses_development_key());
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            settings(&[("BIND_ADDR", "nope")]).unwrap_err().variable,
            "BIND_ADDR"
        );
        assert_eq!(
            settings(&[("PRAXIS_ENV", "production")])
                .unwrap_err()
                .variable,
            "MASTER_KEY"
        );
        assert_eq!(
            settings(&[("MASTER_KEY", "c2hvcnQ=")])
                .unwrap_err()
                .variable,
            "MASTER_KEY"
        );
        assert_eq!(
            settings(&[("LOGIN_RATE_PER_MINUTE", "0")])
                .unwrap_err()
                .variable,
            "LOGIN_RATE_PER_MINUTE"
        );
        assert_eq!(
            settings(&[("OPERATOR_API_KEY", "short")])
                .unwrap_err()
                .variable,
            "OPERATOR_API_KEY"
        );
        assert_eq!(
            settings(&[("SMS_PROVIDER", "carrier-pigeon")])
                .unwrap_err()
                .variable,
            "SMS_PROVIDER"
        );
        assert_eq!(
            settings(&[("SMS_PROVIDER", "link_platform")])
                .unwrap_err()
                .variable,
            "LINK_BASE_URL"
        );
        assert_eq!(
            settings(&[("SMS_PROVIDER", "smsapi")])
                .unwrap_err()
                .variable,
            "SMSAPI_TOKEN"
        );
        assert_eq!(
            settings(&[("SMS_SENDER", "1Clinic")]).unwrap_err().variable,
            "SMS_SENDER"
        );
    }

    #[test]
    fn metrics_stay_off_the_public_port_unless_a_token_guards_them() {
        use super::PublicMetrics;
        let key = ("MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
        let prod = [
            ("PRAXIS_ENV", "production"),
            key,
            ("ALLOW_SANDBOX_PROVIDERS", "true"),
        ];
        let token = ("METRICS_TOKEN", "metrics-token-0123456789abcdefghijklmnop");
        let separate = ("METRICS_BIND_ADDR", "127.0.0.1:9090");
        let public = |vars: &[(&str, &str)]| match settings(vars).unwrap().public_metrics() {
            PublicMetrics::Open => "open",
            PublicMetrics::Bearer(_) => "bearer",
            PublicMetrics::Hidden => "hidden",
        };
        assert_eq!(public(&prod), "hidden");
        assert_eq!(public(&[prod[0], prod[1], prod[2], separate]), "hidden");
        assert_eq!(public(&[prod[0], prod[1], prod[2], token]), "bearer");
        assert_eq!(public(&[]), "open");
        assert_eq!(public(&[separate]), "hidden");
        assert!(settings(&[("METRICS_TOKEN", "short")]).is_err());
        assert!(settings(&[("METRICS_BIND_ADDR", "nowhere")]).is_err());
    }

    #[test]
    fn production_refuses_the_sandbox_unless_told() {
        let key = ("MASTER_KEY", "cHJvZHVjdGlvbi1rZXktb2YtMzItYnl0ZXMtbG9uZyE=");
        let prod = [("PRAXIS_ENV", "production"), key];
        assert_eq!(settings(&prod).unwrap_err().variable, "SMS_PROVIDER");
        let allowed = [
            ("PRAXIS_ENV", "production"),
            key,
            ("ALLOW_SANDBOX_PROVIDERS", "true"),
        ];
        assert!(matches!(
            settings(&allowed).unwrap().sms_provider,
            SmsProviderSettings::Sandbox
        ));
        let smsapi = [
            ("PRAXIS_ENV", "production"),
            key,
            ("SMS_PROVIDER", "smsapi"),
            ("SMSAPI_TOKEN", "t"),
            ("SMSAPI_BASE_URL", "http://x"),
        ];
        assert_eq!(
            settings(&smsapi).unwrap_err().variable,
            "SMSAPI_BASE_URL",
            "https only in production"
        );
    }

    #[test]
    fn app_url_swaps_the_user() {
        assert_eq!(
            app_url_from_owner_url("postgres://postgres:secret@db:5432/praxis?sslmode=require")
                .unwrap(),
            "postgres://praxis_app@db:5432/praxis?sslmode=require"
        );
        assert_eq!(
            app_url_from_owner_url("postgres://127.0.0.1/praxis").unwrap(),
            "postgres://praxis_app@127.0.0.1/praxis"
        );
    }
}
