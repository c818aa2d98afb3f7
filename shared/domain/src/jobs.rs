//! Job queues between services: names and payloads. Payloads carry ids and a version, never
//! personal data; the consumer re-reads what it needs and does nothing when the version moved on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::PracticeId;

/// Scheduling: an appointment's reminder is due; checked against the appointment's version.
pub const REMINDER_DUE: &str = "scheduling.reminder-due";
/// Notifications: send the reminder of an appointment (consumed by the notifications service).
pub const SEND_REMINDER: &str = "notifications.send-reminder";
/// Invoicing: draft the invoice of a completed appointment (consumed by the invoicing service).
pub const DRAFT_INVOICE: &str = "invoicing.draft-invoice";

/// A job about one version of one appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentJob {
    /// The practice (the handler's tenant).
    pub practice_id: PracticeId,
    /// The appointment.
    pub appointment_id: Uuid,
    /// The appointment's version when the job was made.
    pub version: i32,
}

/// Scheduling: a booked slot was freed (cancelled or moved); offer it to the waitlist.
pub const SLOT_FREED: &str = "scheduling.slot-freed";
/// Notifications: send a waitlist offer to its patient (consumed by the notifications service).
pub const SEND_WAITLIST_OFFER: &str = "notifications.send-waitlist-offer";

/// A freed slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFreed {
    /// The practice.
    pub practice_id: PracticeId,
    /// The appointment that freed it.
    pub appointment_id: Uuid,
    /// Whose time it was.
    pub practitioner_id: Uuid,
    /// Start of the freed time.
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// End of the freed time.
    pub ends_at: chrono::DateTime<chrono::Utc>,
}

/// A waitlist offer to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistOfferJob {
    /// The practice.
    pub practice_id: PracticeId,
    /// The offer.
    pub offer_id: Uuid,
}
