//! Enqueueing jobs inside the transaction that causes them (design §3): the job row commits or
//! rolls back with the business change. Idempotency keys make a repeated enqueue a no-op.

use chrono::{DateTime, Utc};
use domain::jobs::Job;
use sqlx::PgConnection;

/// Attempts before a job is dead (visible to admins, re-drivable).
pub const MAX_ATTEMPTS: i32 = 10;

/// Adds `job` to its queue, due at `run_at`, unless a job with its key is already there.
/// Returns whether a row was added.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    run_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    enqueue_keyed(conn, job, run_at, &job.key()).await
}

/// [`enqueue`] with the caller's key, for jobs that run more than once per entity (a send per
/// attempt and time).
pub async fn enqueue_keyed<J: Job>(
    conn: &mut PgConnection,
    payload: &J,
    run_at: DateTime<Utc>,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let queue = J::QUEUE;
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

/// Several jobs added by one statement, for a change that starts more than one (an issued
/// invoice is rendered and claimed): one round trip inside the caller's transaction instead
/// of one per job. Each job is skipped if its key is already queued, as with [`enqueue`].
#[derive(Debug, Default)]
pub struct Enqueue {
    queues: Vec<&'static str>,
    payloads: Vec<String>,
    run_at: Vec<DateTime<Utc>>,
    keys: Vec<String>,
}

impl Enqueue {
    /// Adds `job`, due at `run_at`, with its own key.
    pub fn add<J: Job>(&mut self, job: &J, run_at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let json = serde_json::to_string(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        self.queues.push(J::QUEUE);
        self.payloads.push(json);
        self.run_at.push(run_at);
        self.keys.push(job.key());
        Ok(())
    }

    /// Writes the jobs added (none: no statement). Returns how many rows were added.
    pub async fn send(self, conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
        if self.queues.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            r#"insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
               select apalis.generate_ulid(), q, convert_to(j, 'UTF8'), 'Pending', 0, $3, r, 0, k
                 from unnest($1::text[], $2::text[], $4::timestamptz[], $5::text[]) as t(q, j, r, k)
               on conflict (job_type, idempotency_key) do nothing"#,
        )
        .bind(&self.queues)
        .bind(&self.payloads)
        .bind(MAX_ATTEMPTS)
        .bind(&self.run_at)
        .bind(&self.keys)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }
}

/// What a job handler returns: a short account of what it did (the job's result), or why it
/// failed (the job runs again).
pub type Handled =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<String>> + Send>>;

/// One queue a service consumes. Each service lists its consumers in `workers(…)`, as it lists
/// its routes in `router()`; the binary runs a queue worker for each, so services need no
/// job-queue crate of their own.
#[derive(Clone)]
pub struct Consumer {
    /// The queue ([`Job::QUEUE`] of the payload it takes).
    pub queue: &'static str,
    /// Jobs fetched per poll.
    pub batch: usize,
    /// Jobs handled at once by one process.
    pub concurrency: usize,
    /// The handler: decodes the payload itself, so a bad payload fails its job, not the worker.
    pub handle: std::sync::Arc<dyn Fn(serde_json::Value) -> Handled + Send + Sync>,
}

impl Consumer {
    /// A consumer of `J`'s queue.
    pub fn of<J, F, Fut>(batch: usize, concurrency: usize, handle: F) -> Consumer
    where
        J: Job,
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<String>> + Send + 'static,
    {
        Consumer {
            queue: J::QUEUE,
            batch,
            concurrency,
            handle: std::sync::Arc::new(move |payload| Box::pin(handle(payload))),
        }
    }

    /// A consumer of `J`'s queue whose handler takes the decoded payload (a payload that does
    /// not decode fails the job, naming the queue).
    pub fn typed<J, F, Fut>(batch: usize, concurrency: usize, handle: F) -> Consumer
    where
        J: Job + 'static,
        F: Fn(J) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<String>> + Send + 'static,
    {
        let handle = std::sync::Arc::new(handle);
        Self::of::<J, _, _>(batch, concurrency, move |payload| {
            let handle = handle.clone();
            async move {
                let job: J = serde_json::from_value(payload)
                    .map_err(|e| anyhow::anyhow!("a {} payload: {e}", J::QUEUE))?;
                handle(job).await
            }
        })
    }
}

/// Runs `work` for every practice every `interval` until the process stops (a sweep: payment
/// reminders, reconciliation). With `delay_first` the first round waits one interval, so a
/// restart loop does not hammer a provider. A practice's failure is logged and the round goes
/// on; `task` names the sweep in the logs.
pub async fn every_practice<F, Fut>(
    state: crate::AppState,
    interval: std::time::Duration,
    delay_first: bool,
    task: &'static str,
    work: F,
) where
    F: Fn(crate::AppState, domain::PracticeId) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let start = tokio::time::Instant::now()
        + if delay_first {
            interval
        } else {
            Default::default()
        };
    let mut tick = tokio::time::interval_at(start, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let practices = match state.db().practice_directory().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(task, error = %e, "sweep: practices not listed");
                continue;
            }
        };
        for p in practices {
            match work(state.clone(), p).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(task, practice.id = %p, done = n, "sweep did work"),
                Err(e) => tracing::warn!(task, practice.id = %p, error = %e, "sweep failed"),
            }
        }
    }
}
