//! Refunds of online payments: billing staff ask for one (full or partial, optionally with
//! the credit note it goes with), the system asks for one when a payment exceeds what was
//! owed. The refund is written down first (`requested`), then the job `invoicing.send-refund`
//! sends it with `Idempotency-Key: refund:<id>`; Stripe's answer and its later events move it
//! to its final state, and the invoice's paid amount follows once it succeeded.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use domain::invoice::{InvoiceKind, PaymentMethod};
use domain::jobs::SendRefund;
use domain::money::Amount;
use domain::practice::Permission;
use domain::{InvoiceId, PaymentId, RefundId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::egress::{self, Disclosure};
use platform::idempotency::{Answer, Idempotent};
use platform::json::ApiPath;
use platform::{ApiError, ApiResult, AppState};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;

use super::apply::{insert_refund, refund_answered};
use super::client::{self, PayError, RefundRequest};
use crate::error::InvoiceError;
pub use crate::invoices::Refund;
use crate::invoices::store;
use crate::invoices::view::REFUND_COLUMNS;

/// A refund asked for by staff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "20.00"}))]
pub struct NewRefund {
    /// How much to give back, above zero; at most what was paid online and not refunded yet.
    pub amount: Amount,
    /// The credit note this refund goes with (one correcting this invoice), when the refund
    /// is for a service taken back rather than money paid twice.
    #[serde(default)]
    pub credit_note_id: Option<InvoiceId>,
}

/// Gives back (part of) an online payment through Stripe. The money goes back to the card or
/// account that paid; the invoice counts it as unpaid again once Stripe confirms.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/refunds", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice"), ("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]{1,255}$", description = "A retry with the same key and request gets the first answer (`Idempotent-Replayed: true`) without the work being done again; kept 24 hours")),
    request_body = NewRefund,
    responses((status = 201, body = Refund),
              (status = 409, description = "A credit note, or a draft", body = platform::error::Problem),
              (status = 422, description = "More than was paid online and not refunded yet, or a credit note of another invoice", body = platform::error::Problem)))]
pub async fn create_refund(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
    Idempotent(idem, b): Idempotent<NewRefund>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let amount = b.amount.get();
    if amount <= Decimal::ZERO {
        return Err(ApiError::invalid_field("amount", "must be above zero"));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    if let Some(replay) = idem.claim(&mut tx, &staff).await? {
        tx.commit().await?;
        return Ok(replay);
    }
    let invoice = store::load(&mut tx, id, true).await?;
    if invoice.kind == InvoiceKind::CreditNote {
        return Err(InvoiceError::CreditNote("refunded").into());
    }
    if let Some(cn) = b.credit_note_id {
        let corrects: Option<Option<InvoiceId>> = sqlx::query_scalar(
            "select corrects_invoice_id from invoicing.invoice where invoice_id = $1 and kind = 'credit_note'",
        )
        .bind(cn)
        .fetch_optional(&mut *tx)
        .await?;
        if corrects.flatten() != Some(id) {
            return Err(ApiError::invalid_field(
                "credit_note_id",
                "not a credit note of this invoice",
            ));
        }
    }
    // What each online payment can still give back: paid less refunds not failed.
    let refundable: Vec<(PaymentId, Decimal)> = sqlx::query_as(
        "select p.payment_id, p.amount - coalesce(sum(r.amount_cents) filter (where r.state not in ('failed', 'canceled')), 0) / 100.0
           from invoicing.payment p left join invoicing.refund r on r.payment_id = p.payment_id
          where p.invoice_id = $1 and p.method = $2
          group by p.payment_id, p.amount, p.created_at order by p.created_at desc",
    )
    .bind(id)
    .bind(PaymentMethod::Stripe)
    .fetch_all(&mut *tx)
    .await?;
    let Some((payment, _)) = refundable.iter().find(|(_, left)| *left >= amount) else {
        let most = refundable.iter().map(|(_, l)| *l).max().unwrap_or_default();
        return Err(ApiError::invalid_field(
            "amount",
            format!(
                "more than an online payment of this invoice can give back (at most {most:.2} in one refund)"
            ),
        ));
    };
    let refund = RefundId::new();
    insert_refund(
        &mut tx,
        staff.practice(),
        refund,
        id,
        *payment,
        amount,
        "requested_by_customer",
        None,
    )
    .await?;
    sqlx::query(
        "update invoicing.refund set credit_note_id = $2, requested_by = $3 where refund_id = $1",
    )
    .bind(refund)
    .bind(b.credit_note_id)
    .bind(staff.staff_id())
    .execute(&mut *tx)
    .await?;
    let job = SendRefund {
        practice_id: staff.practice(),
        refund_id: refund,
    };
    platform::jobs::enqueue(&mut tx, &job, Utc::now()).await?;
    let ev = staff.audit(
        "refund_requested",
        Action::Create,
        Some(invoice.patient_id),
        "success",
    );
    audit::record(&mut tx, staff.practice(), &ev).await?;
    let view: Refund = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {REFUND_COLUMNS} from invoicing.refund where refund_id = $1"
    )))
    .bind(refund)
    .fetch_one(&mut *tx)
    .await?;
    let answer = idem
        .answer(&mut tx, &staff, StatusCode::CREATED, &view)
        .await?;
    tx.commit().await?;
    Ok(answer)
}

