//! The row the send job reads: a message with everything deciding and rendering it needs.

use chrono::{DateTime, NaiveTime, Utc};
use domain::appointment::AppointmentStatus;
use domain::message::MessageState;
use domain::{MessageId, PatientId};

/// A message, its patient's contact state, the practice's settings, the appointment, the
/// template and names, and the egress gate's register check.
#[derive(sqlx::FromRow)]
pub(super) struct Loaded {
    pub(super) message_id: MessageId,
    #[sqlx(try_from = "String")]
    pub(super) state: MessageState,
    pub(super) kind: String,
    pub(super) patient_id: PatientId,
    pub(super) starts_at: Option<DateTime<Utc>>,
    pub(super) link: Option<String>,
    pub(super) due_at: DateTime<Utc>,
    pub(super) next_attempt_at: Option<DateTime<Utc>>,
    pub(super) sending_since: Option<DateTime<Utc>>,
    pub(super) mobile_e164: Option<String>,
    pub(super) preferred_language: String,
    pub(super) consent: bool,
    pub(super) restricted: bool,
    pub(super) flagged: bool,
    pub(super) practice_name: String,
    pub(super) time_zone: String,
    pub(super) display_name: Option<String>,
    pub(super) address_line: Option<String>,
    pub(super) practitioner_in_messages: bool,
    pub(super) min_lead_minutes: i32,
    pub(super) quiet_start: NaiveTime,
    pub(super) quiet_end: NaiveTime,
    pub(super) appt_status: Option<AppointmentStatus>,
    pub(super) appt_starts_at: Option<DateTime<Utc>>,
    pub(super) template: Option<String>,
    pub(super) practitioner_name: Option<String>,
    pub(super) type_name: Option<String>,
    pub(super) type_in_messages: bool,
    pub(super) refusal: Option<String>,
    /// Payment messages: the invoice is paid, credited or written off (no longer wanted).
    pub(super) invoice_settled: Option<bool>,
}

/// One round trip for any number of messages of one practice: each message, its patient's
/// contact state, the practice's settings, the appointment, template and names, and the egress
/// gate's register check.
pub(super) const LOAD: &str = "select * from notifications.send_load($1, $2, $3, $4)";

/// Data categories a send discloses (both providers).
pub(super) const CATEGORIES: [&str; 2] = ["mobile_number", "message_text"];
/// Field names a send discloses, for the disclosure log.
pub(super) const FIELDS: [&str; 3] = ["recipient", "text", "reference"];
