//! The staff API: rules, templates, settings, the practice's own provider account, and messages
//! requested by other services.

use super::*;

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
