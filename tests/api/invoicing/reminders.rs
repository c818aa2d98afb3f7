//! Payment reminders by SMS: overdue invoices get one on each of the practice's reminder days,
//! once, with a fresh payment link, through notifications; paid invoices get none; the invoice
//! shows its dunning history.

use praxis_tests::billing::{Billing, settings_body};
use praxis_tests::spawn_app_with;
use serde_json::json;

async fn overdue(app: &praxis_tests::TestApp, id: &str, days: i32) {
    // Issued invoices are final even for the owner's role (a trigger); the test moves time by
    // moving the due date with triggers off for this one statement.
    let mut tx = app.owner.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "update invoicing.invoice set due_date = current_date - $2 where invoice_id = $1::uuid",
    )
    .bind(id)
    .bind(days)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn overdue_invoices_get_each_reminder_once_until_paid() {
    let app = spawn_app_with(&[("PUBLIC_URL", "{base}")]).await;
    let b = Billing::setup(&app).await;
    let mut s = settings_body("BE");
    s["reminder_days"] = json!([1, 3]);
    let r = app
        .call("PUT", "/v1/invoicing/settings", b.token(), Some(&s))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["reminder_days"], json!([1, 3]));
    // Days out of order or out of range: 422 naming the field.
    for bad in [
        json!([3, 1]),
        json!([0]),
        json!([1, 2, 3, 4, 5, 6, 7]),
        json!([121]),
    ] {
        s["reminder_days"] = bad;
        let r = app
            .call("PUT", "/v1/invoicing/settings", b.token(), Some(&s))
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["field"], "reminder_days");
    }
    let late = b.issued(&app).await;
    let on_time = b.issued(&app).await;
    let paid = b.issued(&app).await;
    let late_id = late["invoice_id"].as_str().unwrap();
    overdue(&app, late_id, 5).await;
    overdue(&app, paid["invoice_id"].as_str().unwrap(), 5).await;
    let r = app
        .call(
            "POST",
            &format!(
                "/v1/invoices/{}/payments",
                paid["invoice_id"].as_str().unwrap()
            ),
            b.token(),
            Some(&json!({"method": "cash", "amount": "8.13"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let practice = domain::PracticeId::from_uuid(b.clinic.admin.practice_id);
    let sweep = || invoicing::reminders::sweep_practice(&app.state, practice, 100);
    // Five days late, days 1 and 3 both passed: the first reminder now, not both.
    assert_eq!(sweep().await.unwrap(), 1);
    assert_eq!(sweep().await.unwrap(), 0, "each reminder once");
    // The second comes once the practice's interval (two days) has passed since the first.
    sqlx::query("update invoicing.reminder set created_at = created_at - interval '2 days'")
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(sweep().await.unwrap(), 1);
    sqlx::query("update invoicing.reminder set created_at = created_at - interval '30 days'")
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(sweep().await.unwrap(), 0, "no more reminder days");
    // Notifications writes the messages, each with its own payment link.
    app.drain(&[domain::jobs::REQUEST_MESSAGE]).await;
    let links: Vec<String> = sqlx::query_scalar(
        "select link from notifications.message where kind = 'payment_reminder' order by created_at",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(links.len(), 2);
    assert_ne!(links[0], links[1]);
    for l in &links {
        assert!(l.starts_with(&format!("{}/p/", app.base)), "{l}");
        let page = app.client.get(l).send().await.unwrap();
        assert_eq!(page.status(), 200);
    }
    // The dunning history on the invoice; none on the others.
    let v = app
        .call("GET", &format!("/v1/invoices/{late_id}"), b.token(), None)
        .await;
    let reminders = v.body["reminders"].as_array().unwrap();
    assert_eq!(
        reminders
            .iter()
            .map(|r| r["ordinal"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        reminders
            .iter()
            .all(|r| r["message_id"].is_string() && r["message_state"].is_string()),
        "{reminders:?}"
    );
    for other in [&on_time, &paid] {
        let v = app
            .call(
                "GET",
                &format!("/v1/invoices/{}", other["invoice_id"].as_str().unwrap()),
                b.token(),
                None,
            )
            .await;
        assert_eq!(v.body["reminders"], json!([]));
    }
    assert_eq!(
        app.count("select count(*) from invoicing.reminder").await,
        2
    );
}
