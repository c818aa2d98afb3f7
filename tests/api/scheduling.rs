//! Scheduling over HTTP: one winner per slot under contention, DST-correct slots, holds,
//! deliberate overlaps, transitions, availability rules and bad input.

use praxis_tests::*;
use serde_json::{Value, json};

fn booking(c: &Clinic, starts_at: &str) -> Value {
    json!({"patient_id": c.patient, "practitioner_id": c.practitioner, "appointment_type_id": c.type_id, "starts_at": starts_at})
}

/// The next last Sunday of `month` (a Brussels DST change) at least `min_days` ahead, as
/// YYYY-MM-DD: tests that need a change keep working as the calendar moves on.
fn next_change(month: u32, min_days: i64) -> String {
    use chrono::Datelike;
    let earliest = chrono::Utc::now().date_naive() + chrono::Duration::days(min_days);
    (earliest.year()..=earliest.year() + 1)
        .map(|y| {
            let first_next = if month == 12 {
                chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(y, month + 1, 1)
            }
            .unwrap();
            let mut d = first_next - chrono::Duration::days(1);
            while d.weekday() != chrono::Weekday::Sun {
                d -= chrono::Duration::days(1);
            }
            d
        })
        .find(|d| *d >= earliest)
        .unwrap()
        .to_string()
}

/// `date` plus `days`, as YYYY-MM-DD.
fn plus_days(date: &str, days: i64) -> String {
    (chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap() + chrono::Duration::days(days))
        .to_string()
}

/// A local date some weeks ahead, as YYYY-MM-DD.
fn future_date(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .to_string()
}

#[tokio::test]
async fn a_thousand_attempts_on_one_slot_give_one_booking() {
    let app = std::sync::Arc::new(spawn_app().await);
    let c = std::sync::Arc::new(
        Clinic::builder(&app)
            .hours(&[("08:00", "18:00")])
            .build()
            .await,
    );
    let starts_at = format!("{}T10:00:00+01:00", future_date(20));
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (app, c, attempts, starts_at) =
            (app.clone(), c.clone(), attempts.clone(), starts_at.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            while attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 1000 {
                let r = app
                    .call(
                        "POST",
                        "/v1/appointments",
                        Some(&c.admin.token),
                        Some(&booking(&c, &starts_at)),
                    )
                    .await;
                out.push((r.status.as_u16(), r.body));
            }
            out
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.unwrap());
    }
    assert_eq!(results.len(), 1000);
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one booking");
    let winner = winners[0]["appointment_id"].as_str().unwrap();
    for (status, body) in &results {
        if *status != 201 {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["code"], "appointment_conflict");
            assert_eq!(body["conflicting_appointment_id"], winner, "{body}");
        }
    }
    let overlapping = app
        .count(
            "select count(*) from scheduling.appointment a join scheduling.appointment b
               on a.practitioner_id = b.practitioner_id and a.appointment_id < b.appointment_id and a.blocked && b.blocked
            where a.status in ('held', 'booked') and b.status in ('held', 'booked')",
        )
        .await;
    assert_eq!(overlapping, 0);
    assert_eq!(
        app.count("select count(*) from scheduling.appointment")
            .await,
        1
    );
}

