//! The patient-reply consumer: a patient's answer to a reminder comes in as
//! `scheduling.patient-reply`, confirms or cancels their next booked appointment through the
//! change path, and what it did goes back to notifications as `notifications.reply-applied`.

use chrono::Utc;
use domain::jobs::{PatientReply, ReplyAction, ReplyApplied, ReplyOutcome};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use platform::db::TenantTx;
use platform::jobs::enqueue;

use crate::appointments::{CancelledBy, change, store};

/// Handles `scheduling.patient-reply`: confirms or cancels the patient's next booked
/// appointment at the practice, unless the appointment the reminder was about has started.
pub async fn patient_reply(
    state: &AppState,
    payload: serde_json::Value,
) -> anyhow::Result<ReplyOutcome> {
    let job: PatientReply = serde_json::from_value(payload)?;
    let mut tx = state.db().tenant(job.practice_id).await?;
    let answered: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
        "select starts_at from scheduling.appointment where appointment_id = $1 and patient_id = $2",
    )
    .bind(job.appointment_id)
    .bind(job.patient_id)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match answered {
        None => ReplyOutcome::NoAppointment,
        Some(starts) if starts <= job.received_at || starts <= Utc::now() => ReplyOutcome::TooLate,
        Some(_) => {
            let next = store::next_booked(&mut tx, job.patient_id).await?;
            match (next, job.action) {
                (None, _) => ReplyOutcome::NoAppointment,
                (Some(row), ReplyAction::Confirm) => {
                    change::confirm_by_reply(&mut tx, &row).await?;
                    record(&mut tx, &job, "appointment_confirmed_by_reply").await?;
                    ReplyOutcome::Confirmed
                }
                (Some(old), ReplyAction::Cancel) => {
                    let by = CancelledBy::PatientReply;
                    change::cancel(&mut tx, job.practice_id, &old, by, "patient replied").await?;
                    record(&mut tx, &job, "appointment_cancelled_by_reply").await?;
                    ReplyOutcome::Cancelled
                }
            }
        }
    };
    // Notifications shows the outcome on the reply; it learns it like everything else, by a job
    // committed with the change.
    let applied = ReplyApplied {
        practice_id: job.practice_id,
        reply_id: job.reply_id,
        outcome,
    };
    enqueue(&mut tx, &applied, Utc::now()).await?;
    tx.commit().await?;
    tracing::info!(practice.id = %job.practice_id, reply.id = %job.reply_id, outcome = ?outcome, "patient reply applied");
    Ok(outcome)
}

async fn record(tx: &mut TenantTx, job: &PatientReply, reason: &'static str) -> anyhow::Result<()> {
    let ev = AuditEvent {
        event: "sensitive_update",
        action: Action::Update,
        actor: None,
        support_grant: None,
        patient: Some(job.patient_id),
        purpose: "patient_reply",
        route: "job:scheduling.patient-reply",
        outcome: "success",
        reason: Some(reason),
    };
    audit::record(tx, job.practice_id, &ev).await?;
    Ok(())
}
