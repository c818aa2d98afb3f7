//! The HTTP section: where the server listens, how it is reached, what a request may weigh,
//! and who may read `/metrics`.

use std::net::SocketAddr;

use secrecy::SecretString;

use super::source::{ConfigError, Environment, Source, err};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Compact,
}

/// How the public port answers `/metrics` (see [`ServerSettings::public_metrics`]).
#[derive(Debug, Clone, Copy)]
pub enum PublicMetrics<'a> {
    /// Served to anyone (development only).
    Open,
    /// Served to requests that carry this bearer token.
    Bearer(&'a SecretString),
    /// Not served: 404.
    Hidden,
}

/// The HTTP server.
#[derive(Clone)]
pub struct ServerSettings {
    /// `BIND_ADDR`: address the HTTP server binds (port 0 picks a free one).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_URL`: how clients reach the server.
    pub public_url: String,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `LOG_FORMAT`: `json` (production default) or `compact`.
    pub log_format: LogFormat,
    /// `METRICS_TOKEN`: bearer token that `/metrics` on the public port requires when set.
    pub metrics_token: Option<SecretString>,
    /// `METRICS_BIND_ADDR`: a separate listen address serving only `/metrics` (for a scraper on
    /// an internal network); the public port then does not serve it unless `METRICS_TOKEN` is set.
    pub metrics_bind_addr: Option<SocketAddr>,
    environment: Environment,
}

impl ServerSettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        let bind_addr = env.parse(
            "BIND_ADDR",
            "127.0.0.1:8080".parse().expect("valid address"),
        )?;
        let public_url = env
            .get("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind_addr}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(err("PUBLIC_URL", "must start with http:// or https://"));
        }
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("compact") => LogFormat::Compact,
            None if env.production() => LogFormat::Json,
            None => LogFormat::Compact,
            Some(_) => return Err(err("LOG_FORMAT", "must be 'json' or 'compact'")),
        };
        let metrics_bind_addr =
            match env.get("METRICS_BIND_ADDR") {
                Some(v) => Some(v.parse().map_err(|_| {
                    err("METRICS_BIND_ADDR", "must be an address like 10.0.0.5:9090")
                })?),
                None => None,
            };
        Ok(Self {
            bind_addr,
            public_url,
            max_body_bytes: env.parse("MAX_BODY_BYTES", 64 * 1024)?,
            log_format,
            metrics_token: env.secret("METRICS_TOKEN", 32)?,
            metrics_bind_addr,
            environment: env.environment,
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
}
