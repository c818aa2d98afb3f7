//! Numbers are consecutive per practice, series and year, with no gaps under concurrency and
//! rollback; the database refuses any change to an issued invoice for the application role.

use chrono::Datelike;
use domain::PracticeId;
use domain::invoice::InvoiceKind;
use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn a_hundred_concurrent_issues_get_exactly_one_to_a_hundred_and_rollbacks_leave_no_gap() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let mut drafts = Vec::new();
    for _ in 0..100 {
        let d = b.draft(&app, json!([b.tariff_line("1")])).await;
        drafts.push(d["invoice_id"].as_str().unwrap().to_owned());
    }
    // Some drafts that cannot be issued (empty) race with them and take no number.
    for _ in 0..10 {
        let d = b.draft(&app, json!([])).await;
        drafts.push(d["invoice_id"].as_str().unwrap().to_owned());
    }
    let practice = PracticeId::from_uuid(b.clinic.admin.practice_id);
    let year = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Brussels)
        .year();
    let mut tasks = tokio::task::JoinSet::new();
    for id in drafts {
        let (client, base, token) = (
            app.client.clone(),
            app.base.clone(),
            b.clinic.admin.token.clone(),
        );
        tasks.spawn(async move {
            let r = client
                .post(format!("{base}/v1/invoices/{id}/issue"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body)
        });
    }
    // Meanwhile, issuing transactions that take a number and then roll back (a failure after
    // numbering), as the application role.
    for _ in 0..10 {
        let mut tx = app.state.db().tenant(practice).await.unwrap();
        let n = invoicing::numbering::next(&mut tx, practice, InvoiceKind::Invoice, year)
            .await
            .unwrap();
        assert!(n >= 1);
        tx.rollback().await.unwrap();
    }
    let mut numbers = Vec::new();
    let mut refused = 0;
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        match status {
            200 => numbers.push(body["number"].as_str().unwrap().to_owned()),
            422 => refused += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(refused, 10);
    numbers.sort();
    let want: Vec<String> = (1..=100).map(|n| format!("{year}-{n:06}")).collect();
    assert_eq!(numbers, want);
    // The next one continues the series.
    let next = b.issued(&app).await;
    assert_eq!(next["number"], format!("{year}-000101"));
}

#[tokio::test]
async fn the_application_role_cannot_change_an_issued_invoice_by_sql() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let inv = b.issued(&app).await;
    let draft = b.draft(&app, json!([b.tariff_line("1")])).await;
    let id: uuid::Uuid = inv["invoice_id"].as_str().unwrap().parse().unwrap();
    let draft_id: uuid::Uuid = draft["invoice_id"].as_str().unwrap().parse().unwrap();
    let practice = PracticeId::from_uuid(b.clinic.admin.practice_id);
    let attempts = [
        "update invoicing.invoice set total = 0, net_total = 0, patient_total = 0, insurer_total = 0 where invoice_id = $1",
        "update invoicing.invoice set patient_id = patient_id, number = 'X-1' where invoice_id = $1",
        "update invoicing.invoice set status = 'draft', number = null, number_seq = null, issue_date = null where invoice_id = $1",
        "update invoicing.invoice set due_date = due_date + 30 where invoice_id = $1",
        "delete from invoicing.invoice where invoice_id = $1",
        "update invoicing.invoice_line set label = 'changed' where invoice_id = $1",
        "update invoicing.invoice_line set unit_price = 0, net_amount = 0, insurer_share = 0, patient_share = 0 where invoice_id = $1",
        "delete from invoicing.invoice_line where invoice_id = $1",
        "insert into invoicing.invoice_line (practice_id, invoice_id, line_no, code, label, service_date, quantity, unit_price, net_amount, vat_category, vat_rate, vat_amount, insurer_share, patient_share)
         select practice_id, invoice_id, 9, 'X', 'X', current_date, 1, 1, 1, 'E', 0, 0, 0, 1 from invoicing.invoice where invoice_id = $1",
        "update invoicing.invoice_line set invoice_id = $1 where invoice_id = $2",
    ];
    for sql in attempts {
        let mut tx = app.state.db().tenant(practice).await.unwrap();
        // Every statement takes both ids ($2 unused but typed), so each binds what it declares.
        let sql = format!("with ids as (select $2::uuid as other) {sql}");
        let err = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .bind(draft_id)
            .execute(&mut *tx)
            .await
            .expect_err(&sql);
        assert!(
            err.to_string().contains("is issued")
                || err.to_string().contains("stays on its invoice"),
            "{sql}: {err}"
        );
        tx.rollback().await.unwrap();
    }
    // Only the payment state moves (what the change path does).
    let mut tx = app.state.db().tenant(practice).await.unwrap();
    sqlx::query("update invoicing.invoice set paid = 1.00, status = 'partially_paid', version = version + 1 where invoice_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    // A draft's lines still change.
    let mut tx = app.state.db().tenant(practice).await.unwrap();
    sqlx::query("update invoicing.invoice_line set label = 'changed' where invoice_id = $1")
        .bind(draft_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let read = app
        .call("GET", &format!("/v1/invoices/{id}"), b.token(), None)
        .await;
    assert_eq!(read.body["total"], inv["total"]);
    assert_eq!(read.body["lines"], inv["lines"]);
}

#[tokio::test]
async fn series_are_per_practice_and_numbers_follow_the_settings() {
    let app = spawn_app().await;
    let a = Billing::setup(&app).await;
    let b = Billing::setup_in(&app, "NL").await;
    let mut nl = billing::settings_body("NL");
    nl["invoice_prefix"] = json!("F");
    nl["number_digits"] = json!(4);
    let s = app
        .call("PUT", "/v1/invoicing/settings", b.token(), Some(&nl))
        .await;
    assert_eq!(s.status, 200, "{}", s.text);
    let first_a = a.issued(&app).await;
    let first_b = b.issued(&app).await;
    let year = &first_a["issue_date"].as_str().unwrap()[..4];
    assert_eq!(first_a["number"], format!("{year}-000001"));
    assert_eq!(first_b["number"], format!("F{year}-0001"));
    // Dutch invoices carry their number as the payment reference.
    assert_eq!(first_b["payment_reference"], first_b["number"]);
    assert_eq!(a.issued(&app).await["number"], format!("{year}-000002"));
}
