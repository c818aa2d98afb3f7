//! The outcome of one attempt: recorded on the message and in the disclosure log, in one
//! transaction (or through the group recorder for accepted sends).

use chrono::{Duration, Utc};
use domain::{MessageId, PatientId, PracticeId};
use platform::AppState;
use platform::db::TenantTx;
use platform::egress;
use platform::patients::ContactSource;

use super::batch::{Accepted, Recorder};
use crate::outbox::schedule_send;
use crate::providers::SendError;

/// Attempts before a message is dead (listed for practice admins).
pub const MAX_ATTEMPTS: i32 = 6;

/// What one run of the send job did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendOutcome {
    /// The provider accepted it.
    Sent,
    /// The provider already had it (an earlier attempt got through): settled, not re-sent.
    AlreadyAccepted,
    /// Settled earlier; nothing to do.
    Settled,
    /// Not due yet (a later job will run it).
    NotDue,
    /// Not sent, with the reason (consent, restriction, too late, ...).
    Skipped(String),
    /// In doubt with a provider that does not de-duplicate: waiting for a delivery report.
    AwaitingReport,
    /// Failed and will be retried.
    Retrying(String),
    /// Failed for good.
    Failed(String),
    /// Out of attempts.
    Dead(String),
}

/// One attempt at sending a message.
pub(super) struct Attempt {
    pub(super) message: MessageId,
    pub(super) patient: PatientId,
    pub(super) practice: PracticeId,
    pub(super) provider: &'static str,
    pub(super) encoding: &'static str,
    pub(super) segments: i32,
    pub(super) reference: String,
    pub(super) phone_hmac: Vec<u8>,
}

impl Attempt {
    /// Counts the attempt, marks the message `sending` (unless a delivery report already
    /// moved it on) and writes the route replies and reports will find it by. Returns the
    /// attempt number.
    pub(super) async fn mark(&self, tx: &mut TenantTx) -> sqlx::Result<i32> {
        let n: i32 = sqlx::query_scalar(
            r#"update notifications.message
                  set state = case when state in ('scheduled', 'retrying', 'sending') then 'sending' else state end,
                      attempts = attempts + 1, sending_since = now(), next_attempt_at = null,
                      provider = $2, encoding = $3, segments = $4
                where message_id = $1 returning attempts"#,
        )
        .bind(self.message)
        .bind(self.provider)
        .bind(self.encoding)
        .bind(self.segments)
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query(
            r#"insert into notifications.route (reference, practice_id, patient_id, phone_hmac) values ($1, $2, $3, $4)
               on conflict (reference) do update set sent_at = now(), phone_hmac = excluded.phone_hmac"#,
        )
        .bind(&self.reference)
        .bind(self.practice.as_uuid())
        .bind(self.patient)
        .bind(&self.phone_hmac)
        .execute(&mut **tx)
        .await?;
        Ok(n)
    }
}

