//! The job that applies a stored Stripe event (`invoicing.stripe-event`). Events come late,
//! twice, concurrently and in any order; the rules that make the result the same as one
//! in-order delivery:
//!
//! - an event is applied once: its row is locked and marked processed in the same transaction;
//! - a session is paid once: a payment is unique per attempt (`payment.checkout_id`), and a
//!   completed attempt never goes back (`CheckoutState::moves_to`);
//! - a refund's state only moves up its rank (`RefundState::moves_to`), and the invoice's paid
//!   amount follows it exactly once (`refund.settled`);
//! - a Dashboard refund of a payment whose completion we have not applied yet waits
//!   (`deferred`) and is applied by the completion, under one advisory lock per payment
//!   intent, so neither can miss the other;
//! - money beyond what is owed (a second payment, a payment of a credited invoice) is refunded
//!   automatically, as a duplicate.

use chrono::Utc;
use domain::invoice::PaymentMethod;
use domain::jobs::{SendRefund, StripeEvent};
use domain::online::{CheckoutState, RefundState};
use domain::{CheckoutId, InvoiceId, PaymentId, PracticeId, RefundId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use platform::db::TenantTx;
use rust_decimal::Decimal;

use crate::error::InvoiceError;
use crate::invoices::change;
use crate::invoices::store::{self, NewPayment};

/// What applying an event did (kept as the event's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already applied (a duplicate job).
    AlreadyApplied,
    /// A payment was recorded.
    Paid,
    /// A payment was recorded and the excess is being refunded.
    PaidAndRefunding,
    /// The session was already paid.
    DuplicatePayment,
    /// A delayed payment method has not paid yet.
    AwaitingPayment,
    /// The attempt's state moved.
    StateChanged,
    /// Nothing moved (older news).
    Unchanged,
    /// A refund moved.
    RefundChanged,
    /// Waits for the payment it refers to.
    Deferred,
    /// About something we do not know.
    Unknown,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::AlreadyApplied => "already_applied",
            Outcome::Paid => "paid",
            Outcome::PaidAndRefunding => "paid_and_refunding",
            Outcome::DuplicatePayment => "duplicate_payment",
            Outcome::AwaitingPayment => "awaiting_payment",
            Outcome::StateChanged => "state_changed",
            Outcome::Unchanged => "unchanged",
            Outcome::RefundChanged => "refund_changed",
            Outcome::Deferred => "deferred",
            Outcome::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct EventRow {
    event_id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    object_id: String,
    checkout_id: Option<CheckoutId>,
    refund_id: Option<RefundId>,
    payment_intent: Option<String>,
    amount_cents: Option<i64>,
    status: Option<String>,
    created: chrono::DateTime<Utc>,
}

fn euros(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// Applies one stored event (the job's work; tests call it to apply events in a set order).
pub async fn apply_event(state: &AppState, job: StripeEvent) -> anyhow::Result<Outcome> {
    Ok(apply_stored(state, job).await?)
}

async fn apply_stored(state: &AppState, job: StripeEvent) -> Result<Outcome, InvoiceError> {
    let mut tx = state.db().tenant(job.practice_id).await?;
    let row: Option<EventRow> = sqlx::query_as(
        "select event_id, type, object_id, checkout_id, refund_id, payment_intent, amount_cents, status, created
           from invoicing.stripe_event where event_id = $1 and processed_at is null for update",
    )
    .bind(&job.event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(ev) = row else {
        tx.commit().await?;
        return Ok(Outcome::AlreadyApplied);
    };
    let outcome = apply(&mut tx, job.practice_id, &ev).await?;
    tx.commit().await?;
    metrics::counter!("stripe_events_applied_total", "outcome" => outcome.as_str()).increment(1);
    Ok(outcome)
}

/// Applies `ev` and records its outcome (a deferred event stays unprocessed).
async fn apply(
    tx: &mut TenantTx,
    practice: PracticeId,
    ev: &EventRow,
) -> Result<Outcome, InvoiceError> {
    let outcome = match ev.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if ev.status.as_deref() == Some("paid") {
                session_paid(tx, practice, ev).await?
            } else {
                Outcome::AwaitingPayment
            }
        }
        "checkout.session.async_payment_failed" => {
            session_state(tx, ev, CheckoutState::Failed).await?
        }
        "checkout.session.expired" => session_state(tx, ev, CheckoutState::Expired).await?,
        _ => refund_news(tx, practice, ev).await?,
    };
    let processed = outcome != Outcome::Deferred;
    sqlx::query(
        "update invoicing.stripe_event set outcome = $2, processed_at = case when $3 then now() end
          where event_id = $1",
    )
    .bind(&ev.event_id)
    .bind(outcome.as_str())
    .bind(processed)
    .execute(&mut **tx)
    .await?;
    Ok(outcome)
}

/// Serialises everything about one payment intent (its completion and its Dashboard refunds).
async fn lock_intent(tx: &mut TenantTx, payment_intent: &str) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("stripe:{payment_intent}"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn session_state(
    tx: &mut TenantTx,
    ev: &EventRow,
    to: CheckoutState,
) -> Result<Outcome, InvoiceError> {
    let Some(id) = ev.checkout_id else {
        return Ok(Outcome::Unknown);
    };
    let current: Option<CheckoutState> = sqlx::query_scalar(
        "select state from invoicing.checkout where checkout_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match current {
        None => Outcome::Unknown,
        Some(c) if c.moves_to(to) => {
            sqlx::query("update invoicing.checkout set state = $2, updated_at = now() where checkout_id = $1")
                .bind(id)
                .bind(to)
                .execute(&mut **tx)
                .await?;
            Outcome::StateChanged
        }
        Some(_) => Outcome::Unchanged,
    })
}

async fn session_paid(
    tx: &mut TenantTx,
    practice: PracticeId,
    ev: &EventRow,
) -> Result<Outcome, InvoiceError> {
    let (Some(id), Some(cents)) = (ev.checkout_id, ev.amount_cents.filter(|c| *c > 0)) else {
        return Ok(Outcome::Unknown);
    };
    if let Some(pi) = &ev.payment_intent {
        lock_intent(tx, pi).await?;
    }
    let invoice_id: Option<InvoiceId> = sqlx::query_scalar(
        "select invoice_id from invoicing.checkout where checkout_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(invoice_id) = invoice_id else {
        return Ok(Outcome::Unknown);
    };
    let paid_before: bool = sqlx::query_scalar(
        "select exists (select 1 from invoicing.payment where checkout_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if paid_before {
        return Ok(Outcome::DuplicatePayment);
    }
    sqlx::query(
        "update invoicing.checkout set state = 'complete', payment_intent = coalesce(payment_intent, $2), updated_at = now()
          where checkout_id = $1",
    )
    .bind(id)
    .bind(&ev.payment_intent)
    .execute(&mut **tx)
    .await?;
    let invoice = store::load(tx, invoice_id, true).await?;
    let received_on = change::practice_place(tx).await?.date_of(ev.created);
    let payment = NewPayment {
        method: PaymentMethod::Stripe,
        amount: euros(cents),
        received_on,
        reference: Some(&ev.object_id),
        by: None,
        checkout: Some(id),
    };
    let (row, invoice, excess) =
        change::record_online_payment(tx, practice, &invoice, &payment).await?;
    let ev_audit = AuditEvent {
        event: "payment_recorded",
        action: Action::Update,
        actor: None,
        support_grant: None,
        patient: Some(invoice.patient_id),
        purpose: "payment",
        route: domain::jobs::STRIPE_EVENT,
        outcome: "success",
        reason: None,
    };
    audit::record(tx, practice, &ev_audit).await?;
    let outcome = if excess > Decimal::ZERO {
        let refund = RefundId::new();
        insert_refund(
            tx,
            practice,
            refund,
            invoice.invoice_id,
            row.payment_id,
            excess,
            "duplicate",
            None,
        )
        .await?;
        let job = SendRefund {
            practice_id: practice,
            refund_id: refund,
        };
        platform::jobs::enqueue(tx, &job, Utc::now()).await?;
        tracing::warn!(practice.id = %practice, invoice.id = %invoice.invoice_id, refund.id = %refund, "payment beyond what was owed: refunding the excess");
        Outcome::PaidAndRefunding
    } else {
        Outcome::Paid
    };
    // Dashboard refunds of this payment that came before it.
    if let Some(pi) = &ev.payment_intent {
        let waiting: Vec<EventRow> = sqlx::query_as(
            "select event_id, type, object_id, checkout_id, refund_id, payment_intent, amount_cents, status, created
               from invoicing.stripe_event where payment_intent = $1 and outcome = 'deferred' and processed_at is null
              order by created, event_id for update",
        )
        .bind(pi)
        .fetch_all(&mut **tx)
        .await?;
        for w in waiting {
            Box::pin(apply(tx, practice, &w)).await?;
        }
    }
    Ok(outcome)
}

/// Writes a refund down as requested (its job sends it, or Stripe's news fills it in).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_refund(
    tx: &mut TenantTx,
    practice: PracticeId,
    refund: RefundId,
    invoice: InvoiceId,
    payment: PaymentId,
    amount: Decimal,
    reason: &str,
    stripe_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let cents = domain::money::to_cents(amount);
    sqlx::query(
        r#"with r as (
               insert into invoicing.refund (practice_id, refund_id, invoice_id, payment_id, amount_cents, reason, stripe_refund_id)
               values ($1, $2, $3, $4, $5, $6, $7))
           insert into invoicing.route (reference, practice_id) values ($8, $1)"#,
    )
    .bind(practice)
    .bind(refund)
    .bind(invoice)
    .bind(payment)
    .bind(cents)
    .bind(reason)
    .bind(stripe_id)
    .bind(format!("refund:{refund}"))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    refund_id: RefundId,
    invoice_id: InvoiceId,
    amount_cents: i64,
    state: RefundState,
    settled: bool,
}

