//! The background workers of one process: the audit sealer and the job-queue consumers.
//!
//! Queue consumers follow shared/reference/apalis.md: an explicit queue name, a worker name
//! unique per process start and restart (a reused name would strand a crashed worker's jobs),
//! payloads taken as JSON and decoded in the handler (a bad payload fails its job, not the
//! worker), interval polling as the wake-up, bounded concurrency, and a restart policy.

use std::future::Future;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use platform::AppState;
use platform::jobs::Consumer;

/// Builds the storage of one queue.
fn queue(state: &AppState, name: &str, batch: usize) -> PostgresStorage<serde_json::Value> {
    PostgresStorage::new(state.db().pool()).with_config(
        Config::default()
            .queue(name)
            .batch_size(batch)
            .heartbeat_interval(state.settings().jobs.heartbeat)
            .missed_heartbeats(3)
            // No separate `Running` update per batch (rows go `Queued` → `Done`): one round
            // trip fewer in the consumer's serial fetch/ack loop, which is what limits a
            // consumer whose handlers take milliseconds. Recovery is unchanged: the orphan sweep
            // re-queues `Queued` and `Running` rows of a worker that stopped beating alike.
            .lock_tasks(false),
    )
}

fn boxed(e: anyhow::Error) -> BoxDynError {
    e.into()
}

/// Runs one job through the consumer its queue belongs to.
async fn consume(job: serde_json::Value, c: Data<Consumer>) -> Result<String, BoxDynError> {
    (c.handle)(job).await.map_err(boxed)
}

/// No-op jobs run by this process (the benchmark polls it instead of the database).
pub static NOOP_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A no-op consumer: the baseline of the notifications benchmark.
async fn noop(_job: serde_json::Value) -> Result<(), BoxDynError> {
    NOOP_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The queue the benchmark's no-op jobs use.
pub const NOOP_QUEUE: &str = "bench.noop";

/// Registers one consumer with a worker name unique to this process start and restart.
macro_rules! consumer {
    ($monitor:expr, $state:expr, $instance:expr, $queue:expr, $batch:expr, $conc:expr, $data:expr, $handler:expr) => {{
        let st = $state.clone();
        let instance = $instance.clone();
        let data = $data;
        $monitor.register(move |restarts| {
            WorkerBuilder::new(format!("{}@{instance}#{restarts}", $queue))
                .backend(queue(&st, $queue, $batch).poll_with_interval(st.settings().jobs.poll))
                .data(data.clone())
                .concurrency($conc)
                .build($handler)
        })
    }};
}

/// Runs one no-op consumer of [`NOOP_QUEUE`] with the send worker's settings until `shutdown`
/// resolves: the baseline the notifications benchmark compares with.
pub async fn run_baseline(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let instance = uuid::Uuid::now_v7().simple().to_string();
    let (batch, width) = (
        state.settings().sms.send_batch,
        state.settings().sms.send_concurrency,
    );
    let monitor = consumer!(
        Monitor::new(),
        state,
        instance,
        NOOP_QUEUE,
        batch,
        width,
        (),
        noop
    );
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("baseline worker failed: {e}"))
}

/// The queues this system consumes.
pub fn queues(state: &AppState) -> Vec<&'static str> {
    scheduling::workers(state)
        .into_iter()
        .chain(invoicing::workers(state))
        .chain(claims::workers(state))
        .chain(notifications::workers(state).unwrap_or_default())
        .map(|c| c.queue)
        .collect()
}

/// Runs every worker until `shutdown` resolves.
pub async fn run(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let instance = uuid::Uuid::now_v7().simple().to_string();
    let sealer = tokio::spawn(platform::audit::run_sealer(
        state.db().clone(),
        state.settings().jobs.audit_seal_interval,
    ));
    let reconciler = tokio::spawn(invoicing::stripe::reconcile::run(
        state.clone(),
        state.settings().payments.reconcile_interval,
    ));
    let reminders = tokio::spawn(invoicing::reminders::run(
        state.clone(),
        state.settings().payments.reminder_interval,
    ));
    let outbox = tokio::spawn(claims::transport::run(state.clone()));
    // Each service lists the queues it consumes; this process only runs them.
    let consumers = scheduling::workers(&state)
        .into_iter()
        .chain(invoicing::workers(&state))
        .chain(claims::workers(&state))
        .chain(notifications::workers(&state)?);
    let mut monitor = Monitor::new();
    for c in consumers {
        let (name, batch, width) = (c.queue, c.batch, c.concurrency);
        monitor = consumer!(
            monitor,
            state,
            instance,
            name,
            batch,
            width,
            c.clone(),
            consume
        );
    }
    let monitor = monitor
        .should_restart(|ctx, err| {
            tracing::warn!(worker = %ctx.name(), error = %err, "worker stopped; restarting");
            ctx.restarts() < 1_000
        })
        .shutdown_timeout(Duration::from_secs(20));
    let result = monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await;
    sealer.abort();
    reconciler.abort();
    reminders.abort();
    outbox.abort();
    result.map_err(|e| anyhow::anyhow!("job workers failed: {e}"))
}
