//! What happens when a patient opens a payment link and presses "pay": a Checkout Session is
//! opened just in time (never when the SMS is sent: a session lives at most 24 hours), and
//! the patient is sent to Stripe's page.
//!
//! One attempt row per session, written and committed before Stripe is called, with the
//! invoice row locked while it is chosen, so two clicks at once either reuse the same attempt
//! (the same idempotency key: Stripe answers the same session) or see the first one open.
//! Stripe is never called with a lock held. An older open session is expired first; if Stripe
//! says it was paid meanwhile, no new one is opened.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::invoice::{InvoiceKind, InvoiceStatus};
use domain::online::CheckoutState;
use domain::practice::Language;
use domain::{CheckoutId, InvoiceId, PaymentLinkId, PracticeId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};
use platform::db::TenantTx;
use platform::egress::{self, Disclosure};
use rust_decimal::Decimal;

use super::client::{self, PayError, SessionRequest, SessionState};
use super::links::route_of;
use crate::invoices::store::{self, Row};

/// What the patient sees on the link's page.
#[derive(Debug, Clone)]
pub(crate) struct LinkView {
    /// The practice's name as on its invoices.
    pub practice_name: String,
    /// The invoice number.
    pub number: String,
    /// What is still owed.
    pub amount: Decimal,
    /// The due date.
    pub due_date: Option<NaiveDate>,
    /// The invoice's language.
    pub language: Language,
    /// Where a bank transfer goes, and with which reference.
    pub iban: Option<String>,
    /// The structured communication or payment reference, as printed.
    pub reference: Option<String>,
    /// Whether the patient can pay, and how.
    pub state: LinkState,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Something is owed; `online` when the practice takes online payments.
    Payable {
        /// A Stripe account is set.
        online: bool,
    },
    /// Paid in full.
    Paid,
    /// Nothing to pay any more (credited, written off).
    Closed,
    /// The link is past its date.
    Expired,
}

/// What pressing "pay" leads to.
#[derive(Debug)]
pub(crate) enum Opened {
    /// Stripe's page.
    Redirect(String),
    /// Our page, in the invoice's language: why not.
    Page(LinkView, Refusal),
}

/// Why no session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The link's state says it (paid, closed, expired, not online).
    State,
    /// A payment is being confirmed (an older session was paid).
    Processing,
    /// Stripe did not answer or was busy: try again in a moment.
    TryAgain,
    /// Stripe refused or failed: pay by transfer.
    Unavailable,
}

struct Found {
    practice: PracticeId,
    link_id: PaymentLinkId,
    invoice_id: InvoiceId,
    expires_at: DateTime<Utc>,
}

/// The practice a reference (`link:…`, `checkout:…`) belongs to.
async fn routed(state: &AppState, reference: &str) -> Result<Option<PracticeId>, sqlx::Error> {
    let mut tx = state.db().routing().await?;
    let practice =
        sqlx::query_scalar("select practice_id from invoicing.route where reference = $1")
            .bind(reference)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(practice)
}

/// The practice and link of a token; `None` for a token we never gave out.
async fn find(state: &AppState, token: &str) -> Result<Option<Found>, sqlx::Error> {
    if token.len() != 22
        || !token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Ok(None);
    }
    let Some(practice) = routed(state, &route_of(token)).await? else {
        return Ok(None);
    };
    let mut tx = state.db().tenant(practice).await?;
    let row: Option<(PaymentLinkId, InvoiceId, DateTime<Utc>)> = sqlx::query_as(
        "update invoicing.payment_link set opened_at = coalesce(opened_at, now())
          where token_sha256 = $1 returning link_id, invoice_id, expires_at",
    )
    .bind(platform::crypto::token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|(link_id, invoice_id, expires_at)| Found {
        practice,
        link_id,
        invoice_id,
        expires_at,
    }))
}

#[derive(sqlx::FromRow)]
struct Identity {
    practice_name: String,
    iban: Option<String>,
    stripe_account: Option<String>,
}

async fn identity(tx: &mut TenantTx) -> Result<Identity, sqlx::Error> {
    sqlx::query_as(
        "select coalesce(s.legal_name, p.name) as practice_name, s.iban, s.stripe_account
           from core.practice p left join invoicing.settings s on s.practice_id = p.practice_id",
    )
    .fetch_one(&mut **tx)
    .await
}

