//! The provider callbacks as the OpenAPI document describes them. The handlers in `hooks` read
//! the bodies leniently (providers add fields over time); these types say what they use.

use serde::Serialize;
use utoipa::ToSchema;

/// A LINK Mobility platform delivery report (only the members used; others are ignored).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkDeliveryReport {
    /// Our reference: the message id we sent as `refId`.
    #[schema(max_length = 100)]
    pub ref_id: Option<String>,
    /// The platform's message id; `{id}${n}` for part n of a multi-part message.
    #[schema(max_length = 100)]
    pub id: String,
    /// The platform's result code (1002 delivered, 1004/1005 … failures).
    pub result_code: i64,
}

/// The text of an inbound LINK message.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkContent {
    /// The text the patient sent.
    #[schema(max_length = 2000)]
    pub user_data: String,
}

/// A LINK Mobility platform inbound message (a patient's reply).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkInbound {
    /// The sender, E.164.
    #[schema(pattern = r"^\+[0-9]{8,15}$")]
    pub source: String,
    /// The message.
    pub content: LinkContent,
    /// The platform's id of the inbound message (a replay carries the same).
    #[schema(max_length = 100)]
    pub message_id: String,
    /// When the platform received it.
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

/// An SMSAPI delivery report (form fields; values of a bulk report are comma-separated and
/// aligned by position).
#[derive(Serialize, ToSchema)]
#[expect(non_snake_case, reason = "SMSAPI's own field names")]
pub struct SmsapiReport {
    /// SMSAPI's message ids.
    #[schema(pattern = r"^[^,]+(,[^,]+)*$")]
    pub MsgId: String,
    /// Status codes (401 … 407).
    #[schema(pattern = r"^[0-9]+(,[0-9]+)*$")]
    pub status: String,
    /// Our references (`idx`), one per id.
    pub idx: Option<String>,
    /// Unix times of delivery.
    pub donedate: Option<String>,
}

/// An SMSAPI inbound message (form fields).
#[derive(Serialize, ToSchema)]
pub struct SmsapiInbound {
    /// The sender, digits of the E.164 number (with or without `+`).
    #[schema(pattern = r"^\+?[0-9]{8,15}$")]
    pub sms_from: String,
    /// The text.
    #[schema(max_length = 2000)]
    pub sms_text: String,
    /// Unix time it was received.
    pub sms_date: Option<String>,
}
