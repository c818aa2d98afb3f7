//! SMS providers behind one trait. A send needs a [`Permit`] from the egress gate, so no
//! provider call can happen around the gate, and takes an [`OutboundSms`], so nothing but a
//! number, a rendered text and our reference can be sent.

pub mod link_platform;
pub mod smsapi;

use domain::sms::OutboundSms;
use platform::egress::Permit;

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's message id (delivery reports refer to it).
    pub provider_id: String,
    /// Parts, when the provider says.
    pub segments: Option<u32>,
    /// The provider already had this reference (an earlier attempt got through before our
    /// commit): the message is sent, once.
    pub duplicate: bool,
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying with backoff (timeouts, 5xx, 429, transient provider codes).
    #[error("retryable: {0}")]
    Retryable(String),
    /// Retrying will not help (credentials, configuration, invalid recipient or content).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SendError {
    /// A short class for the disclosure log and metrics; never personal data.
    pub fn class(&self) -> &str {
        match self {
            SendError::Retryable(c) | SendError::Permanent(c) => c,
        }
    }
}

/// An SMS provider.
pub trait SmsProvider: Send + Sync {
    /// The register id of the subprocessor behind it (for the egress gate).
    fn subprocessor(&self) -> &'static str;

    /// Short name kept with each message (`smsapi`, `link_platform`, `sandbox`).
    fn name(&self) -> &'static str;

    /// Whether sending the same reference twice is refused by the provider (SMSAPI's
    /// `check_idx`), so a send whose answer was lost may simply be sent again.
    fn dedupes_by_reference(&self) -> bool;

    /// Sends one message.
    fn send(
        &self,
        permit: &Permit,
        sms: &OutboundSms,
    ) -> impl std::future::Future<Output = Result<Accepted, SendError>> + Send;
}

/// Accepts and logs (ids only); nothing leaves the machine. The offline first run uses it;
/// production refuses it unless `ALLOW_SANDBOX_PROVIDERS=true`.
#[derive(Debug, Clone, Default)]
pub struct Sandbox;

impl SmsProvider for Sandbox {
    fn subprocessor(&self) -> &'static str {
        "linkmobility-pl"
    }

    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn dedupes_by_reference(&self) -> bool {
        true
    }

    async fn send(&self, _permit: &Permit, sms: &OutboundSms) -> Result<Accepted, SendError> {
        tracing::info!(reference = %sms.reference, segments = sms.text.segments, "sandbox SMS accepted");
        Ok(Accepted {
            provider_id: format!("sandbox-{}", sms.reference),
            segments: Some(sms.text.segments as u32),
            duplicate: false,
        })
    }
}

/// The configured provider.
#[derive(Clone)]
pub enum Provider {
    /// Offline.
    Sandbox(Sandbox),
    /// LINK Mobility Common Platform.
    LinkPlatform(link_platform::LinkPlatform),
    /// SMSAPI.
    Smsapi(smsapi::Smsapi),
}

impl Provider {
    /// Builds the provider the settings name.
    pub fn from_settings(settings: &platform::Settings) -> Result<Self, reqwest::Error> {
        use platform::config::SmsProviderSettings as S;
        let timeout = std::time::Duration::from_secs(10);
        Ok(match &settings.sms_provider {
            S::Sandbox => Provider::Sandbox(Sandbox),
            S::LinkPlatform {
                base_url,
                username,
                password,
                platform_id,
                platform_partner_id,
                gate_id,
            } => Provider::LinkPlatform(link_platform::LinkPlatform::new(link_platform::Config {
                base_url: base_url.clone(),
                username: username.clone(),
                password: password.clone(),
                platform_id: platform_id.clone(),
                platform_partner_id: platform_partner_id.clone(),
                sender: settings.sms_sender.clone(),
                delivery_report_gate: gate_id.clone(),
                timeout,
            })?),
            S::Smsapi { base_url, token } => {
                Provider::Smsapi(smsapi::Smsapi::new(smsapi::Config {
                    base_url: base_url.clone(),
                    token: token.clone(),
                    sender: settings.sms_sender.clone(),
                    notify_url: Some(format!(
                        "{}/v1/hooks/smsapi/{}/dlr",
                        settings.public_url.trim_end_matches('/'),
                        secrecy::ExposeSecret::expose_secret(&settings.sms_callback_token)
                    )),
                    timeout,
                })?)
            }
        })
    }
}

impl SmsProvider for Provider {
    fn subprocessor(&self) -> &'static str {
        match self {
            Provider::Sandbox(p) => p.subprocessor(),
            Provider::LinkPlatform(p) => p.subprocessor(),
            Provider::Smsapi(p) => p.subprocessor(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Provider::Sandbox(p) => p.name(),
            Provider::LinkPlatform(p) => p.name(),
            Provider::Smsapi(p) => p.name(),
        }
    }

    fn dedupes_by_reference(&self) -> bool {
        match self {
            Provider::Sandbox(p) => p.dedupes_by_reference(),
            Provider::LinkPlatform(p) => p.dedupes_by_reference(),
            Provider::Smsapi(p) => p.dedupes_by_reference(),
        }
    }

    async fn send(&self, permit: &Permit, sms: &OutboundSms) -> Result<Accepted, SendError> {
        match self {
            Provider::Sandbox(p) => p.send(permit, sms).await,
            Provider::LinkPlatform(p) => p.send(permit, sms).await,
            Provider::Smsapi(p) => p.send(permit, sms).await,
        }
    }
}
