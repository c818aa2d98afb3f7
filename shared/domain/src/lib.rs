//! Pure domain types and rules shared by every service: identifiers, enums and the parsers
//! for the identifiers the system must never trust (INSZ/NISS, BSN, E.164 phone numbers).
//!
//! No I/O lives here: no sqlx, axum, reqwest or tokio.

pub mod appointment;
pub mod bounded;
pub mod claims;
pub mod holidays;
pub mod identifiers;
pub mod ids;
pub mod invoice;
pub mod jobs;
pub mod message;
pub mod money;
pub mod online;
pub mod payment_reference;
pub mod people;
pub mod practice;
pub mod referral;
pub mod reminders;
pub mod replies;
pub mod schedule;
pub mod sms;
pub mod templates;
pub mod text;
pub mod vocabulary;
pub mod waitlist;

pub use ids::{
    AppointmentId, AppointmentTypeId, AuditId, CheckoutId, ClaimBatchId, ClaimFileId, ClaimLineId,
    InvoiceId, MessageId, PatientId, PayerId, PaymentId, PaymentLinkId, PracticeId, PractitionerId,
    ReferralId, RefundId, ReplyId, RoomId, SessionId, StaffId, SupportGrantId, TariffId,
};
