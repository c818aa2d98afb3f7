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
    /// Refused before it was taken (429, a provider code saying "not now"): safe to send
    /// again, the provider does not have it.
    #[error("refused: {0}")]
    Refused(String),
    /// No answer that proves a refusal (a timeout, a lost or unreadable answer, a 5xx from a
    /// gateway in front of an accepting server): the provider may have it. Retried; the message
    /// stays in doubt until then.
    #[error("in doubt: {0}")]
    InDoubt(String),
    /// Retrying will not help (credentials, configuration, content).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The recipient's number is invalid: permanent, and the number is flagged for staff.
    #[error("invalid recipient: {0}")]
    InvalidRecipient(String),
}

impl SendError {
    /// A short class for the disclosure log and metrics; never personal data.
    pub fn class(&self) -> &str {
        match self {
            SendError::Refused(c)
            | SendError::InDoubt(c)
            | SendError::Permanent(c)
            | SendError::InvalidRecipient(c) => c,
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Refused(_) | SendError::InDoubt(_))
    }
}

/// What a report says about a message part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Still on its way.
    InFlight,
    /// Delivered to the handset.
    Delivered,
    /// Validity ran out.
    Expired,
    /// Not delivered; `true` when the number itself is wrong (flag it for staff).
    Failed(bool),
}

impl Report {
    /// The state this report alone points to (a multi-part message is delivered when every
    /// part is).
    pub(crate) fn state(self) -> domain::message::MessageState {
        match self {
            Report::InFlight => domain::message::MessageState::Sent,
            Report::Delivered => domain::message::MessageState::Delivered,
            Report::Expired => domain::message::MessageState::Expired,
            Report::Failed(_) => domain::message::MessageState::Failed,
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
        let timeout = settings.sms.provider_timeout;
        Ok(match &settings.sms.provider {
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
                sender: settings.sms.sender.clone(),
                delivery_report_gate: gate_id.clone(),
                timeout,
            })?),
            S::Smsapi { base_url, token } => {
                Provider::Smsapi(smsapi::Smsapi::new(smsapi::Config {
                    base_url: base_url.clone(),
                    token: token.clone(),
                    sender: settings.sms.sender.clone(),
                    notify_url: Some(notify_url(settings)),
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

/// A practice's own account, as stored (encrypted) in `notifications.provider_override`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum AccountConfig {
    /// LINK Mobility Common Platform.
    LinkPlatform {
        /// Base URL of the account's node.
        base_url: String,
        /// Sender id.
        sender: String,
        /// Basic-auth user.
        username: String,
        /// Basic-auth password.
        password: String,
        /// `platformId`.
        platform_id: String,
        /// `platformPartnerId`.
        platform_partner_id: String,
        /// Delivery-report gate.
        gate_id: Option<String>,
    },
    /// SMSAPI.
    Smsapi {
        /// `https://api.smsapi.pl` or `.com`.
        base_url: String,
        /// Sender name.
        sender: String,
        /// OAuth token.
        token: String,
    },
}

impl AccountConfig {
    /// Builds the client; SMSAPI reports come back to this server's callback URL.
    pub fn build(self, settings: &platform::Settings) -> Result<Provider, reqwest::Error> {
        let timeout = settings.sms.provider_timeout;
        Ok(match self {
            AccountConfig::LinkPlatform {
                base_url,
                sender,
                username,
                password,
                platform_id,
                platform_partner_id,
                gate_id,
            } => Provider::LinkPlatform(link_platform::LinkPlatform::new(link_platform::Config {
                base_url,
                username,
                password: password.into(),
                platform_id,
                platform_partner_id,
                sender,
                delivery_report_gate: gate_id,
                timeout,
            })?),
            AccountConfig::Smsapi {
                base_url,
                sender,
                token,
            } => Provider::Smsapi(smsapi::Smsapi::new(smsapi::Config {
                base_url,
                token: token.into(),
                sender,
                notify_url: Some(notify_url(settings)),
                timeout,
            })?),
        })
    }
}

fn notify_url(settings: &platform::Settings) -> String {
    format!(
        "{}/v1/hooks/smsapi/{}/dlr",
        settings.server.public_url.trim_end_matches('/'),
        secrecy::ExposeSecret::expose_secret(&settings.sms.callback_token)
    )
}

/// Where a practice's account is kept encrypted.
pub fn account_field(practice: domain::PracticeId) -> platform::crypto::FieldRef {
    platform::crypto::FieldRef {
        practice,
        table: "notifications.provider_override",
        column: "config",
        row: practice.as_uuid(),
    }
}

type Cached = (
    std::time::Instant,
    Option<(chrono::DateTime<chrono::Utc>, std::sync::Arc<Provider>)>,
);

/// The global provider and the practices' own accounts. A practice's account is looked up at
/// most every 30 seconds and rebuilt only when it changed.
#[derive(Clone)]
pub struct Providers {
    global: std::sync::Arc<Provider>,
    practices:
        std::sync::Arc<std::sync::Mutex<std::collections::HashMap<domain::PracticeId, Cached>>>,
}

/// How long a practice's account (or its absence) is trusted without looking again.
const ACCOUNT_TTL: std::time::Duration = std::time::Duration::from_secs(30);

impl Providers {
    /// The global provider from configuration.
    pub fn from_settings(settings: &platform::Settings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            global: std::sync::Arc::new(Provider::from_settings(settings)?),
            practices: Default::default(),
        })
    }

    /// The provider for a practice: its own account, or the global one.
    pub async fn for_practice(
        &self,
        state: &platform::AppState,
        practice: domain::PracticeId,
    ) -> anyhow::Result<std::sync::Arc<Provider>> {
        let now = std::time::Instant::now();
        if let Some((at, cached)) = self.practices.lock().expect("providers").get(&practice)
            && now.duration_since(*at) < ACCOUNT_TTL
        {
            return Ok(cached
                .as_ref()
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| self.global.clone()));
        }
        let mut tx = state.db().tenant(practice).await?;
        let row: Option<(chrono::DateTime<chrono::Utc>, Vec<u8>)> =
            sqlx::query_as("select updated_at, config_enc from notifications.provider_override")
                .fetch_optional(&mut *tx)
                .await?;
        let known = self
            .practices
            .lock()
            .expect("providers")
            .get(&practice)
            .and_then(|(_, c)| c.clone());
        let entry = match row {
            None => None,
            Some((version, _)) if known.as_ref().is_some_and(|(v, _)| *v == version) => known,
            Some((version, sealed)) => {
                let keys = state
                    .practice_keys(&mut tx, practice)
                    .await
                    .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
                let plain = keys
                    .decrypt(account_field(practice), &sealed)
                    .map_err(|_| anyhow::anyhow!("practice SMS account does not decrypt"))?;
                let config: AccountConfig = serde_json::from_slice(&plain)?;
                Some((
                    version,
                    std::sync::Arc::new(config.build(state.settings())?),
                ))
            }
        };
        tx.commit().await?;
        let provider = entry
            .as_ref()
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| self.global.clone());
        self.practices
            .lock()
            .expect("providers")
            .insert(practice, (now, entry));
        Ok(provider)
    }
}
