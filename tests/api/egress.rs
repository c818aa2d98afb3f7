//! The egress gate: only registered, active, effective, not-objected subprocessors receive
//! data, only the categories the register lists, and every decision is in the disclosure log
//! with field names, never values.

use domain::PracticeId;
use platform::egress::{Disclosure, GateError, Refusal, authorize};
use praxis_tests::*;
use serde_json::json;

fn sms(practice: uuid::Uuid, categories: &'static [&'static str]) -> Disclosure<'static> {
    Disclosure {
        practice: PracticeId::from_uuid(practice),
        subprocessor: "linkmobility-pl",
        purpose: "appointment_reminder",
        data_categories: categories,
        fields: &["recipient", "content"],
        correlation_id: "corr-1",
    }
}

fn refused(r: Result<platform::egress::Permit, GateError>) -> Refusal {
    match r {
        Err(GateError::Refused(x)) => x,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_gate_lets_only_registered_unobjected_calls_through_and_logs_them() {
    let app = spawn_app().await;
    let a = app.practice_with_admin("A", "BE").await;
    let b = app.practice_with_admin("B", "NL").await;
    let db = app.state.db();
    let register = app
        .call("GET", "/v1/subprocessors", Some(&a.token), None)
        .await;
    let ids: Vec<&str> = register
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subprocessor_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["linkmobility-pl", "stripe-eu"]);
    assert_eq!(
        register.body[0]["legal_entity"],
        "LINK Mobility Poland sp. z o.o."
    );
    assert_eq!(register.body[0]["country"], "PL");

    // Allowed: the permit is logged when the call's outcome is known.
    let permit = authorize(db, &sms(a.practice_id, &["mobile_number", "message_text"]))
        .await
        .unwrap();
    permit.sent(db).await.unwrap();
    // Unregistered, a category the register does not list, an objection: refused and logged.
    let mut unknown = sms(a.practice_id, &["mobile_number"]);
    unknown.subprocessor = "twilio-us";
    assert_eq!(
        refused(authorize(db, &unknown).await),
        Refusal::Unregistered
    );
    assert_eq!(
        refused(
            authorize(
                db,
                &sms(a.practice_id, &["mobile_number", "national_number"])
            )
            .await
        ),
        Refusal::CategoryNotRegistered
    );
    let r = app
        .call(
            "POST",
            "/v1/subprocessors/linkmobility-pl/objection",
            Some(&a.token),
            Some(&json!({"reason": "we prefer letters"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        refused(authorize(db, &sms(a.practice_id, &["mobile_number"])).await),
        Refusal::Objected
    );
    // Practice B did not object.
    authorize(db, &sms(b.practice_id, &["mobile_number"]))
        .await
        .unwrap()
        .failed(db, "timeout")
        .await
        .unwrap();
    // Withdrawing the objection opens the gate again.
    assert_eq!(
        app.call(
            "DELETE",
            "/v1/subprocessors/linkmobility-pl/objection",
            Some(&a.token),
            None
        )
        .await
        .status,
        204
    );
    authorize(db, &sms(a.practice_id, &["mobile_number"]))
        .await
        .unwrap()
        .sent(db)
        .await
        .unwrap();
    // Switched off, or announced but still inside its objection window: refused for everyone.
    sqlx::query("update core.subprocessor set effective_at = now() + interval '5 days' where subprocessor_id = 'linkmobility-pl'")
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(
        refused(authorize(db, &sms(b.practice_id, &["mobile_number"])).await),
        Refusal::NotYetEffective
    );
    sqlx::query("update core.subprocessor set active = false, effective_at = now() where subprocessor_id = 'linkmobility-pl'")
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(
        refused(authorize(db, &sms(b.practice_id, &["mobile_number"])).await),
        Refusal::Inactive
    );

    // The log, per practice, with field names only.
    let log = app
        .call("GET", "/v1/disclosures", Some(&a.token), None)
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let outcomes: Vec<(String, Option<String>)> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap().to_owned(),
                d["detail"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("sent".into(), None),
            ("refused".into(), Some("objected".into())),
            ("refused".into(), Some("category_not_registered".into())),
            ("refused".into(), Some("unregistered".into())),
            ("sent".into(), None),
        ]
    );
    assert_eq!(log.body[0]["fields"], json!(["recipient", "content"]));
    let b_log = app
        .call("GET", "/v1/disclosures", Some(&b.token), None)
        .await;
    assert_eq!(b_log.body.as_array().unwrap().len(), 3, "{}", b_log.text);
    // Only admins manage this.
    let desk = app.staff(&a, "receptionist").await;
    app.call("GET", "/v1/disclosures", Some(&desk.token), None)
        .await
        .problem(403, "forbidden");
    app.call(
        "POST",
        "/v1/subprocessors/stripe-eu/objection",
        Some(&desk.token),
        Some(&json!({"reason": "x"})),
    )
    .await
    .problem(403, "forbidden");
    app.call(
        "POST",
        "/v1/subprocessors/nobody/objection",
        Some(&a.token),
        Some(&json!({"reason": "x"})),
    )
    .await
    .problem(404, "subprocessor_not_found");
}
