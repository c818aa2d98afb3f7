//! Sign-in: lockout, the lockout race, TOTP single use, sessions that have not finished the
//! second factor, logout, unlock, deactivation and the per-IP rate limit.

use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn five_wrong_passwords_lock_and_the_right_one_then_looks_wrong() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let kine = app.staff(&admin, "practitioner").await;
    let unknown = app
        .login(
            admin.practice_id,
            "nobody@example.test",
            "whatever-password",
        )
        .await;
    unknown.problem(401, "invalid_credentials");
    let mut first_wrong = None;
    for _ in 0..5 {
        let r = app
            .login(kine.practice_id, &kine.email, "wrong-password-123")
            .await;
        r.problem(401, "invalid_credentials");
        first_wrong.get_or_insert(r.text.clone());
    }
    let locked = app.login(kine.practice_id, &kine.email, PASSWORD).await;
    assert_eq!(locked.status, 401);
    assert_eq!(
        locked.text,
        first_wrong.clone().unwrap(),
        "locked must look like a wrong password"
    );
    assert_eq!(
        unknown.text, locked.text,
        "unknown must look like a wrong password"
    );
    // The lock is recorded, and the open session of the account is gone.
    let locks = app.count(&format!("select count(*) from core.audit_event where event = 'authn_login_lock' and actor_staff_id = '{}'", kine.staff_id)).await;
    assert_eq!(locks, 1);
    app.call("GET", "/v1/patients", Some(&kine.token), None)
        .await
        .problem(401, "unauthenticated");
    // An admin unlocks; the right password works again.
    let r = app
        .call(
            "POST",
            &format!("/v1/staff/{}/unlock", kine.staff_id),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ok = app.login(kine.practice_id, &kine.email, PASSWORD).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["stage"], "second_factor");
}

#[tokio::test]
async fn fifty_concurrent_wrong_passwords_run_at_most_five_verifications() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let kine = app.staff(&admin, "practitioner").await;
    let verifications_before = app.state.passwords().verifications();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/v1/auth/login", app.base);
        let body = json!({"practice_id": kine.practice_id, "email": kine.email, "password": format!("wrong-password-{i}")});
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    let verified = app.state.passwords().verifications() - verifications_before;
    assert!(verified <= 5, "{verified} password verifications ran");
    let bad_password = app
        .count(&format!(
            "select count(*) from core.audit_event where reason = 'bad_password' and actor_staff_id = '{}'",
            kine.staff_id
        ))
        .await;
    assert_eq!(bad_password as u64, verified);
    let locked = app.count(&format!("select count(*) from core.staff_account where staff_id = '{}' and locked_at is not null", kine.staff_id)).await;
    assert_eq!(locked, 1);
    app.login(kine.practice_id, &kine.email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn a_totp_code_works_once() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    // The admin's enrolment used the current code; a new login cannot reuse it.
    let r = app
        .call("POST", "/v1/auth/logout", Some(&admin.token), None)
        .await;
    assert_eq!(r.status, 204);
    let login = app.login(admin.practice_id, &admin.email, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.body["token"].as_str().unwrap().to_owned();
    let step = chrono::Utc::now().timestamp() as u64 / 30;
    // Reuse the step the enrolment claimed (or, if a step boundary passed, the one before).
    let used: i64 = app
        .count(&format!(
            "select totp_last_step from core.staff_account where staff_id = '{}'",
            admin.staff_id
        ))
        .await;
    assert!(used as u64 == step || used as u64 + 1 == step);
    let replay = platform::auth::totp::code_at_step(&admin.totp_secret, used as u64);
    app.call(
        "POST",
        "/v1/auth/totp/verify",
        Some(&token),
        Some(&json!({"code": replay})),
    )
    .await
    .problem(401, "invalid_credentials");
    let replays = app.count(&format!("select count(*) from core.audit_event where reason = 'replayed' and actor_staff_id = '{}'", admin.staff_id)).await;
    assert_eq!(replays, 1);
    // A wrong code is refused as well, and the session still cannot reach patients.
    app.call(
        "POST",
        "/v1/auth/totp/verify",
        Some(&token),
        Some(&json!({"code": "000000"})),
    )
    .await
    .problem(401, "invalid_credentials");
    app.call("GET", "/v1/patients", Some(&token), None)
        .await
        .problem(403, "second_factor_required");
}

#[tokio::test]
async fn sessions_without_a_confirmed_second_factor_reach_no_patient_route() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let patient = app.patient(&admin, patient_body("Peeters")).await;
    // A new colleague who has set a password but not enrolled TOTP.
    let email = "new@example.test";
    let created = app
        .call(
            "POST",
            "/v1/staff",
            Some(&admin.token),
            Some(&json!({"email": email, "display_name": "New", "role": "practitioner"})),
        )
        .await;
    let setup = app
        .call(
            "POST",
            "/v1/auth/setup",
            None,
            Some(&json!({"practice_id": admin.practice_id, "email": email,
                         "setup_token": created.body["setup_token"], "new_password": PASSWORD})),
        )
        .await;
    assert_eq!(setup.body["stage"], "enrolment");
    let enrolling = setup.body["token"].as_str().unwrap().to_owned();
    // A password-only session of an enrolled account.
    let pw_only = app
        .login(admin.practice_id, &admin.email, PASSWORD)
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let routes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", "/v1/patients".into(), None),
        ("POST", "/v1/patients".into(), Some(patient_body("X"))),
        (
            "POST",
            "/v1/patients/search".into(),
            Some(json!({"family_name": "P"})),
        ),
        ("GET", format!("/v1/patients/{patient}"), None),
        (
            "PATCH",
            format!("/v1/patients/{patient}"),
            Some(json!({"gp_name": "Dr. X"})),
        ),
        (
            "POST",
            format!("/v1/patients/{patient}/sms-consent"),
            Some(json!({"method": "verbal"})),
        ),
        (
            "DELETE",
            format!("/v1/patients/{patient}/sms-consent"),
            None,
        ),
        ("GET", "/v1/audit-events".into(), None),
        ("GET", "/v1/staff".into(), None),
    ];
    for token in [&enrolling, &pw_only] {
        for (method, path, body) in &routes {
            app.call(method, path, Some(token), body.as_ref())
                .await
                .problem(403, "second_factor_required");
        }
    }
    let reads = app.count(&format!("select count(*) from core.audit_event where patient_id = '{patient}' and event = 'sensitive_read'")).await;
    assert_eq!(reads, 0);
}

