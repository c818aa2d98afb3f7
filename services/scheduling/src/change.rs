//! The one way an appointment changes state, whoever asks: staff on one appointment, staff on
//! a series, or a patient's reply. Each change writes the row, then its events (the slot freed
//! for the waitlist, the change for notifications), in the caller's transaction; the caller
//! checks permissions, writes its audit row and commits.

use domain::PracticeId;
use platform::db::TenantTx;
use uuid::Uuid;

use crate::appointments::{COLUMNS, Row, freed};

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
) -> Result<Row, sqlx::Error> {
    let (staff, via) = match by {
        CancelledBy::Staff(id) => (Some(id), "staff"),
        CancelledBy::PatientReply => (None, "patient_reply"),
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"update scheduling.appointment
              set status = 'cancelled', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3,
                  cancelled_via = $4, hold_expires_at = null, version = version + 1
            where appointment_id = $1 returning {COLUMNS}"#
    )))
    .bind(current.appointment_id)
    .bind(staff)
    .bind(reason)
    .bind(via)
    .fetch_one(&mut **tx)
    .await?;
    freed(tx, practice, current, row.version).await?;
    crate::jobs::changed(tx, practice, &row).await?;
    Ok(row)
}