async fn slots(app: &TestApp, c: &Clinic, from: &str, to: &str) -> Vec<String> {
    let r = app
        .call(
            "GET",
            &format!(
                "/v1/availability?appointment_type_id={}&practitioner_ids={}&from={from}&to={to}",
                c.type_id, c.practitioner
            ),
            Some(&c.admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn slots_across_dst_changes_keep_the_wall_clock_and_skip_the_gap() {
    let app = spawn_app().await;
    // A night service 00:00-06:00 and a morning 09:00-10:00, every day.
    let c = Clinic::builder(&app)
        .hours(&[("00:00", "06:00"), ("09:00", "10:00")])
        .build()
        .await;
    let sp = next_change(3, 3);
    let au = next_change(10, 3);
    let spring = slots(&app, &c, &sp, &sp).await;
    assert!(
        !spring.iter().any(|s| s.contains("T02:")),
        "no slot in the spring gap: {spring:?}"
    );
    assert!(
        spring.contains(&format!("{sp}T01:45:00+01:00")),
        "{spring:?}"
    );
    assert!(
        spring.contains(&format!("{sp}T03:00:00+02:00")),
        "{spring:?}"
    );
    assert!(
        spring.contains(&format!("{sp}T09:00:00+02:00")),
        "{spring:?}"
    );
    // 5 real night hours of 15-minute steps, 30-minute slots: 19; morning: 3.
    assert_eq!(spring.len(), 19 + 3, "{spring:?}");
    let autumn = slots(&app, &c, &au, &au).await;
    assert!(
        autumn.contains(&format!("{au}T02:30:00+02:00")),
        "{autumn:?}"
    );
    assert!(
        autumn.contains(&format!("{au}T02:30:00+01:00")),
        "{autumn:?}"
    );
    assert!(
        autumn.contains(&format!("{au}T09:00:00+01:00")),
        "{autumn:?}"
    );
    assert_eq!(autumn.len(), 27 + 3, "7 real night hours: {autumn:?}");
    // Both 02:30s can be booked: they are different instants.
    let first = app
        .call(
            "POST",
            "/v1/appointments",
            Some(&c.admin.token),
            Some(&booking(&c, &format!("{au}T02:30:00+02:00"))),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = app
        .call(
            "POST",
            "/v1/appointments",
            Some(&c.admin.token),
            Some(&booking(&c, &format!("{au}T02:30:00+01:00"))),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(
        second.body["starts_at"],
        format!("{au}T02:30:00+01:00").as_str()
    );
    assert_eq!(
        second.body["ends_at"],
        format!("{au}T03:00:00+01:00").as_str()
    );
    // A time in the spring gap does not exist on the practice's clock: 02:30+01:00 is 03:30+02:00.
    let gap = app
        .call(
            "POST",
            "/v1/appointments",
            Some(&c.admin.token),
            Some(&booking(&c, &format!("{sp}T02:30:00+01:00"))),
        )
        .await;
    assert_eq!(gap.status, 201, "{}", gap.text);
    assert_eq!(
        gap.body["starts_at"],
        format!("{sp}T03:30:00+02:00").as_str()
    );
}

#[tokio::test]
async fn availability_honours_buffers_rooms_absences_and_holidays() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("09:00", "17:00")])
        .buffers(10, 10)
        .needs_room(true)
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let day = future_date(30);
    // No room yet: nothing to offer.
    assert!(slots(&app, &c, &day, &day).await.is_empty());
    app.call("POST", "/v1/rooms", t, Some(&json!({"name": "Room 1"})))
        .await;
    let all = slots(&app, &c, &day, &day).await;
    let booked = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(
                &c,
                &all.iter().find(|s| s.contains("T10:00")).unwrap().clone(),
            )),
        )
        .await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert!(booked.body["room_id"].is_string(), "a room was chosen");
    let after = slots(&app, &c, &day, &day).await;
    let times: Vec<&str> = after.iter().map(|s| &s[11..16]).collect();
    // Existing 10:00-10:30 blocks 09:50-10:40; a new slot blocks 10 minutes either side, so
    // 09:15 (blocking until 09:55) and 10:45 (from 10:35) collide, 09:00 and 11:00 do not.
    for gone in [
        "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45",
    ] {
        assert!(!times.contains(&gone), "{gone} should be taken: {times:?}");
    }
    for free in ["09:00", "11:00"] {
        assert!(times.contains(&free), "{free} should be free: {times:?}");
    }
    // An absence from 14:00 to 15:00 removes the slots that touch it.
    let offset = &all[0][19..];
    let ex = app
        .call(
            "POST",
            &format!("/v1/practitioners/{}/exceptions", c.practitioner),
            t,
            Some(&json!({"kind": "absence", "starts_at": format!("{day}T14:00:00{offset}"), "ends_at": format!("{day}T15:00:00{offset}")})),
        )
        .await;
    assert_eq!(ex.status, 201, "{}", ex.text);
    let times: Vec<String> = slots(&app, &c, &day, &day)
        .await
        .iter()
        .map(|s| s[11..16].to_owned())
        .collect();
    for gone in ["13:45", "14:00", "14:30"] {
        assert!(!times.contains(&gone.to_owned()), "{gone}: {times:?}");
    }
    assert!(times.contains(&"15:00".to_owned()));
    // Public holidays close the practice: the next Ascension Day (Easter + 39) in Belgium.
    use chrono::Datelike;
    let soon = chrono::Utc::now().date_naive() + chrono::Duration::days(3);
    let (year, ascension) = (soon.year()..=soon.year() + 1)
        .map(|y| (y, domain::holidays::easter(y) + chrono::Duration::days(39)))
        .find(|(_, d)| *d >= soon)
        .unwrap();
    let (asc, after) = (
        ascension.to_string(),
        (ascension + chrono::Duration::days(1)).to_string(),
    );
    let h = app
        .call(
            "POST",
            "/v1/closures/holidays",
            t,
            Some(&json!({"year": year})),
        )
        .await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert!(slots(&app, &c, &asc, &asc).await.is_empty());
    assert!(!slots(&app, &c, &after, &after).await.is_empty());
    let again = app
        .call(
            "POST",
            "/v1/closures/holidays",
            t,
            Some(&json!({"year": year})),
        )
        .await;
    assert_eq!(
        again.body.as_array().unwrap().len(),
        h.body.as_array().unwrap().len(),
        "applying twice adds nothing"
    );
}