fn view_of(row: &Row, id: &Identity, expires_at: DateTime<Utc>) -> LinkView {
    let balance = row.settlement().balance();
    let state = if expires_at <= Utc::now() {
        LinkState::Expired
    } else if row.kind == InvoiceKind::CreditNote
        || matches!(
            row.status,
            InvoiceStatus::Credited | InvoiceStatus::WrittenOff
        )
    {
        LinkState::Closed
    } else if balance <= Decimal::ZERO {
        LinkState::Paid
    } else {
        LinkState::Payable {
            online: id.stripe_account.is_some(),
        }
    };
    LinkView {
        practice_name: id.practice_name.clone(),
        number: row.number.clone().unwrap_or_default(),
        amount: balance.max(Decimal::ZERO),
        due_date: row.due_date,
        language: Language::parse(&row.language).unwrap_or(Language::Nl),
        iban: id.iban.clone(),
        reference: crate::invoices::printed_reference(row.payment_reference.clone()),
        state,
    }
}

/// The patient opened the link (audited: the patient saw their invoice's amount).
async fn audit_view(
    tx: &mut TenantTx,
    practice: PracticeId,
    row: &Row,
    event: &str,
) -> Result<(), sqlx::Error> {
    let ev = AuditEvent {
        event,
        action: Action::Read,
        actor: None,
        support_grant: None,
        patient: Some(row.patient_id),
        purpose: "payment",
        route: "/p/{token}",
        outcome: "success",
        reason: None,
    };
    audit::record(tx, practice, &ev).await
}

/// The page behind a link; `None` for an unknown token.
pub(crate) async fn view(state: &AppState, token: &str) -> Result<Option<LinkView>, sqlx::Error> {
    let Some(f) = find(state, token).await? else {
        return Ok(None);
    };
    let mut tx = state.db().tenant(f.practice).await?;
    let row = match store::load(&mut tx, f.invoice_id, false).await {
        Ok(r) => r,
        Err(crate::error::InvoiceError::Db(e)) => return Err(e),
        Err(_) => return Ok(None),
    };
    let id = identity(&mut tx).await?;
    audit_view(&mut tx, f.practice, &row, "payment_link_opened").await?;
    tx.commit().await?;
    Ok(Some(view_of(&row, &id, f.expires_at)))
}

