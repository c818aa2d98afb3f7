//! Referral data where the code needs it: a tariff says its code is only paid on a referral; a
//! claim line of it stays invalid (`referral_missing`) until the patient has a referral covering
//! the service date; the check then keeps that referral on the line and the PM304 file names
//! its date, referrer and specialism (0424–0426). Referrals are validated in the practice's
//! country, listed, deleted only while no line rests on them, and invisible to other practices.

use claims::vektis::model::Referral;
use claims::vektis::parse::declaration;
use claims::vektis::pm304_v32::PM304;
use praxis_tests::billing::Billing;
use praxis_tests::{TestApp, spawn_app};
use serde_json::{Value, json};

use super::patient;

const CLAIMABLE: &str = domain::jobs::CLAIMABLE;

async fn lines(app: &TestApp, b: &Billing, state: &str) -> Vec<Value> {
    let r = send(app, b, "GET", &format!("/v1/claims/lines?state={state}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

async fn send(app: &TestApp, b: &Billing, method: &str, path: &str) -> praxis_tests::Reply {
    app.call(method, path, b.token(), None).await
}

async fn refer(app: &TestApp, b: &Billing, patient: &str, body: Value) -> praxis_tests::Reply {
    app.call(
        "POST",
        &format!("/v1/patients/{patient}/referrals"),
        b.token(),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn a_code_paid_only_on_referral_waits_for_one_and_the_file_names_it() {
    let app = spawn_app().await;
    let b = Billing::setup_in(&app, "NL").await;
    let jansen = patient(&app, &b, json!({"family_name": "Jansen", "given_names": "Piet", "birth_date": "1975-06-01", "sex": "male",
        "national_number": "123456782", "insurance_country": "NL", "uzovi": "3311"})).await;
    // The practice's tariff for care on referral (beside its direct-access one).
    let t = app
        .call("POST", "/v1/tariffs", b.token(), Some(&json!({"appointment_type_id": b.clinic.type_id, "code": "1000",
            "label": "Fysiotherapie op verwijzing", "convention": "verwijzing", "valid_from": "2020-01-01",
            "fee": "37.50", "insurer_share": "37.50", "referral_required": true})))
        .await;
    assert_eq!(t.status, 201, "{}", t.text);
    assert_eq!(t.body["referral_required"], true);
    let tariff = t.body["tariff_id"].as_str().unwrap();
    let invoice = b
        .issued_with(
            &app,
            &jansen,
            json!([{"tariff_id": tariff, "service_date": "2026-03-02", "quantity": "1"}]),
        )
        .await;
    app.drain(&[CLAIMABLE]).await;

    // No referral: the line waits, naming what is missing.
    let invalid = lines(&app, &b, "invalid").await;
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(
        invalid[0]["problems"],
        json!([{"rule": "referral_missing", "field": "line.referral", "retourcode": null}])
    );
    assert_eq!(invalid[0]["referral_id"], Value::Null);

    // Bad referrals are refused naming the field, never echoing it; nothing is written.
    let bad = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "0101234", "referral_date": "2026-02-20"}),
    )
    .await;
    assert_eq!(
        bad.problem(422, "invalid_field")["field"],
        "prescriber_number"
    );
    assert!(!bad.text.contains("0101234"));
    // A Belgian RIZIV number in a Dutch practice.
    let bad = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "10000106003", "referral_date": "2026-02-20"}),
    )
    .await;
    assert_eq!(
        bad.problem(422, "invalid_field")["field"],
        "prescriber_number"
    );
    let bad = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "01012345", "referral_date": "2026-02-20",
        "valid_until": "2026-02-19"}),
    )
    .await;
    assert_eq!(bad.problem(422, "invalid_field")["field"], "valid_until");
    let bad = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "01012345", "referral_date": "2026-02-20",
        "prescriber_specialism": "01A0"}),
    )
    .await;
    assert_eq!(
        bad.problem(422, "invalid_field")["field"],
        "prescriber_specialism"
    );
    let bad = refer(&app, &b, &jansen, json!({"prescriber_number": "01012345"})).await;
    assert_eq!(bad.problem(400, "invalid_body")["field"], "referral_date");
    assert_eq!(app.count("select count(*) from core.referral").await, 0);

    // A referral written after the service does not cover it.
    let late = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "01012346", "referral_date": "2026-03-05"}),
    )
    .await;
    assert_eq!(late.status, 201, "{}", late.text);
    let r = send(&app, &b, "POST", "/v1/claims/lines/check").await;
    assert_eq!(r.body, json!({"checked": 1, "ready": 0, "invalid": 1}));

    // The GP's referral of February covers it: the line is ready and rests on it.
    let gp = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "01 01 23 45", "prescriber_specialism": "0100",
        "referral_date": "2026-02-20", "valid_until": "2026-08-19"}),
    )
    .await;
    assert_eq!(gp.status, 201, "{}", gp.text);
    assert_eq!(gp.body["prescriber_number"], "01012345");
    let gp_id = gp.body["referral_id"].as_str().unwrap().to_owned();
    let r = send(&app, &b, "POST", "/v1/claims/lines/check").await;
    assert_eq!(r.body, json!({"checked": 1, "ready": 1, "invalid": 0}));
    let ready = lines(&app, &b, "ready").await;
    assert_eq!(ready[0]["referral_id"], gp_id.as_str());
    let list = send(&app, &b, "GET", &format!("/v1/patients/{jansen}/referrals")).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let dates: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["referral_date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-03-05", "2026-02-20"], "newest first");

    // The PM304 file names the referral on the service record.
    let batch = app
        .call("POST", "/v1/claims/batches", b.token(),
            Some(&json!({"insurer": "3311", "period_start": "2026-03-01", "period_end": "2026-03-31"})))
        .await;
    assert_eq!(batch.status, 201, "{}", batch.text);
    let id = batch.body["batch_id"].as_str().unwrap();
    let g = send(
        &app,
        &b,
        "POST",
        &format!("/v1/claims/batches/{id}/generate"),
    )
    .await;
    assert_eq!(g.status, 200, "{}", g.text);
    let file = app
        .client
        .get(format!("{}/v1/claims/batches/{id}/file", app.base))
        .bearer_auth(b.token().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let d = declaration(&PM304, &file).unwrap();
    let service = &d.insured[0].1[0];
    assert_eq!(
        service.referral,
        Some(Referral {
            date: chrono::NaiveDate::from_ymd_opt(2026, 2, 20).unwrap(),
            referrer_agb: "01012345".into(),
            specialism: Some("0100".into()),
        })
    );
    assert_eq!(service.tariff, 3750);

    // A newer referral covering the same day does not change what a credit takes back: the
    // credit line names the referral of the line it mirrors.
    let newer = refer(
        &app,
        &b,
        &jansen,
        json!({"prescriber_number": "01012347", "referral_date": "2026-02-25"}),
    )
    .await;
    assert_eq!(newer.status, 201, "{}", newer.text);
    let invoice_id = invoice["invoice_id"].as_str().unwrap();
    let cn = app
        .call(
            "POST",
            &format!("/v1/invoices/{invoice_id}/credit-notes"),
            b.token(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cn.status, 201, "{}", cn.text);
    app.drain(&[CLAIMABLE]).await;
    let credit = lines(&app, &b, "ready").await;
    assert_eq!(
        (
            credit[0]["kind"].as_str(),
            credit[0]["referral_id"].as_str()
        ),
        (Some("credit"), Some(gp_id.as_str()))
    );

    // A referral a line rests on stays; one entered by mistake goes; a gone one is not found.
    let in_use = send(
        &app,
        &b,
        "DELETE",
        &format!("/v1/patients/{jansen}/referrals/{gp_id}"),
    )
    .await;
    in_use.problem(409, "referral_in_use");
    let late_id = late.body["referral_id"].as_str().unwrap();
    let gone = send(
        &app,
        &b,
        "DELETE",
        &format!("/v1/patients/{jansen}/referrals/{late_id}"),
    )
    .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    let again = send(
        &app,
        &b,
        "DELETE",
        &format!("/v1/patients/{jansen}/referrals/{late_id}"),
    )
    .await;
    assert_eq!(
        again.problem(404, "referral_not_found")["field"],
        "referral_id"
    );
    assert_eq!(app.count("select count(*) from core.referral").await, 2);

    // Another practice neither sees nor touches them; every access is audited with the patient.
    let other = Billing::setup_in(&app, "NL").await;
    let r = send(
        &app,
        &other,
        "GET",
        &format!("/v1/patients/{jansen}/referrals"),
    )
    .await;
    r.problem(404, "patient_not_found");
    let r = send(
        &app,
        &other,
        "DELETE",
        &format!("/v1/patients/{jansen}/referrals/{gp_id}"),
    )
    .await;
    r.problem(404, "patient_not_found");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from core.audit_event where patient_id = $1 and reason in ('referral_added', 'referrals_listed', 'referral_deleted')",
    )
    .bind(uuid::Uuid::parse_str(&jansen).unwrap())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(audited, 5, "three added, one listing, one deletion");
}
