//! Provider callbacks: delivery reports (single, multi-part, bulk) and bad callbacks.

use super::*;

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
