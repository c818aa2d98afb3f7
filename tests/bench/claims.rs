//! Claims benchmark on this machine.
//!
//! 100,000 claim lines (1,000 insured patients each on a referral, 10,000 issued invoices of ten lines) go into
//! one batch, whose file is generated over HTTP — read from a database cursor, each patient's
//! identifiers decrypted, validated, encrypted in chunks and stored — once as a Vektis PM304
//! file (NL practice) and once as an eFact message (BE practice). For each: the time, the
//! process's peak RSS while it runs (the high-water mark is reset first; server and client
//! share this process), and the ratio to `COPY (<the cursor's query>) TO STDOUT` — the same
//! rows, joins and order — in the same run. Targets: ≤ 3× COPY, RSS < 100 MB. Then the insurer's PM305 answer to the 100,000
//! lines: parsed (lines per second) and applied over HTTP.
//!
//! Run: `cargo run --release -p praxis-tests --bin bench-claims` (about three minutes).

use std::time::Instant;

use claims::vektis::parse::return_file;
use claims::vektis::pm304_v32::PM305;
use futures::StreamExt;
use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

const PATIENTS: usize = 1_000;
const INVOICES_PER_PATIENT: i32 = 10;
const LINES_PER_INVOICE: i32 = 10;

/// Peak resident memory of this process since the last reset, in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak to the current resident size (Linux: `5` into `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The n-th valid national number of the country (BSN eleven-proof, INSZ mod 97).
fn national_numbers(country: &str, n: usize) -> Vec<String> {
    match country {
        "NL" => (100_000_000u64..)
            .map(|c| c.to_string())
            .filter(|c| domain::identifiers::parse_bsn(c).is_ok())
            .take(n)
            .collect(),
        _ => (0..n)
            .map(|i| {
                // Born on one of two days, serials 001–997.
                let day = if i < 900 { "800101" } else { "800102" };
                insz(&format!("{day}{:03}", i % 900 + 1))
            })
            .collect(),
    }
}

