//! The agenda and a patient's history: what they show, and the audit rows of reading them.

use super::*;

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
