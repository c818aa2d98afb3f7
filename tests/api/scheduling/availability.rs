//! Availability: DST-correct slots, buffers, rooms, absences and holidays.

use super::*;
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