/// A practice of `country` with 1,000 insured patients and 100,000 ready claim lines.
async fn seed(app: &TestApp, country: &str, insurer: &str) -> Billing {
    let b = Billing::setup_in(app, country).await;
    let numbers = national_numbers(country, PATIENTS);
    let bodies: Vec<serde_json::Value> = numbers
        .iter()
        .enumerate()
        .map(|(i, nn)| {
            let mut body = json!({"family_name": format!("Bench{i}"), "given_names": "Piet", "birth_date": "1980-01-01",
                "sex": if i % 2 == 0 { "female" } else { "male" }, "national_number": nn, "insurance_country": country});
            if country == "NL" {
                body["uzovi"] = json!(insurer);
                body["address"] = json!({"street": "Oudegracht", "number": "12", "postcode": "3511 AB", "city": "Utrecht", "country": "NL"});
            } else {
                body["mutuality_code"] = json!(insurer);
            }
            body
        })
        .collect();
    futures::stream::iter(bodies)
        .map(|body| {
            let token = b.token().map(str::to_owned);
            async move {
                let r = app
                    .call("POST", "/v1/patients", token.as_deref(), Some(&body))
                    .await;
                assert_eq!(r.status, 201, "{}", r.text);
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    // Issued invoices, their lines and the ready claim lines, written directly (as invoicing
    // and the claimable job would) with triggers and foreign-key checks off while seeding.
    let mut tx = app.owner.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Every patient's care rests on a referral the files name (PM304 0424–0426, eFact 20/24/26).
    sqlx::query(
        "insert into core.referral (practice_id, referral_id, patient_id, prescriber_number, referral_date)
         select practice_id, gen_random_uuid(), patient_id, $2, date '2026-02-01'
           from core.patient where practice_id = $1",
    )
    .bind(b.clinic.admin.practice_id)
    .bind(if country == "NL" { "01012345" } else { "10000106003" })
    .execute(&mut *tx)
    .await
    .expect("seed referrals");
    sqlx::query(
        "with inv as (
             insert into invoicing.invoice (practice_id, invoice_id, kind, status, patient_id, language, line_count,
                 net_total, total, insurer_total, patient_total, number_year, number_seq, number, issue_date,
                 due_date, issued_at)
             select $1, gen_random_uuid(), 'invoice', 'issued', p.patient_id, 'nl', $4,
                    32.50 * $4, 32.50 * $4, 24.37 * $4, 8.13 * $4, 2026, n, '2026-' || lpad(n::text, 6, '0'),
                    '2026-03-31', '2026-04-30', now()
               from (select patient_id, row_number() over (order by patient_id, g) as n
                       from core.patient, generate_series(1, $3) g
                      where practice_id = $1 and national_number_enc is not null) p
             returning practice_id, invoice_id, patient_id, number),
         lines as (
             insert into invoicing.invoice_line (practice_id, invoice_id, line_no, code, label, service_date, quantity,
                 unit_price, net_amount, vat_category, vat_rate, vat_exemption_reason, vat_amount, insurer_share,
                 patient_share)
             select practice_id, invoice_id, l, '560011', 'Zitting', date '2026-03-01' + l, 1, 32.50, 32.50, 'E', 0,
                    'VATEX-EU-132-1C', 0, 24.37, 8.13
               from inv, generate_series(1, $4) l
             returning invoice_id, line_no)
         insert into claims.claim_line (practice_id, line_id, reference, invoice_id, invoice_line_no, kind, patient_id,
             country, insurer, code, service_date, invoice_date, quantity, amount, state, origin, referral_id)
         select inv.practice_id, gen_random_uuid(), inv.number || '/' || l, inv.invoice_id, l, 'debit', inv.patient_id,
                $2, $5, '560011', date '2026-03-01' + l, '2026-03-31', 1, 24.37, 'ready', 'invoice',
                (select r.referral_id from core.referral r
                  where r.practice_id = inv.practice_id and r.patient_id = inv.patient_id)
           from inv, generate_series(1, $4) l",
    )
    .bind(b.clinic.admin.practice_id)
    .bind(country)
    .bind(INVOICES_PER_PATIENT)
    .bind(LINES_PER_INVOICE)
    .bind(insurer)
    .execute(&mut *tx)
    .await
    .expect("seed");
    tx.commit().await.unwrap();
    sqlx::query("analyze").execute(&app.owner).await.unwrap();
    b
}

/// Time of `COPY (<the cursor's query>) TO STDOUT`: the same rows, joins and order.
async fn copy_baseline(app: &TestApp, query: String) -> (f64, usize) {
    let mut conn = app.owner.acquire().await.unwrap();
    let started = Instant::now();
    let sql = format!("copy ({query}) to stdout");
    let mut stream = conn.copy_out_raw(sql.as_str()).await.unwrap();
    let mut bytes = 0;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.unwrap().len();
    }
    (started.elapsed().as_secs_f64(), bytes)
}

struct Generated {
    batch: String,
    copy_seconds: f64,
    seconds: f64,
    peak_mb: f64,
    before_mb: f64,
    file_bytes: usize,
    download_seconds: f64,
}

async fn generate(app: &TestApp, b: &Billing, insurer: &str) -> Generated {
    let r = app
        .call(
            "POST",
            "/v1/claims/batches",
            b.token(),
            Some(&json!({"insurer": insurer, "period_start": "2026-03-01", "period_end": "2026-03-31"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["line_count"].as_i64(),
        Some(i64::from(
            PATIENTS as i32 * INVOICES_PER_PATIENT * LINES_PER_INVOICE
        ))
    );
    let batch = r.body["batch_id"].as_str().unwrap().to_owned();
    let id = domain::ClaimBatchId::from_uuid(batch.parse().unwrap());
    let query = if insurer.len() == 4 {
        claims::batches::pm304::lines_query(id)
    } else {
        claims::batches::efact::lines_query(id)
    };
    let (copy_seconds, _) = copy_baseline(app, query).await;
    reset_peak();
    let before_mb = peak_rss_mb();
    let started = Instant::now();
    let g = app
        .call(
            "POST",
            &format!("/v1/claims/batches/{batch}/generate"),
            b.token(),
            None,
        )
        .await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(g.status, 200, "{}", g.text);
    // Downloaded as a stream, counted, not kept.
    let started = Instant::now();
    let mut resp = app
        .client
        .get(format!("{}/v1/claims/batches/{batch}/file", app.base))
        .bearer_auth(b.token().unwrap())
        .send()
        .await
        .unwrap();
    let mut file_bytes = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        file_bytes += chunk.len();
    }
    let download_seconds = started.elapsed().as_secs_f64();
    Generated {
        batch,
        copy_seconds,
        seconds,
        peak_mb: peak_rss_mb(),
        before_mb,
        file_bytes,
        download_seconds,
    }
}

#[tokio::main]
async fn main() {
    let app = spawn_app().await;
    let lines = PATIENTS * INVOICES_PER_PATIENT as usize * LINES_PER_INVOICE as usize;
    println!(
        "| file | lines | generate s | COPY s | ratio | peak RSS MB (before) | file MB | download s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut pm304 = None;
    for (country, insurer, name) in [("NL", "3311", "PM304"), ("BE", "500", "eFact")] {
        let b = seed(&app, country, insurer).await;
        let g = generate(&app, &b, insurer).await;
        let copy_s = g.copy_seconds;
        println!(
            "| {name} | {lines} | {:.2} | {copy_s:.2} | {:.2} | {:.0} ({:.0}) | {:.1} | {:.2} |",
            g.seconds,
            g.seconds / copy_s,
            g.peak_mb,
            g.before_mb,
            g.file_bytes as f64 / 1e6,
            g.download_seconds
        );
        if country == "NL" {
            pm304 = Some((b, g.batch));
        }
    }

    // The insurer's answer to the 100,000 lines.
    let (b, batch) = pm304.unwrap();
    let resp = app
        .client
        .get(format!("{}/v1/claims/batches/{batch}/file", app.base))
        .bearer_auth(b.token().unwrap())
        .send()
        .await
        .unwrap();
    let file = resp.bytes().await.unwrap().to_vec();
    let answer = praxis_tests::insurer::answer(&file, &[], "20260420");
    let started = Instant::now();
    let parsed = return_file(&PM305, &answer).expect("a valid return file");
    let parse_s = started.elapsed().as_secs_f64();
    assert_eq!(parsed.lines.len(), lines);
    let sent = app
        .call(
            "POST",
            &format!("/v1/claims/batches/{batch}/sent"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let started = Instant::now();
    let applied = app
        .raw(
            "POST",
            "/v1/claims/return-files",
            b.token(),
            "text/plain",
            answer.clone(),
        )
        .await;
    let apply_s = started.elapsed().as_secs_f64();
    assert_eq!(applied.status, 200, "{}", applied.text);
    println!();
    println!("| PM305 return file | lines | MB | seconds | lines/s |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| parsed and validated | {lines} | {:.1} | {parse_s:.2} | {:.0} |",
        answer.len() as f64 / 1e6,
        lines as f64 / parse_s
    );
    println!(
        "| applied over HTTP (every line answered) | {lines} | {:.1} | {apply_s:.2} | {:.0} |",
        answer.len() as f64 / 1e6,
        lines as f64 / apply_s
    );
}
