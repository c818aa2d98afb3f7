//! Bad input gets a 4xx problem naming the field or id, and nothing is written.

use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn bad_patient_input_is_refused_with_the_field_named_and_nothing_written() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let nl = app.practice_with_admin("B", "NL").await;
    let before = app.count("select count(*) from core.patient").await;
    let audit_before = app
        .count("select count(*) from core.audit_event where event like 'sensitive%'")
        .await;

    let t = Some(admin.token.as_str());
    let cases: Vec<(serde_json::Value, u16, &str, &str)> = vec![
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "nickname": "Z"}),
            400,
            "invalid_body",
            "nickname",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": 19900101, "sex": "female"}),
            400,
            "invalid_body",
            "birth_date",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-13-01", "sex": "female"}),
            400,
            "invalid_body",
            "birth_date",
        ),
        (
            json!({"family_name": 12, "given_names": "Y", "birth_date": "1990-01-01", "sex": "female"}),
            400,
            "invalid_body",
            "family_name",
        ),
        (
            json!({"given_names": "Y", "birth_date": "1990-01-01", "sex": "female"}),
            400,
            "invalid_body",
            "family_name",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "robot"}),
            400,
            "invalid_body",
            "sex",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "sms_consent": {"method": "telepathy"}}),
            400,
            "invalid_body",
            "sms_consent.method",
        ),
        (
            json!({"family_name": " ", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female"}),
            422,
            "invalid_field",
            "family_name",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "2999-01-01", "sex": "female"}),
            422,
            "invalid_field",
            "birth_date",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "national_number": "85073003399"}),
            422,
            "invalid_field",
            "national_number",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "national_number": "1234"}),
            422,
            "invalid_field",
            "national_number",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "mobile": "02 123 45 67"}),
            422,
            "invalid_field",
            "mobile",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "mobile": "call me"}),
            422,
            "invalid_field",
            "mobile",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "email": "not-an-email"}),
            422,
            "invalid_field",
            "email",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "uzovi": "3311"}),
            422,
            "invalid_field",
            "uzovi",
        ),
        (
            json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "mutuality_code": "1"}),
            422,
            "invalid_field",
            "mutuality_code",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = app.call("POST", "/v1/patients", t, Some(&body)).await;
        let p = r.problem(status, code);
        assert_eq!(p["field"], field, "{body}: {}", r.text);
    }
    // BSN in a Dutch practice.
    let r = app
        .call("POST", "/v1/patients", Some(&nl.token), Some(&json!({"family_name": "X", "given_names": "Y", "birth_date": "1990-01-01", "sex": "female", "national_number": "123456789"})))
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "national_number");
    assert!(r.text.contains("BSN"));

    // Malformed JSON, wrong content type, oversized body.
    let r = app
        .raw(
            "POST",
            "/v1/patients",
            t,
            "application/json",
            b"{\"family_name\": ".to_vec(),
        )
        .await;
    assert!(
        r.problem(400, "invalid_body")["detail"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );
    app.raw("POST", "/v1/patients", t, "text/plain", b"{}".to_vec())
        .await
        .problem(415, "unsupported_media_type");
    let huge = format!("{{\"family_name\": \"{}\"}}", "x".repeat(200_000));
    app.raw(
        "POST",
        "/v1/patients",
        t,
        "application/json",
        huge.into_bytes(),
    )
    .await
    .problem(413, "payload_too_large");

    // PATCH: nulls on required fields, a bad value, unknown and malformed ids.
    let p = app.patient(&admin, patient_body("Valid")).await;
    let before = before + 1;
    let audit_before = audit_before + 1;
    let r = app
        .call(
            "PATCH",
            &format!("/v1/patients/{p}"),
            t,
            Some(&json!({"family_name": null})),
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "family_name");
    let r = app
        .call(
            "PATCH",
            &format!("/v1/patients/{p}"),
            t,
            Some(&json!({"gp_name": "Dr. Ok", "mobile": "nope"})),
        )
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "mobile");
    let unknown = uuid::Uuid::now_v7();
    let r = app
        .call("GET", &format!("/v1/patients/{unknown}"), t, None)
        .await;
    let body = r.problem(404, "patient_not_found");
    assert_eq!(body["field"], "patient_id");
    assert!(
        !body["detail"]
            .as_str()
            .unwrap()
            .contains(&unknown.to_string()),
        "the id sent is not repeated back"
    );
    let r = app.call("GET", "/v1/patients/not-a-uuid", t, None).await;
    assert_eq!(r.problem(400, "invalid_parameter")["field"], "patient_id");
    let r = app.call("GET", "/v1/patients?limit=100000", t, None).await;
    assert_eq!(r.problem(400, "invalid_parameter")["field"], "limit");
    let r = app.call("GET", "/v1/patients?limit=abc", t, None).await;
    assert_eq!(r.problem(400, "invalid_parameter")["field"], "limit");
    let r = app
        .call("POST", "/v1/patients/search", t, Some(&json!({})))
        .await;
    r.problem(422, "invalid_field");

    // Nothing was written by any refused call.
    assert_eq!(app.count("select count(*) from core.patient").await, before);
    let gp: Option<String> =
        sqlx::query_scalar("select gp_name from core.patient where patient_id = $1")
            .bind(p)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(gp, None, "a refused PATCH changed nothing");
    assert_eq!(app.count("select count(*) from core.audit_event where event like 'sensitive%' and event <> 'sensitive_read'").await, audit_before);
}

