//! The waitlist: freed slots offered in order, the first acceptance books, notice and horizon.

use super::*;

#[tokio::test]
async fn a_freed_slot_is_offered_in_order_and_the_first_acceptance_books_it() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    // The offers are sent at once whatever the time of day this test runs.
    seed::open_quiet_hours(&app.owner, c.admin.practice_id).await;
    let t = Some(c.admin.token.as_str());
    let day = future_date(15);
    let weekday = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .unwrap()
        .format("%u")
        .to_string()
        .parse::<i16>()
        .unwrap();
    let other_day = weekday % 7 + 1;
    let mut entries = Vec::new();
    for (i, prefs) in [
        json!({}),
        json!({"weekdays": [other_day]}),
        json!({"earliest_time": "13:00", "latest_time": "17:00"}),
        json!({}),
        json!({"practitioner_id": c.practitioner}),
        json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let patient = app
            .patient(&c.admin, patient_body(&format!("Wait{i}")))
            .await;
        let mut body = json!({"patient_id": patient, "appointment_type_id": c.type_id});
        body.as_object_mut()
            .unwrap()
            .extend(prefs.as_object().unwrap().clone());
        let e = app.call("POST", "/v1/waitlist", t, Some(&body)).await;
        assert_eq!(e.status, 201, "{}", e.text);
        entries.push(e.body["entry_id"].as_str().unwrap().to_owned());
    }
    let listed = app.call("GET", "/v1/waitlist", t, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 6);

    let booked = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &format!("{day}T10:00:00+01:00"))),
        )
        .await;
    let id = booked.body["appointment_id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/v1/appointments/{id}/cancel"),
        t,
        Some(&json!({"reason": "patient ill"})),
    )
    .await;
    app.drain(&["scheduling.slot-freed"]).await;

    let offers = |i: usize| {
        let app = &app;
        let e = entries[i].clone();
        async move {
            app.call("GET", &format!("/v1/waitlist/{e}/offers"), t, None)
                .await
                .body
                .as_array()
                .unwrap()
                .clone()
        }
    };
    // Offered in order of joining, to the first three that match: 0, 3 and 4.
    assert_eq!(offers(0).await.len(), 1);
    assert_eq!(offers(1).await.len(), 0, "other weekday");
    assert_eq!(offers(2).await.len(), 0, "afternoon only");
    assert_eq!(offers(3).await.len(), 1);
    assert_eq!(offers(4).await.len(), 1);
    assert_eq!(offers(5).await.len(), 0, "three offers per slot");
    assert_eq!(
        app.count(
            "select count(*) from apalis.jobs where job_type = 'notifications.request-message'"
        )
        .await,
        3
    );
    // Notifications turns each request into one message to its patient (these patients have
    // no mobile number: recorded as skipped, never silently dropped).
    app.drain(&["notifications.request-message", "notifications.send"])
        .await;
    assert_eq!(
        app.count("select count(*) from notifications.message where kind = 'waitlist_offer' and reason = 'no_mobile_number'")
            .await,
        3
    );
    let offer = |o: &Vec<Value>| o[0]["offer_id"].as_str().unwrap().to_owned();
    let (o0, o3, o4) = (
        offer(&offers(0).await),
        offer(&offers(3).await),
        offer(&offers(4).await),
    );
    // An offer that lapsed cannot be accepted.
    sqlx::query("update scheduling.waitlist_offer set expires_at = now() - interval '1 second' where offer_id = $1")
        .bind(o4.parse::<uuid::Uuid>().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    app.call("POST", &format!("/v1/waitlist/offers/{o4}/accept"), t, None)
        .await
        .problem(409, "offer_expired");
    // The first acceptance books; the next one is too late.
    let won = app
        .call("POST", &format!("/v1/waitlist/offers/{o3}/accept"), t, None)
        .await;
    assert_eq!(won.status, 201, "{}", won.text);
    assert!(
        won.body["starts_at"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{day}T10:00"))
    );
    app.call("POST", &format!("/v1/waitlist/offers/{o0}/accept"), t, None)
        .await
        .problem(409, "offer_not_open");
    let waiting = app.call("GET", "/v1/waitlist", t, None).await;
    assert_eq!(
        waiting.body.as_array().unwrap().len(),
        5,
        "the booked entry left the list"
    );
    app.call("DELETE", &format!("/v1/waitlist/{}", entries[5]), t, None)
        .await;
    assert_eq!(
        app.call("GET", "/v1/waitlist", t, None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let r = app.call("POST", "/v1/waitlist", t, Some(&json!({"patient_id": c.patient, "appointment_type_id": c.type_id, "weekdays": [9]}))).await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "weekdays");
}

#[tokio::test]
async fn minimum_notice_and_horizon_bound_the_offer_and_no_shows_release_the_rest() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("00:00", "23:45")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let defaults = app.call("GET", "/v1/scheduling/settings", t, None).await;
    assert_eq!(
        defaults.body,
        json!({"slot_step_minutes": 15, "min_notice_minutes": 0, "horizon_days": 365, "hold_minutes": 5})
    );
    let set = json!({"slot_step_minutes": 30, "min_notice_minutes": 3 * 24 * 60, "horizon_days": 10, "hold_minutes": 5});
    assert_eq!(
        app.call("PUT", "/v1/scheduling/settings", t, Some(&set))
            .await
            .status,
        200
    );
    let (d1, d5, d20) = (future_date(1), future_date(5), future_date(20));
    assert!(
        slots(&app, &c, &d1, &d1).await.is_empty(),
        "inside the minimum notice"
    );
    let day5 = slots(&app, &c, &d5, &d5).await;
    assert_eq!(day5.len(), 47, "30-minute grid over 00:00-23:45");
    assert!(
        day5.iter()
            .all(|s| s[14..16] == *"00" || s[14..16] == *"30"),
        "{day5:?}"
    );
    assert!(
        slots(&app, &c, &d20, &d20).await.is_empty(),
        "beyond the horizon"
    );
    let mut bad = set.clone();
    bad["slot_step_minutes"] = json!(3);
    assert_eq!(
        app.call("PUT", "/v1/scheduling/settings", t, Some(&bad))
            .await
            .problem(422, "invalid_field")["field"],
        "slot_step_minutes"
    );

    // A no-show 5 minutes in gives the rest of its time back to the waitlist.
    let b = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &format!("{d5}T10:00:00+01:00"))),
        )
        .await;
    let id: uuid::Uuid = b.body["appointment_id"].as_str().unwrap().parse().unwrap();
    sqlx::query("update scheduling.appointment set starts_at = now() - interval '5 minutes', ends_at = now() + interval '25 minutes', blocked = tstzrange(now() - interval '5 minutes', now() + interval '25 minutes') where appointment_id = $1")
        .bind(id)
        .execute(&app.owner)
        .await
        .unwrap();
    let r = app
        .call("POST", &format!("/v1/appointments/{id}/no-show"), t, None)
        .await;
    assert_eq!(r.body["status"], "no_show", "{}", r.text);
    let freed: Vec<String> = sqlx::query_scalar("select convert_from(job, 'UTF8') from apalis.jobs where job_type = 'scheduling.slot-freed'")
        .fetch_all(&app.owner)
        .await
        .unwrap();
    assert_eq!(freed.len(), 1);
    let job: Value = serde_json::from_str(&freed[0]).unwrap();
    let starts: chrono::DateTime<chrono::Utc> = job["starts_at"].as_str().unwrap().parse().unwrap();
    let ahead = (starts - chrono::Utc::now()).num_seconds();
    assert!(
        (0..=300).contains(&ahead),
        "released from the next 5-minute mark: {job}"
    );
}
