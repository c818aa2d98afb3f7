//! Appointments: one winner per slot, holds, deliberate overlaps, transitions, and what a move
//! or cancel does to reminders.

use super::*;

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
