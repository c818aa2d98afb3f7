//! The one way an appointment changes, whoever asks: staff on one appointment, staff on a
//! series, a waitlist acceptance or a patient's reply. Each function checks the rules, writes
//! the row, then its events (the change for notifications, the slot freed for the waitlist,
//! the draft invoice), all in the caller's transaction; the caller checks permissions, writes
//! its audit row and commits.

use chrono::Utc;
use domain::appointment::ChangedVia;
use domain::{PatientId, PracticeId};
use platform::db::TenantTx;
use uuid::Uuid;

use super::error::ChangeError;
use super::rules::{self, AppointmentStatus, Transition};
use super::store::{self, Placement, Row};
use crate::events;

/// A hold becomes `patient`'s booking, while it is live.
pub(crate) async fn confirm(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    patient: PatientId,
) -> Result<Row, ChangeError> {
    if !rules::live_hold(current.status, current.hold_expires_at, Utc::now()) {
        return Err(ChangeError::HoldNotActive {
            id: current.appointment_id,
            from: current.status,
        });
    }
    let row = store::set_booked(tx, current.appointment_id, patient).await?;
    events::changed(tx, practice, &row).await?;
    Ok(row)
}

/// A booking moves to `to` (placed and checked by the caller); the time it leaves is offered to
/// the waitlist.
pub(crate) async fn reschedule(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    to: &Placement,
    outside_hours_reason: Option<String>,
) -> Result<Row, ChangeError> {
    rules::check(current.status, Transition::Reschedule)?;
    let row = store::move_to(tx, practice, current, to, outside_hours_reason).await?;
    events::changed(tx, practice, &row).await?;
    events::freed(tx, practice, current, current.starts_at, row.version).await?;
    Ok(row)
}

/// Who cancels.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CancelledBy {
    /// A staff member.
    Staff(Uuid),
    /// The patient, by answering a reminder.
    PatientReply,
}

/// Cancels a held or booked appointment: the slot is free at once and offered to the
/// waitlist (when it was booked), and notifications learns of the change.
pub(crate) async fn cancel(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    by: CancelledBy,
    reason: &str,
) -> Result<Row, ChangeError> {
    rules::check(current.status, Transition::Cancel)?;
    let (staff, via) = match by {
        CancelledBy::Staff(id) => (Some(id), ChangedVia::Staff),
        CancelledBy::PatientReply => (None, ChangedVia::PatientReply),
    };
    let row = store::set_cancelled(tx, current.appointment_id, staff, via, reason).await?;
    events::freed(tx, practice, current, current.starts_at, row.version).await?;
    events::changed(tx, practice, &row).await?;
    Ok(row)
}

/// A started booking is completed (invoicing drafts its invoice) or marked a no-show (the rest
/// of its slot is offered to the waitlist).
pub(crate) async fn close(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    transition: Transition,
) -> Result<Row, ChangeError> {
    let to = rules::check(current.status, transition)?;
    let now = Utc::now();
    rules::check_started(current.starts_at, now)?;
    let row = store::set_closed(tx, current.appointment_id, to).await?;
    if to == AppointmentStatus::NoShow
        && let Some(from) = rules::no_show_release(current.starts_at, current.ends_at, now)
    {
        events::freed(tx, practice, current, from, row.version).await?;
    }
    events::changed(tx, practice, &row).await?;
    if to == AppointmentStatus::Completed {
        events::draft_invoice(tx, practice, &row).await?;
    }
    Ok(row)
}

/// The patient confirmed by answering a reminder.
pub(crate) async fn confirm_by_reply(tx: &mut TenantTx, current: &Row) -> Result<(), ChangeError> {
    store::set_confirmed(tx, current.appointment_id, ChangedVia::PatientReply).await?;
    Ok(())
}