#[tokio::test]
async fn holds_overlaps_and_transitions() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let day = future_date(10);
    let at = |h: &str| format!("{day}T{h}:00+01:00");
    // A hold keeps the slot; a booking on it is refused.
    let hold = app
        .call("POST", "/v1/appointments/holds", t, Some(&json!({"practitioner_id": c.practitioner, "appointment_type_id": c.type_id, "starts_at": at("09:00")})))
        .await;
    assert_eq!(hold.status, 201, "{}", hold.text);
    assert_eq!(hold.body["status"], "held");
    let hold_id = hold.body["appointment_id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &at("09:15"))),
        )
        .await;
    assert_eq!(
        r.problem(409, "appointment_conflict")["conflicting_appointment_id"],
        hold_id.as_str()
    );
    let confirmed = app
        .call(
            "POST",
            &format!("/v1/appointments/{hold_id}/confirm"),
            t,
            Some(&json!({"patient_id": c.patient})),
        )
        .await;
    assert_eq!(confirmed.body["status"], "booked", "{}", confirmed.text);
    // A lapsed hold frees its slot by itself.
    let hold2 = app
        .call("POST", "/v1/appointments/holds", t, Some(&json!({"practitioner_id": c.practitioner, "appointment_type_id": c.type_id, "starts_at": at("11:00")})))
        .await;
    let hold2_id: uuid::Uuid = hold2.body["appointment_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    sqlx::query("update scheduling.appointment set hold_expires_at = now() - interval '1 second' where appointment_id = $1")
        .bind(hold2_id)
        .execute(&app.owner)
        .await
        .unwrap();
    let over = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &at("11:00"))),
        )
        .await;
    assert_eq!(over.status, 201, "{}", over.text);
    app.call(
        "POST",
        &format!("/v1/appointments/{hold2_id}/confirm"),
        t,
        Some(&json!({"patient_id": c.patient})),
    )
    .await
    .problem(409, "hold_not_active");

    // Deliberate overlap: not for receptionists; practitioners and admins with a reason, audited.
    let desk = app.staff(&c.admin, "receptionist").await;
    let mut ov = booking(&c, &at("09:00"));
    ov["overlap_reason"] = json!("short check between sessions");
    app.call("POST", "/v1/appointments", Some(&desk.token), Some(&ov))
        .await
        .problem(403, "forbidden");
    let overlap = app.call("POST", "/v1/appointments", t, Some(&ov)).await;
    assert_eq!(overlap.status, 201, "{}", overlap.text);
    assert_eq!(app.count("select count(*) from core.audit_event where event = 'schedule_override' and reason = 'overlap'").await, 1);
    // An ordinary booking still cannot land on the overlapping one.
    let third = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &at("09:20"))),
        )
        .await;
    third.problem(409, "appointment_conflict");

    // Transitions.
    let id = over.body["appointment_id"].as_str().unwrap();
    let moved = app
        .call(
            "POST",
            &format!("/v1/appointments/{id}/reschedule"),
            t,
            Some(&json!({"starts_at": at("13:00")})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["version"], 2);
    let clash = app
        .call(
            "POST",
            &format!("/v1/appointments/{id}/reschedule"),
            t,
            Some(&json!({"starts_at": at("09:00")})),
        )
        .await;
    clash.problem(409, "appointment_conflict");
    app.call("POST", &format!("/v1/appointments/{id}/complete"), t, None)
        .await
        .problem(409, "appointment_not_started");
    let cancelled = app
        .call(
            "POST",
            &format!("/v1/appointments/{id}/cancel"),
            t,
            Some(&json!({"reason": "patient ill"})),
        )
        .await;
    assert_eq!(cancelled.body["status"], "cancelled");
    app.call(
        "POST",
        &format!("/v1/appointments/{id}/cancel"),
        t,
        Some(&json!({"reason": "again"})),
    )
    .await
    .problem(409, "invalid_transition");
    // The freed slot can be booked again.
    assert_eq!(
        app.call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &at("13:00")))
        )
        .await
        .status,
        201
    );
    // Past appointments can be completed (set up directly: bookings in the past are refused).
    sqlx::query("update scheduling.appointment set starts_at = now() - interval '1 hour', ends_at = now() - interval '30 minutes', blocked = tstzrange(now() - interval '1 hour', now() - interval '30 minutes') where appointment_id = $1")
        .bind(hold_id.parse::<uuid::Uuid>().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    let done = app
        .call(
            "POST",
            &format!("/v1/appointments/{hold_id}/complete"),
            t,
            None,
        )
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
}

