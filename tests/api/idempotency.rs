//! Safe retries with `Idempotency-Key`: one effect, identical answers, under concurrency.

use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::{Value, json};

/// Sends the same POST `n` times at once with `key`; answers (status, replayed, body text).
async fn concurrently(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Option<Value>,
    key: &str,
    n: usize,
) -> Vec<(u16, bool, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut req = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(token)
            .header("idempotency-key", key);
        if let Some(b) = &body {
            req = req.json(b);
        }
        tasks.spawn(async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let replayed = r.headers().get("idempotent-replayed").is_some();
            // The ETag travels with the answer, first or replayed (appended to the body here
            // so that "identical answers" covers it).
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (
                status,
                replayed,
                format!("{}\n{etag}", r.text().await.unwrap()),
            )
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.unwrap());
    }
    out
}

fn one_effect(answers: &[(u16, bool, String)], status: u16) {
    let first = &answers[0].2;
    for (s, _, text) in answers {
        assert_eq!(*s, status, "{text}");
        assert_eq!(text, first, "every answer is the first one, byte for byte");
    }
    let fresh = answers.iter().filter(|(_, replayed, _)| !replayed).count();
    assert_eq!(fresh, 1, "one request did the work");
}

#[tokio::test]
async fn twenty_concurrent_retries_of_a_payment_or_an_issue_have_one_effect() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let token = b.clinic.admin.token.clone();
    let draft = b.draft(&app, json!([b.tariff_line("2")])).await;
    let id = draft["invoice_id"].as_str().unwrap();
    let issued = concurrently(
        &app,
        &token,
        &format!("/v1/invoices/{id}/issue"),
        None,
        "issue-1",
        20,
    )
    .await;
    one_effect(&issued, 200);
    let (body, etag) = issued[0].2.split_once('\n').unwrap();
    let version = serde_json::from_str::<Value>(body).unwrap()["version"].clone();
    assert_eq!(
        etag,
        format!("\"{version}\""),
        "the ETag on every answer, replays too"
    );
    assert_eq!(
        app.count("select count(*) from invoicing.invoice where number is not null")
            .await,
        1
    );
    assert_eq!(
        app.count("select coalesce(sum(last_number), 0) from invoicing.number_counter")
            .await,
        1
    );

    let pay = json!({"method": "card_terminal", "amount": "10.00"});
    let paid = concurrently(
        &app,
        &token,
        &format!("/v1/invoices/{id}/payments"),
        Some(pay.clone()),
        "pay-1",
        20,
    )
    .await;
    one_effect(&paid, 201);
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 1);
    let body: Value = serde_json::from_str(paid[0].2.lines().next().unwrap()).unwrap();
    assert_eq!(body["paid"], "10.00");
    // The replays were audited as such.
    assert_eq!(
        app.count("select count(*) from core.audit_event where event = 'idempotent_replay'")
            .await,
        38
    );

    // The same key with another body is refused, and nothing is written.
    let other = app
        .client
        .post(format!("{}/v1/invoices/{id}/payments", app.base))
        .bearer_auth(&token)
        .header("idempotency-key", "pay-1")
        .json(&json!({"method": "card_terminal", "amount": "11.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    let problem: Value = other.json().await.unwrap();
    assert_eq!(problem["field"], "Idempotency-Key");
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 1);
    // A new key is a new payment.
    let again = concurrently(
        &app,
        &token,
        &format!("/v1/invoices/{id}/payments"),
        Some(pay),
        "pay-2",
        1,
    )
    .await;
    assert_eq!(again[0].0, 201, "{}", again[0].2);
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 2);
}

#[tokio::test]
async fn a_booking_retried_books_once_and_keys_expire_after_a_day() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let c = &b.clinic;
    let token = c.admin.token.clone();
    let day = (chrono::Utc::now() + chrono::Duration::days(9)).date_naive();
    let at = format!("{day}T10:00:00+01:00");
    let booking = json!({"patient_id": c.patient, "practitioner_id": c.practitioner,
                         "appointment_type_id": c.type_id, "starts_at": at});
    let answers = concurrently(
        &app,
        &token,
        "/v1/appointments",
        Some(booking.clone()),
        "book-1",
        10,
    )
    .await;
    one_effect(&answers, 201);
    assert_eq!(
        app.count("select count(*) from scheduling.appointment")
            .await,
        1
    );
    // After 24 hours the key is forgotten: the same request is new work (here: the slot is taken).
    sqlx::query("update core.idempotency_key set created_at = now() - interval '25 hours'")
        .execute(&app.owner)
        .await
        .unwrap();
    let late = concurrently(&app, &token, "/v1/appointments", Some(booking), "book-1", 1).await;
    assert_eq!(late[0].0, 409, "{}", late[0].2);
    // Another practice's identical key is its own.
    let other = Billing::setup(&app).await;
    let d = other.draft(&app, json!([other.tariff_line("1")])).await;
    let id = d["invoice_id"].as_str().unwrap();
    let mine = concurrently(
        &app,
        &other.clinic.admin.token,
        &format!("/v1/invoices/{id}/issue"),
        None,
        "book-1",
        1,
    )
    .await;
    assert_eq!(mine[0].0, 200, "{}", mine[0].2);
}

#[tokio::test]
async fn a_malformed_key_is_refused_naming_the_header() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let d = b.draft(&app, json!([b.tariff_line("1")])).await;
    let id = d["invoice_id"].as_str().unwrap();
    for key in ["a b".to_owned(), "x".repeat(256)] {
        let r = app
            .client
            .post(format!("{}/v1/invoices/{id}/issue", app.base))
            .bearer_auth(&b.clinic.admin.token)
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["field"], "Idempotency-Key");
    }
    assert_eq!(
        app.count("select count(*) from invoicing.invoice where number is not null")
            .await,
        0
    );
}
