//! Sending: once, with the current time, delivered; lost answers, sends in doubt, retries, dead
//! messages, and a send load that reads only what it is asked for.

use super::*;

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