#[tokio::test]
async fn bad_scheduling_input_names_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("09:00", "17:00")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let day = future_date(10);
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut cases: Vec<(Value, u16, &str)> = Vec::new();
    let mut b = booking(&c, &format!("{day}T20:00:00+01:00"));
    cases.push((b.clone(), 422, "starts_at")); // outside working hours
    b["starts_at"] = json!("2020-01-06T10:00:00+01:00");
    cases.push((b.clone(), 422, "starts_at")); // in the past
    b = booking(&c, &format!("{day}T10:00:00+01:00"));
    b["appointment_type_id"] = json!(unknown);
    cases.push((b.clone(), 404, "appointment_type_id"));
    b = booking(&c, &format!("{day}T10:00:00+01:00"));
    b["practitioner_id"] = json!(unknown);
    cases.push((b.clone(), 404, "practitioner_id"));
    b = booking(&c, &format!("{day}T10:00:00+01:00"));
    b["patient_id"] = json!(unknown);
    cases.push((b.clone(), 404, "patient_id"));
    b = booking(&c, &format!("{day}T10:00:00+01:00"));
    b["starts_at"] = json!("tomorrow at ten");
    cases.push((b.clone(), 400, "starts_at"));
    for (body, status, field) in cases {
        let r = app.call("POST", "/v1/appointments", t, Some(&body)).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert_eq!(r.body["field"], field, "{body}: {}", r.text);
    }
    assert_eq!(
        app.count("select count(*) from scheduling.appointment")
            .await,
        0,
        "nothing written"
    );
    // End before start.
    let r = app
        .call("POST", "/v1/closures", t, Some(&json!({"starts_at": format!("{day}T12:00:00+01:00"), "ends_at": format!("{day}T10:00:00+01:00"), "reason": "x"})))
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "ends_at");
    let r = app
        .call(
            "PUT",
            &format!("/v1/practitioners/{}/working-hours", c.practitioner),
            t,
            Some(&json!({"periods": [{"weekday": 1, "starts": "12:00", "ends": "09:00"}]})),
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "periods[0].ends");
    let r = app
        .call(
            "PUT",
            &format!("/v1/practitioners/{}/working-hours", c.practitioner),
            t,
            Some(&json!({"periods": [{"weekday": 8, "starts": "09:00", "ends": "12:00"}]})),
        )
        .await;
    assert_eq!(
        r.problem(422, "invalid_field")["field"],
        "periods[0].weekday"
    );
    let r = app
        .call(
            "POST",
            "/v1/practitioners",
            t,
            Some(&json!({"display_name": "X", "riziv_number": "54263482527"})),
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "riziv_number");
    let r = app
        .call(
            "GET",
            &format!(
                "/v1/availability?appointment_type_id={}&from=2027-01-10&to=2027-01-01",
                c.type_id
            ),
            t,
            None,
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "to");
    let r = app
        .call("GET", &format!("/v1/appointments/{unknown}"), t, None)
        .await;
    assert_eq!(
        r.problem(404, "appointment_not_found")["field"],
        "appointment_id"
    );
    // Working hours stayed as they were.
    let w = app
        .call(
            "GET",
            &format!("/v1/practitioners/{}/working-hours", c.practitioner),
            t,
            None,
        )
        .await;
    assert_eq!(w.body["periods"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn another_practice_reaches_no_scheduling_object() {
    let app = spawn_app().await;
    let b = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    let a = app.practice_with_admin("A", "BE").await;
    let day = future_date(10);
    let appt = app
        .call(
            "POST",
            "/v1/appointments",
            Some(&b.admin.token),
            Some(&booking(&b, &format!("{day}T10:00:00+01:00"))),
        )
        .await;
    let id = appt.body["appointment_id"].as_str().unwrap().to_owned();
    let closure = app
        .call("POST", "/v1/closures", Some(&b.admin.token), Some(&json!({"starts_at": format!("{day}T12:00:00+01:00"), "ends_at": format!("{day}T13:00:00+01:00"), "reason": "x"})))
        .await;
    let closure_id = closure.body["closure_id"].as_str().unwrap().to_owned();
    let p = &b.practitioner;
    let before = app
        .count(
            "select count(*) from scheduling.appointment where status = 'booked' and version = 1",
        )
        .await;
    let at = format!("{day}T11:00:00+01:00");
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/v1/appointments/{id}"), None),
        (
            "POST",
            format!("/v1/appointments/{id}/cancel"),
            Some(json!({"reason": "x"})),
        ),
        (
            "POST",
            format!("/v1/appointments/{id}/reschedule"),
            Some(json!({"starts_at": at})),
        ),
        ("POST", format!("/v1/appointments/{id}/complete"), None),
        ("POST", format!("/v1/appointments/{id}/no-show"), None),
        (
            "POST",
            format!("/v1/appointments/{id}/confirm"),
            Some(json!({"patient_id": b.patient})),
        ),
        ("GET", format!("/v1/practitioners/{p}/working-hours"), None),
        (
            "PUT",
            format!("/v1/practitioners/{p}/working-hours"),
            Some(json!({"periods": []})),
        ),
        (
            "PATCH",
            format!("/v1/practitioners/{p}"),
            Some(json!({"active": false})),
        ),
        ("GET", format!("/v1/practitioners/{p}/exceptions"), None),
        (
            "POST",
            format!("/v1/practitioners/{p}/exceptions"),
            Some(
                json!({"kind": "absence", "starts_at": at, "ends_at": format!("{day}T12:00:00+01:00")}),
            ),
        ),
        ("DELETE", format!("/v1/closures/{closure_id}"), None),
        (
            "PATCH",
            format!("/v1/appointment-types/{}", b.type_id),
            Some(json!({"active": false})),
        ),
    ];
    for (method, path, body) in calls {
        let r = app.call(method, &path, Some(&a.token), body.as_ref()).await;
        assert_eq!(r.status.as_u16(), 404, "{method} {path}: {}", r.text);
    }
    // Booking with B's ids refers to nothing in A.
    let mut foreign = booking(&b, &format!("{day}T10:00:00+01:00"));
    foreign["practitioner_id"] = json!(p);
    let r = app
        .call("POST", "/v1/appointments", Some(&a.token), Some(&foreign))
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.text);
    let r = app
        .call(
            "GET",
            &format!(
                "/v1/availability?appointment_type_id={}&from={day}&to={day}",
                b.type_id
            ),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.text);
    assert_eq!(
        app.count(
            "select count(*) from scheduling.appointment where status = 'booked' and version = 1"
        )
        .await,
        before
    );
    assert_eq!(
        app.count("select count(*) from scheduling.working_hours")
            .await,
        7
    );
    assert_eq!(
        app.count("select count(*) from scheduling.closure").await,
        1
    );
}

