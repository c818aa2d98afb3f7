//! Bad input and other practices' ids, across every scheduling resource.

use super::*;

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
