//! The server's own log output, at debug level, holds none of a patient's personal data: the
//! real binary runs, a patient whose every field is a canary goes through create, read, search,
//! update and refused input, and the captured output is searched for every canary.

use crate::common;

use serde_json::{Value, json};

#[tokio::test]
async fn logs_carry_ids_never_personal_data() {
    let server = common::Server::start("logs", &[("LOG_FORMAT", "json"), ("RUST_LOG", "debug")]);
    let base_url = server.base.clone();
    let c = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut r = c.post(format!("{base_url}{path}")).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let practice = "0d3e0000-0000-7000-8000-000000000001";
    let login: Value = post("/v1/auth/login", None, json!({"practice_id": practice, "email": "kine@demo.praxis.test", "password": "demo-password-2026"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let secret = platform::auth::totp::decode_base32(&praxis::demo::totp_secret_base32()).unwrap();
    let code =
        platform::auth::totp::code_at_step(&secret, chrono::Utc::now().timestamp() as u64 / 30);
    let v = post("/v1/auth/totp/verify", Some(&token), json!({"code": code}))
        .await
        .unwrap();
    assert_eq!(v.status(), 200);

    let canaries = [
        "Canaryfamilyzq",
        "Canarygivenzq",
        "+32470998877",
        "canary.zq@example.test",
        "85073003328",
        "CANARY-POLICY-ZQ",
        "Dr. Canaryzq",
        "CANARY CLINICAL ZQ",
    ];
    let created = post(
        "/v1/patients",
        Some(&token),
        json!({"family_name": canaries[0], "given_names": canaries[1], "birth_date": "1985-07-30", "sex": "male",
               "mobile": "0470 99 88 77", "email": canaries[3], "national_number": canaries[4],
               "policy_number": canaries[5], "gp_name": canaries[6], "clinical_summary": canaries[7]}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let created: Value = created.json().await.unwrap();
    let id = created["patient_id"].as_str().unwrap();
    let read = c
        .get(format!("{base_url}/v1/patients/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(read.text().await.unwrap().contains(canaries[7]));
    post(
        "/v1/patients/search",
        Some(&token),
        json!({"national_number": canaries[4]}),
    )
    .await
    .unwrap();
    post(
        "/v1/patients/search",
        Some(&token),
        json!({"family_name": canaries[0]}),
    )
    .await
    .unwrap();
    c.patch(format!("{base_url}/v1/patients/{id}"))
        .bearer_auth(&token)
        .json(&json!({"gp_name": canaries[6]}))
        .send()
        .await
        .unwrap();
    // Refused input that carries personal data.
    let bad = post("/v1/patients", Some(&token), json!({"family_name": canaries[0], "given_names": 5, "birth_date": "1985-07-30", "sex": "male"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = c
        .patch(format!("{base_url}/v1/patients/{id}"))
        .bearer_auth(&token)
        .json(&json!({"email": "not an email canary.zq@example.test", "national_number": "CANARY-POLICY-ZQ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    post(
        "/v1/auth/login",
        None,
        json!({"practice_id": practice, "email": canaries[3], "password": canaries[7]}),
    )
    .await
    .unwrap();

    let output = server.stop().await;
    assert!(
        output.contains("\"request_id\""),
        "the logs are JSON with ids: {output}"
    );
    assert!(output.contains("patient created"), "{output}");
    for canary in canaries {
        assert!(!output.contains(canary), "log output contains {canary}");
    }
}