#[tokio::test]
async fn reminders_of_moved_or_cancelled_appointments_do_nothing() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    // 09:00 the day after the next spring change: reminder at 09:00 local the day before.
    let sp = next_change(3, 3);
    let day_after = plus_days(&sp, 1);
    let a = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &format!("{day_after}T09:00:00+02:00"))),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a_id = a.body["appointment_id"].as_str().unwrap().to_owned();
    let day = future_date(10);
    let b = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &format!("{day}T10:00:00+01:00"))),
        )
        .await;
    let b_id = b.body["appointment_id"].as_str().unwrap().to_owned();
    let moved = app
        .call(
            "POST",
            &format!("/v1/appointments/{b_id}/reschedule"),
            t,
            Some(&json!({"starts_at": format!("{day}T11:00:00+01:00")})),
        )
        .await;
    assert_eq!(moved.body["version"], 2);
    let cx = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(&booking(&c, &format!("{day}T14:00:00+01:00"))),
        )
        .await;
    let c_id = cx.body["appointment_id"].as_str().unwrap().to_owned();
    app.call(
        "POST",
        &format!("/v1/appointments/{c_id}/cancel"),
        t,
        Some(&json!({"reason": "patient cancelled"})),
    )
    .await;
    // A refused booking enqueues nothing: the job commits with the booking or not at all.
    app.call(
        "POST",
        "/v1/appointments",
        t,
        Some(&booking(&c, &format!("{day}T11:15:00+01:00"))),
    )
    .await
    .problem(409, "appointment_conflict");
    assert_eq!(
        app.count(
            "select count(*) from apalis.jobs where job_type = 'notifications.appointment-changed'"
        )
        .await,
        5,
        "a booked; b booked and moved; c booked and cancelled"
    );

    // Run the real workers: notifications plans reminders from the events.
    app.drain(&["notifications.appointment-changed"]).await;
    // 09:00+02:00 the day after the spring change: reminder at 09:00 local the day before.
    let due: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "select due_at from notifications.message where appointment_id = $1 and state = 'scheduled'",
    )
    .bind(a_id.parse::<uuid::Uuid>().unwrap())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        due.to_rfc3339(),
        format!("{sp}T07:00:00+00:00"),
        "09:00+02:00 on the day of the change"
    );
    let b_msgs: Vec<(String, Option<String>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "select state, reason, starts_at from notifications.message where appointment_id = $1 order by created_at",
    )
    .bind(b_id.parse::<uuid::Uuid>().unwrap())
    .fetch_all(&app.owner)
    .await
    .unwrap();
    // Events may be applied in either order; either way the old time is never due.
    let scheduled: Vec<_> = b_msgs.iter().filter(|m| m.0 == "scheduled").collect();
    assert_eq!(scheduled.len(), 1, "{b_msgs:?}");
    assert_eq!(
        scheduled[0].2.to_rfc3339(),
        format!("{day}T10:00:00+00:00"),
        "the new time (11:00+01:00)"
    );
    assert!(
        b_msgs
            .iter()
            .all(|m| m.0 == "scheduled" || m.1.as_deref() == Some("rescheduled")),
        "{b_msgs:?}"
    );
    let c_states: Vec<(String, Option<String>)> =
        sqlx::query_as("select state, reason from notifications.message where appointment_id = $1")
            .bind(c_id.parse::<uuid::Uuid>().unwrap())
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert!(
        c_states.iter().all(|m| m
            == &(
                "cancelled".to_owned(),
                Some("appointment_cancelled".to_owned())
            )),
        "nothing due for the cancelled one: {c_states:?}"
    );

    // Completing an appointment asks invoicing for a draft.
    sqlx::query("update scheduling.appointment set starts_at = now() - interval '1 hour', ends_at = now() - interval '30 minutes', blocked = tstzrange(now() - interval '1 hour', now() - interval '30 minutes') where appointment_id = $1")
        .bind(b_id.parse::<uuid::Uuid>().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    let done = app
        .call(
            "POST",
            &format!("/v1/appointments/{b_id}/complete"),
            t,
            None,
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        app.count("select count(*) from apalis.jobs where job_type = 'invoicing.draft-invoice'")
            .await,
        1
    );
}

