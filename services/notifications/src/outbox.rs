//! The outbox of notifications: what a new or retried message needs written in the same
//! transaction. Its route (the reference a provider echoes → practice and patient), so that a
//! delivery report or a reply finds it even before the send is recorded; and its send job, one
//! per message and moment, committed with the message or not at all.

use chrono::{DateTime, Utc};
use domain::jobs::SendMessage;
use domain::{MessageId, PatientId, PracticeId};
use platform::db::TenantTx;
use platform::jobs::enqueue_keyed;

/// Writes the route of a new message (its reference → practice), so that a delivery report
/// can find it even when it overtakes the commit that records the send.
pub(crate) async fn route(
    tx: &mut TenantTx,
    practice: PracticeId,
    message: MessageId,
    patient: PatientId,
) -> sqlx::Result<()> {
    sqlx::query(
        r#"insert into notifications.route (reference, practice_id, patient_id) values ($1, $2, $3)
           on conflict (reference) do nothing"#,
    )
    .bind(reference(message))
    .bind(practice.as_uuid())
    .bind(patient)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Enqueues the send job of a message for `at` (one job per message and moment).
pub(crate) async fn schedule_send(
    tx: &mut TenantTx,
    practice: PracticeId,
    message: MessageId,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let key = format!("send:{message}:{}", at.timestamp_millis());
    schedule_send_keyed(tx, practice, message, at, &key).await
}

/// [`schedule_send`] with the caller's idempotency key.
pub(crate) async fn schedule_send_keyed(
    tx: &mut TenantTx,
    practice: PracticeId,
    message: MessageId,
    at: DateTime<Utc>,
    key: &str,
) -> sqlx::Result<()> {
    let job = SendMessage {
        practice_id: practice,
        message_id: message,
    };
    enqueue_keyed(tx, &job, at, key).await?;
    Ok(())
}

/// The reference sent to the provider and echoed in its reports: the message id, nothing else.
pub fn reference(message: MessageId) -> String {
    message.as_uuid().simple().to_string()
}
