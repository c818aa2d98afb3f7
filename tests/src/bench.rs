//! Load helpers shared by the benchmark binaries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Throughput and latency of one cell.
pub struct Figures {
    /// Completed operations per second.
    pub ops_per_sec: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

fn figures(mut all: Vec<Duration>, elapsed: f64) -> Figures {
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Figures {
        ops_per_sec: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
    }
}

/// Runs `op(i)` from `clients` tasks for `seconds`; `i` is a global sequence number. Every
/// operation must succeed.
pub async fn load<F, Fut>(clients: usize, seconds: u64, op: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let seq = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (op, seq) = (op.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let i = seq.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                assert!(op(i).await, "operation {i} failed");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    figures(all, started.elapsed().as_secs_f64())
}

/// Runs `op(i)` `count` times one after another.
pub async fn sequential<F, Fut>(count: usize, op: F) -> Figures
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let mut all = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        assert!(op(i).await, "operation {i} failed");
        all.push(t.elapsed());
    }
    figures(all, started.elapsed().as_secs_f64())
}

/// A pgbench database (scale 1) beside the test database; returns its name.
pub fn pgbench_init(beside: &str) -> String {
    let db = format!("{beside}_pgbench");
    let created = std::process::Command::new("createdb")
        .args(["-h", "127.0.0.1", "-U", "postgres", &db])
        .status()
        .expect("createdb runs");
    assert!(created.success());
    let init = std::process::Command::new("pgbench")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-i",
            "-q",
            "-s",
            "1",
            &db,
        ])
        .output()
        .expect("pgbench runs");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    db
}

/// pgbench TPS with `clients` clients for `seconds` (select-only with `-S`).
pub fn pgbench(db: &str, clients: usize, seconds: u64, select_only: bool) -> f64 {
    let jobs = clients.min(2).to_string();
    let c = clients.to_string();
    let t = seconds.to_string();
    let mut args = vec![
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-n",
        "-c",
        &c,
        "-j",
        &jobs,
        "-T",
        &t,
    ];
    if select_only {
        args.push("-S");
    }
    args.push(db);
    let out = std::process::Command::new("pgbench")
        .args(&args)
        .output()
        .expect("pgbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "pgbench output: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Drops the pgbench database.
pub fn pgbench_drop(db: &str) {
    let _ = std::process::Command::new("dropdb")
        .args(["-h", "127.0.0.1", "-U", "postgres", "--force", db])
        .status();
}
