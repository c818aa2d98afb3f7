//! LINK Mobility Common Platform, "SMS REST API, MT and Delivery Reports" (shared/reference/
//! linkmobility.md §1): `POST {base}/sms/send`, HTTP Basic auth, `platformId` and
//! `platformPartnerId` in every body, `resultCode` 1005 "Queued" on success.

use std::time::Duration;

use domain::sms::OutboundSms;
use platform::egress::Permit;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{Accepted, Report, SendError, SmsProvider};

/// Account settings.
#[derive(Clone)]
pub struct Config {
    /// Base URL assigned to the account, e.g. `https://n-eu.linkmobility.io`.
    pub base_url: String,
    /// Basic-auth user.
    pub username: String,
    /// Basic-auth password.
    pub password: SecretString,
    /// `platformId` from LINK Support.
    pub platform_id: String,
    /// `platformPartnerId` from LINK Support.
    pub platform_partner_id: String,
    /// Alphanumeric sender (2–11 of `a-zA-Z0-9`, not starting with a digit).
    pub sender: String,
    /// Delivery-report gate id; reports are off without one.
    pub delivery_report_gate: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The client.
#[derive(Clone)]
pub struct LinkPlatform {
    config: Config,
    http: reqwest::Client,
}

/// The request body: only what the API needs. Field names are the API's.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendRequest<'a> {
    source: &'a str,
    #[serde(rename = "sourceTON")]
    source_ton: &'static str,
    destination: &'a str,
    user_data: &'a str,
    platform_id: &'a str,
    platform_partner_id: &'a str,
    use_delivery_report: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_report_gates: Option<[&'a str; 1]>,
    ref_id: &'a str,
    ignore_response: bool,
    custom_parameters: CustomParameters,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomParameters {
    reply_sms_count: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendResponse {
    message_id: String,
    result_code: i64,
    #[serde(default)]
    sms_count: Option<u32>,
}

/// Errors are parsed leniently: the code may be `resultCode`, `errorCode` or `status`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorResponse {
    result_code: Option<i64>,
    error_code: Option<i64>,
    status: Option<i64>,
}

/// The field names a send discloses (for the egress gate's log).
pub const FIELDS: [&str; 2] = ["destination", "userData"];
/// The data categories a send discloses.
pub const CATEGORIES: [&str; 2] = ["mobile_number", "message_text"];

impl LinkPlatform {
    /// A client; the HTTP client is built here, not per call.
    pub fn new(config: Config) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()?;
        Ok(Self { config, http })
    }
}

fn classify_status(status: reqwest::StatusCode, code: Option<i64>) -> SendError {
    let class = match code {
        Some(c) => format!("http_{}_{c}", status.as_u16()),
        None => format!("http_{}", status.as_u16()),
    };
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        SendError::Refused(class)
    } else if status.is_server_error() {
        SendError::InDoubt(class)
    } else {
        SendError::Permanent(class)
    }
}

impl SmsProvider for LinkPlatform {
    fn subprocessor(&self) -> &'static str {
        "linkmobility-pl"
    }

    fn name(&self) -> &'static str {
        "link_platform"
    }

    fn dedupes_by_reference(&self) -> bool {
        false
    }

    async fn send(&self, _permit: &Permit, sms: &OutboundSms) -> Result<Accepted, SendError> {
        let c = &self.config;
        let body = SendRequest {
            source: &c.sender,
            source_ton: "ALPHANUMERIC",
            destination: sms.to.as_str(),
            user_data: &sms.text.text,
            platform_id: &c.platform_id,
            platform_partner_id: &c.platform_partner_id,
            use_delivery_report: c.delivery_report_gate.is_some(),
            delivery_report_gates: c.delivery_report_gate.as_deref().map(|g| [g]),
            ref_id: &sms.reference,
            ignore_response: false,
            custom_parameters: CustomParameters {
                reply_sms_count: "true",
            },
        };
        let url = format!("{}/sms/send", c.base_url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .basic_auth(&c.username, Some(c.password.expose_secret()))
            .json(&body)
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
        let bytes = response
            .bytes()
            .await
            .map_err(|_| SendError::InDoubt("body".into()))?;
        if !status.is_success() {
            let e: ErrorResponse = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(classify_status(
                status,
                e.result_code.or(e.error_code).or(e.status),
            ));
        }
        let ok: SendResponse = serde_json::from_slice(&bytes)
            .map_err(|_| SendError::InDoubt("unreadable_response".into()))?;
        if ok.result_code != 1005 {
            return Err(SendError::Permanent(format!("result_{}", ok.result_code)));
        }
        Ok(Accepted {
            provider_id: ok.message_id,
            segments: ok.sms_count,
            duplicate: false,
        })
    }
}

// Receiving: the wire types of what a LINK gate posts back (reports and replies).

/// A LINK platform delivery report (reference §1.7).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryReport {
    /// Our reference (`refId`), when the send carried one.
    #[serde(default)]
    pub(crate) ref_id: Option<String>,
    /// The platform's message id.
    pub(crate) id: String,
    /// What happened (see [`report`]).
    pub(crate) result_code: i64,
}

/// A LINK platform inbound message (reference §1.8); only the fields we use.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InboundMessage {
    /// The sender, E.164.
    pub(crate) source: String,
    /// The text.
    pub(crate) content: InboundContent,
    /// The platform's id of the message (replays repeat it).
    pub(crate) message_id: String,
    /// When the network received it.
    #[serde(default)]
    pub(crate) timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

/// The content of an inbound message.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InboundContent {
    /// The text as sent.
    pub(crate) user_data: String,
}

/// LINK platform `resultCode` (reference §1.7).
pub fn report(code: i64) -> Report {
    match code {
        1001 => Report::Delivered,
        1000 | 1005 | 1007 | 1008 | 1011 | 1012 | 1013 => Report::InFlight,
        1002 | 1010 | 4 | 5 => Report::Expired,
        2104..=2106 => Report::Failed(true),
        _ => Report::Failed(false),
    }
}
