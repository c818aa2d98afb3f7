//! Job queues between services: names and payloads. Payloads carry ids and a version, never
//! personal data; the consumer re-reads what it needs and does nothing when the version moved on.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    AppointmentId, AppointmentTypeId, ClaimLineId, InvoiceId, MessageId, PatientId, PracticeId,
    PractitionerId, ReplyId,
};

/// A job payload: which queue it goes to and what makes two enqueues the same job.
/// `platform::jobs::enqueue` takes any `Job`; the consumer registered for [`Job::QUEUE`] decodes
/// it.
pub trait Job: Serialize + DeserializeOwned + Send + Sync {
    /// The queue (the apalis job type).
    const QUEUE: &'static str;

    /// The idempotency key: a second enqueue with the same key in the same queue is a no-op.
    /// It names the entity and what makes this job distinct (a version, a reply).
    fn key(&self) -> String;
}

/// Invoicing: draft the invoice of a completed appointment (consumed by the invoicing service).
pub const DRAFT_INVOICE: &str = "invoicing.draft-invoice";

/// Draft the invoice of a completed appointment (one per appointment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftInvoice {
    /// The practice (the handler's tenant).
    pub practice_id: PracticeId,
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// The appointment's version when the job was made.
    pub version: i32,
}

/// Invoicing: write and store the documents (PDF, UBL) of an issued invoice or credit note.
pub const RENDER_DOCUMENTS: &str = "invoicing.render-documents";

/// An issued invoice or credit note whose documents are to be written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderDocuments {
    /// The practice.
    pub practice_id: PracticeId,
    /// The invoice or credit note.
    pub invoice_id: InvoiceId,
}

impl Job for RenderDocuments {
    const QUEUE: &'static str = RENDER_DOCUMENTS;
    fn key(&self) -> String {
        format!("render-documents:{}", self.invoice_id)
    }
}

/// Claims: the insurer's share of an issued invoice or credit note is ready to be claimed
/// (consumed by the claims service).
pub const CLAIMABLE: &str = "claims.claimable";

/// An issued invoice or credit note with an insurer share (ids only; claims re-reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimable {
    /// The practice.
    pub practice_id: PracticeId,
    /// The invoice or credit note.
    pub invoice_id: InvoiceId,
}

impl Job for Claimable {
    const QUEUE: &'static str = CLAIMABLE;
    fn key(&self) -> String {
        format!("claimable:{}", self.invoice_id)
    }
}

/// Invoicing: a claim line the insurer rejected is to be billed to the patient (enqueued by
/// claims when billing staff choose to re-bill it).
pub const REBILL_CLAIM: &str = "invoicing.rebill-claim";

/// A rejected claim line to re-bill to its patient (ids only; invoicing reads the line and the
/// invoice line it came from). One draft invoice per claim line, however often it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebillClaim {
    /// The practice.
    pub practice_id: PracticeId,
    /// The claim line.
    pub line_id: ClaimLineId,
}

impl Job for RebillClaim {
    const QUEUE: &'static str = REBILL_CLAIM;
    fn key(&self) -> String {
        format!("rebill-claim:{}", self.line_id)
    }
}

/// Invoicing: apply a Stripe event that the webhook (or reconciliation) stored.
pub const STRIPE_EVENT: &str = "invoicing.stripe-event";

/// A stored Stripe event to apply (its whitelisted fields are in `invoicing.stripe_event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeEvent {
    /// The practice whose account the event is from.
    pub practice_id: PracticeId,
    /// Stripe's event id (`evt_…`).
    pub event_id: String,
}

impl Job for StripeEvent {
    const QUEUE: &'static str = STRIPE_EVENT;
    fn key(&self) -> String {
        format!("stripe-event:{}", self.event_id)
    }
}

/// Invoicing: ask Stripe for a refund that is written down as `requested`.
pub const SEND_REFUND: &str = "invoicing.send-refund";

/// A refund to send to Stripe (idempotency key `refund:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRefund {
    /// The practice.
    pub practice_id: PracticeId,
    /// The refund.
    pub refund_id: crate::RefundId,
}

impl Job for SendRefund {
    const QUEUE: &'static str = SEND_REFUND;
    fn key(&self) -> String {
        format!("send-refund:{}", self.refund_id)
    }
}

/// Scheduling: a booked slot was freed (cancelled or moved); offer it to the waitlist.
pub const SLOT_FREED: &str = "scheduling.slot-freed";
/// Notifications: an appointment was booked, moved, cancelled or closed (from scheduling, in the
/// transaction of the change). Notifications plans and supersedes reminders from it.
pub const APPOINTMENT_CHANGED: &str = "notifications.appointment-changed";
/// Notifications: send one message (the consumer is the send worker).
pub const SEND_MESSAGE: &str = "notifications.send";
/// Notifications: another service asks for a message of a kind about an entity.
pub const REQUEST_MESSAGE: &str = "notifications.request-message";
/// Scheduling: a patient answered a reminder (confirm or cancel).
pub const PATIENT_REPLY: &str = "scheduling.patient-reply";
/// Notifications: what scheduling did with a forwarded reply, for the reply's `outcome`.
pub const REPLY_APPLIED: &str = "notifications.reply-applied";

