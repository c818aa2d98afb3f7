//! Applying a delivery report to the message it names, whatever the provider.

use domain::message::MessageState;
use domain::{PatientId, PracticeId};
use platform::AppState;
use uuid::Uuid;

use platform::patients::ContactSource;

use crate::providers::Report;

/// What applying a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The message state moved (or the report was recorded).
    Applied,
    /// The same report came before.
    Replayed,
    /// No message with that reference.
    Unknown,
}

impl Applied {
    pub(super) fn label(self) -> &'static str {
        match self {
            Applied::Applied => "applied",
            Applied::Replayed => "replayed",
            Applied::Unknown => "unknown_message",
        }
    }
}

/// A read-only transaction that may read `notifications.route` across practices.
async fn routing_tx(state: &AppState) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    state.db().routing().await
}

async fn practice_of(state: &AppState, reference: &str) -> sqlx::Result<Option<PracticeId>> {
    let mut tx = routing_tx(state).await?;
    let p: Option<PracticeId> =
        sqlx::query_scalar("select practice_id from notifications.route where reference = $1")
            .bind(reference)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(p)
}

/// Routes of a phone number, newest first: (practice, patient, reference).
pub(super) async fn routes_of_phone(
    state: &AppState,
    hmac: &[u8],
) -> sqlx::Result<Vec<(PracticeId, PatientId, String)>> {
    let mut tx = routing_tx(state).await?;
    let rows = sqlx::query_as(
        "select practice_id, patient_id, reference from notifications.route where phone_hmac = $1 order by sent_at desc limit 100",
    )
    .bind(hmac)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Applies one report about one part of a message.
pub async fn apply_report(
    state: &AppState,
    reference: &str,
    provider_id: Option<&str>,
    part: i32,
    provider_status: &str,
    report: Report,
) -> anyhow::Result<Applied> {
    let Ok(message) = Uuid::try_parse(reference) else {
        return Ok(Applied::Unknown);
    };
    let Some(practice) = practice_of(state, reference).await? else {
        return Ok(Applied::Unknown);
    };
    let mut tx = state.db().tenant(practice).await?;
    let current: Option<(String, Option<i32>, Uuid)> = sqlx::query_as(
        "select state, segments, patient_id from notifications.message where message_id = $1 for update",
    )
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((current, segments, patient)) = current else {
        return Ok(Applied::Unknown);
    };
    let label = report.state();
    let new: Option<String> = sqlx::query_scalar(
        r#"insert into notifications.delivery_report (practice_id, message_id, part, provider_status, state)
           values ($1, $2, $3, $4, $5) on conflict do nothing returning state"#,
    )
    .bind(practice.as_uuid())
    .bind(message)
    .bind(part)
    .bind(provider_status)
    .bind(label.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if new.is_none() {
        tx.commit().await?;
        return Ok(Applied::Replayed);
    }
    let settled = current
        .parse::<MessageState>()
        .is_ok_and(MessageState::is_reported_final);
    if !settled {
        let next = match report {
            Report::Delivered => {
                let parts: i64 = sqlx::query_scalar(
                    "select count(distinct part) from notifications.delivery_report where message_id = $1 and state = 'delivered'",
                )
                .bind(message)
                .fetch_one(&mut *tx)
                .await?;
                if parts >= i64::from(segments.unwrap_or(1).max(1)) {
                    MessageState::Delivered
                } else {
                    MessageState::Sent
                }
            }
            other => other.state(),
        };
        let last = next.is_reported_final();
        sqlx::query(
            r#"update notifications.message
                  set state = $2, provider_id = coalesce(provider_id, $3), sent_at = coalesce(sent_at, now()),
                      sending_since = null, next_attempt_at = null,
                      final_at = case when $4 then now() else final_at end,
                      reason = case when $2 = 'failed' then 'provider_status_' || $5 else reason end
                where message_id = $1"#,
        )
        .bind(message)
        .bind(next.as_str())
        .bind(provider_id)
        .bind(last)
        .bind(provider_status)
        .execute(&mut *tx)
        .await?;
        if report == Report::Failed(true) {
            let source = ContactSource {
                route: "callback:delivery_report",
                purpose: "message_delivery",
            };
            let patient = domain::PatientId::from_uuid(patient);
            let reason = "unknown_subscriber_or_number_error";
            platform::patients::flag_mobile(&mut tx, practice, patient, reason, source).await?;
        }
    }
    tx.commit().await?;
    Ok(Applied::Applied)
}
