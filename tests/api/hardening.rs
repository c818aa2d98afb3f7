//! Regression tests of the outside probe's findings (issue 9), each named after what it
//! protects. The API-wide negative examples live in `contract.rs`.

use praxis_tests::*;
use serde_json::json;

/// Sends raw JSON text.
async fn raw_json(app: &TestApp, method: &str, path: &str, token: &str, body: &str) -> Reply {
    app.raw(
        method,
        path,
        Some(token),
        "application/json",
        body.as_bytes().to_vec(),
    )
    .await
}

#[tokio::test]
async fn nul_and_control_characters_are_refused_with_the_field_named_and_nothing_stored() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let t = admin.token.as_str();
    let staff_before = app.count("select count(*) from core.staff_account").await;
    let cases = [
        (
            "POST",
            "/v1/staff".to_owned(),
            json!({"email": "x@example.test", "display_name": "a\u{0}b", "role": "billing"}),
            "display_name",
        ),
        (
            "POST",
            "/v1/staff".to_owned(),
            json!({"email": "x@example.test", "display_name": "a\u{1b}[31mred", "role": "billing"}),
            "display_name",
        ),
        (
            "PUT",
            "/v1/notifications/templates/reminder/nl".to_owned(),
            json!({"body": "Afspraak {date}\u{0}"}),
            "body",
        ),
        (
            "POST",
            "/v1/subprocessors/stripe-eu/objection".to_owned(),
            json!({"reason": "no\u{0}"}),
            "reason",
        ),
        (
            "PUT",
            "/v1/notifications/provider".to_owned(),
            json!({"provider": "smsapi", "base_url": "https://api.smsapi.pl", "sender": "Praxis", "token": "tok\u{1b}]0;x\u{7}"}),
            "token",
        ),
        (
            "POST",
            "/v1/rooms".to_owned(),
            json!({"name": "Room \u{85}"}),
            "name",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = app.call(method, &path, Some(t), Some(&body)).await;
        let p = r.problem(422, "invalid_field");
        assert_eq!(p["field"], field, "{method} {path}: {}", r.text);
        assert_eq!(p["detail"], "must not contain control characters");
    }
    // The operator API too.
    let r = app
        .client
        .post(format!("{}/v1/operator/practices", app.base))
        .bearer_auth(OPERATOR_KEY)
        .json(&json!({"name": "P\u{0}", "country": "BE", "time_zone": "Europe/Brussels", "default_language": "nl",
                      "admin": {"email": "p@example.test", "display_name": "P"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["field"], "name");
    // A line break is fine in multi-line text, not in a name.
    let r = app
        .call(
            "POST",
            "/v1/staff",
            Some(t),
            Some(&json!({"email": "y@example.test", "display_name": "Line\nbreak", "role": "billing"})),
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "display_name");
    let r = app
        .call(
            "POST",
            "/v1/subprocessors/stripe-eu/objection",
            Some(t),
            Some(&json!({"reason": "First line.\nSecond line."})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    assert_eq!(
        app.count("select count(*) from core.staff_account").await,
        staff_before
    );
    assert_eq!(app.count("select count(*) from scheduling.room").await, 0);
    assert_eq!(
        app.count("select count(*) from notifications.template")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from notifications.provider_override")
            .await,
        0
    );
}

#[tokio::test]
async fn a_json_array_is_never_taken_for_an_object() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let t = admin.token.as_str();
    let r = raw_json(&app, "POST", "/v1/rooms", t, r#"["Room from an array"]"#).await;
    let p = r.problem(400, "invalid_body");
    assert_eq!(p["detail"], "the body must be a JSON object");
    assert!(p.get("field").is_none(), "{}", r.text);
    assert_eq!(app.count("select count(*) from scheduling.room").await, 0);

    let patient = app.patient(&admin, patient_body("Jansen")).await;
    let r = raw_json(
        &app,
        "PATCH",
        &format!("/v1/patients/{patient}"),
        t,
        r#"["Mallory"]"#,
    )
    .await;
    r.problem(400, "invalid_body");
    let read = app
        .call("GET", &format!("/v1/patients/{patient}"), Some(t), None)
        .await;
    assert_eq!(read.body["family_name"], "Jansen");
}

#[tokio::test]
async fn problems_name_the_field_and_never_echo_what_was_sent() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let t = Some(admin.token.as_str());
    let mut body = patient_body("X");
    body["sex"] = json!("<script>alert(1)</script>");
    let r = app.call("POST", "/v1/patients", t, Some(&body)).await;
    let p = r.problem(400, "invalid_body");
    assert_eq!(p["field"], "sex");
    assert!(!r.text.contains("script"), "{}", r.text);
    assert!(
        p["detail"].as_str().unwrap().contains("`female`"),
        "says what is allowed: {}",
        r.text
    );

    let r = app
        .call(
            "POST",
            "/v1/subprocessors/%3Cscript%3Eunknown/objection",
            t,
            Some(&json!({"reason": "no"})),
        )
        .await;
    let p = r.problem(404, "subprocessor_not_found");
    assert_eq!(p["field"], "subprocessor_id");
    assert!(!r.text.contains("script"), "{}", r.text);

    let unknown = uuid::Uuid::now_v7();
    let r = app
        .call("GET", &format!("/v1/patients/{unknown}"), t, None)
        .await;
    r.problem(404, "patient_not_found");
    assert!(!r.text.contains(&unknown.to_string()), "{}", r.text);

    // A missing required field is named; malformed JSON names none.
    let r = app.call("POST", "/v1/rooms", t, Some(&json!({}))).await;
    let p = r.problem(400, "invalid_body");
    assert_eq!(p["field"], "name");
    assert_eq!(p["detail"], "missing required field");
    let r = app
        .call(
            "POST",
            "/v1/staff",
            t,
            Some(&json!({"email": "x@example.test", "role": "billing"})),
        )
        .await;
    assert_eq!(r.problem(400, "invalid_body")["field"], "display_name");
    let r = raw_json(&app, "POST", "/v1/rooms", &admin.token, r#"{"name": "#).await;
    let p = r.problem(400, "invalid_body");
    assert!(p.get("field").is_none(), "{}", r.text);
    // A body in another format is a 415.
    app.raw("POST", "/v1/rooms", t, "text/plain", b"name=x".to_vec())
        .await
        .problem(415, "unsupported_media_type");
    // An e-mail address is described as one.
    let r = app
        .call(
            "POST",
            "/v1/staff",
            t,
            Some(&json!({"email": "nope", "display_name": "N", "role": "billing"})),
        )
        .await;
    let p = r.problem(422, "invalid_field");
    assert_eq!(p["field"], "email");
    assert!(
        !p["detail"].as_str().unwrap().contains("digits"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_wrong_current_password_counts_towards_the_lockout_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let kine = app.staff(&admin, "practitioner").await;
    let change = |current: &'static str| {
        let app = &app;
        let token = kine.token.clone();
        async move {
            app.call(
                "POST",
                "/v1/auth/password",
                Some(&token),
                Some(&json!({"current_password": current, "new_password": "another-long-password-2"})),
            )
            .await
        }
    };
    for _ in 0..4 {
        let r = change("wrong-guess-123").await;
        assert_eq!(
            r.problem(401, "invalid_credentials")["field"],
            "current_password"
        );
    }
    let audited = app
        .count(&format!(
            "select count(*) from core.audit_event where event = 'authn_password_change_fail' and actor_staff_id = '{}'",
            kine.staff_id
        ))
        .await;
    assert_eq!(audited, 4);
    // The fifth locks the account and ends the session.
    change("wrong-guess-123").await;
    let locked: bool = sqlx::query_scalar(
        "select locked_at is not null from core.staff_account where staff_id = $1",
    )
    .bind(kine.staff_id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert!(locked);
    assert_eq!(
        app.count(&format!(
            "select count(*) from core.audit_event where event = 'authn_login_lock' and actor_staff_id = '{}'",
            kine.staff_id
        ))
        .await,
        1
    );
    let after = change(PASSWORD).await;
    after.problem(401, "unauthenticated");
    // Even the right password now looks wrong at sign-in.
    app.login(kine.practice_id, &kine.email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn every_refusal_is_audited_even_of_one_field() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let desk = app.staff(&admin, "receptionist").await;
    let patient = app.patient(&admin, patient_body("Jansen")).await;
    let sql = format!(
        "select count(*) from core.audit_event where event = 'authz_fail' and actor_staff_id = '{}'",
        desk.staff_id
    );
    let refusals = || app.count(&sql);
    assert_eq!(refusals().await, 0);
    let r = app
        .call(
            "PATCH",
            &format!("/v1/patients/{patient}"),
            Some(&desk.token),
            Some(&json!({"clinical_summary": "x"})),
        )
        .await;
    assert_eq!(r.problem(403, "forbidden")["field"], "clinical_summary");
    assert_eq!(refusals().await, 1);
    let mut body = patient_body("Peeters");
    body["clinical_summary"] = json!("x");
    app.call("POST", "/v1/patients", Some(&desk.token), Some(&body))
        .await
        .problem(403, "forbidden");
    assert_eq!(refusals().await, 2);
}

#[tokio::test]
async fn unknown_and_foreign_ids_are_404_and_audit_no_patient() {
    let app = spawn_app().await;
    let a = app.practice_with_admin("A", "BE").await;
    let b = app.practice_with_admin("B", "BE").await;
    let theirs = app.patient(&b, patient_body("Theirs")).await;
    let reads =
        || app.count("select count(*) from core.audit_event where event = 'sensitive_read'");
    let before = reads().await;
    for id in [uuid::Uuid::now_v7(), theirs] {
        for path in [
            format!("/v1/patients/{id}/messages"),
            format!("/v1/appointments/{id}/messages"),
        ] {
            let r = app.call("GET", &path, Some(&a.token), None).await;
            assert_eq!(r.status, 404, "{path}: {}", r.text);
        }
    }
    assert_eq!(reads().await, before, "no read of a patient was recorded");
    // Their own patient is a 200 with an audited read.
    let r = app
        .call(
            "GET",
            &format!("/v1/patients/{theirs}/messages"),
            Some(&b.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(reads().await, before + 1);
}

#[tokio::test]
async fn wrong_methods_and_unknown_routes_answer_problems() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let r = app
        .call("DELETE", "/v1/patients", Some(&admin.token), None)
        .await;
    r.problem(405, "method_not_allowed");
    let allow = r
        .headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    app.call("GET", "/v1/nowhere", Some(&admin.token), None)
        .await
        .problem(404, "route_not_found");
    app.call("PUT", "/healthz", None, None)
        .await
        .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_practice_always_keeps_one_active_admin() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let t = Some(admin.token.as_str());
    // An admin never removes or resets itself (it would end its own session, and perhaps leave
    // the practice without an admin).
    for action in ["deactivate", "reset"] {
        let r = app
            .call(
                "POST",
                &format!("/v1/staff/{}/{action}", admin.staff_id),
                t,
                None,
            )
            .await;
        assert_eq!(r.problem(409, "own_account")["field"], "staff_id");
    }
    // With a second admin, one may go; the one left cannot be removed by anybody.
    let second = app.staff(&admin, "practice_admin").await;
    let r = app
        .call(
            "POST",
            &format!("/v1/staff/{}/deactivate", admin.staff_id),
            Some(&second.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.call(
        "POST",
        &format!("/v1/staff/{}/deactivate", second.staff_id),
        Some(&second.token),
        None,
    )
    .await
    .problem(409, "own_account");
    // The database holds the line too, whatever the code path: the last admin stays.
    let pool = app.app_pool().await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("select set_config('app.practice_id', $1, true)")
        .bind(admin.practice_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused =
        sqlx::query("update core.staff_account set deactivated_at = now() where staff_id = $1")
            .bind(second.staff_id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
    assert_eq!(
        platform::db::violated_constraint(&refused),
        Some("staff_account_last_admin")
    );
    drop(tx);
    assert_eq!(
        app.count("select count(*) from core.staff_account where role = 'practice_admin' and deactivated_at is null")
            .await,
        1
    );
}

#[tokio::test]
async fn two_admins_deactivating_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    let one = app.practice_with_admin("A", "BE").await;
    let two = app.staff(&one, "practice_admin").await;
    let (path_two, path_one) = (
        format!("/v1/staff/{}/deactivate", two.staff_id),
        format!("/v1/staff/{}/deactivate", one.staff_id),
    );
    let (a, b) = tokio::join!(
        app.call("POST", &path_two, Some(&one.token), None),
        app.call("POST", &path_one, Some(&two.token), None),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    // One wins; the other is refused, or finds its own session already ended.
    assert!(
        statuses == [204, 409] || statuses == [204, 401],
        "{statuses:?}: {} {}",
        a.text,
        b.text
    );
    assert_eq!(
        app.count("select count(*) from core.staff_account where role = 'practice_admin' and deactivated_at is null")
            .await,
        1
    );
}
