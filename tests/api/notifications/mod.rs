//! Notifications end to end: the real server and workers, real PostgreSQL, and the LINK
//! Mobility simulators (both APIs) as the provider, sending delivery reports and replies back to
//! the server's callback URLs.

mod api;
mod hooks;
mod privacy;
mod replies;
mod send;

use std::time::{Duration, Instant};

use praxis_tests::sim::{self, Fault, Gate, LinkSim};
use praxis_tests::*;
use serde_json::{Value, json};
use uuid::Uuid;

const TOKEN: &str = "test-callback-token-0123456789abcdef";

const GATE_USER: &str = "gate";

const GATE_PASSWORD: &str = "gate-secret";

const MOBILE: &str = "+32470123456";

async fn smsapi_app(sim: &LinkSim) -> TestApp {
    spawn_app_with(&[
        ("SMS_PROVIDER", "smsapi"),
        ("SMSAPI_BASE_URL", &sim.base),
        ("SMSAPI_TOKEN", sim::SMSAPI_TOKEN),
        ("SMS_CALLBACK_TOKEN", TOKEN),
        ("PUBLIC_URL", "{base}"),
        ("SMS_RETRY_BASE_MS", "50"),
    ])
    .await
}

async fn platform_app(sim: &LinkSim, reconcile_secs: &str) -> TestApp {
    let app = spawn_app_with(&[
        ("SMS_PROVIDER", "link_platform"),
        ("LINK_BASE_URL", &sim.base),
        ("LINK_USERNAME", sim::USER),
        ("LINK_PASSWORD", sim::PASSWORD),
        ("LINK_PLATFORM_ID", sim::PLATFORM),
        ("LINK_PLATFORM_PARTNER_ID", sim::PARTNER),
        ("LINK_GATE_ID", "gate1"),
        ("LINK_GATE_USERNAME", GATE_USER),
        ("LINK_GATE_PASSWORD", GATE_PASSWORD),
        ("SMS_CALLBACK_TOKEN", TOKEN),
        ("SMS_RECONCILE_SECS", reconcile_secs),
        ("SMS_RETRY_BASE_MS", "50"),
    ])
    .await;
    sim.set_gate(Gate {
        url: format!("{}/v1/hooks/link/{TOKEN}/dlr", app.base),
        credentials: Some((GATE_USER.into(), GATE_PASSWORD.into())),
    });
    app
}

/// A Brussels practice, one practitioner working 07:00–22:00 every day, a 30-minute type,
/// default message settings.
async fn clinic(app: &TestApp) -> Clinic {
    let c = Clinic::builder(app)
        .hours(&[("07:00", "22:00")])
        .build()
        .await;
    settings(app, &c.admin, json!({})).await;
    c
}

/// Quiet hours that never cover the moment a test runs nor the times tests book: a minute at
/// 02:00 (or 04:00 when the test runs around 02:00), Brussels time.
fn quiet_window() -> (&'static str, &'static str) {
    use chrono::Timelike;
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Brussels);
    if (1..=2).contains(&now.hour()) {
        ("04:00:00", "04:01:00")
    } else {
        ("02:00:00", "02:01:00")
    }
}

async fn settings(app: &TestApp, admin: &Session, extra: Value) {
    let (start, end) = quiet_window();
    let mut body = json!({"display_name": null, "address_line": null, "quiet_start": start, "quiet_end": end,
                          "practitioner_name_in_messages": false, "min_lead_minutes": 60});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app
        .call(
            "PUT",
            "/v1/notifications/settings",
            Some(&admin.token),
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A patient with a mobile number and SMS consent.
async fn consenting_patient(app: &TestApp, c: &Clinic, mobile: &str) -> Uuid {
    let mut body = patient_body("Janssens");
    body["mobile"] = json!(mobile);
    body["sms_consent"] = json!({"method": "written"});
    app.patient(&c.admin, body).await
}

fn day(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .to_string()
}

/// An RFC 3339 instant `days` ahead at a Brussels wall-clock time.
fn local(days: i64, hm: &str) -> String {
    use chrono::TimeZone;
    let d = chrono::NaiveDate::parse_from_str(&day(days), "%Y-%m-%d").unwrap();
    let t = chrono::NaiveTime::parse_from_str(hm, "%H:%M").unwrap();
    chrono_tz::Europe::Brussels
        .from_local_datetime(&d.and_time(t))
        .earliest()
        .unwrap()
        .to_rfc3339()
}

async fn book(app: &TestApp, c: &Clinic, patient: Uuid, starts_at: &str) -> String {
    let r = app
        .call(
            "POST",
            "/v1/appointments",
            Some(&c.admin.token),
            Some(
                &json!({"patient_id": patient, "practitioner_id": c.practitioner,
                         "appointment_type_id": c.type_id, "starts_at": starts_at}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["appointment_id"].as_str().unwrap().to_owned()
}

/// Plans reminders, makes every scheduled message due now, and runs the send worker.
async fn send_due(app: &TestApp) {
    app.drain(&[
        "notifications.appointment-changed",
        "notifications.request-message",
    ])
    .await;
    sqlx::query("update notifications.message set due_at = now() where state = 'scheduled'")
        .execute(&app.owner)
        .await
        .unwrap();
    retries_now(app).await;
}

/// Runs every pending send job now, retries and reconciliation checks included.
async fn retries_now(app: &TestApp) {
    sqlx::query("update apalis.jobs set run_at = now() - interval '1 second' where job_type = 'notifications.send' and status = 'Pending'")
        .execute(&app.owner)
        .await
        .unwrap();
    app.drain(&["notifications.send"]).await;
}

/// Runs the send worker (without hurrying its jobs) until the appointment's first message is in
/// `state`; returns it.
async fn run_until(app: &TestApp, c: &Clinic, appointment: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = messages(app, c, appointment).await;
        if m[0]["state"] == state {
            return m[0].clone();
        }
        assert!(Instant::now() < deadline, "never {state}: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.drain(&["notifications.send"]).await;
    }
}

async fn messages(app: &TestApp, c: &Clinic, appointment: &str) -> Vec<Value> {
    let r = app
        .call(
            "GET",
            &format!("/v1/appointments/{appointment}/messages"),
            Some(&c.admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

/// Waits until the appointment's last message reaches `state` (delivery reports are async).
async fn wait_state(app: &TestApp, c: &Clinic, appointment: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = messages(app, c, appointment).await;
        if let Some(last) = m.last()
            && last["state"] == state
        {
            return last.clone();
        }
        assert!(Instant::now() < deadline, "never {state}: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Posts a platform inbound message with a fixed id (so it can be replayed).
async fn mo(app: &TestApp, id: &str, from: &str, text: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/v1/hooks/link/{TOKEN}/mo", app.base))
        .basic_auth(GATE_USER, Some(GATE_PASSWORD))
        .json(&json!({"destination": "BE-8850", "source": from,
                      "content": {"type": "SMS", "userData": text, "encoding": "TEXT"},
                      "operator": "be.sim", "timestamp": chrono::Utc::now().to_rfc3339(), "messageId": id}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
