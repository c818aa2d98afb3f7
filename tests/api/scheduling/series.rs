//! Series: local time across DST, every conflict reported, moved and cancelled together, and
//! the freed times offered to the waitlist.

use super::*;

#[tokio::test]
async fn series_keep_local_time_report_every_conflict_and_move_together() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "20:00")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    // Nine weekly sessions at 18:30 across the next autumn change.
    let au = next_change(10, 25);
    let first = &format!("{}T18:30:00+02:00", plus_days(&au, -21));
    // Someone already has the fourth occurrence's time.
    let blocker = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &format!("{au}T18:30:00+01:00"))),
        )
        .await;
    assert_eq!(blocker.status, 201, "{}", blocker.text);
    let blocker_id = blocker.body["appointment_id"].as_str().unwrap().to_owned();
    let before = app
        .count("select count(*) from scheduling.appointment")
        .await;
    let refused = app
        .call(
            "POST",
            "/v1/appointment-series",
            t,
            Some(&series_body(&c, first, 9)),
        )
        .await;
    let body = refused.problem(409, "series_conflicts");
    let occ = body["occurrences"].as_array().unwrap();
    assert_eq!(occ.len(), 9);
    assert_eq!(occ[3]["problem"], "conflict");
    assert_eq!(occ[3]["conflicting_appointment_id"], blocker_id.as_str());
    assert!(
        occ.iter()
            .enumerate()
            .all(|(i, o)| i == 3 || o["problem"].is_null()),
        "{occ:?}"
    );
    assert_eq!(
        app.count("select count(*) from scheduling.appointment")
            .await,
        before,
        "nothing written"
    );
    assert_eq!(
        app.count("select count(*) from scheduling.appointment_series")
            .await,
        0
    );
    // A dry run reports the same without a 409; after the blocker is cancelled the series books.
    let mut dry = series_body(&c, first, 9);
    dry["dry_run"] = json!(true);
    let d = app
        .call("POST", "/v1/appointment-series", t, Some(&dry))
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    app.call(
        "POST",
        &format!("/v1/appointments/{blocker_id}/cancel"),
        t,
        Some(&json!({"reason": "moved"})),
    )
    .await;
    let s = app
        .call(
            "POST",
            "/v1/appointment-series",
            t,
            Some(&series_body(&c, first, 9)),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    let series_id = s.body["series_id"].as_str().unwrap().to_owned();
    let appts = s.body["appointments"].as_array().unwrap();
    let starts: Vec<&str> = appts
        .iter()
        .map(|a| a["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(starts.len(), 9);
    for (k, st) in starts.iter().enumerate() {
        assert_eq!(
            &st[11..19],
            "18:30:00",
            "occurrence {k} keeps 18:30 local: {st}"
        );
        assert_eq!(&st[19..], if k < 3 { "+02:00" } else { "+01:00" }, "{st}");
    }
    assert_eq!(
        app.count(
            "select count(*) from apalis.jobs where job_type = 'notifications.appointment-changed'"
        )
        .await,
        2 + 9,
        "the blocker booked and cancelled, nine occurrences booked"
    );

    // This and following: move occurrence 4 on by an hour, then cancel from occurrence 6.
    let fourth = appts[4]["appointment_id"].as_str().unwrap();
    let moved = app
        .call(
            "POST",
            &format!("/v1/appointment-series/{series_id}/reschedule"),
            t,
            Some(&json!({"from_appointment_id": fourth, "starts_at": format!("{}T19:30:00+01:00", plus_days(&au, 7))})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let moved_starts: Vec<&str> = moved
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["starts_at"].as_str().unwrap()[11..16])
        .collect();
    assert_eq!(moved_starts, vec!["19:30"; 5]);
    let sixth = appts[6]["appointment_id"].as_str().unwrap();
    let cancelled = app
        .call(
            "POST",
            &format!("/v1/appointment-series/{series_id}/cancel"),
            t,
            Some(&json!({"from_appointment_id": sixth, "reason": "treatment ended early"})),
        )
        .await;
    assert_eq!(
        cancelled.body.as_array().unwrap().len(),
        3,
        "{}",
        cancelled.text
    );
    let booked: Vec<(String,)> = sqlx::query_as(
        "select to_char(starts_at at time zone 'Europe/Brussels', 'HH24:MI') from scheduling.appointment where series_id = $1 and status = 'booked' order by starts_at",
    )
    .bind(series_id.parse::<uuid::Uuid>().unwrap())
    .fetch_all(&app.owner)
    .await
    .unwrap();
    let booked: Vec<&str> = booked.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(
        booked,
        vec!["18:30", "18:30", "18:30", "18:30", "19:30", "19:30"]
    );
    // Bad input.
    let r = app
        .call(
            "POST",
            "/v1/appointment-series",
            t,
            Some(&series_body(&c, first, 1)),
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "occurrences");
    app.call(
        "POST",
        &format!("/v1/appointment-series/{}/cancel", uuid::Uuid::now_v7()),
        t,
        Some(&json!({"from_appointment_id": sixth, "reason": "x"})),
    )
    .await
    .problem(404, "series_not_found");
}

#[tokio::test]
async fn a_series_meeting_the_spring_gap_is_refused_per_occurrence() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("00:00", "06:00")])
        .build()
        .await;
    let r = app
        .call(
            "POST",
            "/v1/appointment-series",
            Some(&c.admin.token),
            Some(&series_body(
                &c,
                &format!("{}T02:30:00+01:00", plus_days(&next_change(3, 10), -7)),
                3,
            )),
        )
        .await;
    let occ = r.problem(409, "series_conflicts")["occurrences"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(occ[1]["problem"], "nonexistent_local_time");
    assert_eq!(
        occ[1]["local_time"],
        format!("{}T02:30", next_change(3, 10)).as_str()
    );
    assert!(occ[1]["starts_at"].is_null());
    assert!(occ[0]["problem"].is_null() && occ[2]["problem"].is_null());
}

#[tokio::test]
async fn cancelling_a_series_offers_each_freed_slot_to_the_waitlist_like_a_single_cancel() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    seed::open_quiet_hours(&app.owner, c.admin.practice_id).await;
    let t = Some(c.admin.token.as_str());
    let entry = app.waiting_patient(&c.admin, &c.type_id).await;
    let first = format!("{}T10:00:00+01:00", future_date(15));
    let s = app
        .call(
            "POST",
            "/v1/appointment-series",
            t,
            Some(&series_body(&c, &first, 3)),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    let series = s.body["series_id"].as_str().unwrap().to_owned();
    let second = s.body["appointments"][1]["appointment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            "POST",
            &format!("/v1/appointment-series/{series}/cancel"),
            t,
            Some(&json!({"from_appointment_id": second, "reason": "moving away"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    // Two occurrences cancelled, two slots freed, as two single cancels would.
    assert_eq!(
        app.count("select count(*) from apalis.jobs where job_type = 'scheduling.slot-freed'")
            .await,
        2
    );
    app.drain(&["scheduling.slot-freed"]).await;
    assert!(
        !app.offers(&c.admin, &entry).await.is_empty(),
        "the waiting patient is offered a freed slot"
    );
}

#[tokio::test]
async fn moving_a_series_offers_each_time_it_leaves_to_the_waitlist_like_a_single_reschedule() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    seed::open_quiet_hours(&app.owner, c.admin.practice_id).await;
    let t = Some(c.admin.token.as_str());
    let entry = app.waiting_patient(&c.admin, &c.type_id).await;
    let day = future_date(15);
    let s = app
        .call(
            "POST",
            "/v1/appointment-series",
            t,
            Some(&series_body(&c, &format!("{day}T10:00:00+01:00"), 3)),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    let series = s.body["series_id"].as_str().unwrap().to_owned();
    let first = s.body["appointments"][0]["appointment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            "POST",
            &format!("/v1/appointment-series/{series}/reschedule"),
            t,
            Some(&json!({"from_appointment_id": first, "starts_at": format!("{day}T14:00:00+01:00")})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 3);
    // Three occurrences moved, three times given up, as three single reschedules would.
    assert_eq!(
        app.count("select count(*) from apalis.jobs where job_type = 'scheduling.slot-freed'")
            .await,
        3
    );
    app.drain(&["scheduling.slot-freed"]).await;
    let offers = app.offers(&c.admin, &entry).await;
    assert!(
        offers.iter().any(|o| o["starts_at"]
            .as_str()
            .unwrap()
            .ends_with("T10:00:00+01:00")),
        "the 10:00 time the series left is offered: {offers:?}"
    );
}
