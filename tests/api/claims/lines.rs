//! Claim lines: one per invoice line with an insurer share, made once by the `claims.claimable`
//! job, checked against the rules; credit notes mirror the lines they take back; invalid lines
//! show what to correct and become ready once corrected.

use praxis_tests::billing::Billing;
use praxis_tests::{TestApp, insz, spawn_app};
use serde_json::{Value, json};

use super::patient;

const CLAIMABLE: &str = domain::jobs::CLAIMABLE;

async fn lines(app: &TestApp, b: &Billing, query: &str) -> Vec<Value> {
    let r = app
        .call("GET", &format!("/v1/claims/lines{query}"), b.token(), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

#[tokio::test]
async fn issued_invoices_become_checked_claim_lines_and_corrections_make_them_ready() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let insured = patient(&app, &b, json!({"family_name": "Claes", "given_names": "An", "birth_date": "1986-01-31", "sex": "female",
        "national_number": insz("860131302"), "insurance_country": "BE", "mutuality_code": "500"})).await;
    let unknown = patient(&app, &b, json!({"family_name": "Dewit", "given_names": "Bo", "birth_date": "1990-02-01", "sex": "male"})).await;
    let good = b.issued_for(&app, &insured).await;
    let bad = b.issued_for(&app, &unknown).await;
    app.drain(&[CLAIMABLE]).await;

    let ready = lines(&app, &b, "?state=ready").await;
    assert_eq!(ready.len(), 1);
    let line = &ready[0];
    assert_eq!(
        line["reference"],
        format!("{}/1", good["number"].as_str().unwrap())
    );
    assert_eq!(
        (
            line["kind"].as_str(),
            line["amount"].as_str(),
            line["code"].as_str()
        ),
        (Some("debit"), Some("24.37"), Some("560011"))
    );
    assert_eq!(
        (line["insurer"].as_str(), line["country"].as_str()),
        (Some("500"), Some("BE"))
    );
    assert_eq!(line["problems"], json!([]));

    let invalid = lines(&app, &b, "?state=invalid").await;
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0]["invoice_id"], bad["invoice_id"]);
    let problems: Vec<(&str, &str)> = invalid[0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["rule"].as_str().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        [
            ("insurance_country", "patient.insurance_country"),
            ("insz_missing", "patient.national_number"),
            ("mutuality", "patient.mutuality_code")
        ]
    );

    // The job is idempotent: run again, nothing new.
    let job = domain::jobs::Claimable {
        practice_id: domain::PracticeId::from_uuid(b.clinic.admin.practice_id),
        invoice_id: good["invoice_id"].as_str().unwrap().parse().unwrap(),
    };
    assert_eq!(claims::lines::make_lines(&app.state, job).await.unwrap(), 0);
    assert_eq!(app.count("select count(*) from claims.claim_line").await, 2);

    // A credit note mirrors the line it takes back.
    let cn = app
        .call(
            "POST",
            &format!(
                "/v1/invoices/{}/credit-notes",
                good["invoice_id"].as_str().unwrap()
            ),
            b.token(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cn.status, 201, "{}", cn.text);
    app.drain(&[CLAIMABLE]).await;
    let credit = lines(
        &app,
        &b,
        &format!("?invoice_id={}", cn.body["invoice_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(credit.len(), 1);
    assert_eq!(
        (credit[0]["kind"].as_str(), credit[0]["amount"].as_str()),
        (Some("credit"), Some("24.37"))
    );
    assert_eq!(credit[0]["corrects_line_id"], line["line_id"]);

    // Staff correct the patient; a check makes the line ready.
    let r = app.call("PATCH", &format!("/v1/patients/{unknown}"), b.token(),
        Some(&json!({"national_number": insz("900201003"), "insurance_country": "BE", "mutuality_code": "216"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call("POST", "/v1/claims/lines/check", b.token(), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"checked": 1, "ready": 1, "invalid": 0}));
    let one = app
        .call(
            "GET",
            &format!(
                "/v1/claims/lines/{}",
                invalid[0]["line_id"].as_str().unwrap()
            ),
            b.token(),
            None,
        )
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(
        (one.body["state"].as_str(), one.body["insurer"].as_str()),
        (Some("ready"), Some("216"))
    );

    // Another practice sees none of it; reads are audited with the patients.
    let other = Billing::setup(&app).await;
    let r = app
        .call(
            "GET",
            &format!("/v1/claims/lines/{}", line["line_id"].as_str().unwrap()),
            other.token(),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(lines(&app, &other, "").await.is_empty());
    assert!(
        app.count("select count(*) from core.audit_event where event = 'claim_lines_listed'")
            .await
            >= 3
    );
    // Nothing of the patient's identifiers is in the claim lines.
    let dump: String =
        sqlx::query_scalar("select string_agg(t::text, ' ') from claims.claim_line t")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert!(!dump.contains(&insz("860131302")) && !dump.contains("Claes"));
}

#[tokio::test]
async fn dutch_lines_are_checked_by_dutch_rules_and_bad_filters_are_refused() {
    let app = spawn_app().await;
    let b = Billing::setup_in(&app, "NL").await;
    let insured = patient(&app, &b, json!({"family_name": "Jansen", "given_names": "Piet", "birth_date": "1975-06-01", "sex": "male",
        "national_number": "123456782", "insurance_country": "NL", "uzovi": "3311"})).await;
    let no_uzovi = patient(&app, &b, json!({"family_name": "Visser", "given_names": "Els", "birth_date": "1979-03-02", "sex": "female",
        "national_number": "957136171", "insurance_country": "NL"})).await;
    b.issued_for(&app, &insured).await;
    b.issued_for(&app, &no_uzovi).await;
    app.drain(&[CLAIMABLE]).await;
    let ready = lines(&app, &b, "?state=ready").await;
    assert_eq!(ready.len(), 1);
    assert_eq!(
        (ready[0]["country"].as_str(), ready[0]["insurer"].as_str()),
        (Some("NL"), Some("3311"))
    );
    let invalid = lines(&app, &b, "?state=invalid").await;
    assert_eq!(invalid.len(), 1);
    assert_eq!(
        invalid[0]["problems"],
        json!([{"rule": "uzovi", "field": "patient.uzovi", "retourcode": null}])
    );
    // Insured only until the end of February: the March service is outside the period.
    let lapsed = patient(&app, &b, json!({"family_name": "Bakker", "given_names": "Anna", "birth_date": "1981-04-02", "sex": "female",
        "national_number": "111222333", "insurance_country": "NL", "uzovi": "3311",
        "insurance_valid_from": "2025-01-01", "insurance_valid_until": "2026-02-28"})).await;
    let issued = b.issued_for(&app, &lapsed).await;
    app.drain(&[CLAIMABLE]).await;
    let line = lines(
        &app,
        &b,
        &format!("?invoice_id={}", issued["invoice_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        line[0]["problems"],
        json!([{"rule": "insurance_period", "field": "patient.insurance_valid_until", "retourcode": null}])
    );
    let r = app
        .call(
            "PATCH",
            &format!("/v1/patients/{lapsed}"),
            b.token(),
            Some(&json!({"insurance_valid_until": "2026-12-31"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["insurance_valid_until"], "2026-12-31");
    let r = app
        .call("POST", "/v1/claims/lines/check", b.token(), None)
        .await;
    assert_eq!(r.body["ready"], 1, "{}", r.text);
    // A period that ends before it starts is refused, naming the field.
    let r = app
        .call(
            "PATCH",
            &format!("/v1/patients/{lapsed}"),
            b.token(),
            Some(&json!({"insurance_valid_until": "2024-12-31"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["field"], "insurance_valid_until");

    let r = app
        .call("GET", "/v1/claims/lines?state=bogus", b.token(), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["field"], "state");
    let r = app
        .call("GET", "/v1/claims/lines?limit=501", b.token(), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["field"], "limit");
}
