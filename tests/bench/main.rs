//! Benchmark of the foundation on this machine: login (argon2id) latency and throughput, and
//! patient create and read throughput, at 1, 8 and 32 concurrent HTTP clients.
//!
//! Baselines measured in the same run on the same machine:
//! - login: the raw argon2id verification capacity (one verification per core per second,
//!   times the hashing concurrency), so the ratio says how much of the hashing budget the HTTP,
//!   database and audit work around it costs;
//! - patient create: `pgbench` TPC-B-like (5 statements per transaction) and patient read:
//!   `pgbench -S` (one indexed select), with the same client count against the same server.
//!
//! Run: `cargo run --release -p praxis-tests --bin bench` (about two minutes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use praxis_tests::bench::{load, pgbench, pgbench_drop, pgbench_init};
use praxis_tests::*;
use serde_json::json;

const CLIENTS: [usize; 3] = [1, 8, 32];
const SECONDS: u64 = 5;

#[tokio::main]
async fn main() {
    let app = Arc::new(spawn_app_with(&[("LOGIN_RATE_PER_MINUTE", "100000000")]).await);
    let admin = app.practice_with_admin("Bench", "BE").await;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    println!(
        "praxis benchmark: {cores} cores, {SECONDS} s per cell, server and load generator in one process"
    );

    // Baseline: raw argon2id verification capacity.
    let hasher = platform::auth::password::PasswordHasher::new(cores);
    let phc = hasher.hash(PASSWORD.to_owned()).await.unwrap();
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < Duration::from_secs(2) {
        hasher
            .verify(phc.clone(), PASSWORD.to_owned())
            .await
            .unwrap();
        n += 1;
    }
    let argon_capacity = n as f64 / t.elapsed().as_secs_f64() * cores as f64;
    println!(
        "baseline argon2id (m=19 MiB, t=2, p=1): {:.1} verifications/s per core, {argon_capacity:.1}/s on {cores} cores",
        argon_capacity / cores as f64
    );

    // pgbench database.
    let owner_db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    let bench_db = pgbench_init(&owner_db);

    // Accounts to sign in with (one per client so that nobody trips the lockout).
    let mut accounts = Vec::new();
    for _ in 0..32 {
        accounts.push(app.staff(&admin, "receptionist").await.email);
    }
    let accounts = Arc::new(accounts);
    let practice = admin.practice_id;

    println!();
    println!(
        "| operation | clients | ops/s | p50 ms | p99 ms | baseline | baseline ops/s | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|");
    for &clients in &CLIENTS {
        let (a, acc) = (app.clone(), accounts.clone());
        let f = load(clients, SECONDS, move |i| {
            let (a, acc) = (a.clone(), acc.clone());
            async move {
                a.login(practice, &acc[i % acc.len()], PASSWORD)
                    .await
                    .status
                    == 200
            }
        })
        .await;
        println!(
            "| login (password step) | {clients} | {:.1} | {:.1} | {:.1} | argon2id capacity | {argon_capacity:.1} | {:.2} |",
            f.ops_per_sec,
            f.p50_ms,
            f.p99_ms,
            f.ops_per_sec / argon_capacity
        );
    }
    let ids = Arc::new(tokio::sync::RwLock::new(Vec::new()));
    for &clients in &CLIENTS {
        let base = pgbench(&bench_db, clients, SECONDS, false);
        let (a, tok, ids2) = (app.clone(), admin.token.clone(), ids.clone());
        let f = load(clients, SECONDS, move |i| {
            let (a, tok, ids) = (a.clone(), tok.clone(), ids2.clone());
            async move {
                let body = json!({"family_name": format!("Bench{i}"), "given_names": "B", "birth_date": "1980-05-17", "sex": "female",
                                  "mobile": "0470 12 34 56", "national_number": insz(&format!("{:09}", 800_000_000 + i)),
                                  "clinical_summary": "benchmark"});
                let r = a.call("POST", "/v1/patients", Some(&tok), Some(&body)).await;
                if r.status == 201 {
                    ids.write().await.push(r.body["patient_id"].as_str().unwrap().to_owned());
                }
                r.status == 201
            }
        })
        .await;
        println!(
            "| patient create | {clients} | {:.1} | {:.1} | {:.1} | pgbench TPC-B-like | {base:.1} | {:.2} |",
            f.ops_per_sec,
            f.p50_ms,
            f.p99_ms,
            f.ops_per_sec / base
        );
    }
    let ids: Arc<Vec<String>> = Arc::new(ids.read().await.clone());
    for &clients in &CLIENTS {
        let base = pgbench(&bench_db, clients, SECONDS, true);
        let (a, tok, ids) = (app.clone(), admin.token.clone(), ids.clone());
        let f = load(clients, SECONDS, move |i| {
            let (a, tok, ids) = (a.clone(), tok.clone(), ids.clone());
            async move {
                let id = &ids[(i * 7919) % ids.len()];
                a.call("GET", &format!("/v1/patients/{id}"), Some(&tok), None)
                    .await
                    .status
                    == 200
            }
        })
        .await;
        println!(
            "| patient read | {clients} | {:.1} | {:.1} | {:.1} | pgbench select-only | {base:.1} | {:.2} |",
            f.ops_per_sec,
            f.p50_ms,
            f.p99_ms,
            f.ops_per_sec / base
        );
    }
    pgbench_drop(&bench_db);
}
