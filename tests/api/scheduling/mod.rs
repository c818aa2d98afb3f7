//! Scheduling over HTTP: one winner per slot under contention, DST-correct slots, holds,
//! deliberate overlaps, transitions, availability rules and bad input.

mod agenda;
mod appointments;
mod availability;
mod input;
mod series;
mod waitlist;

use praxis_tests::*;
use serde_json::{Value, json};

fn booking(c: &Clinic, starts_at: &str) -> Value {
    json!({"patient_id": c.patient, "practitioner_id": c.practitioner, "appointment_type_id": c.type_id, "starts_at": starts_at})
}

/// The next last Sunday of `month` (a Brussels DST change) at least `min_days` ahead, as
/// YYYY-MM-DD: tests that need a change keep working as the calendar moves on.
fn next_change(month: u32, min_days: i64) -> String {
    use chrono::Datelike;
    let earliest = chrono::Utc::now().date_naive() + chrono::Duration::days(min_days);
    (earliest.year()..=earliest.year() + 1)
        .map(|y| {
            let first_next = if month == 12 {
                chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(y, month + 1, 1)
            }
            .unwrap();
            let mut d = first_next - chrono::Duration::days(1);
            while d.weekday() != chrono::Weekday::Sun {
                d -= chrono::Duration::days(1);
            }
            d
        })
        .find(|d| *d >= earliest)
        .unwrap()
        .to_string()
}

/// `date` plus `days`, as YYYY-MM-DD.
fn plus_days(date: &str, days: i64) -> String {
    (chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap() + chrono::Duration::days(days))
        .to_string()
}

/// A local date some weeks ahead, as YYYY-MM-DD.
fn future_date(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .to_string()
}

fn series_body(c: &Clinic, first: &str, n: i32) -> Value {
    json!({"patient_id": c.patient, "practitioner_id": c.practitioner, "appointment_type_id": c.type_id,
           "first_starts_at": first, "occurrences": n})
}

async fn slots(app: &TestApp, c: &Clinic, from: &str, to: &str) -> Vec<String> {
    let r = app
        .call(
            "GET",
            &format!(
                "/v1/availability?appointment_type_id={}&practitioner_ids={}&from={from}&to={to}",
                c.type_id, c.practitioner
            ),
            Some(&c.admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().to_owned())
        .collect()
}
