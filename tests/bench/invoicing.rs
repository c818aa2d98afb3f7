//! Invoicing benchmark on this machine.
//!
//! Invoices issued per second over HTTP at 1, 8 and 32 concurrent clients, all in one practice
//! and one series (the worst case: every issue takes the same row-locked counter), against
//! `pgbench`'s TPC-B-like throughput with the same client count on the same server, in the same
//! run; target ratio ≥ 0.5 at 32 clients. Each issue locks its draft, checks it, takes the next
//! number, writes the invoice and its audit row and answers the full invoice.
//!
//! Then the documents: PDF rendering time per invoice (target p95 < 20 ms) and UBL writing
//! time, over 500 documents each (three lines, care and products).
//!
//! Last, Stripe webhook events: 5,000 `checkout.session.completed` events (each with the
//! payer's details Stripe adds, which are dropped) posted to `/v1/hooks/stripe` by 16 clients
//! while the workers run; events per second accepted by the webhook (verified, whitelisted,
//! stored, job enqueued) and applied end to end (a payment recorded, the invoice paid).
//!
//! Run: `cargo run --release -p praxis-tests --bin bench-invoicing` (about a minute).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use praxis_tests::bench::{load, pgbench, pgbench_drop, pgbench_init};
use praxis_tests::billing::Billing;
use praxis_tests::*;

const SECONDS: u64 = 5;
const ACCOUNT: &str = "acct_1PraxisBench";
const EVENTS: usize = 5_000;
const DRAFTS: i64 = 60_000;

#[tokio::main]
async fn main() {
    let sim = praxis_tests::stripe_sim::StripeSim::start(&[ACCOUNT]).await;
    let settings = sim.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = Arc::new(spawn_app_with(&pairs).await);
    let b = Billing::setup(&app).await;
    b.enable_stripe(&app, ACCOUNT).await;
    // Drafts made directly (one tariff line each), as the draft job would make them.
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "with d as (
             insert into invoicing.invoice (practice_id, invoice_id, kind, patient_id, language, line_count,
                                            net_total, total, insurer_total, patient_total)
             select $1, gen_random_uuid(), 'invoice', $2, 'nl', 1, 32.50, 32.50, 24.37, 8.13
               from generate_series(1, $3)
             returning practice_id, invoice_id)
         insert into invoicing.invoice_line (practice_id, invoice_id, line_no, code, label, service_date, quantity,
                                             unit_price, net_amount, vat_category, vat_rate, vat_exemption_reason,
                                             vat_amount, insurer_share, patient_share)
         select practice_id, invoice_id, 1, '560011', 'Zitting', current_date, 1, 32.50, 32.50, 'E', 0,
                'VATEX-EU-132-1C', 0, 24.37, 8.13 from d
         returning invoice_id",
    )
    .bind(b.clinic.admin.practice_id)
    .bind(b.clinic.patient)
    .bind(DRAFTS)
    .fetch_all(&app.owner)
    .await
    .expect("drafts");
    sqlx::query("analyze").execute(&app.owner).await.unwrap();
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let owner_db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    let bench_db = pgbench_init(&owner_db);
    println!("| issue | clients | invoices/s | p50 ms | p99 ms | pgbench TPC-B-like tps | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for clients in [1usize, 8, 32] {
        let base = pgbench(&bench_db, clients, SECONDS, false);
        let (a, tok, ids, next) = (
            app.clone(),
            b.clinic.admin.token.clone(),
            ids.clone(),
            next.clone(),
        );
        let f = load(clients, SECONDS, move |_| {
            let (a, tok) = (a.clone(), tok.clone());
            let id = ids[next.fetch_add(1, Ordering::Relaxed)];
            async move {
                let r = a
                    .call(
                        "POST",
                        &format!("/v1/invoices/{id}/issue"),
                        Some(&tok),
                        None,
                    )
                    .await;
                r.status == 200
            }
        })
        .await;
        println!(
            "| issue (HTTP) | {clients} | {:.1} | {:.1} | {:.1} | {base:.1} | {:.2} |",
            f.ops_per_sec,
            f.p50_ms,
            f.p99_ms,
            f.ops_per_sec / base
        );
    }
    pgbench_drop(&bench_db);
    // Every issued number is there once: 1..n without a gap.
    let (n, max): (i64, Option<i32>) = sqlx::query_as(
        "select count(*), max(number_seq) from invoicing.invoice where number is not null",
    )
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(Some(n), max.map(i64::from), "numbers are consecutive");
    println!();
    println!("{n} invoices issued, numbers 1..{n} without a gap");

    // Documents.
    use domain::invoice::InvoiceKind;
    use domain::practice::Country;
    let doc = praxis_tests::billing::sample_document(Country::BE, InvoiceKind::Invoice);
    let time = |f: &dyn Fn() -> usize| {
        let mut all = Vec::with_capacity(500);
        let mut bytes = 0;
        for _ in 0..500 {
            let t = std::time::Instant::now();
            bytes = f();
            all.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        all.sort_by(f64::total_cmp);
        (all[250], all[475], bytes)
    };
    let (p50, p95, size) = time(&|| invoicing::documents::pdf::render(&doc).unwrap().len());
    let (u50, u95, usize_) = time(&|| invoicing::documents::ubl::write(&doc).unwrap().len());
    println!();
    println!("| document | p50 ms | p95 ms | size | target p95 |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| PDF (krilla, fonts embedded) | {p50:.2} | {p95:.2} | {} kB | < 20 ms |",
        size / 1024
    );
    println!(
        "| Peppol UBL | {u50:.3} | {u95:.3} | {} kB | |",
        usize_ / 1024
    );

    webhooks(&app, b.clinic.admin.practice_id).await;
}