/// An attempt chosen under the invoice's lock.
struct Attempt {
    checkout: CheckoutId,
    amount_cents: i64,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct CheckoutRow {
    checkout_id: CheckoutId,
    state: CheckoutState,
    session_id: Option<String>,
    url: Option<String>,
    amount_cents: i64,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

use domain::money::to_cents as cents;

/// The patient pressed "pay": choose the attempt under the invoice's lock, close older
/// sessions, then open the new one. Stripe is called with no lock held.
pub(crate) async fn pay(state: &AppState, token: &str) -> Result<Option<Opened>, sqlx::Error> {
    let Some(f) = find(state, token).await? else {
        return Ok(None);
    };
    let (view, account, attempt, stale) = match choose(state, &f).await? {
        Chosen::Gone => return Ok(None),
        Chosen::Done(opened) => return Ok(Some(opened)),
        Chosen::Open {
            view,
            account,
            attempt,
            stale,
        } => (view, account, attempt, stale),
    };
    let payments = super::client::payments(state);
    for (checkout, session) in stale {
        match expire(state, &payments, f.practice, &account, checkout, &session).await? {
            Some(SessionState::Complete(_)) => {
                set_state(state, f.practice, attempt.checkout, CheckoutState::Failed).await?;
                return Ok(Some(Opened::Page(view, Refusal::Processing)));
            }
            Some(SessionState::Expired) => {
                set_state(state, f.practice, checkout, CheckoutState::Expired).await?;
            }
            _ => {}
        }
    }
    open(state, &f, view, &account, &attempt, &payments)
        .await
        .map(Some)
}

/// What the locked step decided.
enum Chosen {
    /// The invoice is gone (cannot happen for an issued one; answered as an unknown link).
    Gone,
    /// Nothing to open: a page, or the open session to go back to.
    Done(Opened),
    /// Open `attempt` (new, or one whose answer was lost), after closing `stale` sessions.
    Open {
        view: LinkView,
        account: String,
        attempt: Attempt,
        stale: Vec<(CheckoutId, String)>,
    },
}

/// Under the invoice's row lock: what is owed, whether an open session can be reused, or the
/// attempt to open (its row committed before Stripe is called).
async fn choose(state: &AppState, f: &Found) -> Result<Chosen, sqlx::Error> {
    let mut tx = state.db().tenant(f.practice).await?;
    let row = match store::load(&mut tx, f.invoice_id, true).await {
        Ok(r) => r,
        Err(crate::error::InvoiceError::Db(e)) => return Err(e),
        Err(_) => return Ok(Chosen::Gone),
    };
    let id = identity(&mut tx).await?;
    let view = view_of(&row, &id, f.expires_at);
    let (LinkState::Payable { online: true }, Some(account)) =
        (view.state, id.stripe_account.clone())
    else {
        tx.commit().await?;
        return Ok(Chosen::Done(Opened::Page(view, Refusal::State)));
    };
    let amount_cents = cents(view.amount);
    let now = Utc::now();
    let attempts: Vec<CheckoutRow> = sqlx::query_as(
        "select checkout_id, state, session_id, url, amount_cents, expires_at, created_at
           from invoicing.checkout where invoice_id = $1 and state in ('creating', 'open')
          order by created_at desc",
    )
    .bind(f.invoice_id)
    .fetch_all(&mut *tx)
    .await?;
    audit_view(&mut tx, f.practice, &row, "payment_started").await?;
    // An open session for the same amount with time left: back to it.
    if let Some(a) = attempts.iter().find(|a| {
        a.state == CheckoutState::Open
            && a.amount_cents == amount_cents
            && a.expires_at > now + Duration::minutes(10)
    }) && let Some(url) = &a.url
    {
        tx.commit().await?;
        return Ok(Chosen::Done(Opened::Redirect(url.clone())));
    }
    // An attempt whose answer was lost moments ago: the same key asks Stripe again.
    let retry = attempts.iter().find(|a| {
        a.state == CheckoutState::Creating
            && a.amount_cents == amount_cents
            && a.created_at > now - Duration::minutes(5)
    });
    let attempt = match retry {
        Some(a) => Attempt {
            checkout: a.checkout_id,
            amount_cents,
            expires_at: a.expires_at,
        },
        None => {
            let lifetime =
                Duration::from_std(state.settings().payments.checkout_lifetime).unwrap_or_default();
            let a = Attempt {
                checkout: CheckoutId::new(),
                amount_cents,
                expires_at: now + lifetime,
            };
            sqlx::query(
                r#"with c as (
                       insert into invoicing.checkout (practice_id, checkout_id, invoice_id, link_id, amount_cents, expires_at)
                       values ($1, $2, $3, $4, $5, $6))
                   insert into invoicing.route (reference, practice_id) values ($7, $1)"#,
            )
            .bind(f.practice)
            .bind(a.checkout)
            .bind(f.invoice_id)
            .bind(f.link_id)
            .bind(a.amount_cents)
            .bind(a.expires_at)
            .bind(format!("checkout:{}", a.checkout))
            .execute(&mut *tx)
            .await?;
            a
        }
    };
    let stale = attempts
        .iter()
        .filter(|a| a.state == CheckoutState::Open && a.checkout_id != attempt.checkout)
        .filter_map(|a| a.session_id.clone().map(|s| (a.checkout_id, s)))
        .collect();
    tx.commit().await?;
    Ok(Chosen::Open {
        view,
        account,
        attempt,
        stale,
    })
}

/// Opens the attempt's session through the egress gate and records what Stripe answered.
async fn open(
    state: &AppState,
    f: &Found,
    view: LinkView,
    account: &str,
    attempt: &Attempt,
    payments: &client::Payments,
) -> Result<Opened, sqlx::Error> {
    let base = state.settings().server.public_url.trim_end_matches('/');
    let request = SessionRequest {
        checkout: attempt.checkout.as_uuid(),
        amount_cents: attempt.amount_cents,
        label: label(view.language, &view.number),
        expires_at: attempt.expires_at.timestamp(),
        success_url: format!("{base}/p/done/{}", attempt.checkout),
        cancel_url: format!("{base}/p/back/{}", attempt.checkout),
        language: view.language,
    };
    let correlation = attempt.checkout.to_string();
    let disclosure = Disclosure {
        practice: f.practice,
        subprocessor: client::SUBPROCESSOR,
        purpose: "invoice_payment",
        data_categories: &client::SESSION_CATEGORIES,
        fields: &client::SESSION_FIELDS,
        correlation_id: &correlation,
    };
    let permit = match egress::authorize(state.db(), &disclosure).await {
        Ok(p) => p,
        Err(egress::GateError::Refused(_)) => {
            set_state(state, f.practice, attempt.checkout, CheckoutState::Failed).await?;
            return Ok(Opened::Page(view, Refusal::Unavailable));
        }
        Err(egress::GateError::Database(e)) => return Err(e),
    };
    let result = payments.create_session(&permit, account, &request).await;
    let mut tx = state.db().tenant(f.practice).await?;
    let opened = match result {
        Ok(session) => {
            sqlx::query(
                "update invoicing.checkout set state = 'open', session_id = $2, url = $3,
                        expires_at = to_timestamp($4), updated_at = now()
                  where checkout_id = $1 and state = 'creating'",
            )
            .bind(attempt.checkout)
            .bind(&session.id)
            .bind(&session.url)
            .bind(session.expires_at as f64)
            .execute(&mut *tx)
            .await?;
            permit.sent_in(&mut tx).await?;
            Opened::Redirect(session.url)
        }
        Err(e) => {
            tracing::warn!(practice.id = %f.practice, checkout.id = %attempt.checkout, class = e.class(), "checkout session not opened");
            permit.failed_in(&mut tx, e.class()).await?;
            match e {
                PayError::Busy(_) | PayError::InDoubt(_) => Opened::Page(view, Refusal::TryAgain),
                PayError::Refused(_) | PayError::Failed(_) => {
                    sqlx::query("update invoicing.checkout set state = 'failed', updated_at = now() where checkout_id = $1 and state = 'creating'")
                        .bind(attempt.checkout)
                        .execute(&mut *tx)
                        .await?;
                    Opened::Page(view, Refusal::Unavailable)
                }
            }
        }
    };
    tx.commit().await?;
    Ok(opened)
}

/// Expires an older session (through the gate); `None` when the call failed.
async fn expire(
    state: &AppState,
    payments: &client::Payments,
    practice: PracticeId,
    account: &str,
    checkout: CheckoutId,
    session: &str,
) -> Result<Option<SessionState>, sqlx::Error> {
    let correlation = checkout.to_string();
    let disclosure = Disclosure {
        practice,
        subprocessor: client::SUBPROCESSOR,
        purpose: "invoice_payment",
        data_categories: &[],
        fields: &["session"],
        correlation_id: &correlation,
    };
    let permit = match egress::authorize(state.db(), &disclosure).await {
        Ok(p) => p,
        Err(egress::GateError::Refused(_)) => return Ok(None),
        Err(egress::GateError::Database(e)) => return Err(e),
    };
    let key = format!("cs-expire:{checkout}");
    match payments
        .expire_session(&permit, account, session, &key)
        .await
    {
        Ok(s) => {
            permit.sent(state.db()).await?;
            Ok(Some(s))
        }
        Err(e) => {
            permit.failed(state.db(), e.class()).await?;
            Ok(None)
        }
    }
}

async fn set_state(
    state: &AppState,
    practice: PracticeId,
    checkout: CheckoutId,
    to: CheckoutState,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db().tenant(practice).await?;
    let current: Option<CheckoutState> = sqlx::query_scalar(
        "select state from invoicing.checkout where checkout_id = $1 for update",
    )
    .bind(checkout)
    .fetch_optional(&mut *tx)
    .await?;
    if current.is_some_and(|c| c.moves_to(to)) {
        sqlx::query(
            "update invoicing.checkout set state = $2, updated_at = now() where checkout_id = $1",
        )
        .bind(checkout)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The label on Stripe's page and the patient's bank statement line: the invoice number and
/// nothing else.
pub(crate) fn label(language: Language, number: &str) -> String {
    let word = match language {
        Language::Nl => "Factuur",
        Language::Fr => "Facture",
        Language::En => "Invoice",
        Language::De => "Rechnung",
    };
    format!("{word} {number}")
}

/// Where a payment stands when Stripe sends the patient back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returned {
    /// The webhook confirmed it.
    Confirmed,
    /// Not confirmed yet (the webhook may be a moment behind).
    Confirming,
    /// The patient went back without paying.
    Cancelled,
}

/// The page after Stripe: by our checkout id (no token goes to Stripe).
pub(crate) async fn returned(
    state: &AppState,
    checkout: CheckoutId,
    cancelled: bool,
) -> Result<Option<(Language, Returned)>, sqlx::Error> {
    let Some(practice) = routed(state, &format!("checkout:{checkout}")).await? else {
        return Ok(None);
    };
    let mut tx = state.db().tenant(practice).await?;
    let row: Option<(CheckoutState, String)> = sqlx::query_as(
        "select c.state, i.language from invoicing.checkout c
           join invoicing.invoice i on i.invoice_id = c.invoice_id where c.checkout_id = $1",
    )
    .bind(checkout)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|(s, lang)| {
        let language = Language::parse(&lang).unwrap_or(Language::Nl);
        let r = match s {
            CheckoutState::Complete => Returned::Confirmed,
            _ if cancelled => Returned::Cancelled,
            _ => Returned::Confirming,
        };
        (language, r)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_of_euros() {
        assert_eq!(cents(Decimal::new(4550, 2)), 4550);
        assert_eq!(cents(Decimal::new(1, 0)), 100);
        assert_eq!(cents(Decimal::new(12345, 3)), 1235);
    }

    #[test]
    fn the_label_is_the_number_only() {
        assert_eq!(label(Language::Fr, "2026-000123"), "Facture 2026-000123");
    }
}
