//! Jobs scheduling enqueues and consumes.
//!
//! Every booking, confirmation and reschedule enqueues `scheduling.reminder-due` for that
//! version of the appointment, due one day before on the practice's wall clock. When it runs,
//! the handler re-reads the appointment: a moved, cancelled or finished appointment has another
//! version or status, and the job ends as a no-op; a current one is handed to notifications
//! (`notifications.send-reminder`). Completing an appointment enqueues invoice drafting.

use chrono::{Duration, Utc};
use chrono_tz::Tz;
use domain::PracticeId;
use domain::jobs::{AppointmentJob, DRAFT_INVOICE, REMINDER_DUE, SEND_REMINDER};
use domain::schedule::reminder_at;
use platform::AppState;
use platform::db::TenantTx;
use platform::jobs::enqueue;
use uuid::Uuid;

/// The default reminder: one day before, wall clock. Per-practice rules come with notifications.
pub const REMINDER_BEFORE: Duration = Duration::hours(24);

/// Enqueues the reminder check of a booked appointment's current version.
pub(crate) async fn reminder(
    tx: &mut TenantTx,
    tz: Tz,
    practice: PracticeId,
    appointment: Uuid,
    version: i32,
    starts_at: chrono::DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if starts_at <= Utc::now() {
        return Ok(());
    }
    let run_at = reminder_at(tz, starts_at, REMINDER_BEFORE).max(Utc::now());
    let job = AppointmentJob {
        practice_id: practice,
        appointment_id: appointment,
        version,
    };
    enqueue(
        tx,
        REMINDER_DUE,
        &job,
        run_at,
        &format!("reminder-due:{appointment}:v{version}"),
    )
    .await?;
    Ok(())
}

/// [`reminder`] for a freshly written row.
pub(crate) async fn reminder_for(
    tx: &mut TenantTx,
    tz: Tz,
    practice: PracticeId,
    row: &crate::appointments::Row,
) -> Result<(), sqlx::Error> {
    reminder(
        tx,
        tz,
        practice,
        row.appointment_id,
        row.version,
        row.starts_at,
    )
    .await
}

/// Enqueues invoice drafting for a completed appointment.
pub(crate) async fn draft_invoice(
    tx: &mut TenantTx,
    practice: PracticeId,
    appointment: Uuid,
    version: i32,
) -> Result<(), sqlx::Error> {
    let job = AppointmentJob {
        practice_id: practice,
        appointment_id: appointment,
        version,
    };
    enqueue(
        tx,
        DRAFT_INVOICE,
        &job,
        Utc::now(),
        &format!("draft-invoice:{appointment}"),
    )
    .await?;
    Ok(())
}

/// What a reminder check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderOutcome {
    /// Handed to notifications.
    Forwarded,
    /// The appointment changed since (moved, cancelled, completed): nothing to send.
    Stale,
    /// The appointment no longer exists.
    Gone,
    /// The appointment has started: too late to remind.
    TooLate,
}

/// Handles `scheduling.reminder-due`. The payload is decoded here, so a malformed one is an
/// ordinary, permanent failure of this job rather than a stuck worker.
pub async fn reminder_due(
    state: &AppState,
    payload: serde_json::Value,
) -> anyhow::Result<ReminderOutcome> {
    let job: AppointmentJob = serde_json::from_value(payload)?;
    let mut tx = state.db().tenant(job.practice_id).await?;
    let row: Option<(i32, String, chrono::DateTime<Utc>)> = sqlx::query_as(
        "select version, status, starts_at from scheduling.appointment where appointment_id = $1",
    )
    .bind(job.appointment_id)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match row {
        None => ReminderOutcome::Gone,
        Some((version, status, _)) if version != job.version || status != "booked" => {
            ReminderOutcome::Stale
        }
        Some((_, _, starts_at)) if starts_at <= Utc::now() => ReminderOutcome::TooLate,
        Some(_) => {
            enqueue(
                &mut tx,
                SEND_REMINDER,
                &job,
                Utc::now(),
                &format!("send-reminder:{}:v{}", job.appointment_id, job.version),
            )
            .await?;
            ReminderOutcome::Forwarded
        }
    };
    tx.commit().await?;
    tracing::info!(practice.id = %job.practice_id, appointment.id = %job.appointment_id, version = job.version, outcome = ?outcome, "reminder check");
    Ok(outcome)
}