fn series_body(c: &Clinic, first: &str, n: i32) -> Value {
    json!({"patient_id": c.patient, "practitioner_id": c.practitioner, "appointment_type_id": c.type_id,
           "first_starts_at": first, "occurrences": n})
}

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
async fn agenda_and_history_show_patients_and_are_audited() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let other = app.patient(&c.admin, patient_body("Janssens")).await;
    let day = future_date(12);
    for (h, p) in [("09:00", c.patient), ("10:00", other), ("11:00", c.patient)] {
        let mut b = booking(&c, &format!("{day}T{h}:00+01:00"));
        b["patient_id"] = json!(p);
        assert_eq!(
            app.call("POST", "/v1/appointments", t, Some(&b))
                .await
                .status,
            201
        );
    }
    let desk = app.staff(&c.admin, "receptionist").await;
    let before = app
        .count("select count(*) from core.audit_event where reason = 'agenda'")
        .await;
    let agenda = app
        .call(
            "GET",
            &format!("/v1/agenda?date={day}&practitioner_id={}", c.practitioner),
            Some(&desk.token),
            None,
        )
        .await;
    assert_eq!(agenda.status, 200, "{}", agenda.text);
    let items = agenda.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["family_name"], "Janssens");
    assert!(
        !agenda.text.contains("clinical"),
        "no clinical text on the agenda"
    );
    assert_eq!(
        app.count("select count(*) from core.audit_event where reason = 'agenda'")
            .await,
        before + 2,
        "one row per patient shown"
    );
    let week = app
        .call("GET", &format!("/v1/agenda?date={day}&days=7"), t, None)
        .await;
    assert_eq!(week.body["items"].as_array().unwrap().len(), 3);
    app.call("GET", &format!("/v1/agenda?date={day}&days=9"), t, None)
        .await
        .problem(400, "invalid_parameter");
    // History, paged.
    let h = app
        .call(
            "GET",
            &format!("/v1/patients/{}/appointments?limit=1", c.patient),
            t,
            None,
        )
        .await;
    assert_eq!(h.body["items"].as_array().unwrap().len(), 1, "{}", h.text);
    let cursor = h.body["next_cursor"].as_str().unwrap();
    let h2 = app
        .call(
            "GET",
            &format!(
                "/v1/patients/{}/appointments?limit=1&cursor={cursor}",
                c.patient
            ),
            t,
            None,
        )
        .await;
    assert_eq!(h2.body["items"].as_array().unwrap().len(), 1);
    assert!(h2.body["next_cursor"].is_null());
    assert_ne!(
        h.body["items"][0]["appointment_id"],
        h2.body["items"][0]["appointment_id"]
    );
    app.call(
        "GET",
        &format!("/v1/patients/{}/appointments", uuid::Uuid::now_v7()),
        t,
        None,
    )
    .await
    .problem(404, "patient_not_found");
}

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

