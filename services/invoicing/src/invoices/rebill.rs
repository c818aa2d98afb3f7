//! The job that bills a claim line the insurer rejected to its patient
//! (`invoicing.rebill-claim`, enqueued by claims when billing staff choose to re-bill it): a
//! draft invoice with one line — the original line's code, label, service date and VAT, priced
//! at the insurer share that was refused, all of it the patient's. One draft per claim line,
//! however often the job runs (a unique index backs the check); billing staff issue it.

use chrono::NaiveDate;
use domain::invoice::VatCategory;
use domain::jobs::{REBILL_CLAIM, RebillClaim};
use domain::{InvoiceId, PatientId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use rust_decimal::Decimal;

use super::change::{self, LineSpec, Origin};

#[derive(sqlx::FromRow)]
struct Rejected {
    patient_id: PatientId,
    code: String,
    label: String,
    service_date: NaiveDate,
    amount: Decimal,
    #[sqlx(try_from = "String")]
    vat_category: VatCategory,
    vat_rate: Decimal,
}

/// Drafts the patient's invoice for a re-billed claim line; the new draft, or `None` when it
/// exists already or the line is not (or no longer) to be re-billed.
pub async fn rebill_claim(state: &AppState, job: RebillClaim) -> anyhow::Result<Option<InvoiceId>> {
    use anyhow::Context;
    let ctx = || format!("re-bill claim line {}", job.line_id);
    let mut tx = state.db().tenant(job.practice_id).await.with_context(ctx)?;
    let done: bool = sqlx::query_scalar(
        "select exists (select 1 from invoicing.invoice where rebills_claim_line_id = $1)",
    )
    .bind(job.line_id)
    .fetch_one(&mut *tx)
    .await
    .with_context(ctx)?;
    let source: Option<Rejected> = sqlx::query_as(
        "select l.patient_id, il.code, il.label, il.service_date, l.amount, il.vat_category, il.vat_rate
           from claims.claim_line l
           join invoicing.invoice_line il on il.invoice_id = l.invoice_id and il.line_no = l.invoice_line_no
          where l.line_id = $1 and l.settled = 'rebilled' and l.kind = 'debit'",
    )
    .bind(job.line_id)
    .fetch_optional(&mut *tx)
    .await
    .with_context(ctx)?;
    let (false, Some(src)) = (done, source) else {
        tx.commit().await?;
        return Ok(None);
    };
    let spec = LineSpec::Free {
        code: src.code,
        label: src.label,
        unit_price: src.amount,
        vat_category: src.vat_category,
        vat_rate: src.vat_rate,
        service_date: src.service_date,
        quantity: Decimal::ONE,
    };
    let lines = change::resolve(&mut tx, vec![("lines[0]".to_owned(), spec)], None)
        .await
        .map_err(anyhow::Error::from)
        .with_context(ctx)?;
    let origin = Origin {
        appointment: None,
        rebills: Some(job.line_id),
    };
    let row = change::draft(
        &mut tx,
        job.practice_id,
        (src.patient_id, None),
        origin,
        &lines,
    )
    .await
    .map_err(anyhow::Error::from)
    .with_context(ctx)?
    .context("a draft without appointment conflicted")?;
    let route = format!("job:{REBILL_CLAIM}");
    let ev = AuditEvent {
        event: "sensitive_create",
        action: Action::Create,
        actor: None,
        support_grant: None,
        patient: Some(src.patient_id),
        purpose: "billing",
        route: &route,
        outcome: "success",
        reason: Some("rebilled_claim"),
    };
    audit::record(&mut tx, job.practice_id, &ev)
        .await
        .with_context(ctx)?;
    tx.commit().await.with_context(ctx)?;
    Ok(Some(row.invoice_id))
}