#[tokio::test]
async fn bad_practice_and_staff_input() {
    let app = spawn_app().await;
    let post = |body: serde_json::Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(format!("{}/v1/operator/practices", app.base))
                .bearer_auth(OPERATOR_KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let admin = json!({"email": "a@example.test", "display_name": "A"});
    let (s, b) = post(json!({"name": "X", "country": "FR", "time_zone": "Europe/Paris", "default_language": "fr", "admin": admin})).await;
    assert_eq!((s, b["field"].as_str()), (400, Some("country")));
    let (s, b) = post(json!({"name": "X", "country": "BE", "time_zone": "Mars/Olympus", "default_language": "nl", "admin": admin})).await;
    assert_eq!((s, b["field"].as_str()), (422, Some("time_zone")));
    let (s, b) = post(json!({"name": "X", "country": "BE", "time_zone": "Europe/Brussels", "default_language": "nl", "registration_number": "0403.170.702", "admin": admin})).await;
    assert_eq!((s, b["field"].as_str()), (422, Some("registration_number")));
    let (s, b) = post(json!({"name": "X", "country": "BE", "time_zone": "Europe/Brussels", "default_language": "nl", "admin": {"email": "nope", "display_name": "A"}})).await;
    assert_eq!((s, b["field"].as_str()), (422, Some("admin.email")));
    assert_eq!(app.count("select count(*) from core.practice").await, 0);
    // Without the operator key: 401.
    let r = app
        .call("POST", "/v1/operator/practices", None, Some(&json!({})))
        .await;
    assert_eq!(r.status, 401);

    let a = app.practice_with_admin("A", "BE").await;
    let r = app
        .call(
            "POST",
            "/v1/staff",
            Some(&a.token),
            Some(&json!({"email": a.email, "display_name": "Dup", "role": "billing"})),
        )
        .await;
    r.problem(409, "email_taken");
    let r = app
        .call(
            "POST",
            "/v1/staff",
            Some(&a.token),
            Some(&json!({"email": "x@example.test", "display_name": "X", "role": "operator"})),
        )
        .await;
    assert_eq!(r.problem(400, "invalid_body")["field"], "role");
    let r = app
        .call("POST", "/v1/auth/setup", None, Some(&json!({"practice_id": a.practice_id, "email": "x@example.test", "setup_token": "t", "new_password": "short"})))
        .await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "new_password");
}