#[tokio::test]
async fn one_room_cannot_hold_two_appointments_at_once() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .needs_room(true)
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let room = app
        .call("POST", "/v1/rooms", t, Some(&json!({"name": "Room 1"})))
        .await
        .body["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p2 = app
        .call(
            "POST",
            "/v1/practitioners",
            t,
            Some(&json!({"display_name": "Second"})),
        )
        .await
        .body["practitioner_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let periods: Vec<Value> = (1..=7)
        .map(|d| json!({"weekday": d, "starts": "08:00", "ends": "18:00"}))
        .collect();
    app.call(
        "PUT",
        &format!("/v1/practitioners/{p2}/working-hours"),
        t,
        Some(&json!({"periods": periods})),
    )
    .await;
    let at = format!("{}T10:00:00+01:00", future_date(9));
    let first = app
        .call("POST", "/v1/appointments", t, Some(&booking(&c, &at)))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["room_id"], room.as_str());
    // The other practitioner is free, but the only room is not.
    let mut second = booking(&c, &at);
    second["practitioner_id"] = json!(p2);
    app.call("POST", "/v1/appointments", t, Some(&second))
        .await
        .problem(409, "no_room_free");
    second["room_id"] = json!(room);
    let r = app.call("POST", "/v1/appointments", t, Some(&second)).await;
    assert_eq!(
        r.problem(409, "appointment_conflict")["conflicting_appointment_id"],
        first.body["appointment_id"]
    );
    assert_eq!(
        app.count("select count(*) from scheduling.appointment")
            .await,
        1
    );
}

