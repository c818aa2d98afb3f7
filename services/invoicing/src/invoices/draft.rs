//! The job that drafts the invoice of a completed appointment (`invoicing.draft-invoice`,
//! enqueued by scheduling when an appointment is completed). Idempotent per appointment: the
//! appointment's invoice is unique, so a second run, a retry or a duplicate job changes
//! nothing. The tariff that applies on the service day (the patient's insurer's own, else the
//! general one) gives the line; without a tariff the draft is made empty, for billing staff to
//! complete.

use chrono::{DateTime, Utc};
use domain::appointment::AppointmentStatus;
use domain::jobs::{DRAFT_INVOICE, DraftInvoice};
use domain::{AppointmentTypeId, PatientId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use rust_decimal::Decimal;

use super::change::{self, practice_place, tariff_line};
use crate::tariffs;

/// What the job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drafted {
    /// A draft with the tariff's line.
    WithTariff,
    /// An empty draft: no tariff applies.
    WithoutTariff,
    /// The appointment already has its invoice.
    AlreadyDrafted,
    /// The appointment is not (or no longer) completed, or has no patient.
    NotCompleted,
}

#[derive(sqlx::FromRow)]
struct Completed {
    status: AppointmentStatus,
    patient_id: Option<PatientId>,
    type_id: AppointmentTypeId,
    starts_at: DateTime<Utc>,
    insurer: Option<String>,
}

/// Drafts the invoice of the appointment a [`DraftInvoice`] payload names.
pub async fn draft_invoice(
    state: &AppState,
    payload: serde_json::Value,
) -> anyhow::Result<Drafted> {
    use anyhow::Context;
    let job: DraftInvoice = serde_json::from_value(payload).context("a draft-invoice payload")?;
    let ctx = || format!("draft invoice of appointment {}", job.appointment_id);
    let mut tx = state.db().tenant(job.practice_id).await.with_context(ctx)?;
    let found: Option<Completed> = sqlx::query_as(
        "select a.status, a.patient_id, a.type_id, a.starts_at, coalesce(p.uzovi, p.mutuality_code) as insurer
           from scheduling.appointment a
           left join core.patient p on p.practice_id = a.practice_id and p.patient_id = a.patient_id
          where a.appointment_id = $1",
    )
    .bind(job.appointment_id)
    .fetch_optional(&mut *tx)
    .await
    .with_context(ctx)?;
    let Some(Completed {
        status: AppointmentStatus::Completed,
        patient_id: Some(patient),
        type_id,
        starts_at,
        insurer,
    }) = found
    else {
        return Ok(Drafted::NotCompleted);
    };
    let place = practice_place(&mut tx)
        .await
        .map_err(anyhow::Error::from)
        .with_context(ctx)?;
    let day = starts_at.with_timezone(&place.tz).date_naive();
    let tariff = tariffs::applicable(&mut tx, type_id, insurer.as_deref(), day)
        .await
        .with_context(ctx)?;
    let lines: Vec<_> = tariff
        .iter()
        .map(|t| tariff_line(t, day, Decimal::ONE, Some(job.appointment_id)))
        .collect();
    let drafted = change::draft(
        &mut tx,
        job.practice_id,
        (patient, None),
        change::Origin {
            appointment: Some(job.appointment_id),
            rebills: None,
        },
        &lines,
    )
    .await
    .map_err(anyhow::Error::from)
    .with_context(ctx)?;
    let outcome = match (drafted, tariff.is_some()) {
        (None, _) => return Ok(Drafted::AlreadyDrafted),
        (Some(_), true) => Drafted::WithTariff,
        (Some(_), false) => Drafted::WithoutTariff,
    };
    let route = format!("job:{DRAFT_INVOICE}");
    let ev = AuditEvent {
        event: "sensitive_create",
        action: Action::Create,
        actor: None,
        support_grant: None,
        patient: Some(patient),
        purpose: "billing",
        route: &route,
        outcome: "success",
        reason: Some(if outcome == Drafted::WithTariff {
            "drafted_from_appointment"
        } else {
            "drafted_without_tariff"
        }),
    };
    audit::record(&mut tx, job.practice_id, &ev)
        .await
        .with_context(ctx)?;
    tx.commit().await.with_context(ctx)?;
    Ok(outcome)
}
