//! Scheduling benchmark on this machine.
//!
//! 1. Booking throughput at 1, 8 and 32 concurrent HTTP clients (every booking a distinct free
//!    slot, all checks and the exclusion constraints in play, a reminder job enqueued with each),
//!    against `pgbench`'s TPC-B-like throughput with the same client count on the same server,
//!    in the same run; target ratio ≥ 0.5 at 32 clients.
//! 2. Availability search with 50,000 existing appointments: one practitioner over 6 weeks
//!    (target p95 < 10 ms) and 20 practitioners over one week (target p95 < 30 ms).
//!
//! Run: `cargo run --release -p praxis-tests --bin bench-scheduling` (about two minutes).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use praxis_tests::bench::{load, pgbench, pgbench_drop, pgbench_init, sequential};
use praxis_tests::*;
use serde_json::json;

const SECONDS: u64 = 5;
const PRACTITIONERS: usize = 20;

#[tokio::main]
async fn main() {
    let app = Arc::new(spawn_app().await);
    let admin = app.practice_with_admin("Bench", "BE").await;
    let t = Some(admin.token.as_str());
    let tz = chrono_tz::Europe::Brussels;
    let short = app
        .call(
            "POST",
            "/v1/appointment-types",
            t,
            Some(&json!({"name": "Check 10", "duration_minutes": 10})),
        )
        .await;
    let short = short.body["type_id"].as_str().unwrap().to_owned();
    let normal = app
        .call(
            "POST",
            "/v1/appointment-types",
            t,
            Some(&json!({"name": "Kine 15", "duration_minutes": 15})),
        )
        .await;
    let normal = normal.body["type_id"].as_str().unwrap().to_owned();
    let mut practitioners = Vec::new();
    for i in 0..PRACTITIONERS {
        let p = app
            .call(
                "POST",
                "/v1/practitioners",
                t,
                Some(&json!({"display_name": format!("P{i:02}")})),
            )
            .await;
        let id = p.body["practitioner_id"].as_str().unwrap().to_owned();
        let periods: Vec<_> = (1..=7)
            .map(|d| json!({"weekday": d, "starts": "07:00", "ends": "21:00"}))
            .collect();
        app.call(
            "PUT",
            &format!("/v1/practitioners/{id}/working-hours"),
            t,
            Some(&json!({"periods": periods})),
        )
        .await;
        practitioners.push(id);
    }
    let patient = app.patient(&admin, patient_body("Bench")).await;

    // 50,400 existing appointments: 10 minutes every 30 minutes, 07:00-21:00, 90 days, 20 practitioners.
    let inserted = sqlx::query(
        r#"insert into scheduling.appointment (practice_id, appointment_id, practitioner_id, patient_id, type_id,
               starts_at, ends_at, blocked, status)
           select $1, gen_random_uuid(), p.practitioner_id, $2, $3, s, s + interval '10 minutes',
                  tstzrange(s, s + interval '10 minutes'), 'booked'
             from scheduling.practitioner p,
                  generate_series(1, 90) d,
                  generate_series(0, 27) k,
                  lateral (select (((current_date + d) + time '07:00') at time zone 'Europe/Brussels') + k * interval '30 minutes' as s) x
            where p.practice_id = $1"#,
    )
    .bind(admin.practice_id)
    .bind(patient)
    .bind(short.parse::<uuid::Uuid>().unwrap())
    .execute(&app.owner)
    .await
    .unwrap()
    .rows_affected();
    sqlx::query("analyze").execute(&app.owner).await.unwrap();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    println!(
        "praxis scheduling benchmark: {cores} cores, {inserted} existing appointments, server and load generator in one process"
    );

    // Availability.
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (from, to6) = (today + Duration::days(2), today + Duration::days(2 + 41));
    let p0 = practitioners[0].clone();
    let (a, tok) = (app.clone(), admin.token.clone());
    let one = sequential(200, |_| {
        let (a, tok, p0, short) = (a.clone(), tok.clone(), p0.clone(), short.clone());
        async move {
            let r = a
                .call("GET", &format!("/v1/availability?appointment_type_id={short}&practitioner_ids={p0}&from={from}&to={to6}"), Some(&tok), None)
                .await;
            r.status == 200 && !r.body["slots"].as_array().unwrap().is_empty()
        }
    })
    .await;
    let to1 = from + Duration::days(6);
    let all = sequential(200, |_| {
        let (a, tok, short) = (a.clone(), tok.clone(), short.clone());
        async move {
            let r = a
                .call(
                    "GET",
                    &format!("/v1/availability?appointment_type_id={short}&from={from}&to={to1}"),
                    Some(&tok),
                    None,
                )
                .await;
            r.status == 200 && !r.body["slots"].as_array().unwrap().is_empty()
        }
    })
    .await;
    println!();
    println!("| availability search | requests | p50 ms | p95 ms | p99 ms | target p95 |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| 1 practitioner, 6 weeks | 200 | {:.1} | {:.1} | {:.1} | < 10 ms |",
        one.p50_ms, one.p95_ms, one.p99_ms
    );
    println!(
        "| 20 practitioners, 1 week | 200 | {:.1} | {:.1} | {:.1} | < 30 ms |",
        all.p50_ms, all.p95_ms, all.p99_ms
    );

    // Booking throughput against pgbench.
    let owner_db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    let bench_db = pgbench_init(&owner_db);
    let practitioners = Arc::new(practitioners);
    let next = Arc::new(AtomicUsize::new(0));
    println!();
    println!(
        "| booking | clients | bookings/s | p50 ms | p99 ms | pgbench TPC-B-like tps | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for clients in [1usize, 8, 32] {
        let base = pgbench(&bench_db, clients, SECONDS, false);
        let (a, tok, ps, next, normal) = (
            app.clone(),
            admin.token.clone(),
            practitioners.clone(),
            next.clone(),
            normal.clone(),
        );
        let f = load(clients, SECONDS, move |_| {
            let (a, tok, ps, normal) = (a.clone(), tok.clone(), ps.clone(), normal.clone());
            // A distinct free slot per booking: days after the pre-filled 90, 15-minute grid.
            let n = next.fetch_add(1, Ordering::Relaxed);
            let p = &ps[n % ps.len()];
            let k = n / ps.len();
            let date = today + Duration::days(100 + (k / 56) as i64);
            let time = NaiveTime::from_hms_opt(7, 0, 0).unwrap() + Duration::minutes(15 * (k % 56) as i64);
            let starts = tz.from_local_datetime(&date.and_time(time)).earliest().unwrap().fixed_offset().to_rfc3339();
            let body = json!({"patient_id": patient, "practitioner_id": p, "appointment_type_id": normal, "starts_at": starts});
            async move {
                let r = a.call("POST", "/v1/appointments", Some(&tok), Some(&body)).await;
                r.status == 201
            }
        })
        .await;
        println!(
            "| book (HTTP) | {clients} | {:.1} | {:.1} | {:.1} | {base:.1} | {:.2} |",
            f.ops_per_sec,
            f.p50_ms,
            f.p99_ms,
            f.ops_per_sec / base
        );
    }
    pgbench_drop(&bench_db);
}
