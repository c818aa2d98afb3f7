//! Notifications end to end: the real server and workers, real PostgreSQL, and the LINK
//! Mobility simulators (both APIs) as the provider, sending delivery reports and replies back to
//! the server's callback URLs.

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

#[tokio::test]
async fn a_reminder_goes_out_once_with_the_new_time_and_is_delivered() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    app.drain(&["notifications.appointment-changed"]).await;
    let planned = messages(&app, &c, &a).await;
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0]["state"], "scheduled");
    // Due one day before on the wall clock.
    let due: chrono::DateTime<chrono::Utc> =
        planned[0]["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        due.to_rfc3339(),
        chrono::DateTime::parse_from_rfc3339(&local(2, "10:00"))
            .unwrap()
            .to_utc()
            .to_rfc3339()
    );

    // Moved before it is due: the reminder names the new time, the old one never goes out.
    let moved = app
        .call(
            "POST",
            &format!("/v1/appointments/{a}/reschedule"),
            Some(&c.admin.token),
            Some(&json!({"starts_at": local(3, "11:30")})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    send_due(&app).await;
    let got = sim.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let params: std::collections::BTreeSet<&str> = got[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        params,
        [
            "check_idx",
            "encoding",
            "format",
            "from",
            "idx",
            "message",
            "notify_url",
            "to"
        ]
        .into_iter()
        .collect(),
        "only what the API needs"
    );
    assert_eq!(got[0]["to"], MOBILE.trim_start_matches('+'));
    assert_eq!(got[0]["check_idx"], "1");
    let text = got[0]["message"].as_str().unwrap();
    assert!(text.contains("11:30"), "{text}");
    assert!(!text.contains("10:00"), "{text}");
    assert!(text.contains("Kine De Linde"), "{text}");
    assert!(!text.contains("Janssens"), "no patient name: {text}");

    // The delivery report arrives at the callback and settles the message.
    let m = wait_state(&app, &c, &a, "delivered").await;
    assert_eq!(m["attempts"], 1);
    assert!(m["provider_id"].is_string());
    let old: Vec<Value> = messages(&app, &c, &a).await;
    assert_eq!(old.len(), 2);
    assert_eq!(old[0]["state"], "cancelled");
    assert_eq!(old[0]["reason"], "rescheduled");

    // A duplicate job for the same message sends nothing.
    let id = m["message_id"].as_str().unwrap();
    let practice = c.admin.practice_id;
    sqlx::query("insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key) values (apalis.generate_ulid(), 'notifications.send', convert_to($1, 'UTF8'), 'Pending', 0, 10, now(), 0, 'dup')")
        .bind(json!({"practice_id": practice, "message_id": id}).to_string())
        .execute(&app.owner)
        .await
        .unwrap();
    app.drain(&["notifications.send"]).await;
    assert_eq!(sim.received().len(), 1);
    // Disclosure log: one sent call, field names only.
    let fields: Vec<(String, Vec<String>)> =
        sqlx::query_as("select outcome, fields from core.disclosure where correlation_id = $1")
            .bind(id.replace('-', ""))
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(
        fields,
        vec![(
            "sent".to_owned(),
            vec![
                "recipient".to_owned(),
                "text".to_owned(),
                "reference".to_owned()
            ]
        )]
    );
}

#[tokio::test]
async fn smsapi_lost_answer_is_settled_by_check_idx_not_sent_twice() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    // The first send is accepted but its answer is lost (and no report comes to settle it);
    // the retry meets the same `idx` and is refused as a duplicate: sent, once.
    sim.lose_answers(1);
    sim.hold_reports(true);
    send_due(&app).await;
    let m = run_until(&app, &c, &a, "sent").await;
    assert_eq!(sim.raw().len(), 2, "sent, then retried");
    assert_eq!(sim.received().len(), 1, "accepted once");
    assert_eq!(m["attempts"], 2);
}

#[tokio::test]
async fn platform_send_in_doubt_waits_for_its_report_instead_of_resending() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    sim.lose_answers(1);
    send_due(&app).await;
    // The report names our refId: the message is delivered, never sent again.
    let m = wait_state(&app, &c, &a, "delivered").await;
    assert_eq!(m["attempts"], 1);
    // Even when the reconciliation check runs, nothing more goes out.
    retries_now(&app).await;
    assert_eq!(sim.received().len(), 1);
    let body = &sim.received()[0];
    assert_eq!(
        body["refId"],
        m["message_id"].as_str().unwrap().replace('-', "")
    );
    assert_eq!(body["deliveryReportGates"], json!(["gate1"]));
}

