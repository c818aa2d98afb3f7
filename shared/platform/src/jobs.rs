//! Enqueueing jobs inside the transaction that causes them (design §3): the job row commits or
//! rolls back with the business change. Idempotency keys make a repeated enqueue a no-op.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// Attempts before a job is dead (visible to admins, re-drivable).
pub const MAX_ATTEMPTS: i32 = 10;

/// Adds a job to `queue`, due at `run_at`, unless a job with `key` is already queued there.
/// Returns whether a row was added.
pub async fn enqueue<T: Serialize>(
    conn: &mut PgConnection,
    queue: &str,
    payload: &T,
    run_at: DateTime<Utc>,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let json = serde_json::to_string(payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // Hand-written rather than push_tasks: ON CONFLICT keeps a duplicate key from aborting
    // the caller's transaction (shared/reference/apalis.md §3).
    let added: Option<String> = sqlx::query_scalar(
        r#"insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
           values (apalis.generate_ulid(), $1, convert_to($2, 'UTF8'), 'Pending', 0, $3, $4, 0, $5)
           on conflict (job_type, idempotency_key) do nothing
           returning id"#,
    )
    .bind(queue)
    .bind(json)
    .bind(MAX_ATTEMPTS)
    .bind(run_at)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(added.is_some())
}
