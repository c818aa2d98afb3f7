//! Payment reminders: an issued invoice still unpaid on one of the practice's reminder days
//! (`reminder_days`, days after the due date; default 7 and 21) gets an SMS with a fresh
//! payment link, through notifications (`notifications.request-message`, kind
//! `payment_reminder`, one message per invoice and reminder). They stop when the invoice is
//! paid, credited or written off. Each reminder is a row (`invoicing.reminder`): the dunning
//! history on the invoice, and the guard that sends each reminder once.
//!
//! One reminder per sweep and invoice, and the next one only when its day has come *and* the
//! gap between the two reminder days has passed since the previous one: an invoice that is
//! already long overdue when reminders are switched on gets the first one now and the next
//! after the practice's own interval, not all of them at once.

use chrono::Utc;
use domain::jobs::MessageRequest;
use domain::templates::MessageKind;
use domain::{InvoiceId, PatientId, PracticeId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};

use crate::error::InvoiceError;
use crate::invoices::store;
use crate::stripe::links::{self, Origin};

#[derive(sqlx::FromRow)]
struct Due {
    invoice_id: InvoiceId,
    patient_id: PatientId,
    ordinal: i32,
}

/// Invoices due for their next reminder today (in the practice's time zone), with its ordinal.
const DUE: &str = r#"
    with s as (select coalesce((select reminder_days from invoicing.settings), '{7,21}') as days),
         today as (select (now() at time zone p.time_zone)::date as d from core.practice p),
         last as (select invoice_id, max(ordinal) as ordinal, max(created_at) as at from invoicing.reminder group by invoice_id)
    select i.invoice_id, i.patient_id, coalesce(l.ordinal, 0) + 1 as ordinal
      from invoicing.invoice i cross join s cross join today
      left join last l on l.invoice_id = i.invoice_id
     where i.kind = 'invoice' and i.status in ('issued', 'partially_paid')
       and i.patient_total - i.credited_patient - i.paid > 0
       and i.payer_id is null
       and coalesce(l.ordinal, 0) < cardinality(s.days)
       and i.due_date + s.days[coalesce(l.ordinal, 0) + 1] <= today.d
       and (l.ordinal is null
            or (l.at at time zone 'UTC')::date + (s.days[l.ordinal + 1] - s.days[l.ordinal]) <= today.d)
     order by i.due_date, i.invoice_id
     limit $1"#;

/// Sends the reminders that are due in one practice (at most `limit`); how many.
pub async fn sweep_practice(
    state: &AppState,
    practice: PracticeId,
    limit: i64,
) -> anyhow::Result<usize> {
    Ok(sweep(state, practice, limit).await?)
}

async fn sweep(state: &AppState, practice: PracticeId, limit: i64) -> Result<usize, InvoiceError> {
    let mut tx = state.db().tenant(practice).await?;
    let due: Vec<Due> = sqlx::query_as(DUE).bind(limit).fetch_all(&mut *tx).await?;
    for d in &due {
        let invoice = store::load(&mut tx, d.invoice_id, true).await?;
        let link = links::create(&mut tx, state, practice, &invoice, Origin::Reminder).await?;
        sqlx::query(
            "insert into invoicing.reminder (practice_id, invoice_id, ordinal, link_id) values ($1, $2, $3, $4)",
        )
        .bind(practice)
        .bind(d.invoice_id)
        .bind(d.ordinal)
        .bind(link.link_id)
        .execute(&mut *tx)
        .await?;
        let request = MessageRequest {
            practice_id: practice,
            kind: MessageKind::PaymentReminder,
            about_id: d.invoice_id.as_uuid(),
            patient_id: d.patient_id,
            starts_at: None,
            link: Some(link.url),
            key: key(d.invoice_id, d.ordinal),
        };
        platform::jobs::enqueue(&mut tx, &request, Utc::now()).await?;
        let ev = AuditEvent {
            event: "payment_reminder_requested",
            action: Action::Create,
            actor: None,
            support_grant: None,
            patient: Some(d.patient_id),
            purpose: "billing",
            route: "invoicing.payment-reminders",
            outcome: "success",
            reason: None,
        };
        audit::record(&mut tx, practice, &ev).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// The message key of a reminder (notifications keeps one message per key).
pub(crate) fn key(invoice: InvoiceId, ordinal: i32) -> String {
    format!("payment-reminder:{invoice}:{ordinal}")
}

/// Sweeps every practice every `interval`, until the process stops.
pub async fn run(state: AppState, interval: std::time::Duration) {
    platform::jobs::every_practice(
        state,
        interval,
        false,
        "payment_reminders",
        |state, p| async move { sweep_practice(&state, p, 500).await },
    )
    .await
}
