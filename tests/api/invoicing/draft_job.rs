//! The invoice of a completed appointment is drafted by the `invoicing.draft-invoice` job, once.

use chrono::TimeZone;
use domain::jobs::{DRAFT_INVOICE, DraftInvoice};
use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

/// Books the clinic's patient ten days ahead, moves the booking into the past (bookings in the
/// past are refused) and completes it; answers the appointment id.
async fn completed_appointment(app: &TestApp, b: &Billing) -> String {
    let t = b.token();
    let day = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    let at = chrono_tz::Europe::Brussels
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .single()
        .unwrap()
        .to_rfc3339();
    let c = &b.clinic;
    let booked = app
        .call(
            "POST",
            "/v1/appointments",
            t,
            Some(
                &json!({"patient_id": c.patient, "practitioner_id": c.practitioner,
              "appointment_type_id": c.type_id, "starts_at": at}),
            ),
        )
        .await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let id = booked.body["appointment_id"].as_str().unwrap().to_owned();
    sqlx::query("update scheduling.appointment set starts_at = now() - interval '1 hour', ends_at = now() - interval '30 minutes', blocked = tstzrange(now() - interval '1 hour', now() - interval '30 minutes') where appointment_id = $1")
        .bind(id.parse::<uuid::Uuid>().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    let done = app
        .call("POST", &format!("/v1/appointments/{id}/complete"), t, None)
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    id
}

#[tokio::test]
async fn a_completed_appointment_gets_one_draft_with_its_tariff() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let appointment = completed_appointment(&app, &b).await;
    app.drain(&[DRAFT_INVOICE]).await;
    let list = app
        .call(
            "GET",
            &format!("/v1/invoices?patient_id={}", b.clinic.patient),
            b.token(),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body.as_array().unwrap().len(), 1, "{}", list.text);
    let id = list.body[0]["invoice_id"].as_str().unwrap();
    let inv = app
        .call("GET", &format!("/v1/invoices/{id}"), b.token(), None)
        .await
        .body;
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["appointment_id"], appointment.as_str());
    assert_eq!(inv["lines"][0]["tariff_id"], b.tariff_id.as_str());
    assert_eq!(inv["lines"][0]["appointment_id"], appointment.as_str());
    assert_eq!(inv["total"], "32.50");
    let today =
        chrono::Utc::now().with_timezone(&chrono_tz::Europe::Brussels) - chrono::Duration::hours(1);
    assert_eq!(
        inv["lines"][0]["service_date"],
        today.date_naive().to_string()
    );

    // The same job again (a retry, a duplicate under another key) changes nothing.
    let job = DraftInvoice {
        practice_id: domain::PracticeId::from_uuid(b.clinic.admin.practice_id),
        appointment_id: appointment.parse().unwrap(),
        version: 99,
    };
    let mut conn = app.owner.acquire().await.unwrap();
    platform::jobs::enqueue_keyed(&mut conn, &job, chrono::Utc::now(), "draft-invoice:again")
        .await
        .unwrap();
    drop(conn);
    app.drain(&[DRAFT_INVOICE]).await;
    assert_eq!(app.count("select count(*) from invoicing.invoice").await, 1);
    assert_eq!(
        app.count(
            "select count(*) from core.audit_event where route = 'job:invoicing.draft-invoice'"
        )
        .await,
        1
    );
    // The draft is issued like any other.
    let issued = b.issue(&app, id).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
}

#[tokio::test]
async fn without_a_tariff_the_draft_is_empty_and_cancelled_appointments_get_none() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let end = app
        .call(
            "POST",
            &format!("/v1/tariffs/{}/end", b.tariff_id),
            b.token(),
            Some(&json!({"valid_until": "2020-12-31"})),
        )
        .await;
    assert_eq!(end.status, 200, "{}", end.text);
    let appointment = completed_appointment(&app, &b).await;
    // A job for an appointment that is not completed drafts nothing.
    let job = DraftInvoice {
        practice_id: domain::PracticeId::from_uuid(b.clinic.admin.practice_id),
        appointment_id: domain::AppointmentId::new(),
        version: 1,
    };
    let mut conn = app.owner.acquire().await.unwrap();
    platform::jobs::enqueue(&mut conn, &job, chrono::Utc::now())
        .await
        .unwrap();
    drop(conn);
    app.drain(&[DRAFT_INVOICE]).await;
    let rows: Vec<(uuid::Uuid, i32)> =
        sqlx::query_as("select appointment_id, line_count from invoicing.invoice")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(rows, vec![(appointment.parse().unwrap(), 0)]);
}
