//! `POST /v1/hooks/stripe`: Stripe's events, verified on the raw body, reduced to the fields
//! we keep, stored once per event id and applied by a job (`invoicing.stripe-event`). The
//! handler does database work only, no outbound call, and answers fast:
//!
//! - 400 for a missing or wrong signature, a timestamp older or newer than 300 s, or a body
//!   that is not an event — nothing is stored;
//! - 200 for a duplicate, a type we do not act on, another mode, or an account we do not know
//!   (Stripe stops sending);
//! - 503 when our database fails (Stripe retries for three days).
//!
//! Events carry no tenant: the connected account (`account`) names the practice, through
//! `invoicing.route` (`account:acct_…`, kept with the practice's settings); without one, our
//! own references do (`checkout:…`, `refund:…`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::PracticeId;
use domain::jobs::StripeEvent;
use platform::db::TenantTx;
use platform::{ApiError, AppState};
use secrecy::ExposeSecret;

use super::event::{self, EventError, Whitelisted};
use super::signature;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Stripe sent it.
    Webhook,
    /// Reconciliation listed it.
    Reconciliation,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Reconciliation => "reconciliation",
        }
    }
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// New: stored, and its job enqueued.
    New,
    /// Seen before.
    Duplicate,
    /// Not for any practice we know (or another mode).
    NotOurs,
}

fn count(result: &'static str) {
    metrics::counter!("stripe_webhooks_total", "result" => result).increment(1);
}

fn refuse(result: &'static str, detail: &'static str) -> Response {
    count(result);
    tracing::warn!(result, "stripe webhook refused");
    if result == "malformed" {
        ApiError::invalid_body(None, detail).into_response()
    } else {
        ApiError::invalid_parameter("Stripe-Signature", detail).into_response()
    }
}

/// The practice an event belongs to.
async fn practice_of(state: &AppState, e: &Whitelisted) -> Result<Option<PracticeId>, sqlx::Error> {
    let mut references = Vec::with_capacity(2);
    if let Some(a) = &e.account {
        references.push(format!("account:{a}"));
    }
    if let Some(c) = e.checkout {
        references.push(format!("checkout:{c}"));
    }
    if let Some(r) = e.refund {
        references.push(format!("refund:{r}"));
    }
    if references.is_empty() {
        return Ok(None);
    }
    let mut tx = state.db().routing().await?;
    let p: Option<PracticeId> = sqlx::query_scalar(
        "select practice_id from invoicing.route where reference = any($1)
          order by reference like 'account:%' desc limit 1",
    )
    .bind(&references)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Stores an event once and enqueues its job, in one transaction.
pub(crate) async fn store(
    tx: &mut TenantTx,
    practice: PracticeId,
    e: &Whitelisted,
    source: Source,
) -> Result<Stored, sqlx::Error> {
    let inserted = sqlx::query(
        r#"insert into invoicing.stripe_event (practice_id, event_id, type, created, object_id, checkout_id, refund_id,
               payment_intent, amount_cents, status, source)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           on conflict (practice_id, event_id) do nothing"#,
    )
    .bind(practice)
    .bind(&e.event_id)
    .bind(&e.event_type)
    .bind(e.created)
    .bind(&e.object_id)
    .bind(e.checkout)
    .bind(e.refund)
    .bind(&e.payment_intent)
    .bind(e.amount_cents)
    .bind(&e.status)
    .bind(source.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Stored::Duplicate);
    }
    let job = StripeEvent {
        practice_id: practice,
        event_id: e.event_id.clone(),
    };
    platform::jobs::enqueue(tx, &job, Utc::now()).await?;
    Ok(Stored::New)
}

/// Routes and stores an event that passed its checks.
pub(crate) async fn accept(
    state: &AppState,
    e: &Whitelisted,
    source: Source,
) -> Result<Stored, sqlx::Error> {
    if e.livemode != super::client::payments(state).live() {
        return Ok(Stored::NotOurs);
    }
    let Some(practice) = practice_of(state, e).await? else {
        return Ok(Stored::NotOurs);
    };
    let mut tx = state.db().tenant(practice).await?;
    let stored = store(&mut tx, practice, e, source).await?;
    tx.commit().await?;
    Ok(stored)
}

/// An event from Stripe (signed with `STRIPE_WEBHOOK_SECRET`).
#[utoipa::path(post, path = "/v1/hooks/stripe", tag = "provider callbacks",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "A Stripe event"),
    responses((status = 200, description = "Stored, a duplicate, or not one we act on"),
              (status = 400, description = "Missing or wrong signature, stale timestamp, or not an event; nothing stored", body = platform::error::Problem),
              (status = 503, description = "Our database failed; Stripe retries", body = platform::error::Problem)))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(header) = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return refuse("no_signature", "the Stripe-Signature header is missing");
    };
    let secret = state.settings().payments.webhook_secret.expose_secret();
    if let Err(e) = signature::verify(&body, header, secret, Utc::now().timestamp()) {
        return match e {
            signature::SignatureError::Stale => {
                refuse("stale", "the signed time is too old or too new")
            }
            _ => refuse("bad_signature", "the signature does not match"),
        };
    }
    let e = match event::parse(&body) {
        Ok(e) => e,
        Err(EventError::Ignored) => {
            count("ignored");
            return StatusCode::OK.into_response();
        }
        Err(EventError::Malformed) => return refuse("malformed", "not a Stripe event"),
    };
    match accept(&state, &e, Source::Webhook).await {
        Ok(Stored::New) => {
            count("stored");
            StatusCode::OK.into_response()
        }
        Ok(Stored::Duplicate) => {
            count("duplicate");
            StatusCode::OK.into_response()
        }
        Ok(Stored::NotOurs) => {
            count("not_ours");
            tracing::info!(event.id = %e.event_id, "stripe event for no practice of ours");
            StatusCode::OK.into_response()
        }
        Err(err) => {
            count("failed");
            tracing::error!(error = %err, "stripe webhook not stored");
            ApiError::unavailable("the event could not be stored; send it again").into_response()
        }
    }
}
