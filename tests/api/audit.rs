//! The audit trail: reads are recorded, the application role can only append, and the hash
//! chain exposes tampering.

use platform::audit;
use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn reading_a_patient_adds_an_audit_row() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let kine = app.staff(&admin, "practitioner").await;
    let p = app.patient(&kine, patient_body("Peeters")).await;
    let before = app.count(&format!("select count(*) from core.audit_event where patient_id = '{p}' and event = 'sensitive_read'")).await;
    let r = app
        .call("GET", &format!("/v1/patients/{p}"), Some(&kine.token), None)
        .await;
    assert_eq!(r.status, 200);
    let after = app.count(&format!("select count(*) from core.audit_event where patient_id = '{p}' and event = 'sensitive_read'")).await;
    assert_eq!(after, before + 1);
    // The admin asks who looked at this patient.
    let trail = app
        .call(
            "GET",
            &format!("/v1/audit-events?patient_id={p}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    let items = trail.body["items"].as_array().unwrap();
    let read = items
        .iter()
        .find(|e| e["event"] == "sensitive_read")
        .expect("the read is listed");
    assert_eq!(read["actor_staff_id"], json!(kine.staff_id));
    assert_eq!(read["actor_role"], "practitioner");
    assert_eq!(read["purpose"], "care");
    assert_eq!(read["route"], "/v1/patients/{patient_id}");
    assert_eq!(read["outcome"], "success");
    assert!(items.iter().any(|e| e["event"] == "sensitive_create"));
    // Non-admins may not read the trail; the refusal is itself recorded.
    app.call("GET", "/v1/audit-events", Some(&kine.token), None)
        .await
        .problem(403, "forbidden");
    let denied = app.count(&format!("select count(*) from core.audit_event where event = 'authz_fail' and actor_staff_id = '{}'", kine.staff_id)).await;
    assert_eq!(denied, 1);
}

#[tokio::test]
async fn the_application_role_cannot_change_the_trail() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    audit::seal_all(app.state.db()).await.unwrap();
    let pool = app.app_pool().await;
    for sql in [
        "update core.audit_event set outcome = 'x'",
        "delete from core.audit_event",
        "truncate core.audit_event",
        "update core.audit_chain set hash = 'x'",
        "delete from core.audit_chain",
        "truncate core.audit_chain",
    ] {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("select set_config('app.practice_id', $1, true)")
            .bind(admin.practice_id.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
}

#[tokio::test]
async fn tampering_is_found_by_verify() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let p = app.patient(&admin, patient_body("Peeters")).await;
    for _ in 0..3 {
        app.call(
            "GET",
            &format!("/v1/patients/{p}"),
            Some(&admin.token),
            None,
        )
        .await;
    }
    let db = app.state.db();
    let sealed = audit::seal_all(db).await.unwrap();
    assert!(sealed >= 5, "{sealed}");
    let practice = domain::PracticeId::from_uuid(admin.practice_id);
    let ok = audit::verify_practice(db, practice).await.unwrap();
    assert_eq!(ok.first_broken, None);
    assert_eq!(ok.checked, sealed);
    // New events after sealing extend the chain without breaking it.
    app.call(
        "GET",
        &format!("/v1/patients/{p}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(
        audit::verify_practice(db, practice).await.unwrap().unsealed,
        1
    );
    audit::seal_all(db).await.unwrap();
    assert_eq!(
        audit::verify_practice(db, practice)
            .await
            .unwrap()
            .first_broken,
        None
    );

    // The owner rewrites who read the patient in the third sealed link.
    let (seq, id): (i64, uuid::Uuid) =
        sqlx::query_as("select seq, audit_id from core.audit_chain where seq = 3")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    sqlx::query("update core.audit_event set outcome = 'failure' where audit_id = $1")
        .bind(id)
        .execute(&app.owner)
        .await
        .unwrap();
    let report = audit::verify_practice(db, practice).await.unwrap();
    let broken = report.first_broken.expect("tampering found");
    assert_eq!(
        (broken.seq, broken.audit_id, broken.problem),
        (seq, id, "event_changed")
    );
    assert_eq!(report.checked, 2);

    // Deleting an event is found too.
    sqlx::query("update core.audit_event set outcome = 'success' where audit_id = $1")
        .bind(id)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(
        audit::verify_practice(db, practice)
            .await
            .unwrap()
            .first_broken,
        None
    );
    sqlx::query("delete from core.audit_event where audit_id = $1")
        .bind(id)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(
        audit::verify_practice(db, practice)
            .await
            .unwrap()
            .first_broken
            .unwrap()
            .problem,
        "event_missing"
    );
}

#[tokio::test]
async fn login_attempts_are_recorded() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    app.login(admin.practice_id, &admin.email, "wrong-password-xx")
        .await;
    app.login(
        admin.practice_id,
        "unknown@example.test",
        "wrong-password-xx",
    )
    .await;
    let events: Vec<(String, Option<String>)> =
        sqlx::query_as("select event, reason from core.audit_event where purpose = 'authentication' order by occurred_at")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert!(
        events.contains(&("authn_login_success".into(), None)),
        "{events:?}"
    );
    assert!(
        events.contains(&("authn_login_fail".into(), Some("bad_password".into()))),
        "{events:?}"
    );
    assert!(
        events.contains(&("authn_login_fail".into(), Some("unknown_account".into()))),
        "{events:?}"
    );
}
