//! The outbox of scheduling: the jobs a change enqueues in its own transaction, so they are
//! committed with it or not at all.
//!
//! Every new version of an appointment goes to notifications (`notifications.appointment-changed`),
//! which plans, moves or drops reminders from it and never reads scheduling's tables for it. A
//! booked slot given up goes to the waitlist (`scheduling.slot-freed`). A completed appointment
//! goes to invoicing (`invoicing.draft-invoice`).

use chrono::{DateTime, Utc};
use domain::PracticeId;
use domain::appointment::AppointmentStatus;
use domain::jobs::{AppointmentChanged, DraftInvoice, SlotFreed};
use platform::db::TenantTx;
use platform::jobs::enqueue;

use crate::appointments::store::Row;

/// Tells notifications about a freshly written version of an appointment.
pub(crate) async fn changed(
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
) -> Result<(), sqlx::Error> {
    let job = AppointmentChanged {
        practice_id: practice,
        appointment_id: row.appointment_id,
        version: row.version,
        patient_id: row.patient_id,
        practitioner_id: row.practitioner_id,
        type_id: row.type_id,
        starts_at: row.starts_at,
        status: row.status,
    };
    enqueue(tx, &job, Utc::now()).await?;
    Ok(())
}

/// Enqueues invoice drafting for a completed appointment.
pub(crate) async fn draft_invoice(
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
) -> Result<(), sqlx::Error> {
    let job = DraftInvoice {
        practice_id: practice,
        appointment_id: row.appointment_id,
        version: row.version,
    };
    enqueue(tx, &job, Utc::now()).await?;
    Ok(())
}

/// Offers the time a booked appointment gave up (`old`, from `from` on) to the waitlist;
/// `version` is the appointment's version after the change. Holds and past times free nothing
/// worth offering.
pub(crate) async fn freed(
    tx: &mut TenantTx,
    practice: PracticeId,
    old: &Row,
    from: DateTime<Utc>,
    version: i32,
) -> Result<(), sqlx::Error> {
    if old.status != AppointmentStatus::Booked || from <= Utc::now() {
        return Ok(());
    }
    let job = SlotFreed {
        practice_id: practice,
        appointment_id: old.appointment_id,
        practitioner_id: old.practitioner_id,
        starts_at: from,
        ends_at: old.ends_at,
        version,
    };
    enqueue(tx, &job, Utc::now()).await?;
    Ok(())
}
