//! Typed configuration from environment variables, validated at start; every error names the
//! variable. The README's configuration table lists the same variables.
//!
//! One section per concern, each read in its own file: [`server`] (HTTP, logs, metrics),
//! [`database`], [`security`] (keys, sessions, sign-in), [`jobs`], and one per service that
//! talks to the outside world ([`sms`] for notifications; invoicing and claims add theirs the
//! same way). A section reads its variables through [`source::Source`], which knows the
//! environment and names the variable in every error.

mod claims;
mod database;
mod jobs;
mod payments;
mod security;
mod server;
mod sms;
mod source;

pub use claims::ClaimSettings;
pub use database::{APP_ROLE, DEFAULT_DATABASE_URL, DatabaseSettings, app_url_from_owner_url};
pub use jobs::JobSettings;
pub use payments::{PaymentProviderSettings, PaymentSettings};
pub use security::SecuritySettings;
pub use server::{LogFormat, PublicMetrics, ServerSettings};
pub use sms::{SmsProviderSettings, SmsSettings};
pub use source::{ConfigError, Environment};

/// Everything the server needs to start, by section.
#[derive(Clone)]
pub struct Settings {
    /// `PRAXIS_ENV`: `development` (default) or `production`.
    pub environment: Environment,
    /// The HTTP server, logs and metrics.
    pub server: ServerSettings,
    /// The database connections.
    pub database: DatabaseSettings,
    /// Keys, sessions and sign-in.
    pub security: SecuritySettings,
    /// Workers and the audit sealer.
    pub jobs: JobSettings,
    /// Patient messages (notifications).
    pub sms: SmsSettings,
    /// Online payments (invoicing).
    pub payments: PaymentSettings,
    /// Claim file delivery (claims).
    pub claims: ClaimSettings,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets and connection strings are never printed.
        f.debug_struct("Settings")
            .field("environment", &self.environment)
            .field("bind_addr", &self.server.bind_addr)
            .field("public_url", &self.server.public_url)
            .field("auto_migrate", &self.database.auto_migrate)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = source::Source::new(&lookup)?;
        Ok(Self {
            environment: env.environment,
            server: ServerSettings::read(&env)?,
            database: DatabaseSettings::read(&env)?,
            security: SecuritySettings::read(&env)?,
            jobs: JobSettings::read(&env)?,
            sms: SmsSettings::read(&env)?,
            payments: PaymentSettings::read(&env)?,
            claims: ClaimSettings::read(&env)?,
        })
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
        assert!(s.security.uses_development_key());
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
            settings(&[("STRIPE_SECRET_KEY", "pk_test_123")])
                .unwrap_err()
                .variable,
            "STRIPE_SECRET_KEY"
        );
        assert_eq!(
            settings(&[("STRIPE_SECRET_KEY", "sk_test_123")])
                .unwrap_err()
                .variable,
            "STRIPE_WEBHOOK_SECRET"
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
        let key = ("MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
        let prod = [
            ("PRAXIS_ENV", "production"),
            key,
            ("ALLOW_SANDBOX_PROVIDERS", "true"),
        ];
        let token = ("METRICS_TOKEN", "metrics-token-0123456789abcdefghijklmnop");
        let separate = ("METRICS_BIND_ADDR", "127.0.0.1:9090");
        let public = |vars: &[(&str, &str)]| match settings(vars).unwrap().server.public_metrics() {
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
    fn a_stripe_key_must_be_a_visible_ascii_stripe_key() {
        for bad in [
            "pk_test_abc",
            "sk_test_abc\n",
            "sk_test_a bc",
            "sk_test_abç",
        ] {
            assert_eq!(
                settings(&[("STRIPE_SECRET_KEY", bad)])
                    .unwrap_err()
                    .variable,
                "STRIPE_SECRET_KEY",
                "{bad:?}"
            );
        }
        let webhook = ("STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef");
        assert!(settings(&[("STRIPE_SECRET_KEY", "rk_test_abc"), webhook]).is_ok());
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
            settings(&allowed).unwrap().sms.provider,
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
}