#[tokio::test]
async fn cancelling_a_hold_releases_its_slot() {
    let app = spawn_app().await;
    let c = Clinic::builder(&app)
        .hours(&[("08:00", "18:00")])
        .build()
        .await;
    let t = Some(c.admin.token.as_str());
    let at = format!("{}T09:00:00+01:00", future_date(12));
    let hold = app
        .call("POST", "/v1/appointments/holds", t, Some(&json!({"practitioner_id": c.practitioner, "appointment_type_id": c.type_id, "starts_at": at})))
        .await;
    assert_eq!(hold.status, 201, "{}", hold.text);
    let id = hold.body["appointment_id"].as_str().unwrap();
    let r = app
        .call(
            "POST",
            &format!("/v1/appointments/{id}/cancel"),
            t,
            Some(&json!({"reason": "patient changed their mind"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    // The slot is free again: a booking takes it.
    let b = app
        .call("POST", "/v1/appointments", t, Some(&booking(&c, &at)))
        .await;
    assert_eq!(b.status, 201, "{}", b.text);
    // A cancelled hold cannot be cancelled again.
    app.call(
        "POST",
        &format!("/v1/appointments/{id}/cancel"),
        t,
        Some(&json!({"reason": "again"})),
    )
    .await
    .problem(409, "invalid_transition");
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