#[tokio::test]
async fn platform_send_without_a_report_in_the_window_is_sent_again_once() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "1").await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    // A 503 before accepting: no report will come. After the window it is sent again.
    sim.inject(Fault::Status(503, 1));
    send_due(&app).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while sim.received().is_empty() {
        assert!(Instant::now() < deadline, "never resent");
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.drain(&["notifications.send"]).await;
    }
    let m = wait_state(&app, &c, &a, "delivered").await;
    assert_eq!(m["attempts"], 2);
    assert_eq!(sim.received().len(), 1);
}

#[tokio::test]
async fn multi_part_reports_and_permanent_failures() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    // A two-segment template: delivered only when both parts are.
    let long = format!(
        "{{practice}} {{date}} {{time}}. {}",
        "Lange tekst. ".repeat(14)
    );
    let put = app
        .call(
            "PUT",
            "/v1/notifications/templates/reminder/nl",
            t,
            Some(&json!({"body": long})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["over_one_segment"], true);
    assert_eq!(put.body["segments"], 2);
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    let m = wait_state(&app, &c, &a, "delivered").await;
    assert_eq!(m["segments"], 2);
    let parts = app
        .count("select count(*) from notifications.delivery_report where state = 'delivered'")
        .await;
    assert_eq!(parts, 2, "one report per part ($0, $1)");

    // Unknown subscriber: failed, and the patient's number is flagged for staff.
    sim.set_final_code(2104);
    let other = consenting_patient(&app, &c, "+32470555666").await;
    let b = book(&app, &c, other, &local(4, "10:00")).await;
    send_due(&app).await;
    let m = wait_state(&app, &c, &b, "failed").await;
    assert_eq!(m["reason"], "provider_status_2104");
    let flagged = app
        .count(&format!(
            "select count(*) from core.patient where patient_id = '{other}' and mobile_flagged_at is not null"
        ))
        .await;
    assert_eq!(flagged, 1);
    // Through core's one audited function: the change is in the audit trail.
    let audited = app
        .count(&format!(
            "select count(*) from core.audit_event where patient_id = '{other}' and action = 'U'
                and route = 'callback:delivery_report' and reason = 'unknown_subscriber_or_number_error'"
        ))
        .await;
    assert_eq!(audited, 1, "the flag is audited once");
    // The next message to a flagged number is not sent.
    let b2 = book(&app, &c, other, &local(5, "10:00")).await;
    send_due(&app).await;
    let m = messages(&app, &c, &b2).await;
    assert_eq!(m[0]["state"], "skipped");
    assert_eq!(m[0]["reason"], "mobile_number_flagged");
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

#[tokio::test]
async fn bad_callbacks_are_refused_or_ignored_counted_and_change_nothing() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    let m = wait_state(&app, &c, &a, "delivered").await;
    let reference = m["message_id"].as_str().unwrap().replace('-', "");
    let snapshot = || async {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select m.message_id::text, m.state, (select count(*) from notifications.delivery_report) from notifications.message m order by 1",
        )
        .fetch_all(&app.owner)
        .await
        .unwrap();
        rows
    };
    let before = snapshot().await;
    let client = reqwest::Client::new();
    let dlr_url = format!("{}/v1/hooks/link/{TOKEN}/dlr", app.base);
    let good =
        json!({"refId": reference, "id": m["provider_id"], "resultCode": 1001, "segments": 1});
    let post = |url: String, creds: Option<(&'static str, &'static str)>, body: String| {
        let mut r = client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some((u, p)) = creds {
            r = r.basic_auth(u, Some(p));
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let bad_token_before = metric(
        &app,
        "sms_callbacks_total{kind=\"link_dlr\",result=\"bad_token\"}",
    )
    .await;
    let creds = Some((GATE_USER, GATE_PASSWORD));
    // Wrong path token: nothing to find.
    assert_eq!(
        post(
            format!(
                "{}/v1/hooks/link/wrong-token-0123456789abcdef/dlr",
                app.base
            ),
            creds,
            good.to_string()
        )
        .await,
        404
    );
    // Wrong or missing gate credentials.
    assert_eq!(post(dlr_url.clone(), None, good.to_string()).await, 401);
    assert_eq!(
        post(dlr_url.clone(), Some((GATE_USER, "nope")), good.to_string()).await,
        401
    );
    // Malformed bodies.
    assert_eq!(post(dlr_url.clone(), creds, "{not json".into()).await, 400);
    assert_eq!(
        post(dlr_url.clone(), creds, json!({"id": 5}).to_string()).await,
        400
    );
    assert_eq!(
        post(
            dlr_url.clone(),
            creds,
            json!({"refId": reference, "id": "x$y", "resultCode": 1001}).to_string()
        )
        .await,
        400
    );
    // Unknown message id: acknowledged (the gate stops retrying), nothing changes.
    let unknown =
        json!({"refId": Uuid::now_v7().simple().to_string(), "id": "SIMX", "resultCode": 2104});
    assert_eq!(post(dlr_url.clone(), creds, unknown.to_string()).await, 200);
    // A replayed report, and a contradicting late one for a settled message.
    assert_eq!(post(dlr_url.clone(), creds, good.to_string()).await, 200);
    let late =
        json!({"refId": reference, "id": m["provider_id"], "resultCode": 2106, "segments": 1});
    assert_eq!(post(dlr_url.clone(), creds, late.to_string()).await, 200);
    // SMSAPI: misaligned bulk values, bad token.
    let s = client
        .get(format!(
            "{}/v1/hooks/smsapi/{TOKEN}/dlr?MsgId=a,b&status=404",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(s.status(), 400);
    let s = client
        .get(format!(
            "{}/v1/hooks/smsapi/nottherighttoken123456789/dlr?MsgId=a&status=404&idx={reference}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(s.status(), 404);
    // Inbound: bad credentials, malformed.
    let mo_url = format!("{}/v1/hooks/link/{TOKEN}/mo", app.base);
    assert_eq!(post(mo_url.clone(), None, json!({}).to_string()).await, 401);
    assert_eq!(
        post(mo_url.clone(), creds, json!({"source": "nope"}).to_string()).await,
        400
    );

    let after = snapshot().await;
    assert_eq!(before.len(), after.len());
    // Only the late failure report adds a row (recorded, state kept); nothing else changed.
    assert!(
        before
            .iter()
            .zip(&after)
            .all(|(b, a)| b.0 == a.0 && b.1 == a.1),
        "{before:?} {after:?}"
    );
    assert_eq!(after[0].2, before[0].2 + 1);
    let flagged = app
        .count("select count(*) from core.patient where mobile_flagged_at is not null")
        .await;
    assert_eq!(flagged, 0, "a report after delivery flags nothing");
    assert!(
        metric(
            &app,
            "sms_callbacks_total{kind=\"link_dlr\",result=\"bad_token\"}"
        )
        .await
            > bad_token_before
    );
    for result in [
        "bad_credentials",
        "malformed",
        "unknown_message",
        "replayed",
    ] {
        assert!(
            metric(
                &app,
                &format!("sms_callbacks_total{{kind=\"link_dlr\",result=\"{result}\"}}")
            )
            .await
                >= 1.0,
            "{result} counted"
        );
    }
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

#[tokio::test]
async fn replies_confirm_cancel_keep_and_stop() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;

    // " ja " confirms the next appointment.
    assert_eq!(mo(&app, "mo-1", MOBILE, " ja ").await, 200);
    app.drain(&["scheduling.patient-reply"]).await;
    let via: Option<String> = sqlx::query_scalar(
        "select confirmed_via from scheduling.appointment where appointment_id = $1",
    )
    .bind(a.parse::<Uuid>().unwrap())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(via.as_deref(), Some("patient_reply"));
    // A replayed inbound message does nothing more.
    assert_eq!(mo(&app, "mo-1", MOBILE, " ja ").await, 200);
    assert_eq!(
        app.count("select count(*) from notifications.reply").await,
        1
    );
    // Free text is kept for staff (encrypted at rest), readable through the API.
    assert_eq!(
        mo(&app, "mo-2", MOBILE, "Kan ik ook om 11 uur komen?").await,
        200
    );
    let stored: Vec<u8> =
        sqlx::query_scalar("select body_enc from notifications.reply where intent = 'other'")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("11 uur"));
    let replies = app.call("GET", "/v1/notifications/replies", t, None).await;
    assert_eq!(replies.status, 200, "{}", replies.text);
    assert_eq!(replies.body[0]["text"], "Kan ik ook om 11 uur komen?");
    let reply_id = replies.body[0]["reply_id"].as_str().unwrap();
    let h = app
        .call(
            "POST",
            &format!("/v1/notifications/replies/{reply_id}/handled"),
            t,
            None,
        )
        .await;
    assert_eq!(h.status, 204);

    // "NEE" cancels it: the slot is freed for the waitlist and its pending reminders stop.
    assert_eq!(mo(&app, "mo-3", MOBILE, "NEE").await, 200);
    app.drain(&["scheduling.patient-reply"]).await;
    let (status, cancelled_via): (String, Option<String>) = sqlx::query_as(
        "select status, cancelled_via from scheduling.appointment where appointment_id = $1",
    )
    .bind(a.parse::<Uuid>().unwrap())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), cancelled_via.as_deref()),
        ("cancelled", Some("patient_reply"))
    );
    assert_eq!(
        app.count("select count(*) from apalis.jobs where job_type = 'scheduling.slot-freed'")
            .await,
        1
    );

    // A reply after the appointment's start does nothing.
    let b = book(&app, &c, patient, &local(4, "10:00")).await;
    send_due(&app).await;
    wait_state(&app, &c, &b, "delivered").await;
    sqlx::query("update scheduling.appointment set starts_at = now() - interval '5 minutes', ends_at = now() + interval '25 minutes', blocked = tstzrange(now() - interval '5 minutes', now() + interval '25 minutes') where appointment_id = $1")
        .bind(b.parse::<Uuid>().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(mo(&app, "mo-4", MOBILE, "nee").await, 200);
    app.drain(&["scheduling.patient-reply"]).await;
    let status: String =
        sqlx::query_scalar("select status from scheduling.appointment where appointment_id = $1")
            .bind(b.parse::<Uuid>().unwrap())
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(status, "booked");
    assert_eq!(
        app.count("select count(*) from apalis.jobs where job_type = 'scheduling.patient-reply' and last_result::text like '%TooLate%'").await,
        1
    );

    // STOP opts out at once: consent withdrawn, pending reminders cancelled, nothing more sent.
    let d = book(&app, &c, patient, &local(6, "10:00")).await;
    app.drain(&["notifications.appointment-changed"]).await;
    assert_eq!(mo(&app, "mo-5", MOBILE, "Stop").await, 200);
    let p = app
        .call("GET", &format!("/v1/patients/{patient}"), t, None)
        .await;
    assert!(
        p.body["sms_consent"]["withdrawn_at"].is_string(),
        "{}",
        p.text
    );
    let m = messages(&app, &c, &d).await;
    assert_eq!(m[0]["state"], "cancelled");
    assert_eq!(m[0]["reason"], "opted_out");
    let audited = app
        .count(&format!(
            "select count(*) from core.audit_event where patient_id = '{patient}'
                and route = 'callback:sms_inbound' and reason = 'sms_opt_out'"
        ))
        .await;
    assert_eq!(audited, 1, "the opt-out is audited once");
    let sent = sim.received().len();
    let e = book(&app, &c, patient, &local(7, "10:00")).await;
    send_due(&app).await;
    assert_eq!(sim.received().len(), sent);
    assert_eq!(messages(&app, &c, &e).await[0]["reason"], "no_sms_consent");
    // A number we never messaged: acknowledged, ignored.
    assert_eq!(mo(&app, "mo-6", "+32470000001", "JA").await, 200);
}

#[tokio::test]
async fn consent_restriction_and_timing_decide_what_is_sent() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    // No consent recorded.
    let mut body = patient_body("Zonder");
    body["mobile"] = json!("+32470111222");
    let no_consent = app.patient(&c.admin, body).await;
    let a = book(&app, &c, no_consent, &local(3, "10:00")).await;
    // Restricted processing.
    let restricted = consenting_patient(&app, &c, "+32470333444").await;
    let r = app
        .call(
            "POST",
            &format!("/v1/patients/{restricted}/processing-restriction"),
            t,
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let b = book(&app, &c, restricted, &local(3, "11:00")).await;
    // Booked 30 minutes ahead: too late for a reminder, recorded as skipped (not dropped).
    let ok = consenting_patient(&app, &c, "+32470555777").await;
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let late = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&json!({"patient_id": ok, "practitioner_id": c.practitioner, "appointment_type_id": c.type_id,
                         "starts_at": soon, "outside_hours_reason": "urgent"})),
        )
        .await;
    assert_eq!(late.status, 201, "{}", late.text);
    let late_id = late.body["appointment_id"].as_str().unwrap().to_owned();
    send_due(&app).await;
    assert!(sim.received().is_empty(), "{:?}", sim.received());
    assert_eq!(messages(&app, &c, &a).await[0]["reason"], "no_sms_consent");
    assert_eq!(
        messages(&app, &c, &b).await[0]["reason"],
        "processing_restricted"
    );
    let m = messages(&app, &c, &late_id).await;
    assert_eq!(m[0]["state"], "skipped");
    assert_eq!(m[0]["reason"], "too_late");
    // Only privacy managers may restrict.
    let reception = app.staff(&c.admin, "receptionist").await;
    let r = app
        .call(
            "POST",
            &format!("/v1/patients/{ok}/processing-restriction"),
            Some(&reception.token),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn rules_templates_and_settings_validate_and_apply() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    // Two reminders for this type: 2 days and 3 hours before.
    let r = app
        .call(
            "PUT",
            "/v1/notifications/reminder-rules",
            t,
            Some(&json!({"rules": [{"type_id": c.type_id, "offset_minutes": 2880}, {"type_id": c.type_id, "offset_minutes": 180}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/reminder-rules",
            t,
            Some(&json!({"rules": [{"offset_minutes": 5}]})),
        )
        .await;
    assert_eq!(
        bad.problem(422, "invalid_field")["field"],
        "rules[0].offset_minutes"
    );
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/reminder-rules",
            t,
            Some(&json!({"rules": [{"type_id": Uuid::now_v7(), "offset_minutes": 60}]})),
        )
        .await;
    assert_eq!(
        bad.problem(404, "appointment_type_not_found")["field"],
        "rules[0].type_id"
    );
    // Templates: only whitelisted placeholders; the practitioner only when enabled.
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/templates/reminder/nl",
            t,
            Some(&json!({"body": "Dag {patient}, {date}"})),
        )
        .await;
    assert_eq!(bad.problem(422, "invalid_field")["field"], "body");
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/templates/reminder/nl",
            t,
            Some(&json!({"body": "{practitioner} {date}"})),
        )
        .await;
    assert_eq!(bad.problem(422, "invalid_field")["field"], "body");
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/templates/sms/xx",
            t,
            Some(&json!({"body": "x"})),
        )
        .await;
    assert_eq!(bad.problem(400, "invalid_parameter")["field"], "kind");
    settings(
        &app,
        &c.admin,
        json!({"display_name": "De Linde", "address_line": "Lindestraat 1, Gent", "practitioner_name_in_messages": true}),
    )
    .await;
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/settings",
            t,
            Some(&json!({"display_name": "x".repeat(41), "address_line": null, "quiet_start": "21:00:00",
                         "quiet_end": "08:00:00", "practitioner_name_in_messages": true, "min_lead_minutes": 60})),
        )
        .await;
    assert_eq!(bad.problem(422, "invalid_field")["field"], "display_name");
    let ok = app
        .call(
            "PUT",
            "/v1/notifications/templates/reminder/nl",
            t,
            Some(&json!({"body": "{practice}, {address}: afspraak bij {practitioner} op {date} om {time}. {reply}"})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["over_one_segment"], false);
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(5, "14:00")).await;
    send_due(&app).await;
    let m = messages(&app, &c, &a).await;
    assert_eq!(m.len(), 2, "{m:?}");
    let got = sim.received();
    assert_eq!(got.len(), 2);
    let text = got[0]["message"].as_str().unwrap();
    assert!(
        text.starts_with("De Linde, Lindestraat 1, Gent: afspraak bij Willems op "),
        "{text}"
    );
    assert!(text.ends_with("om 14:00. Antwoord JA of NEE."), "{text}");
    // Dead messages are listed for admins only.
    let list = app
        .call("GET", "/v1/notifications/messages?state=dead", t, None)
        .await;
    assert_eq!(list.status, 200);
    let reception = app.staff(&c.admin, "receptionist").await;
    let list = app
        .call(
            "GET",
            "/v1/notifications/messages?state=dead",
            Some(&reception.token),
            None,
        )
        .await;
    assert_eq!(list.status, 403);
}

