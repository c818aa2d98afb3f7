//! Payments recorded by billing staff: partial, full, over; the status and balance follow.

use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn partial_full_and_over_payments_move_the_status_and_balance() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    // 2 sessions: total 65.00, the patient owes 16.26.
    let d = b.draft(&app, json!([b.tariff_line("2")])).await;
    let id = d["invoice_id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/v1/invoices/{id}/payments"),
        t,
        Some(&json!({"method": "cash", "amount": "5.00"})),
    )
    .await
    .problem(409, "invalid_transition");
    let inv = b.issue(&app, id).await.body;
    let pay = |amount: &str, method: &str| {
        let body =
            json!({"method": method, "amount": amount, "reference": inv["payment_reference"]});
        let path = format!("/v1/invoices/{id}/payments");
        let app = &app;
        async move { app.call("POST", &path, t, Some(&body)).await }
    };
    let first = pay("6.26", "card_terminal").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["status"], "partially_paid");
    assert_eq!(first.body["balance"], "10.00");
    let second = pay("12.00", "bank_transfer").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body["status"], "paid");
    assert_eq!(second.body["paid"], "18.26");
    // Paid 2.00 too much: it shows, to be refunded.
    assert_eq!(second.body["balance"], "-2.00");
    assert_eq!(second.body["payments"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["payments"][1]["method"], "bank_transfer");
    // A paid invoice takes no more payments; Stripe payments are not typed in.
    pay("1.00", "cash").await.problem(409, "invalid_transition");
    let d2 = b.issued(&app).await;
    let id2 = d2["invoice_id"].as_str().unwrap();
    let stripe = app
        .call(
            "POST",
            &format!("/v1/invoices/{id2}/payments"),
            t,
            Some(&json!({"method": "stripe", "amount": "1.00"})),
        )
        .await;
    assert_eq!(stripe.problem(422, "invalid_field")["field"], "method");
    // Writing off an open invoice ends it.
    let off = app
        .call("POST", &format!("/v1/invoices/{id2}/write-off"), t, None)
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.body["status"], "written_off");
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 2);
}

#[tokio::test]
async fn bad_payments_and_lines_are_refused_naming_the_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let inv = b.issued(&app).await;
    let id = inv["invoice_id"].as_str().unwrap();
    let before = app.count("select count(*) from invoicing.invoice").await;
    let cases = [
        (
            json!([{"tariff_id": b.tariff_id, "service_date": "2026-03-02", "quantity": "-1"}]),
            "lines[0].quantity",
        ),
        (
            json!([{"tariff_id": b.tariff_id, "service_date": "2026-03-02", "quantity": "0"}]),
            "lines[0].quantity",
        ),
        (
            json!([b.tariff_line("1"), {"code": "X", "label": "X", "unit_price": "1.005", "service_date": "2026-03-02"}]),
            "lines[1].unit_price",
        ),
        (
            json!([{"code": "X", "label": "X", "service_date": "2026-03-02"}]),
            "lines[0].unit_price",
        ),
        (
            json!([{"tariff_id": b.tariff_id, "code": "X", "service_date": "2026-03-02"}]),
            "lines[0].tariff_id",
        ),
        (
            json!([{"code": "X", "label": "X", "unit_price": "1", "vat_rate": "21", "service_date": "2026-03-02"}]),
            "lines[0].vat_rate",
        ),
        // The tariff applies from 2020 on.
        (
            json!([{"tariff_id": b.tariff_id, "service_date": "2019-12-31"}]),
            "lines[0].service_date",
        ),
    ];
    for (lines, field) in cases {
        let r = b.try_draft(&app, lines.clone()).await;
        assert_eq!(r.status, 422, "{lines}: {}", r.text);
        assert_eq!(r.body["field"], field, "{lines}: {}", r.text);
        assert!(
            !r.text.contains("1.005"),
            "the value is not echoed: {}",
            r.text
        );
    }
    let unknown = b
        .try_draft(&app, json!([b.tariff_line("1"), {"tariff_id": uuid::Uuid::now_v7(), "service_date": "2026-03-02"}]))
        .await;
    assert_eq!(
        unknown.problem(404, "tariff_not_found")["field"],
        "lines[1].tariff_id"
    );
    let payments = [
        (json!({"method": "cash", "amount": "-5"}), "amount"),
        (json!({"method": "cash", "amount": "0"}), "amount"),
        (json!({"method": "cash", "amount": "5.001"}), "amount"),
        (json!({"method": "cheque", "amount": "5"}), "method"),
        (
            json!({"method": "cash", "amount": "5", "received_on": "2999-01-01"}),
            "received_on",
        ),
    ];
    for (body, field) in payments {
        let r = app
            .call(
                "POST",
                &format!("/v1/invoices/{id}/payments"),
                t,
                Some(&body),
            )
            .await;
        assert!(r.status == 422 || r.status == 400, "{body}: {}", r.text);
        assert_eq!(r.body["field"], field, "{body}: {}", r.text);
    }
    assert_eq!(
        app.count("select count(*) from invoicing.invoice").await,
        before
    );
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 0);
    assert_eq!(
        app.count("select count(*) from invoicing.invoice_line")
            .await,
        1
    );
}

#[tokio::test]
async fn aged_receivables_sum_what_patients_owe_by_days_past_due() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let mut ids = Vec::new();
    // Payment terms 0, 30 and 120 days: 100 days on, they are 100 and 70 days overdue and not due.
    for terms in [0, 30, 120] {
        let mut s = billing::settings_body("BE");
        s["payment_terms_days"] = json!(terms);
        assert_eq!(
            app.call("PUT", "/v1/invoicing/settings", t, Some(&s))
                .await
                .status,
            200
        );
        ids.push(
            b.issued(&app).await["invoice_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // One of them partly paid, and a paid one that owes nothing.
    let r = app
        .call(
            "POST",
            &format!("/v1/invoices/{}/payments", ids[1]),
            t,
            Some(&json!({"method": "cash", "amount": "3.13"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let paid = b.issued(&app).await;
    let r = app
        .call(
            "POST",
            &format!(
                "/v1/invoices/{}/payments",
                paid["invoice_id"].as_str().unwrap()
            ),
            t,
            Some(&json!({"method": "cash", "amount": "8.13"})),
        )
        .await;
    assert_eq!(r.body["status"], "paid", "{}", r.text);
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(100);
    let report = app
        .call(
            "GET",
            &format!("/v1/invoicing/aged-receivables?as_of={day}"),
            t,
            None,
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    let buckets: Vec<(String, i64, String)> = report.body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["bucket"].as_str().unwrap().to_owned(),
                b["invoices"].as_i64().unwrap(),
                b["balance"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("not_due", 1, "8.13"),
        ("1-30", 0, "0.00"),
        ("31-60", 0, "0.00"),
        ("61-90", 1, "5.00"),
        ("over_90", 1, "8.13"),
    ];
    for (got, want) in buckets.iter().zip(want) {
        assert_eq!((got.0.as_str(), got.1, got.2.as_str()), want);
    }
    assert_eq!(report.body["balance"], "21.26");
    assert_eq!(report.body["invoices"], 3);
}
