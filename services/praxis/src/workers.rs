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

/// Builds the storage of one queue.
fn queue(state: &AppState, name: &str) -> PostgresStorage<serde_json::Value> {
    PostgresStorage::new(state.db().pool()).with_config(
        Config::default()
            .queue(name)
            .batch_size(8)
            .heartbeat_interval(Duration::from_secs(5))
            .missed_heartbeats(3),
    )
}

async fn reminder_due(
    job: serde_json::Value,
    state: Data<AppState>,
) -> Result<String, BoxDynError> {
    let outcome = scheduling::jobs::reminder_due(&state, job)
        .await
        .map_err(|e| -> BoxDynError { e.into() })?;
    Ok(format!("{outcome:?}"))
}

async fn slot_freed(job: serde_json::Value, state: Data<AppState>) -> Result<String, BoxDynError> {
    let offers = scheduling::waitlist::offer_freed_slot(&state, job)
        .await
        .map_err(|e| -> BoxDynError { e.into() })?;
    Ok(format!("{offers} offers"))
}

/// Runs every worker until `shutdown` resolves.
pub async fn run(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let instance = uuid::Uuid::now_v7().simple().to_string();
    let instance2 = instance.clone();
    let sealer = tokio::spawn(platform::audit::run_sealer(
        state.db().clone(),
        state.settings().audit_seal_interval,
    ));
    let st = state.clone();
    let monitor = Monitor::new()
        .register(move |restarts| {
            WorkerBuilder::new(format!(
                "{}@{instance}#{restarts}",
                domain::jobs::REMINDER_DUE
            ))
            .backend(
                queue(&st, domain::jobs::REMINDER_DUE)
                    .poll_with_interval(Duration::from_millis(500)),
            )
            .data(st.clone())
            .concurrency(4)
            .build(reminder_due)
        })
        .register({
            let st = state.clone();
            let instance = instance2;
            move |restarts| {
                WorkerBuilder::new(format!(
                    "{}@{instance}#{restarts}",
                    domain::jobs::SLOT_FREED
                ))
                .backend(
                    queue(&st, domain::jobs::SLOT_FREED)
                        .poll_with_interval(Duration::from_millis(500)),
                )
                .data(st.clone())
                .concurrency(2)
                .build(slot_freed)
            }
        })
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
    result.map_err(|e| anyhow::anyhow!("job workers failed: {e}"))
}
