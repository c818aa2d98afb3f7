//! Jobs scheduling enqueues and consumes.
//!
//! Every change of an appointment (booking, confirmation of a hold, move, cancellation,
//! completion) enqueues `notifications.appointment-changed` with the new version in the same
//! transaction: notifications plans, moves or drops reminders from it and never reads
//! scheduling's tables for it. Completing an appointment enqueues invoice drafting. A patient's
//! reply to a reminder comes back as `scheduling.patient-reply`, and what it did goes back to
//! notifications as `notifications.reply-applied`.

use chrono::Utc;
use domain::PracticeId;
use domain::jobs::{
    APPOINTMENT_CHANGED, AppointmentChanged, AppointmentJob, DRAFT_INVOICE, PatientReply,
    REPLY_APPLIED, ReplyAction, ReplyApplied, ReplyOutcome,
};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use platform::db::TenantTx;
use platform::jobs::enqueue;
use uuid::Uuid;

use crate::appointments::{COLUMNS, Row};

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
        status: row.status.clone(),
    };
    enqueue(
        tx,
        APPOINTMENT_CHANGED,
        &job,
        Utc::now(),
        &format!(
            "appointment-changed:{}:v{}",
            row.appointment_id, row.version
        ),
    )
    .await?;
    Ok(())
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
            let next: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                r#"select {COLUMNS} from scheduling.appointment
                    where patient_id = $1 and status = 'booked' and starts_at > now()
                    order by starts_at limit 1 for update"#
            )))
            .bind(job.patient_id)
            .fetch_optional(&mut *tx)
            .await?;
            match (next, job.action) {
                (None, _) => ReplyOutcome::NoAppointment,
                (Some(row), ReplyAction::Confirm) => {
                    sqlx::query(
                        "update scheduling.appointment set confirmed_at = now(), confirmed_via = 'patient_reply' where appointment_id = $1",
                    )
                    .bind(row.appointment_id)
                    .execute(&mut *tx)
                    .await?;
                    record(&mut tx, &job, "appointment_confirmed_by_reply").await?;
                    ReplyOutcome::Confirmed
                }
                (Some(old), ReplyAction::Cancel) => {
                    crate::change::cancel(
                        &mut tx,
                        job.practice_id,
                        &old,
                        crate::change::CancelledBy::PatientReply,
                        "patient replied",
                    )
                    .await?;
                    record(&mut tx, &job, "appointment_cancelled_by_reply").await?;
                    ReplyOutcome::Cancelled
                }
            }
        }
    };
    // Notifications shows the outcome on the reply; it learns it like everything else, by a job
    // committed with the change.
    enqueue(
        &mut tx,
        REPLY_APPLIED,
        &ReplyApplied {
            practice_id: job.practice_id,
            reply_id: job.reply_id,
            outcome,
        },
        Utc::now(),
        &format!("reply-applied:{}", job.reply_id),
    )
    .await?;
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
        patient: Some(domain::PatientId::from_uuid(job.patient_id)),
        purpose: "patient_reply",
        route: "job:scheduling.patient-reply",
        outcome: "success",
        reason: Some(reason),
    };
    audit::record(tx, job.practice_id, &ev).await?;
    Ok(())
}
