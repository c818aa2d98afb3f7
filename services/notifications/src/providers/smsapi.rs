//! SMSAPI by LINK Mobility Poland (shared/reference/linkmobility.md §2): `POST /sms.do` with a
//! Bearer token, `format=json`, `encoding=utf-8`. Business errors come as HTTP 200 with
//! `{"error": n, "message": …}`. Our message id goes in `idx` with `check_idx=1`, so a retry of a
//! send whose answer we lost is refused with error 53 instead of sending twice.

use std::time::Duration;

use domain::sms::OutboundSms;
use platform::egress::Permit;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Accepted, Report, SendError, SmsProvider};

/// Account settings.
#[derive(Clone)]
pub struct Config {
    /// `https://api.smsapi.pl` or `https://api.smsapi.com` (the token belongs to one).
    pub base_url: String,
    /// OAuth token.
    pub token: SecretString,
    /// Registered sender name (≤ 11 characters).
    pub sender: String,
    /// Delivery-report callback URL (with its secret path token), if not set on the account.
    pub notify_url: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The client.
#[derive(Clone)]
pub struct Smsapi {
    config: Config,
    http: reqwest::Client,
}

/// The field names a send discloses.
pub const FIELDS: [&str; 2] = ["to", "message"];

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    error: Option<i64>,
    #[serde(default)]
    list: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
}

/// Error codes worth retrying (reference §2.4): request/internal errors and overload.
const RETRYABLE: [i64; 4] = [8, 201, 202, 999];
/// The same `idx` was used before.
const DUPLICATE_IDX: i64 = 53;
/// "Invalid phone number": the number is flagged for staff.
const INVALID_NUMBER: i64 = 13;

impl Smsapi {
    /// A client; the HTTP client is built here, not per call.
    pub fn new(config: Config) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()?;
        Ok(Self { config, http })
    }
}

impl SmsProvider for Smsapi {
    fn subprocessor(&self) -> &'static str {
        "linkmobility-pl"
    }

    fn name(&self) -> &'static str {
        "smsapi"
    }

    fn dedupes_by_reference(&self) -> bool {
        true
    }

    async fn send(&self, _permit: &Permit, sms: &OutboundSms) -> Result<Accepted, SendError> {
        let c = &self.config;
        // SMSAPI wants the number without the plus.
        let to = sms.to.as_str().trim_start_matches('+');
        let mut form: Vec<(&str, &str)> = vec![
            ("to", to),
            ("message", &sms.text.text),
            ("from", &c.sender),
            ("encoding", "utf-8"),
            ("format", "json"),
            ("idx", &sms.reference),
            ("check_idx", "1"),
        ];
        if let Some(url) = &c.notify_url {
            form.push(("notify_url", url));
        }
        let url = format!("{}/sms.do", c.base_url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .bearer_auth(c.token.expose_secret())
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                SendError::InDoubt(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "connection".into()
                })
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::Refused(format!("http_{}", status.as_u16())));
        }
        if status.is_server_error() {
            return Err(SendError::InDoubt(format!("http_{}", status.as_u16())));
        }
        if !status.is_success() {
            return Err(SendError::Permanent(format!("http_{}", status.as_u16())));
        }
        let reply: Reply = response
            .json()
            .await
            .map_err(|_| SendError::InDoubt("unreadable_response".into()))?;
        match reply.error {
            Some(DUPLICATE_IDX) => Ok(Accepted {
                provider_id: String::new(),
                segments: None,
                duplicate: true,
            }),
            Some(code) if RETRYABLE.contains(&code) => {
                Err(SendError::Refused(format!("error_{code}")))
            }
            Some(INVALID_NUMBER) => Err(SendError::InvalidRecipient(format!(
                "error_{INVALID_NUMBER}"
            ))),
            Some(code) if code != 0 => Err(SendError::Permanent(format!("error_{code}"))),
            _ => {
                let item = reply
                    .list
                    .into_iter()
                    .next()
                    .ok_or_else(|| SendError::InDoubt("empty_list".into()))?;
                Ok(Accepted {
                    provider_id: item.id,
                    segments: None,
                    duplicate: false,
                })
            }
        }
    }
}

// Receiving: what a delivery report's `status` means.

/// SMSAPI `status` (reference §2.5).
pub fn report(code: i64) -> Report {
    match code {
        404 => Report::Delivered,
        403 | 409 | 410 | 411 => Report::InFlight,
        402 | 408 => Report::Expired,
        _ => Report::Failed(false),
    }
}
