//! Field encryption: canaries never reach the database in plain text, and a ciphertext moved
//! to another row or practice does not decrypt.

use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn a_database_dump_holds_no_national_number_or_clinical_text() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let nl = app.practice_with_admin("B", "NL").await;
    let canary_insz = insz("730412987");
    let canary_bsn = "246813581"; // passes the 11-proof
    let canary_text = format!("CANARY-PATHOLOGY-{}", uuid::Uuid::new_v4().simple());
    let canary_street = format!("Canarystraat{}", uuid::Uuid::new_v4().simple());
    let canary_city = format!("Canarystad{}", uuid::Uuid::new_v4().simple());
    let be = app
        .patient(
            &admin,
            json!({"family_name": "Canary", "given_names": "Be", "birth_date": "1973-04-12", "sex": "male",
                   "national_number": canary_insz, "clinical_summary": canary_text,
                   "address": {"street": canary_street, "number": "7", "box": "2", "postcode": "9000",
                               "city": canary_city, "country": "BE"}}),
        )
        .await;
    let read = app
        .call(
            "GET",
            &format!("/v1/patients/{be}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(read.body["address"]["street"], canary_street.as_str());
    assert_eq!(read.body["address"]["postcode"], "9000");
    // A Dutch postcode in its usual form; a Belgian address with a Dutch postcode is refused.
    let moved = app
        .call("PATCH", &format!("/v1/patients/{be}"), Some(&admin.token),
              Some(&json!({"address": {"street": canary_street, "number": "7", "postcode": "3511ab", "city": canary_city, "country": "NL"}})))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["address"]["postcode"], "3511 AB");
    let wrong = app
        .call("PATCH", &format!("/v1/patients/{be}"), Some(&admin.token),
              Some(&json!({"address": {"street": canary_street, "number": "7", "postcode": "3511 AB", "city": canary_city, "country": "BE"}})))
        .await;
    assert_eq!(
        wrong.problem(422, "invalid_field")["field"],
        "address.postcode"
    );
    assert!(!wrong.text.contains("3511"), "{}", wrong.text);
    app.patient(
        &nl,
        json!({"family_name": "Canary", "given_names": "Nl", "birth_date": "1973-04-12", "sex": "male",
               "national_number": canary_bsn, "clinical_summary": canary_text}),
    )
    .await;
    // The API gives them back to those allowed to see them ...
    let found = app
        .call(
            "POST",
            "/v1/patients/search",
            Some(&admin.token),
            Some(&json!({"national_number": canary_insz})),
        )
        .await;
    assert_eq!(
        found.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        found.text
    );
    // ... but the dump does not contain them.
    let db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    let out = tokio::process::Command::new("pg_dump")
        .args([
            "--host",
            "127.0.0.1",
            "--username",
            "postgres",
            "--no-owner",
            &db,
        ])
        .output()
        .await
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        dump.contains("Canary"),
        "the dump is real and holds the patient rows"
    );
    for canary in [
        canary_insz.as_str(),
        canary_bsn,
        canary_text.as_str(),
        canary_street.as_str(),
        canary_city.as_str(),
    ] {
        assert!(!dump.contains(canary), "plain canary {canary} in the dump");
    }
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_or_practice_does_not_decrypt() {
    let app = spawn_app().await;
    let a = app.practice_with_admin("A", "BE").await;
    let b = app.practice_with_admin("B", "BE").await;
    let body = |n: &str| {
        json!({"family_name": n, "given_names": "X", "birth_date": "1980-01-01", "sex": "female",
                               "national_number": insz("800101123"), "clinical_summary": "secret"})
    };
    let a1 = app.patient(&a, body("One")).await;
    let a2 = app.patient(&a, body("Two")).await;
    let b1 = app.patient(&b, body("Other")).await;
    // Copy a1's ciphertexts onto a2 (same practice) and b1 (other practice), as the owner.
    for target in [a2, b1] {
        sqlx::query(
            "update core.patient t set national_number_enc = s.national_number_enc, clinical_summary_enc = s.clinical_summary_enc
               from core.patient s where s.patient_id = $1 and t.patient_id = $2",
        )
        .bind(a1)
        .bind(target)
        .execute(&app.owner)
        .await
        .unwrap();
    }
    app.call("GET", &format!("/v1/patients/{a1}"), Some(&a.token), None)
        .await;
    let moved = app
        .call("GET", &format!("/v1/patients/{a2}"), Some(&a.token), None)
        .await;
    moved.problem(500, "internal");
    assert!(!moved.text.contains("secret") && !moved.text.contains("800101123"));
    assert!(
        moved.body["request_id"].is_string(),
        "5xx bodies carry the request id"
    );
    app.call("GET", &format!("/v1/patients/{b1}"), Some(&b.token), None)
        .await
        .problem(500, "internal");
}