#[tokio::test]
async fn retryable_errors_back_off_then_the_message_is_dead_and_listed() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    // 429 is a clear refusal: retried with backoff, six attempts, then dead.
    sim.inject(Fault::Status(429, 6));
    send_due(&app).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = messages(&app, &c, &a).await;
        if m[0]["state"] == "dead" {
            assert_eq!(m[0]["attempts"], 6);
            assert_eq!(m[0]["reason"], "http_429");
            break;
        }
        assert!(Instant::now() < deadline, "{m:?}");
        retries_now(&app).await;
    }
    assert!(sim.received().is_empty());
    let list = app.call("GET", "/v1/notifications/messages", t, None).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    // An admin sends it again once the cause is gone.
    let id = list.body[0]["message_id"].as_str().unwrap();
    let r = app
        .call(
            "POST",
            &format!("/v1/notifications/messages/{id}/retry"),
            t,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.drain(&["notifications.send"]).await;
    wait_state(&app, &c, &a, "delivered").await;
    assert_eq!(sim.received().len(), 1);
}

#[tokio::test]
async fn canary_patient_data_reaches_neither_the_provider_nor_the_logs() {
    let logs = captured_logs();
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    let phone = "+32470918273";
    let national = insz("770412345");
    let canaries = [
        "Canaryfamilyqx",
        "Canarygivenqx",
        "canary.qx@example.test",
        national.as_str(),
        "CANARY-POLICY-QX",
        "Dr. Canarygpqx",
        "CANARY CLINICAL QX",
        "CANARY REPLY QX",
    ];
    let p = app
        .call(
            "POST",
            "/v1/patients",
            t,
            Some(&json!({"family_name": canaries[0], "given_names": canaries[1], "birth_date": "1977-04-12",
                         "sex": "female", "mobile": phone, "email": canaries[2], "national_number": canaries[3],
                         "insurance_country": "BE", "mutuality_code": "500", "policy_number": canaries[4], "gp_name": canaries[5],
                         "clinical_summary": canaries[6], "sms_consent": {"method": "written"}})),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.text);
    let patient: Uuid = p.body["patient_id"].as_str().unwrap().parse().unwrap();
    // Booking, reminder, delivery report, replies, reschedule, a second reminder, cancel.
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;
    let mo_url = format!("{}/v1/hooks/link/{TOKEN}/mo", app.base);
    assert_eq!(sim.deliver_mo(&mo_url, phone, "JA").await, 200);
    assert_eq!(
        sim.deliver_mo(&mo_url, phone, &format!("{} graag bellen", canaries[7]))
            .await,
        200
    );
    app.drain(&["scheduling.patient-reply"]).await;
    let moved = app
        .call(
            "POST",
            &format!("/v1/appointments/{a}/reschedule"),
            t,
            Some(&json!({"starts_at": local(3, "15:00")})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;
    let cancel = app
        .call(
            "POST",
            &format!("/v1/appointments/{a}/cancel"),
            t,
            Some(&json!({"reason": canaries[6]})),
        )
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    app.drain(&["notifications.appointment-changed", "scheduling.slot-freed"])
        .await;
    let replies = app.call("GET", "/v1/notifications/replies", t, None).await;
    assert!(
        replies.text.contains(canaries[7]),
        "staff can read the reply"
    );

    // The provider saw two requests, each with the number and nothing else of the patient.
    let raw = sim.raw();
    assert_eq!(raw.len(), 2, "{raw:?}");
    for body in &raw {
        assert!(body.contains(phone), "{body}");
        for canary in canaries {
            assert!(
                !body.contains(canary),
                "the provider received {canary}: {body}"
            );
        }
    }
    // The server's log output (JSON lines, as in production) names none of them, nor the number.
    let out = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(out.contains("message send"), "logs were captured");
    for canary in canaries.iter().chain([&phone]) {
        assert!(!out.contains(canary), "log output contains {canary}");
    }
}

#[tokio::test]
async fn smsapi_bulk_reports_and_inbound_stop_answer_ok() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    sim.hold_reports(true);
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    let b = book(&app, &c, patient, &local(4, "10:00")).await;
    send_due(&app).await;
    let refs: Vec<String> = sqlx::query_scalar(
        "select replace(message_id::text, '-', '') from notifications.message where state = 'sent' order by message_id",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(refs.len(), 2);
    // One bulk callback for both: comma-separated values aligned by position; answered "OK".
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/v1/hooks/smsapi/{TOKEN}/dlr", app.base))
        .form(&[
            ("MsgId", "AAA,BBB"),
            ("status", "404,402"),
            ("idx", &format!("{},{}", refs[0], refs[1])),
            ("donedate", "1800000010,1800000011"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK");
    let mut got = vec![
        messages(&app, &c, &a).await[0]["state"].clone(),
        messages(&app, &c, &b).await[0]["state"].clone(),
    ];
    got.sort_by_key(|v| v.to_string());
    assert_eq!(got, vec![json!("delivered"), json!("expired")]);
    // Inbound STOP, SMSAPI form (number without the plus); a replay changes nothing more.
    let mo = || {
        client
            .post(format!("{}/v1/hooks/smsapi/{TOKEN}/mo", app.base))
            .form(&[
                ("sms_from", MOBILE.trim_start_matches('+')),
                ("sms_text", "stop"),
                ("sms_date", "1800000100"),
                ("username", "praxis"),
            ])
            .send()
    };
    let r = mo().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "OK");
    let r = mo().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "OK");
    let p = app
        .call("GET", &format!("/v1/patients/{patient}"), t, None)
        .await;
    assert!(
        p.body["sms_consent"]["withdrawn_at"].is_string(),
        "{}",
        p.text
    );
    assert_eq!(
        app.count("select count(*) from notifications.reply where intent = 'stop'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_practice_can_use_its_own_account_stored_encrypted() {
    let global = LinkSim::start().await;
    let own = LinkSim::start().await;
    let app = platform_app(&global, "600").await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    let g = app.call("GET", "/v1/notifications/provider", t, None).await;
    assert_eq!(g.body["source"], "global");
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/provider",
            t,
            Some(&json!({"provider": "smsapi", "base_url": own.base, "sender": "DeLinde"})),
        )
        .await;
    assert_eq!(bad.problem(422, "invalid_field")["field"], "token");
    let bad = app
        .call(
            "PUT",
            "/v1/notifications/provider",
            t,
            Some(&json!({"provider": "smsapi", "base_url": own.base, "sender": "1Linde", "token": "x"})),
        )
        .await;
    assert_eq!(bad.problem(422, "invalid_field")["field"], "sender");
    let put = app
        .call(
            "PUT",
            "/v1/notifications/provider",
            t,
            Some(&json!({"provider": "smsapi", "base_url": own.base, "sender": "DeLinde", "token": sim::SMSAPI_TOKEN})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["source"], "practice");
    assert!(
        !put.text.contains(sim::SMSAPI_TOKEN),
        "the token is never shown"
    );
    let stored: Vec<u8> =
        sqlx::query_scalar("select config_enc from notifications.provider_override")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(sim::SMSAPI_TOKEN));
    // Receptionists may not see or change it.
    let reception = app.staff(&c.admin, "receptionist").await;
    let r = app
        .call(
            "GET",
            "/v1/notifications/provider",
            Some(&reception.token),
            None,
        )
        .await;
    assert_eq!(r.status, 403);

    let patient = consenting_patient(&app, &c, MOBILE).await;
    book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    assert!(global.received().is_empty());
    let got = own.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["from"], "DeLinde");
}

#[tokio::test]
async fn other_services_request_messages_of_a_kind_about_an_entity() {
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    // What invoicing will enqueue: a payment link for an invoice, in its own transaction.
    let invoice = Uuid::now_v7();
    let request = json!({"practice_id": c.admin.practice_id, "kind": "payment_link", "about_id": invoice,
                         "patient_id": patient, "link": "https://pay.example.eu/i/Xy12", "key": format!("payment-link:{invoice}")});
    for _ in 0..2 {
        // A repeated request (same key) makes no second message.
        sqlx::query("insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key) values (apalis.generate_ulid(), 'notifications.request-message', convert_to($1, 'UTF8'), 'Pending', 0, 10, now(), 0, apalis.generate_ulid())")
            .bind(request.to_string())
            .execute(&app.owner)
            .await
            .unwrap();
    }
    send_due(&app).await;
    let got = sim.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0]["message"],
        "Kine De Linde: uw factuur online betalen: https://pay.example.eu/i/Xy12"
    );
    let kinds: Vec<(String, Option<Uuid>)> =
        sqlx::query_as("select kind, about_id from notifications.message")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(kinds, vec![("payment_link".to_owned(), Some(invoice))]);
    // Per patient, visible to staff (and the read is audited).
    let r = app
        .call(
            "GET",
            &format!("/v1/patients/{patient}/messages"),
            Some(&c.admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body[0]["kind"], "payment_link");
    assert_eq!(
        app.count("select count(*) from core.audit_event where reason = 'patient_messages'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_timed_out_send_is_settled_not_repeated() {
    let sim = LinkSim::start().await;
    let app = spawn_app_with(&[
        ("SMS_PROVIDER", "smsapi"),
        ("SMSAPI_BASE_URL", &sim.base),
        ("SMSAPI_TOKEN", sim::SMSAPI_TOKEN),
        ("SMS_CALLBACK_TOKEN", TOKEN),
        ("PUBLIC_URL", "{base}"),
        ("SMS_RETRY_BASE_MS", "50"),
        ("SMS_PROVIDER_TIMEOUT_MS", "300"),
    ])
    .await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    // The provider takes a second to answer; our call gives up at 300 ms, not knowing whether it
    // got the message. The retry settles it: one message accepted, whichever way it went.
    sim.hold_reports(true);
    sim.inject(Fault::Delay(Duration::from_secs(1), 1));
    send_due(&app).await;
    run_until(&app, &c, &a, "sent").await;
    assert_eq!(sim.received().len(), 1, "accepted once");
    assert!(
        sim.raw().len() >= 2,
        "the timed-out call was followed by a check"
    );
    let classes: Vec<String> = sqlx::query_scalar(
        "select detail from core.disclosure where outcome = 'failed' order by occurred_at",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(classes, vec!["timeout".to_owned()]);
}

/// The send load reads the messages it is asked for and reaches everything else by key: asking
/// for three messages of a practice with 2,000 reads three patients and three appointments,
/// whatever the planner's statistics (none here: nothing was analysed after the bulk insert).
/// The first version of the load joined from the practice's patients and appointments whenever
/// the statistics were stale, reading every one of them for each group.
#[tokio::test]
async fn the_send_load_reads_only_the_messages_it_is_asked_for() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("Load", "BE").await;
    let ids = seed::due_reminders(&app.owner, admin.practice_id, 2_000).await;
    // As the application role, in one transaction: its own table statistics are visible in
    // pg_stat_xact_user_tables before commit.
    let mut tx = app.state.db().pool().begin().await.unwrap();
    let loaded: Vec<Uuid> = sqlx::query_scalar(
        "select message_id from notifications.send_load($1, $2, 'linkmobility-pl', array['mobile_number', 'message_text'])",
    )
    .bind(admin.practice_id)
    .bind(&ids[..3])
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(loaded.len(), 3);
    let read: Vec<(String, i64)> = sqlx::query_as(
        r#"select schemaname || '.' || relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
             from pg_stat_xact_user_tables
            where (schemaname, relname) in (('core', 'patient'), ('notifications', 'appointment'), ('notifications', 'message'))"#,
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(read.len(), 3, "{read:?}");
    for (table, rows) in read {
        assert!(rows <= 3, "{table}: {rows} rows read to load 3 messages");
    }
    tx.rollback().await.unwrap();
}

/// Every `bytea` column of the application's schemas that holds one of `digests`, as
/// `schema.table.column`.
async fn columns_holding(app: &TestApp, digests: &[Vec<u8>]) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "select table_schema::text, table_name::text, column_name::text from information_schema.columns
          where data_type = 'bytea' and table_schema in ('core', 'scheduling', 'notifications', 'invoicing', 'claims')",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert!(columns.len() > 5, "{columns:?}");
    let mut found = Vec::new();
    for (schema, table, column) in columns {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from \"{schema}\".\"{table}\" where \"{column}\" = any($1)"
        )))
        .bind(digests)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        if n > 0 {
            found.push(format!("{schema}.{table}.{column}"));
        }
    }
    found
}

#[tokio::test]
async fn no_column_holds_an_unkeyed_hash_of_the_patients_number_after_a_reply() {
    use sha2::{Digest, Sha256};
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    let (date, text) = ("1800000100", "JA");
    let r = reqwest::Client::new()
        .post(format!("{}/v1/hooks/smsapi/{TOKEN}/mo", app.base))
        .form(&[
            ("sms_from", MOBILE.trim_start_matches('+')),
            ("sms_text", text),
            ("sms_date", date),
            ("username", "praxis"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "OK");
    assert_eq!(
        app.count("select count(*) from notifications.inbound_seen")
            .await,
        1,
        "the reply was recorded"
    );
    let national = MOBILE.trim_start_matches("+32");
    let forms = [
        MOBILE.to_owned(),
        MOBILE.trim_start_matches('+').to_owned(),
        format!("0{national}"),
        national.to_owned(),
        format!("0032{national}"),
    ];
    let mut digests: Vec<Vec<u8>> = forms
        .iter()
        .map(|f| Sha256::digest(f.as_bytes()).to_vec())
        .collect();
    // And the composite the first version stored: SHA-256(provider, number, time, text).
    for from in &forms {
        let mut h = Sha256::new();
        for (i, part) in ["smsapi", from, date, text].iter().enumerate() {
            if i > 0 {
                h.update([0]);
            }
            h.update(part.as_bytes());
        }
        digests.push(h.finalize().to_vec());
    }
    let found = columns_holding(&app, &digests).await;
    assert!(
        found.is_empty(),
        "a plain digest of the number is stored in {found:?}"
    );
}

#[tokio::test]
async fn a_confirmation_by_reply_shows_on_the_appointment_and_on_the_reply() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    let before = app
        .call("GET", &format!("/v1/appointments/{a}"), t, None)
        .await;
    assert!(before.body["confirmed_at"].is_null(), "{}", before.text);
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;
    assert_eq!(mo(&app, "mo-confirm", MOBILE, "JA").await, 200);
    let outcome = || async {
        sqlx::query_scalar::<_, String>("select outcome from notifications.reply")
            .fetch_one(&app.owner)
            .await
            .unwrap()
    };
    assert_eq!(outcome().await, "forwarded");
    app.drain(&["scheduling.patient-reply", "notifications.reply-applied"])
        .await;
    let after = app
        .call("GET", &format!("/v1/appointments/{a}"), t, None)
        .await;
    assert!(after.body["confirmed_at"].is_string(), "{}", after.text);
    assert_eq!(after.body["confirmed_via"], "patient_reply");
    assert_eq!(outcome().await, "confirmed");
    let all = app
        .call("GET", "/v1/notifications/replies?open=false", t, None)
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body[0]["outcome"], "confirmed", "{}", all.text);
}

#[tokio::test]
async fn a_no_reply_offers_the_freed_slot_to_the_waitlist_like_a_single_cancel() {
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    seed::open_quiet_hours(&app.owner, c.admin.practice_id).await;
    let t = Some(c.admin.token.as_str());
    let entry = app.waiting_patient(&c.admin, &c.type_id).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;

    assert_eq!(mo(&app, "mo-nee", MOBILE, "NEE").await, 200);
    app.drain(&["scheduling.patient-reply"]).await;
    let got = app
        .call("GET", &format!("/v1/appointments/{a}"), t, None)
        .await;
    assert_eq!(got.body["status"], "cancelled", "{}", got.text);
    app.drain(&["scheduling.slot-freed"]).await;
    let offers = app.offers(&c.admin, &entry).await;
    assert_eq!(offers.len(), 1, "the waiting patient is offered the slot");
    assert_eq!(offers[0]["starts_at"], got.body["starts_at"]);
}