#[derive(sqlx::FromRow)]
struct ToSend {
    amount_cents: i64,
    reason: String,
    payment_intent: Option<String>,
    stripe_account: Option<String>,
}

/// What the send job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Stripe took it.
    Sent,
    /// Already sent, or no longer to send.
    Nothing,
    /// Stripe refused it (or it cannot be sent): failed, for staff to see.
    Refused,
}

/// Sends a requested refund to Stripe. A lost answer or a busy Stripe is an error (the job
/// is retried with the same key); a refusal fails the refund.
pub async fn send_refund(state: &AppState, job: SendRefund) -> anyhow::Result<Sent> {
    let practice = job.practice_id;
    let mut tx = state.db().tenant(practice).await?;
    let row: Option<ToSend> = sqlx::query_as(
        "select r.amount_cents, r.reason, c.payment_intent, s.stripe_account
           from invoicing.refund r
           join invoicing.payment p on p.payment_id = r.payment_id
           left join invoicing.checkout c on c.checkout_id = p.checkout_id
           left join invoicing.settings s on true
          where r.refund_id = $1 and r.state = 'requested' and r.stripe_refund_id is null",
    )
    .bind(job.refund_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(Sent::Nothing);
    };
    let (Some(pi), Some(account)) = (row.payment_intent, row.stripe_account) else {
        fail(state, practice, job.refund_id).await?;
        return Ok(Sent::Refused);
    };
    let request = RefundRequest {
        refund: job.refund_id.as_uuid(),
        payment_intent: pi,
        amount_cents: row.amount_cents,
        duplicate: row.reason == "duplicate",
    };
    let correlation = job.refund_id.to_string();
    let disclosure = Disclosure {
        practice,
        subprocessor: client::SUBPROCESSOR,
        purpose: "invoice_refund",
        data_categories: &client::REFUND_CATEGORIES,
        fields: &client::REFUND_FIELDS,
        correlation_id: &correlation,
    };
    let permit = match egress::authorize(state.db(), &disclosure).await {
        Ok(p) => p,
        Err(egress::GateError::Refused(r)) => anyhow::bail!("egress refused: {r}"),
        Err(egress::GateError::Database(e)) => return Err(e.into()),
    };
    let result = super::client::payments(state)
        .create_refund(&permit, &account, &request)
        .await;
    let mut tx = state.db().tenant(practice).await?;
    match result {
        Ok(created) => {
            refund_answered(&mut tx, job.refund_id, &created.id, &created.status).await?;
            permit.sent_in(&mut tx).await?;
            tx.commit().await?;
            Ok(Sent::Sent)
        }
        Err(PayError::Refused(class)) => {
            permit.failed_in(&mut tx, &class).await?;
            tx.commit().await?;
            fail(state, practice, job.refund_id).await?;
            Ok(Sent::Refused)
        }
        Err(e) => {
            permit.failed_in(&mut tx, e.class()).await?;
            tx.commit().await?;
            anyhow::bail!("refund not sent yet: {}", e.class())
        }
    }
}

/// A refund that cannot be sent: failed (nothing was returned, so the invoice is unchanged).
async fn fail(
    state: &AppState,
    practice: domain::PracticeId,
    refund: RefundId,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db().tenant(practice).await?;
    sqlx::query(
        "update invoicing.refund set state = 'failed', updated_at = now() where refund_id = $1 and state = 'requested'",
    )
    .bind(refund)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
