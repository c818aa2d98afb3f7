//! Reconciliation: webhooks can be missed (our outage longer than Stripe's retries, a
//! misconfigured endpoint). Every run lists each connected practice's recent events of the
//! types we act on and stores the ones we do not have, exactly as a webhook would (same
//! whitelist, same dedupe by event id), so the ledger heals without anyone noticing.

use chrono::Utc;
use domain::PracticeId;
use platform::AppState;
use platform::egress::{self, Disclosure};

use super::client;
use super::event::{self, TYPES};
use super::webhook::{Source, Stored, accept};

/// How far back a run looks (Stripe keeps 30 days of events).
pub const WINDOW_DAYS: i64 = 3;

/// Lists the practice's recent events and stores the missing ones; the number stored.
pub async fn reconcile_practice(state: &AppState, practice: PracticeId) -> anyhow::Result<usize> {
    let mut tx = state.db().tenant(practice).await?;
    let account: Option<String> =
        sqlx::query_scalar("select stripe_account from invoicing.settings")
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    tx.commit().await?;
    let Some(account) = account else {
        return Ok(0);
    };
    let correlation = format!("reconcile:{}", Utc::now().timestamp());
    let disclosure = Disclosure {
        practice,
        subprocessor: client::SUBPROCESSOR,
        purpose: "payment_reconciliation",
        data_categories: &[],
        fields: &["types", "created"],
        correlation_id: &correlation,
    };
    let permit = match egress::authorize(state.db(), &disclosure).await {
        Ok(p) => p,
        Err(egress::GateError::Refused(_)) => return Ok(0),
        Err(egress::GateError::Database(e)) => return Err(e.into()),
    };
    let since = Utc::now().timestamp() - WINDOW_DAYS * 86_400;
    let listed = super::client::payments(state)
        .events_since(&permit, &account, &TYPES, since)
        .await;
    let events = match listed {
        Ok(e) => {
            permit.sent(state.db()).await?;
            e
        }
        Err(e) => {
            permit.failed(state.db(), e.class()).await?;
            anyhow::bail!("events not listed: {}", e.class());
        }
    };
    let mut stored = 0;
    // Oldest first, as Stripe would have sent them.
    for json in events.iter().rev() {
        let Ok(w) = event::parse(&serde_json::to_vec(json)?) else {
            continue;
        };
        if accept(state, &w, Source::Reconciliation).await? == Stored::New {
            stored += 1;
        }
    }
    metrics::counter!("stripe_events_reconciled_total").increment(stored as u64);
    Ok(stored)
}

/// Reconciles every practice with a Stripe account, every `interval` (the first run one
/// interval after the start), until the process stops.
pub async fn run(state: AppState, interval: std::time::Duration) {
    platform::jobs::every_practice(
        state,
        interval,
        true,
        "stripe_reconciliation",
        |state, p| async move { reconcile_practice(&state, p).await },
    )
    .await
}
