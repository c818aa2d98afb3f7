//! The SMS section (notifications): which provider sends, as whom, how its callbacks are
//! authenticated, and how sends are paced and retried.

use std::time::Duration;

use secrecy::SecretString;

use super::source::{ConfigError, Source, err};

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

/// Patient messages.
#[derive(Clone)]
pub struct SmsSettings {
    /// `SMS_PROVIDER`: `sandbox` (default), `link_platform` or `smsapi`.
    pub provider: SmsProviderSettings,
    /// `SMS_SENDER`: alphanumeric sender id (2–11 of a-z A-Z 0-9, not starting with a digit).
    pub sender: String,
    /// `SMS_CALLBACK_TOKEN`: the secret path segment of the delivery-report and inbound
    /// callback URLs (at least 24 characters). Random per process when unset (development).
    pub callback_token: SecretString,
    /// `LINK_GATE_USERNAME` / `LINK_GATE_PASSWORD`: the Basic credentials stored on the LINK
    /// gate; platform callbacks without them are refused.
    pub link_gate_credentials: Option<(String, SecretString)>,
    /// `SMS_RECONCILE_SECS`: how long a platform send whose answer was lost waits for a
    /// delivery report naming it before it is sent again.
    pub reconcile_after: Duration,
    /// `SMS_RETRY_BASE_MS`: first retry delay after a retryable provider error (doubles).
    pub retry_base: Duration,
    /// `SMS_PROVIDER_TIMEOUT_MS`: how long a provider call may take; a call that times out is
    /// in doubt (the provider may have the message) and settled as described in notifications.
    pub provider_timeout: Duration,
    /// `SMS_SEND_CONCURRENCY`: sends in flight per worker process. A send waits mostly on the
    /// provider (tens to hundreds of milliseconds per call), so this is sized for its latency.
    pub send_concurrency: usize,
    /// `SMS_SEND_BATCH`: send jobs fetched from the queue per poll.
    pub send_batch: usize,
}

impl SmsSettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        const WHY: &str = "for this SMS_PROVIDER";
        let provider = match env.get("SMS_PROVIDER").as_deref() {
            None | Some("sandbox") => SmsProviderSettings::Sandbox,
            Some("link_platform") => SmsProviderSettings::LinkPlatform {
                base_url: env.provider_url("LINK_BASE_URL", env.required("LINK_BASE_URL", WHY)?)?,
                username: env.required("LINK_USERNAME", WHY)?,
                password: SecretString::from(env.required("LINK_PASSWORD", WHY)?),
                platform_id: env.required("LINK_PLATFORM_ID", WHY)?,
                platform_partner_id: env.required("LINK_PLATFORM_PARTNER_ID", WHY)?,
                gate_id: env.get("LINK_GATE_ID"),
            },
            Some("smsapi") => SmsProviderSettings::Smsapi {
                base_url: env.provider_url(
                    "SMSAPI_BASE_URL",
                    env.get("SMSAPI_BASE_URL")
                        .unwrap_or_else(|| "https://api.smsapi.pl".to_owned()),
                )?,
                token: SecretString::from(env.required("SMSAPI_TOKEN", WHY)?),
            },
            Some(_) => {
                return Err(err(
                    "SMS_PROVIDER",
                    "must be sandbox, link_platform or smsapi",
                ));
            }
        };
        let sandbox = matches!(provider, SmsProviderSettings::Sandbox);
        if env.production() && sandbox && !env.flag("ALLOW_SANDBOX_PROVIDERS", false)? {
            return Err(err(
                "SMS_PROVIDER",
                "is the sandbox; set a real provider or ALLOW_SANDBOX_PROVIDERS=true",
            ));
        }
        let sender = env.get("SMS_SENDER").unwrap_or_else(|| "Praxis".to_owned());
        let sender_ok = (2..=11).contains(&sender.len())
            && sender.chars().all(|c| c.is_ascii_alphanumeric())
            && !sender.starts_with(|c: char| c.is_ascii_digit());
        if !sender_ok {
            return Err(err(
                "SMS_SENDER",
                "must be 2 to 11 letters or digits, not starting with a digit",
            ));
        }
        let callback_token = match env.get("SMS_CALLBACK_TOKEN") {
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
            None if env.production() && !sandbox => {
                return Err(err(
                    "SMS_CALLBACK_TOKEN",
                    "is required for this SMS_PROVIDER",
                ));
            }
            None => crate::crypto::random_token("cb"),
        };
        let link_gate_credentials =
            match (env.get("LINK_GATE_USERNAME"), env.get("LINK_GATE_PASSWORD")) {
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
        Ok(Self {
            provider,
            sender,
            callback_token: SecretString::from(callback_token),
            link_gate_credentials,
            reconcile_after: Duration::from_secs(env.parse("SMS_RECONCILE_SECS", 900)?),
            retry_base: Duration::from_millis(env.parse("SMS_RETRY_BASE_MS", 30_000)?),
            provider_timeout: Duration::from_millis(
                env.positive("SMS_PROVIDER_TIMEOUT_MS", 10_000)?.into(),
            ),
            send_concurrency: env.positive("SMS_SEND_CONCURRENCY", 128)? as usize,
            send_batch: env.positive("SMS_SEND_BATCH", 32)? as usize,
        })
    }
}