/// Records the outcome of an attempt (and the attempt itself, when it was not marked before
/// the call) with its disclosure, in one transaction.
pub(super) async fn record(
    state: &AppState,
    recorder: &Recorder,
    a: Attempt,
    marked: Option<i32>,
    permit: egress::Permit,
    result: Result<crate::providers::Accepted, SendError>,
) -> anyhow::Result<SendOutcome> {
    let (practice, id, patient) = (a.practice, a.message, a.patient);
    if let (None, Ok(accepted)) = (marked, &result) {
        // The common case: attempt, state, route and disclosure in one statement, committed
        // together with the other sends that finished meanwhile (group commit).
        let row = permit.into_sent_row();
        let attempt = recorder
            .record(Accepted {
                practice: practice.as_uuid(),
                message: id,
                patient,
                provider: a.provider,
                encoding: a.encoding,
                segments: a.segments,
                reference: a.reference,
                phone_hmac: a.phone_hmac,
                provider_id: accepted.provider_id.clone(),
                disclosure_id: row.disclosure_id,
                subprocessor: row.subprocessor,
                purpose: row.purpose,
            })
            .await?;
        metrics::counter!("sms_sent_total", "duplicate" => accepted.duplicate.to_string())
            .increment(1);
        let outcome = if accepted.duplicate {
            SendOutcome::AlreadyAccepted
        } else {
            SendOutcome::Sent
        };
        tracing::info!(practice.id = %practice, message.id = %id, attempt, outcome = ?outcome, "message send");
        return Ok(outcome);
    }
    let mut tx = state.db().tenant(practice).await?;
    let attempt = match marked {
        Some(n) => n,
        None => a.mark(&mut tx).await?,
    };
    let outcome = match result {
        Ok(accepted) => {
            // A delivery report may have arrived first and moved the state on: keep it.
            sqlx::query(
                r#"update notifications.message
                      set state = case when state in ('sending', 'retrying') then 'sent' else state end,
                          provider_id = coalesce(nullif($2, ''), provider_id),
                          sent_at = coalesce(sent_at, now()), sending_since = null,
                          reason = case when state in ('sending', 'retrying') then null else reason end
                    where message_id = $1"#,
            )
            .bind(id)
            .bind(&accepted.provider_id)
            .execute(&mut *tx)
            .await?;
            permit.sent_in(&mut tx).await?;
            metrics::counter!("sms_sent_total", "duplicate" => accepted.duplicate.to_string())
                .increment(1);
            if accepted.duplicate {
                SendOutcome::AlreadyAccepted
            } else {
                SendOutcome::Sent
            }
        }
        Err(e) => {
            let class = e.class().to_owned();
            permit.failed_in(&mut tx, &class).await?;
            metrics::counter!("sms_send_errors_total", "class" => class.clone()).increment(1);
            match e {
                SendError::Permanent(_) | SendError::InvalidRecipient(_) => {
                    sqlx::query(
                        "update notifications.message set state = 'failed', reason = $2, final_at = now(), sending_since = null where message_id = $1",
                    )
                    .bind(id)
                    .bind(&class)
                    .execute(&mut *tx)
                    .await?;
                    if matches!(e, SendError::InvalidRecipient(_)) {
                        let source = ContactSource {
                            route: "job:notifications.send",
                            purpose: "message_delivery",
                        };
                        platform::patients::flag_mobile(
                            &mut tx,
                            practice,
                            patient,
                            "invalid_number",
                            source,
                        )
                        .await?;
                    }
                    SendOutcome::Failed(class)
                }
                _ if attempt >= MAX_ATTEMPTS => {
                    sqlx::query(
                        "update notifications.message set state = 'dead', reason = $2, final_at = now(), sending_since = null where message_id = $1",
                    )
                    .bind(id)
                    .bind(&class)
                    .execute(&mut *tx)
                    .await?;
                    tracing::warn!(practice.id = %practice, message.id = %id, class = %class, "message dead after retries");
                    SendOutcome::Dead(class)
                }
                SendError::Refused(_) | SendError::InDoubt(_) => {
                    // In doubt, the provider may have the message: it stays `sending`.
                    let unanswered = matches!(e, SendError::InDoubt(_));
                    let base = Duration::from_std(state.settings().sms.retry_base)?;
                    let delay = (base * 2i32.pow((attempt - 1).clamp(0, 10) as u32))
                        .min(Duration::minutes(30));
                    let at = Utc::now() + delay;
                    sqlx::query(
                        r#"update notifications.message
                              set state = case when $3 then state else 'retrying' end, reason = $2, next_attempt_at = $4
                            where message_id = $1 and state = 'sending'"#,
                    )
                    .bind(id)
                    .bind(&class)
                    .bind(unanswered)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    schedule_send(&mut tx, practice, id, at).await?;
                    SendOutcome::Retrying(class)
                }
            }
        }
    };
    tx.commit().await?;
    tracing::info!(practice.id = %practice, message.id = %id, attempt, outcome = ?outcome, "message send");
    Ok(outcome)
}