/// News about a refund: ours (by `metadata[refund]`) or one made in Stripe's Dashboard (by
/// Stripe's id, written down the first time it is seen).
async fn refund_news(
    tx: &mut TenantTx,
    practice: PracticeId,
    ev: &EventRow,
) -> Result<Outcome, InvoiceError> {
    let Some(next) = ev.status.as_deref().and_then(RefundState::from_stripe) else {
        return Ok(Outcome::Unchanged);
    };
    if let Some(pi) = &ev.payment_intent {
        lock_intent(tx, pi).await?;
    }
    let select = "select refund_id, invoice_id, amount_cents, state, settled from invoicing.refund";
    let mut found: Option<RefundRow> = match ev.refund_id {
        Some(id) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{select} where refund_id = $1 for update"
            )))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{select} where stripe_refund_id = $1 for update"
            )))
            .bind(&ev.object_id)
            .fetch_optional(&mut **tx)
            .await?
        }
    };
    if found.is_none() && ev.refund_id.is_none() {
        // A Dashboard refund: of which payment?
        let (Some(pi), Some(cents)) = (&ev.payment_intent, ev.amount_cents.filter(|c| *c > 0))
        else {
            return Ok(Outcome::Unknown);
        };
        let payment: Option<(PaymentId, InvoiceId)> = sqlx::query_as(
            "select p.payment_id, p.invoice_id from invoicing.payment p
               join invoicing.checkout c on c.checkout_id = p.checkout_id where c.payment_intent = $1",
        )
        .bind(pi)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((payment, invoice)) = payment else {
            return Ok(Outcome::Deferred);
        };
        let id = RefundId::new();
        insert_refund(
            tx,
            practice,
            id,
            invoice,
            payment,
            euros(cents),
            "requested_by_customer",
            Some(&ev.object_id),
        )
        .await?;
        found = Some(RefundRow {
            refund_id: id,
            invoice_id: invoice,
            amount_cents: cents,
            state: RefundState::Requested,
            settled: false,
        });
    }
    let Some(r) = found else {
        return Ok(Outcome::Unknown);
    };
    move_refund(tx, &r, next, Some(&ev.object_id)).await
}

