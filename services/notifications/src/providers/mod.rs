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

    /// Sends one message.
    fn send(
        &self,
        permit: &Permit,
        sms: &OutboundSms,
    ) -> impl std::future::Future<Output = Result<Accepted, SendError>> + Send;
}
