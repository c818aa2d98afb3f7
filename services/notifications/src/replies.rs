//! What became of a patient's forwarded reply: scheduling applies a confirm or cancel and
//! answers with `notifications.reply-applied`; the reply then shows the outcome to staff.

use domain::jobs::ReplyApplied;
use platform::AppState;

/// Handles `notifications.reply-applied`: records the outcome on a reply still `forwarded`.
/// Returns whether the reply changed (a repeated job finds it settled and changes nothing).
pub async fn reply_applied(state: &AppState, payload: serde_json::Value) -> anyhow::Result<bool> {
    use anyhow::Context;
    let job: ReplyApplied =
        serde_json::from_value(payload).context("Failed to decode a reply-applied job")?;
    let mut tx = state.db().tenant(job.practice_id).await?;
    let changed = sqlx::query(
        "update notifications.reply set outcome = $2 where reply_id = $1 and outcome = 'forwarded'",
    )
    .bind(job.reply_id)
    .bind(job.outcome.as_str())
    .execute(&mut *tx)
    .await
    .context("Failed to record a reply's outcome")?
    .rows_affected();
    tx.commit().await?;
    Ok(changed > 0)
}