/// Moves a refund to `next` if that is news, and the invoice's paid amount with it.
async fn move_refund(
    tx: &mut TenantTx,
    r: &RefundRow,
    next: RefundState,
    stripe_id: Option<&str>,
) -> Result<Outcome, InvoiceError> {
    if !r.state.moves_to(next) {
        if let Some(id) = stripe_id {
            sqlx::query("update invoicing.refund set stripe_refund_id = coalesce(stripe_refund_id, $2) where refund_id = $1")
                .bind(r.refund_id)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        return Ok(Outcome::Unchanged);
    }
    let settle = next.returned() != r.settled;
    sqlx::query(
        "update invoicing.refund set state = $2, stripe_refund_id = coalesce(stripe_refund_id, $3), settled = $4, updated_at = now()
          where refund_id = $1",
    )
    .bind(r.refund_id)
    .bind(next)
    .bind(stripe_id)
    .bind(next.returned())
    .execute(&mut **tx)
    .await?;
    if settle {
        let invoice = store::load(tx, r.invoice_id, true).await?;
        change::settle_refund(tx, &invoice, euros(r.amount_cents), next.returned()).await?;
    }
    Ok(Outcome::RefundChanged)
}

/// Applies what Stripe answered when the refund was sent (the same rules as its events).
pub(crate) async fn refund_answered(
    tx: &mut TenantTx,
    refund: RefundId,
    stripe_id: &str,
    status: &str,
) -> Result<Outcome, InvoiceError> {
    let r: Option<RefundRow> = sqlx::query_as(
        "select refund_id, invoice_id, amount_cents, state, settled from invoicing.refund where refund_id = $1 for update",
    )
    .bind(refund)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = r else {
        return Ok(Outcome::Unknown);
    };
    let next = RefundState::from_stripe(status).unwrap_or(RefundState::Pending);
    move_refund(tx, &r, next, Some(stripe_id)).await
}