/// One version of an appointment, as notifications needs it: ids, time and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentChanged {
    /// The practice.
    pub practice_id: PracticeId,
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Its version after the change; older versions never overwrite newer ones.
    pub version: i32,
    /// The patient (none for a hold).
    pub patient_id: Option<PatientId>,
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The appointment type.
    pub type_id: AppointmentTypeId,
    /// Start.
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// Its status after the change.
    pub status: crate::appointment::AppointmentStatus,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// The practice.
    pub practice_id: PracticeId,
    /// The message row.
    pub message_id: MessageId,
}

/// "Send a message of kind K about entity E to patient P."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRequest {
    /// The practice.
    pub practice_id: PracticeId,
    /// What kind of message.
    pub kind: crate::templates::MessageKind,
    /// The entity: a waitlist offer, an invoice.
    pub about_id: Uuid,
    /// The recipient.
    pub patient_id: PatientId,
    /// The appointment time the message names, if any.
    #[serde(default)]
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A payment link, for payment messages.
    #[serde(default)]
    pub link: Option<String>,
    /// The requester's idempotency key: one message per key.
    pub key: String,
}

/// What a patient's reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyAction {
    /// Keep the appointment.
    Confirm,
    /// Cancel it.
    Cancel,
}

/// A patient's confirm or cancel, for scheduling to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientReply {
    /// The practice.
    pub practice_id: PracticeId,
    /// The reply (notifications.reply), to record the outcome on.
    pub reply_id: ReplyId,
    /// The patient.
    pub patient_id: PatientId,
    /// The appointment the answered reminder was about.
    pub appointment_id: AppointmentId,
    /// Confirm or cancel.
    pub action: ReplyAction,
    /// When the reply arrived; a reply after the appointment's start does nothing.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// What a forwarded reply did in the agenda.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyOutcome {
    /// The next appointment is confirmed.
    Confirmed,
    /// The next appointment is cancelled and its slot offered to the waitlist.
    Cancelled,
    /// The answered appointment had started: nothing changes.
    TooLate,
    /// No booked appointment to apply it to.
    NoAppointment,
}

impl ReplyOutcome {
    /// The value stored in `notifications.reply.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::TooLate => "too_late",
            Self::NoAppointment => "no_appointment",
        }
    }
}

/// Scheduling's answer to a [`PatientReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyApplied {
    /// The practice.
    pub practice_id: PracticeId,
    /// The reply (notifications.reply).
    pub reply_id: ReplyId,
    /// What it did.
    pub outcome: ReplyOutcome,
}

/// A freed slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFreed {
    /// The practice.
    pub practice_id: PracticeId,
    /// The appointment that freed it.
    pub appointment_id: AppointmentId,
    /// Whose time it was.
    pub practitioner_id: PractitionerId,
    /// Start of the freed time.
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// End of the freed time.
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// The appointment's version after the change that freed it.
    #[serde(default)]
    pub version: i32,
}

impl Job for DraftInvoice {
    const QUEUE: &'static str = DRAFT_INVOICE;
    fn key(&self) -> String {
        format!("draft-invoice:{}", self.appointment_id)
    }
}

impl Job for AppointmentChanged {
    const QUEUE: &'static str = APPOINTMENT_CHANGED;
    fn key(&self) -> String {
        format!(
            "appointment-changed:{}:v{}",
            self.appointment_id, self.version
        )
    }
}

impl Job for SlotFreed {
    const QUEUE: &'static str = SLOT_FREED;
    fn key(&self) -> String {
        format!("slot-freed:{}:v{}", self.appointment_id, self.version)
    }
}

impl Job for MessageRequest {
    const QUEUE: &'static str = REQUEST_MESSAGE;
    fn key(&self) -> String {
        self.key.clone()
    }
}

impl Job for PatientReply {
    const QUEUE: &'static str = PATIENT_REPLY;
    fn key(&self) -> String {
        format!("patient-reply:{}", self.reply_id)
    }
}

impl Job for ReplyApplied {
    const QUEUE: &'static str = REPLY_APPLIED;
    fn key(&self) -> String {
        format!("reply-applied:{}", self.reply_id)
    }
}

/// A message is sent by one job per attempt and time, so its enqueuer passes the key
/// (`platform::jobs::enqueue_keyed`); this key is the first attempt's.
impl Job for SendMessage {
    const QUEUE: &'static str = SEND_MESSAGE;
    fn key(&self) -> String {
        format!("send:{}", self.message_id)
    }
}