#[tokio::test]
async fn logout_password_change_and_deactivation_end_sessions() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let desk = app.staff(&admin, "receptionist").await;
    let r = app
        .call("POST", "/v1/auth/logout", Some(&desk.token), None)
        .await;
    assert_eq!(r.status, 204);
    app.call("GET", "/v1/patients", Some(&desk.token), None)
        .await
        .problem(401, "unauthenticated");

    let billing = app.staff(&admin, "billing").await;
    let r = app
        .call(
            "POST",
            &format!("/v1/staff/{}/deactivate", billing.staff_id),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    app.call("GET", "/v1/patients", Some(&billing.token), None)
        .await
        .problem(401, "unauthenticated");
    app.login(billing.practice_id, &billing.email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");

    let kine = app.staff(&admin, "practitioner").await;
    let r = app
        .call(
            "POST",
            "/v1/auth/password",
            Some(&kine.token),
            Some(&json!({"current_password": PASSWORD, "new_password": "another-long-password-2"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.call("GET", "/v1/patients", Some(&kine.token), None)
        .await
        .problem(401, "unauthenticated");
    assert_eq!(
        app.login(kine.practice_id, &kine.email, "another-long-password-2")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = spawn_app_with(&[("SESSION_IDLE_TIMEOUT_SECS", "1")]).await;
    let admin = app.practice_with_admin("A", "BE").await;
    // Age the session instead of sleeping.
    sqlx::query("update core.session set last_seen_at = now() - interval '5 seconds'")
        .execute(&app.owner)
        .await
        .unwrap();
    app.call("GET", "/v1/patients", Some(&admin.token), None)
        .await
        .problem(401, "unauthenticated");
    let reason: String =
        sqlx::query_scalar("select revoked_reason from core.session where staff_id = $1")
            .bind(admin.staff_id)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(reason, "idle_timeout");
}

#[tokio::test]
async fn login_is_rate_limited_per_ip() {
    let app = spawn_app_with(&[("LOGIN_RATE_PER_MINUTE", "3")]).await;
    let practice = uuid::Uuid::now_v7();
    for _ in 0..3 {
        app.login(practice, "a@example.test", "some-password-1")
            .await
            .problem(401, "invalid_credentials");
    }
    app.login(practice, "a@example.test", "some-password-1")
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn setup_tokens_work_once_and_reset_keeps_the_second_factor() {
    let app = spawn_app().await;
    let (practice, email, token) = app.create_practice("A", "NL").await;
    let admin = app.activate(practice, &email, &token).await;
    let again = app
        .call("POST", "/v1/auth/setup", None, Some(&json!({"practice_id": practice, "email": email, "setup_token": token, "new_password": "yet-another-password"})))
        .await;
    again.problem(401, "invalid_credentials");
    let kine = app.staff(&admin, "practitioner").await;
    let reset = app
        .call(
            "POST",
            &format!("/v1/staff/{}/reset", kine.staff_id),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    let after = app
        .call(
            "POST",
            "/v1/auth/setup",
            None,
            Some(&json!({"practice_id": practice, "email": kine.email, "setup_token": reset.body["setup_token"], "new_password": "reset-password-123"})),
        )
        .await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(
        after.body["stage"], "second_factor",
        "a reset must not skip TOTP"
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_account_too() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let kine = app.staff(&admin, "practitioner").await;
    let token = app
        .login(kine.practice_id, &kine.email, PASSWORD)
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..5 {
        app.call(
            "POST",
            "/v1/auth/totp/verify",
            Some(&token),
            Some(&json!({"code": "000000"})),
        )
        .await
        .problem(401, "invalid_credentials");
    }
    let locked = app.count(&format!("select count(*) from core.staff_account where staff_id = '{}' and locked_at is not null", kine.staff_id)).await;
    assert_eq!(locked, 1, "five wrong second factors lock the account");
    // Even the right password now looks wrong, and the pending session is gone.
    app.login(kine.practice_id, &kine.email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.call("GET", "/v1/auth/session", Some(&token), None)
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn sessions_end_at_the_absolute_timeout() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    assert_eq!(
        app.call("GET", "/v1/patients", Some(&admin.token), None)
            .await
            .status,
        200
    );
    let ttl: f64 = sqlx::query_scalar("select extract(epoch from expires_at - created_at)::float8 from core.session where staff_id = $1")
        .bind(admin.staff_id)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert!(
        (ttl - 12.0 * 3600.0).abs() < 5.0,
        "absolute timeout is 12 h: {ttl}"
    );
    sqlx::query("update core.session set expires_at = now() - interval '1 second'")
        .execute(&app.owner)
        .await
        .unwrap();
    app.call("GET", "/v1/patients", Some(&admin.token), None)
        .await
        .problem(401, "unauthenticated");
}