/// Stripe events per second through the webhook and the job that applies them.
async fn webhooks(app: &Arc<TestApp>, practice: uuid::Uuid) {
    use futures::StreamExt;
    // One open session for each of the first issued invoices, as the pay button leaves them.
    let checkouts: Vec<uuid::Uuid> = sqlx::query_scalar(
        "with inv as (select invoice_id from invoicing.invoice where number is not null order by number_seq limit $2),
              l as (insert into invoicing.payment_link (practice_id, link_id, invoice_id, token_sha256, origin, expires_at)
                    select $1, gen_random_uuid(), invoice_id, decode(md5(invoice_id::text), 'hex'), 'staff', now() + interval '1 day' from inv
                    returning link_id, invoice_id),
              c as (insert into invoicing.checkout (practice_id, checkout_id, invoice_id, link_id, amount_cents, state, session_id, url, expires_at)
                    select $1, gen_random_uuid(), invoice_id, link_id, 813, 'open', 'cs_bench' || replace(link_id::text, '-', ''),
                           'https://checkout.stripe.com/c/pay/x', now() + interval '1 hour' from l
                    returning checkout_id)
         select checkout_id from c",
    )
    .bind(practice)
    .bind(EVENTS as i64)
    .fetch_all(&app.owner)
    .await
    .expect("sessions");
    let now = chrono::Utc::now().timestamp();
    let bodies: Vec<String> = checkouts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            serde_json::json!({"id": format!("evt_bench{i:06}"), "object": "event", "type": "checkout.session.completed",
                "created": now, "livemode": false, "account": ACCOUNT, "pending_webhooks": 1, "api_version": "2026-09-30.endive",
                "data": {"object": {"id": format!("cs_bench{}", c.simple()), "object": "checkout.session",
                    "client_reference_id": c.to_string(), "metadata": {"checkout": c.to_string()},
                    "payment_status": "paid", "status": "complete", "payment_intent": format!("pi_bench{i:06}"),
                    "amount_total": 813, "currency": "eur",
                    "customer_details": {"email": "payer@example.org", "name": "A Payer", "address": {"country": "BE"}}}}})
            .to_string()
        })
        .collect();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = tokio::spawn(praxis::workers::run(app.state.clone(), async move {
        let _ = stopped.await;
    }));
    let url = format!("{}/v1/hooks/stripe", app.base);
    let started = std::time::Instant::now();
    let answers: Vec<u16> = futures::stream::iter(bodies)
        .map(|body| {
            let (client, url) = (app.client.clone(), url.clone());
            async move {
                let sig = praxis_tests::stripe_sim::StripeSim::signature(
                    &body,
                    chrono::Utc::now().timestamp(),
                );
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let accepted = started.elapsed();
    assert!(answers.iter().all(|s| *s == 200), "every event accepted");
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from invoicing.stripe_event where processed_at is null",
        )
        .fetch_one(&app.owner)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let applied = started.elapsed();
    let _ = stop.send(());
    let _ = workers.await;
    let payments: i64 =
        sqlx::query_scalar("select count(*) from invoicing.payment where method = 'stripe'")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(payments, EVENTS as i64, "one payment per event");
    println!();
    println!("| Stripe webhook, 16 clients | events | seconds | events/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| accepted (verified, stored, job enqueued) | {EVENTS} | {:.2} | {:.0} |",
        accepted.as_secs_f64(),
        EVENTS as f64 / accepted.as_secs_f64()
    );
    println!(
        "| applied (payment recorded, invoice paid) | {EVENTS} | {:.2} | {:.0} |",
        applied.as_secs_f64(),
        EVENTS as f64 / applied.as_secs_f64()
    );
}
