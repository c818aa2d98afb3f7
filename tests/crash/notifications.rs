//! Crash test of the send worker: 1,000 reminders due at once, the worker process killed with
//! SIGKILL at random moments 20 times (restarted at once each time), then left to finish. Every
//! reminder must reach the SMS provider (the SMSAPI simulator, in this process) exactly once.
//!
//! Run (release build of the server first):
//! `cargo build --release -p praxis && cargo run --release -p praxis-tests --bin crash-notifications`
//! Options: `PRAXIS_BIN` (default `target/release/praxis`), `CRASH_REMINDERS` (1000),
//! `CRASH_KILLS` (20).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use praxis_tests::sim::{self, Gate, LinkSim};
use praxis_tests::*;

fn random_ms(lo: u64, hi: u64) -> u64 {
    lo + (uuid::Uuid::new_v4().as_u128() % u128::from(hi - lo)) as u64
}

/// Starts a worker process; with the LINK platform it also serves the gate callbacks (the
/// simulator is pointed at its new address each time).
fn spawn_worker(bin: &str, db_url: &str, key: &str, sim: &LinkSim, platform: bool) -> Child {
    let mut cmd = Command::new(bin);
    cmd.env("DATABASE_URL", db_url)
        .env_remove("APP_DATABASE_URL")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("AUTO_MIGRATE", "false")
        .env("MASTER_KEY", key)
        .env("SMS_RETRY_BASE_MS", "200")
        .env("JOB_HEARTBEAT_MS", "1000")
        .env("SMS_CALLBACK_TOKEN", TOKEN)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    if platform {
        cmd.args(["serve", "--only", "notifications,worker"])
            .env("SMS_PROVIDER", "link_platform")
            .env("LINK_BASE_URL", &sim.base)
            .env("LINK_USERNAME", sim::USER)
            .env("LINK_PASSWORD", sim::PASSWORD)
            .env("LINK_PLATFORM_ID", sim::PLATFORM)
            .env("LINK_PLATFORM_PARTNER_ID", sim::PARTNER)
            .env("LINK_GATE_ID", "gate1")
            .env("SMS_RECONCILE_SECS", "30")
            .stdout(Stdio::piped());
    } else {
        cmd.args(["serve", "--only", "worker"])
            .env("SMS_PROVIDER", "smsapi")
            .env("SMSAPI_BASE_URL", &sim.base)
            .env("SMSAPI_TOKEN", sim::SMSAPI_TOKEN)
            .stdout(Stdio::null());
    }
    let mut child = cmd
        .spawn()
        .expect("worker starts (build it first: cargo build --release -p praxis)");
    if platform {
        // Point the gate at this process once it listens; keep draining its output.
        let out = child.stdout.take().expect("stdout");
        let sim = sim.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("praxis listening on ") {
                    let base = rest.split_whitespace().next().unwrap_or_default();
                    sim.set_gate(Gate {
                        url: format!("{base}/v1/hooks/link/{TOKEN}/dlr"),
                        credentials: None,
                    });
                }
            }
        });
    }
    child
}

const TOKEN: &str = "crash-test-callback-token-0123456789";

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("CRASH_REMINDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let bin = std::env::var("PRAXIS_BIN").unwrap_or_else(|_| "target/release/praxis".to_owned());
    let key = base64::engine::general_purpose::STANDARD.encode(
        [
            uuid::Uuid::new_v4().into_bytes(),
            uuid::Uuid::new_v4().into_bytes(),
        ]
        .concat(),
    );
    // CRASH_PROVIDER=link_platform: exactly once through refId reconciliation (reports to the
    // restarted worker); default SMSAPI, where idx/check_idx alone must give it (no reports).
    let platform = std::env::var("CRASH_PROVIDER").is_ok_and(|p| p == "link_platform");
    let sim = LinkSim::start().await;
    sim.hold_reports(!platform);
    let app = spawn_app_with(&[("MASTER_KEY", key.as_str())]).await;
    let admin = app.practice_with_admin("Crash", "BE").await;
    let ids = seed::due_reminders(&app.owner, admin.practice_id, n).await;
    let db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    let base = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let db_url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    println!(
        "crash test: {n} reminders due, {kills} SIGKILLs of the worker process ({bin}), provider {}",
        if platform { "LINK platform" } else { "SMSAPI" }
    );

    let started = Instant::now();
    let mut worker = spawn_worker(&bin, &db_url, &key, &sim, platform);
    let mut progress = Vec::new();
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(random_ms(100, 600))).await;
        worker.kill().expect("SIGKILL");
        let _ = worker.wait();
        let done = seed::settled(&app.owner, admin.practice_id).await;
        progress.push(done);
        println!(
            "kill {:>2} at {:>5.1} s: {done:>4} settled, {:>4} accepted by the provider",
            k + 1,
            started.elapsed().as_secs_f64(),
            sim.received().len()
        );
        worker = spawn_worker(&bin, &db_url, &key, &sim, platform);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while seed::settled(&app.owner, admin.practice_id).await < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    worker.kill().ok();
    let _ = worker.wait();

    let mut per_ref: HashMap<String, usize> = HashMap::new();
    for body in sim.received() {
        let field = if platform { "refId" } else { "idx" };
        let idx = body[field].as_str().unwrap_or_default().to_owned();
        *per_ref.entry(idx).or_default() += 1;
    }
    let refs: Vec<String> = ids.iter().map(|i| i.simple().to_string()).collect();
    let duplicates = per_ref.values().filter(|c| **c > 1).count();
    let losses = refs.iter().filter(|r| !per_ref.contains_key(*r)).count();
    let strangers = per_ref.keys().filter(|r| !refs.contains(r)).count();
    let settled = seed::settled(&app.owner, admin.practice_id).await;
    let states: Vec<(String, i64)> = sqlx::query_as(
        "select state, count(*) from notifications.message group by state order by state",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    println!(
        "result after {:.1} s: {} requests reached the provider, {} accepted; {} distinct reminders accepted",
        started.elapsed().as_secs_f64(),
        sim.raw().len(),
        sim.received().len(),
        per_ref.len()
    );
    println!("message states: {states:?}");
    println!(
        "duplicates: {duplicates}, losses: {losses}, unknown references: {strangers}, settled in the database: {settled}/{n}"
    );
    let ok = duplicates == 0 && losses == 0 && strangers == 0 && settled == n;
    println!("{}", if ok { "PASS" } else { "FAIL" });
    if !ok {
        std::process::exit(1);
    }
}
