//! Benchmark of the send path: 10,000 reminders due at once, each rendered, checked (consent,
//! restriction, appointment still current), passed through the egress gate, sent to the SMSAPI
//! simulator and recorded (message state and disclosure log) — compared with no-op
//! apalis-postgres jobs in the same run, through the same queue settings (batch and concurrency
//! of the send worker), on the same database.
//!
//! Run: `cargo run --release -p praxis-tests --bin bench-notifications`. Options:
//! `BENCH_MESSAGES` (10,000 per round), `BENCH_ROUNDS` (3), `BENCH_PROVIDER` (`smsapi`, or
//! `sandbox` without HTTP), `BENCH_LATENCY_MS` (the provider's answer time, 0), and the worker's
//! `SMS_SEND_BATCH` / `SMS_SEND_CONCURRENCY`.

use std::time::{Duration, Instant};

use praxis_tests::sim::{self, LinkSim};
use praxis_tests::*;

async fn wait_until(what: &str, n: i64, mut count: impl AsyncFnMut() -> i64) -> f64 {
    let started = Instant::now();
    loop {
        let done = count().await;
        if done >= n {
            return started.elapsed().as_secs_f64();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{what}: only {done} of {n} after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A numeric option from the environment, or `default` when unset or not a number.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n: i64 = env_or("BENCH_MESSAGES", 10_000);
    let sim = LinkSim::start().await;
    sim.hold_reports(true);
    // BENCH_LATENCY_MS: the simulator answers each send after this long, as a real provider
    // across the internet would (tens to hundreds of milliseconds).
    let latency: u64 = env_or("BENCH_LATENCY_MS", 0);
    if latency > 0 {
        sim.inject(sim::Fault::Delay(Duration::from_millis(latency), u32::MAX));
    }
    // BENCH_PROVIDER=sandbox measures the path without the provider's HTTP round trip.
    let provider = std::env::var("BENCH_PROVIDER").unwrap_or_else(|_| "smsapi".to_owned());
    let width = std::env::var("SMS_SEND_CONCURRENCY").unwrap_or_else(|_| "128".to_owned());
    let batch = std::env::var("SMS_SEND_BATCH").unwrap_or_else(|_| "32".to_owned());
    let app = spawn_app_with(&[
        ("SMS_SEND_CONCURRENCY", width.as_str()),
        ("SMS_SEND_BATCH", batch.as_str()),
        ("SMS_PROVIDER", provider.as_str()),
        ("SMSAPI_BASE_URL", &sim.base),
        ("SMSAPI_TOKEN", sim::SMSAPI_TOKEN),
    ])
    .await;
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    println!(
        "notifications benchmark: {n} messages per round, {rounds} rounds, {cores} cores; server, workers and simulator in one process; \
         provider latency {latency} ms; send worker batch {} / concurrency {}",
        app.state.settings().sms.send_batch,
        app.state.settings().sms.send_concurrency
    );

    // Baseline: the same number of no-op jobs through the same queue settings. Runs alternate
    // (baseline, reminders, baseline, ...) and each round's ratio is taken against the mean of
    // the baselines either side of it: a short run on a shared machine varies.
    let mut noop = vec![baseline(&app, n, 0).await];
    let mut rates = Vec::new();
    for round in 1..=rounds {
        let admin = app
            .practice_with_admin(&format!("Bench {round}"), "BE")
            .await;
        let practice = admin.practice_id;
        seed::due_reminders(&app.owner, practice, n).await;
        let accepted_before = sim.received_count() as i64;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let workers = tokio::spawn(praxis::workers::run(app.state.clone(), async move {
            let _ = stopped.await;
        }));
        let owner = app.owner.clone();
        let started = Instant::now();
        // Polled in process until the simulator has them all, then in the database until every
        // send is recorded: the rate counts only durable work.
        let accepted_secs = wait_until("reminders accepted", n, async || {
            sim.received_count() as i64 - accepted_before
        })
        .await;
        wait_until("reminders recorded", n, async || {
            seed::settled(&owner, practice).await
        })
        .await;
        let send_secs = started.elapsed().as_secs_f64();
        let _ = stop.send(());
        workers.await.unwrap().unwrap();
        let accepted = sim.received_count() as i64 - accepted_before;
        if provider == "smsapi" {
            assert_eq!(accepted, n, "every reminder accepted once");
        }
        let rate = n as f64 / send_secs;
        let disclosures: i64 = sqlx::query_scalar(
            "select count(*) from core.disclosure where practice_id = $1 and outcome = 'sent'",
        )
        .bind(practice)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        println!(
            "round {round}: {n} reminders sent and recorded in {send_secs:.2} s = {rate:.0} messages/s \
             ({accepted} accepted by the simulator after {accepted_secs:.2} s, {disclosures} disclosures logged)"
        );
        noop.push(baseline(&app, n, round).await);
        let noop_rate = (noop[round - 1] + noop[round]) / 2.0;
        println!(
            "round {round}: ratio {:.2} to the no-op baseline either side ({noop_rate:.0} jobs/s)",
            rate / noop_rate
        );
        rates.push((rate, rate / noop_rate));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rate = median(rates.iter().map(|r| r.0).collect());
    let ratio = median(rates.iter().map(|r| r.1).collect());
    println!(
        "median of {rounds} rounds: {rate:.0} messages/s (target >= 500: {}), ratio to no-op jobs {ratio:.2} (target >= 0.5: {})",
        if rate >= 500.0 { "met" } else { "NOT met" },
        if ratio >= 0.5 { "met" } else { "NOT met" }
    );
}

/// Runs `n` no-op jobs through a worker with the send worker's queue settings; jobs per second.
async fn baseline(app: &TestApp, n: i64, after_round: usize) -> f64 {
    sqlx::query("delete from apalis.jobs where job_type = $1")
        .bind(praxis::workers::NOOP_QUEUE)
        .execute(&app.owner)
        .await
        .unwrap();
    sqlx::query(
        r#"insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
           select apalis.generate_ulid(), $1, convert_to('{}', 'UTF8'), 'Pending', 0, 10, now(), 0, 'noop:' || i
             from generate_series(1, $2) i"#,
    )
    .bind(praxis::workers::NOOP_QUEUE)
    .bind(n)
    .execute(&app.owner)
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(praxis::workers::run_baseline(
        app.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let owner = app.owner.clone();
    let started = Instant::now();
    let before = praxis::workers::NOOP_RUNS.load(std::sync::atomic::Ordering::Relaxed) as i64;
    wait_until("no-op jobs run", n, async || {
        praxis::workers::NOOP_RUNS.load(std::sync::atomic::Ordering::Relaxed) as i64 - before
    })
    .await;
    wait_until("no-op jobs done", n, async || {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from apalis.jobs where job_type = $1 and status = 'Done'",
        )
        .bind(praxis::workers::NOOP_QUEUE)
        .fetch_one(&owner)
        .await
        .unwrap()
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    let rate = n as f64 / secs;
    println!(
        "baseline after round {after_round}: {n} no-op apalis jobs in {secs:.2} s = {rate:.0} jobs/s"
    );
    rate
}
