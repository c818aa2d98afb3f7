//! Patient replies: confirm, cancel, keep and stop, and what they do in the agenda.

use super::*;

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
