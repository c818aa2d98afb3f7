//! Operator support access: nothing without a grant; with one, read-only, no clinical text,
//! audited with the grant id, and over when revoked or expired.

use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn support_access_is_granted_time_boxed_read_only_and_audited() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let other = app.practice_with_admin("B", "BE").await;
    let p = app
        .patient(&admin, json!({"family_name": "Peeters", "given_names": "L", "birth_date": "1984-03-12", "sex": "female", "clinical_summary": "Lumbago"}))
        .await;
    let b_patient = app.patient(&other, patient_body("Other")).await;
    // The operator key opens no patient data.
    app.call(
        "GET",
        &format!("/v1/patients/{p}"),
        Some(OPERATOR_KEY),
        None,
    )
    .await
    .problem(401, "unauthenticated");

    // Only admins grant, within limits.
    let kine = app.staff(&admin, "practitioner").await;
    let body = json!({"operator_ref": "TICKET-4711", "reason": "import check", "minutes": 30});
    app.call("POST", "/v1/support-grants", Some(&kine.token), Some(&body))
        .await
        .problem(403, "forbidden");
    let too_long = json!({"operator_ref": "T", "reason": "r", "minutes": 10_000});
    assert_eq!(
        app.call(
            "POST",
            "/v1/support-grants",
            Some(&admin.token),
            Some(&too_long)
        )
        .await
        .problem(422, "invalid_field")["field"],
        "minutes"
    );
    let g = app
        .call(
            "POST",
            "/v1/support-grants",
            Some(&admin.token),
            Some(&body),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let token = g.body["support_token"].as_str().unwrap().to_owned();
    let grant_id = g.body["grant_id"].as_str().unwrap().to_owned();

    // Read, without clinical text; audited with the grant.
    let read = app
        .call("GET", &format!("/v1/patients/{p}"), Some(&token), None)
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.body.get("clinical_summary").is_none());
    let audited = app
        .count(&format!(
            "select count(*) from core.audit_event where support_grant_id = '{grant_id}' and patient_id = '{p}' and actor_role = 'support' and purpose = 'support'"
        ))
        .await;
    assert_eq!(audited, 1);
    assert_eq!(
        app.call("GET", "/v1/patients", Some(&token), None)
            .await
            .status,
        200
    );
    // No writes, no other practice, no admin routes.
    app.call(
        "PATCH",
        &format!("/v1/patients/{p}"),
        Some(&token),
        Some(&json!({"gp_name": "x"})),
    )
    .await
    .problem(401, "unauthenticated");
    app.call("GET", "/v1/audit-events", Some(&token), None)
        .await
        .problem(401, "unauthenticated");
    app.call(
        "GET",
        &format!("/v1/patients/{b_patient}"),
        Some(&token),
        None,
    )
    .await
    .problem(404, "patient_not_found");

    // Revoked: over.
    let r = app
        .call(
            "DELETE",
            &format!("/v1/support-grants/{grant_id}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    app.call("GET", &format!("/v1/patients/{p}"), Some(&token), None)
        .await
        .problem(401, "unauthenticated");

    // Expired: over.
    let g2 = app
        .call(
            "POST",
            "/v1/support-grants",
            Some(&admin.token),
            Some(&body),
        )
        .await;
    let token2 = g2.body["support_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call("GET", &format!("/v1/patients/{p}"), Some(&token2), None)
            .await
            .status,
        200
    );
    sqlx::query("update core.support_grant set starts_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' where grant_id = $1")
        .bind(g2.body["grant_id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    app.call("GET", &format!("/v1/patients/{p}"), Some(&token2), None)
        .await
        .problem(401, "unauthenticated");
    let listed = app
        .call("GET", "/v1/support-grants", Some(&admin.token), None)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
}
