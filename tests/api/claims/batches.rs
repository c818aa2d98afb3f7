//! Batches and PM304/PM305 files over HTTP: the ready lines of one insurer and period go into
//! a draft, its file is generated (validated before it is stored, encrypted at rest, under a
//! file number of its own), downloaded, sent, and answered line by line by the insurer's return
//! file; bad input is refused with nothing written, and other practices see nothing.

use claims::vektis::parse::declaration;
use claims::vektis::pm304_v32::PM304;
use claims::vektis::validate::Validator;
use praxis_tests::billing::Billing;
use praxis_tests::{TestApp, spawn_app};
use serde_json::{Value, json};

use super::patient;

const CLAIMABLE: &str = domain::jobs::CLAIMABLE;

/// A Dutch practice with two insured patients and three issued invoices (March 2026).
async fn dutch_practice(app: &TestApp) -> (Billing, String, String) {
    let b = Billing::setup_in(app, "NL").await;
    let jansen = patient(app, &b, json!({"family_name": "Jansen-Ölçer", "given_names": "Piet Jan", "birth_date": "1975-06-01", "sex": "male",
        "national_number": "123456782", "insurance_country": "NL", "uzovi": "3311", "policy_number": "100234567",
        "address": {"street": "Oudegracht", "number": "12A", "postcode": "3511 AB", "city": "Utrecht", "country": "NL"}})).await;
    let visser = patient(app, &b, json!({"family_name": "Visser", "given_names": "Els", "birth_date": "1979-03-02", "sex": "female",
        "national_number": "957136171", "insurance_country": "NL", "uzovi": "3311"})).await;
    b.issued_for(app, &jansen).await;
    b.issued_for(app, &jansen).await;
    b.issued_for(app, &visser).await;
    app.drain(&[CLAIMABLE]).await;
    (b, jansen, visser)
}

async fn new_batch(app: &TestApp, b: &Billing, insurer: &str) -> praxis_tests::Reply {
    app.call(
        "POST",
        "/v1/claims/batches",
        b.token(),
        Some(
            &json!({"insurer": insurer, "period_start": "2026-03-01", "period_end": "2026-03-31"}),
        ),
    )
    .await
}

async fn post(app: &TestApp, b: &Billing, path: &str) -> praxis_tests::Reply {
    app.call("POST", path, b.token(), None).await
}

async fn download(app: &TestApp, b: &Billing, batch: &str) -> (u16, Vec<u8>, String) {
    let r = app
        .client
        .get(format!("{}/v1/claims/batches/{batch}/file", app.base))
        .bearer_auth(b.token().unwrap())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, r.bytes().await.unwrap().to_vec(), kind)
}

/// Every stored chunk, as stored.
async fn chunks(app: &TestApp) -> Vec<Vec<u8>> {
    sqlx::query_scalar("select data from claims.file_chunk")
        .fetch_all(&app.owner)
        .await
        .unwrap()
}

/// Whether any chunk holds `plain`'s bytes.
fn contains(chunks: &[Vec<u8>], plain: &str) -> bool {
    chunks
        .iter()
        .any(|c| c.windows(plain.len()).any(|w| w == plain.as_bytes()))
}

async fn upload(app: &TestApp, b: &Billing, bytes: Vec<u8>) -> praxis_tests::Reply {
    app.raw(
        "POST",
        "/v1/claims/return-files",
        b.token(),
        "text/plain",
        bytes,
    )
    .await
}

#[tokio::test]
async fn a_dutch_batch_is_generated_downloaded_sent_and_answered_line_by_line() {
    let app = spawn_app().await;
    let (b, jansen, visser) = dutch_practice(&app).await;

    // A draft takes the three ready lines of the insurer and period.
    let r = new_batch(&app, &b, "3311").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let batch = r.body["batch_id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            r.body["state"].as_str(),
            r.body["format"].as_str(),
            r.body["line_count"].as_i64(),
            r.body["total"].as_str()
        ),
        (Some("draft"), Some("pm304"), Some(3), Some("73.11"))
    );
    assert_eq!(r.body["file_number"], Value::Null);
    assert_eq!(
        app.count("select count(*) from claims.claim_line where state = 'batched'")
            .await,
        3
    );
    // Nothing is left for a second batch.
    let again = new_batch(&app, &b, "3311").await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert_eq!(again.body["field"], "insurer");

    // Generated: the file passes the validator and says what the lines say.
    let (status, _, _) = download(&app, &b, &batch).await;
    assert_eq!(status, 409, "no file before generation");
    let g = post(&app, &b, &format!("/v1/claims/batches/{batch}/generate")).await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_eq!(g.body["state"], "generated");
    let number = g.body["file_number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("2026") && number.len() == 12, "{number}");
    assert_eq!(g.body["files"].as_array().unwrap().len(), 1);
    let (status, file, kind) = download(&app, &b, &batch).await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/octet-stream");
    assert_eq!(Validator::check(&PM304, &file), vec![]);
    let d = declaration(&PM304, &file).unwrap();
    assert_eq!(d.header.invoice_number, number);
    assert_eq!(
        (d.header.uzovi.as_str(), d.header.practice_agb.as_str()),
        ("3311", "04012345")
    );
    assert_eq!(d.insured.len(), 2);
    let (who, lines) = d
        .insured
        .iter()
        .find(|(p, _)| p.bsn == "123456782")
        .unwrap();
    assert_eq!(
        (who.family_name.as_str(), who.initials.as_str(), who.sex),
        ("Jansen-Olcer", "PJ", 1)
    );
    assert_eq!(
        (
            who.postcode.as_deref(),
            who.house_number,
            who.house_number_suffix.as_deref()
        ),
        (Some("3511AB"), 12, Some("A"))
    );
    assert_eq!(who.insured_number.as_deref(), Some("100234567"));
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[0].tariff,
            lines[0].calculated,
            lines[0].amount,
            lines[0].credit
        ),
        (3250, 3250, 2437, false)
    );
    let references: Vec<String> = d
        .insured
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.reference.clone()))
        .collect();

    // At rest the file is encrypted: no BSN, no name in the chunks.
    let stored = chunks(&app).await;
    for plain in ["123456782", "Jansen", "04012345", "2026-000"] {
        assert!(!contains(&stored, plain), "{plain} stored in the clear");
    }
    // Generation and download are audit rows naming both patients.
    for event in ["claim_file_generated", "claim_file_downloaded"] {
        let named: Vec<uuid::Uuid> = sqlx::query_scalar(
            "select patient_id from core.audit_event where event = $1 order by patient_id",
        )
        .bind(event)
        .fetch_all(&app.owner)
        .await
        .unwrap();
        let mut expected: Vec<uuid::Uuid> = vec![jansen.parse().unwrap(), visser.parse().unwrap()];
        expected.sort();
        assert_eq!(named, expected, "{event}");
    }

    // Generated once: never again, and no answer before it is sent.
    let g2 = post(&app, &b, &format!("/v1/claims/batches/{batch}/generate")).await;
    assert_eq!(g2.status, 409, "{}", g2.text);
    let early = upload(
        &app,
        &b,
        praxis_tests::insurer::answer(&file, &[], "20260420"),
    )
    .await;
    assert_eq!(early.status, 409, "{}", early.text);
    let s = post(&app, &b, &format!("/v1/claims/batches/{batch}/sent")).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["state"], "sent");

    // The answer: two lines rejected (0611: tariff not as contracted), one granted.
    let (rejected_ref, rebill_ref) = (references[1].clone(), references[2].clone());
    let answer = praxis_tests::insurer::answer(
        &file,
        &[(&rejected_ref, "0611"), (&rebill_ref, "0611")],
        "20260420",
    );
    // Garbled, or of another practice: refused, nothing written.
    let files_before = app.count("select count(*) from claims.claim_file").await;
    let mut garbled = answer.clone();
    garbled.remove(500);
    let bad = upload(&app, &b, garbled).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["code"], "return_file_invalid");
    assert!(
        bad.body["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "record_length" && f["retourcode"] == "0804")
    );
    let other = Billing::setup_in(&app, "NL").await;
    let foreign = upload(&app, &other, answer.clone()).await;
    assert_eq!(foreign.status, 422, "{}", foreign.text);
    assert_eq!(foreign.body["code"], "return_file_unknown");
    let wrong_type = app
        .raw(
            "POST",
            "/v1/claims/return-files",
            b.token(),
            "application/json",
            answer.clone(),
        )
        .await;
    assert_eq!(wrong_type.status, 415, "{}", wrong_type.text);
    assert_eq!(
        app.count("select count(*) from claims.claim_file").await,
        files_before
    );
    assert_eq!(
        app.count("select count(*) from claims.claim_line where state = 'batched'")
            .await,
        3
    );

    let a = upload(&app, &b, answer.clone()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        (a.body["accepted"].as_i64(), a.body["rejected"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        (
            a.body["batch"]["state"].as_str(),
            a.body["batch"]["outcome"].as_str(),
            a.body["batch"]["granted"].as_str()
        ),
        (Some("answered"), Some("partly"), Some("24.37"))
    );
    let r = app
        .call("GET", "/v1/claims/lines?state=rejected", b.token(), None)
        .await;
    assert_eq!(r.status, 200);
    let rejected = r.body.as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    let by_ref = |reference: &str| {
        rejected
            .iter()
            .find(|l| l["reference"] == reference)
            .unwrap()
            .clone()
    };
    let (resubmit, rebill) = (by_ref(&rejected_ref), by_ref(&rebill_ref));
    assert_eq!(resubmit["return_codes"], json!(["0611"]));
    assert_eq!(resubmit["granted"], "0.00");
    assert_eq!(
        app.count("select count(*) from claims.claim_line where state = 'accepted'")
            .await,
        1
    );
    // Answered once.
    let twice = upload(&app, &b, answer).await;
    assert_eq!(twice.status, 409, "{}", twice.text);

    // Resubmitted: a credit mirroring the rejected line and a new debit, both ready.
    let line_path = |l: &Value, verb: &str| {
        format!("/v1/claims/lines/{}/{verb}", l["line_id"].as_str().unwrap())
    };
    let r = post(&app, &b, &line_path(&resubmit, "resubmit")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (credit, debit) = (&r.body["credit"], &r.body["debit"]);
    assert_eq!(
        (
            credit["kind"].as_str(),
            credit["origin"].as_str(),
            credit["state"].as_str()
        ),
        (Some("credit"), Some("correction"), Some("ready"))
    );
    assert_eq!(credit["corrects_line_id"], resubmit["line_id"]);
    assert_eq!(credit["reference"], format!("{rejected_ref}-C1"));
    assert_eq!(
        (
            debit["kind"].as_str(),
            debit["origin"].as_str(),
            debit["state"].as_str()
        ),
        (Some("debit"), Some("resubmission"), Some("ready"))
    );
    assert_eq!(debit["replaces_line_id"], resubmit["line_id"]);
    assert_eq!(debit["reference"], format!("{rejected_ref}-R1"));
    // Re-billed: invoicing drafts the patient's invoice for the refused share.
    let r = post(&app, &b, &line_path(&rebill, "rebill")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["settled"], "rebilled");
    // Each once, one way.
    for (l, verb) in [
        (&resubmit, "resubmit"),
        (&resubmit, "rebill"),
        (&rebill, "rebill"),
        (&rebill, "resubmit"),
    ] {
        let again = post(&app, &b, &line_path(l, verb)).await;
        assert_eq!(again.status, 409, "{verb}: {}", again.text);
    }
    app.drain(&[domain::jobs::REBILL_CLAIM]).await;
    let drafted: (String, String, String, uuid::Uuid) = sqlx::query_as(
        "select status, total::text, insurer_total::text, patient_id from invoicing.invoice
          where rebills_claim_line_id = $1",
    )
    .bind(
        rebill["line_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .unwrap(),
    )
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        (drafted.0.as_str(), drafted.1.as_str(), drafted.2.as_str()),
        ("draft", "24.37", "0.00")
    );
    assert_eq!(
        drafted.3.to_string(),
        rebill["patient_id"].as_str().unwrap()
    );

    // The next batch takes the credit and the new debit; its file says so.
    let next = new_batch(&app, &b, "3311").await;
    assert_eq!(next.status, 201, "{}", next.text);
    assert_eq!(
        (
            next.body["line_count"].as_i64(),
            next.body["total"].as_str()
        ),
        (Some(2), Some("0.00"))
    );
    let next_id = next.body["batch_id"].as_str().unwrap().to_owned();
    let g = post(&app, &b, &format!("/v1/claims/batches/{next_id}/generate")).await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_ne!(g.body["file_number"].as_str(), Some(number.as_str()));
    let (_, second, _) = download(&app, &b, &next_id).await;
    let d = declaration(&PM304, &second).unwrap();
    let services: Vec<_> = d.insured.iter().flat_map(|(_, s)| s).collect();
    let credit_line = services.iter().find(|s| s.credit).unwrap();
    assert_eq!(
        credit_line.previous_reference.as_deref(),
        Some(rejected_ref.as_str())
    );
    assert_eq!(credit_line.reference, format!("{rejected_ref}-C1"));
    assert!(
        services
            .iter()
            .any(|s| !s.credit && s.reference == format!("{rejected_ref}-R1"))
    );

    // Another practice sees none of it.
    for path in [
        format!("/v1/claims/batches/{batch}"),
        format!("/v1/claims/batches/{batch}/file"),
    ] {
        let r = app.call("GET", &path, other.token(), None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    let r = app
        .call("GET", "/v1/claims/batches", other.token(), None)
        .await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn a_file_that_would_fail_the_insurer_is_never_stored_and_bad_requests_are_refused() {
    let app = spawn_app().await;
    let (b, jansen, _) = dutch_practice(&app).await;
    // Unknown or malformed insurers, a backwards period: refused, nothing written.
    for (body, field) in [
        (
            json!({"insurer": "33", "period_start": "2026-03-01", "period_end": "2026-03-31"}),
            "insurer",
        ),
        (
            json!({"insurer": "500", "period_start": "2026-03-01", "period_end": "2026-03-31"}),
            "insurer",
        ),
        (
            json!({"insurer": "9999", "period_start": "2026-03-01", "period_end": "2026-03-31"}),
            "insurer",
        ),
        (
            json!({"insurer": "3311", "period_start": "2026-03-31", "period_end": "2026-03-01"}),
            "period_end",
        ),
    ] {
        let r = app
            .call("POST", "/v1/claims/batches", b.token(), Some(&body))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(r.body["field"], field, "{body}");
    }
    assert_eq!(app.count("select count(*) from claims.batch").await, 0);

    let r = new_batch(&app, &b, "3311").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let batch = r.body["batch_id"].as_str().unwrap().to_owned();
    // The patient's record changes after batching to something PM304 cannot say.
    let p = app
        .call(
            "PATCH",
            &format!("/v1/patients/{jansen}"),
            b.token(),
            Some(&json!({"sex": "unknown"})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    let g = post(&app, &b, &format!("/v1/claims/batches/{batch}/generate")).await;
    assert_eq!(g.status, 422, "{}", g.text);
    assert_eq!(g.body["code"], "file_invalid");
    assert!(
        g.body["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "sex" && f["field"] == "0208" && f["record"] == 2),
        "{}",
        g.text
    );
    assert!(!g.text.contains("123456782") && !g.text.contains("Jansen"));
    // Nothing stored, no number used.
    for table in [
        "claims.claim_file",
        "claims.file_chunk",
        "claims.file_counter",
    ] {
        assert_eq!(
            app.count(&format!("select count(*) from {table}")).await,
            0,
            "{table}"
        );
    }
    let one = app
        .call(
            "GET",
            &format!("/v1/claims/batches/{batch}"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(one.body["state"], "draft");

    // The draft is thrown away: its lines are ready again, and a re-check finds the sex.
    let d = app
        .call(
            "DELETE",
            &format!("/v1/claims/batches/{batch}"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(d.status, 204, "{}", d.text);
    assert_eq!(
        app.count(
            "select count(*) from claims.claim_line where state = 'ready' and batch_id is null"
        )
        .await,
        3
    );
    let unknown = app
        .call(
            "GET",
            &format!("/v1/claims/batches/{}", uuid::Uuid::now_v7()),
            b.token(),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["field"], "batch_id");
    let r = app
        .call("GET", "/v1/claims/batches?state=bogus", b.token(), None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "state");
}

#[tokio::test]
async fn a_belgian_batch_is_an_efact_message_that_passes_its_validator() {
    use claims::efact::parse::message;
    use claims::efact::validate::EfactValidator;
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let claes = patient(&app, &b, json!({"family_name": "Claes", "given_names": "An", "birth_date": "1986-10-31", "sex": "female",
        "national_number": "86103130262", "insurance_country": "BE", "mutuality_code": "500"})).await;
    let peeters = patient(&app, &b, json!({"family_name": "Peeters", "given_names": "Jan", "birth_date": "1990-02-01", "sex": "male",
        "national_number": praxis_tests::insz("900201003"), "insurance_country": "BE", "mutuality_code": "500"})).await;
    // Claes's care rests on a doctor's prescription: the file names it, whether or not the
    // code needs one.
    let prescription = app
        .call(
            "POST",
            &format!("/v1/patients/{claes}/referrals"),
            b.token(),
            Some(&json!({"prescriber_number": "10000106003", "referral_date": "2026-02-20"})),
        )
        .await;
    assert_eq!(prescription.status, 201, "{}", prescription.text);
    let first = b.issued_for(&app, &claes).await;
    b.issued_for(&app, &peeters).await;
    // A credit note for the first invoice: its line is a credit in the same sending.
    let cn = app
        .call(
            "POST",
            &format!(
                "/v1/invoices/{}/credit-notes",
                first["invoice_id"].as_str().unwrap()
            ),
            b.token(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cn.status, 201, "{}", cn.text);
    app.drain(&[CLAIMABLE]).await;

    let r = new_batch(&app, &b, "500").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (
            r.body["format"].as_str(),
            r.body["line_count"].as_i64(),
            r.body["total"].as_str()
        ),
        (Some("efact"), Some(3), Some("24.37"))
    );
    let batch = r.body["batch_id"].as_str().unwrap().to_owned();
    let g = post(&app, &b, &format!("/v1/claims/batches/{batch}/generate")).await;
    assert_eq!(g.status, 200, "{}", g.text);
    let (status, file, _) = download(&app, &b, &batch).await;
    assert_eq!(status, 200);
    assert_eq!(EfactValidator::check(&file), vec![]);
    let m = message(&file).unwrap();
    assert_eq!(m.sending.provider, "54263481527");
    assert_eq!(m.sending.mutuality, "500");
    assert_eq!(m.sending.reference, g.body["file_number"].as_str().unwrap());
    assert_eq!(m.invoices.len(), 3, "two invoices and the credit note");
    let all: Vec<_> = m.invoices.iter().flat_map(|(_, s)| s).collect();
    assert_eq!(all.iter().map(|s| s.reimbursement).sum::<i64>(), 2437);
    assert!(
        all.iter()
            .all(|s| s.code == 560011 && s.personal_share.abs() == 813)
    );
    assert!(
        m.invoices
            .iter()
            .any(|(i, _)| i.insz == "86103130262" && i.sex == 2)
    );
    // Zones 20/24/26 on Claes's services (debit and credit), zeros on Peeters's.
    for (invoice, services) in &m.invoices {
        let expected =
            (invoice.insz == "86103130262").then(|| claims::efact::write::Prescription {
                date: chrono::NaiveDate::from_ymd_opt(2026, 2, 20).unwrap(),
                prescriber: "10000106003".into(),
            });
        assert!(
            services.iter().all(|s| s.prescription == expected),
            "{services:?}"
        );
    }
    // Encrypted at rest.
    let stored = chunks(&app).await;
    for plain in ["86103130262", "560011", "54263481527"] {
        assert!(!contains(&stored, plain), "{plain} stored in the clear");
    }

    // The same batch as FHIR R4: a Bundle the R4 models read, stored beside the eFact file.
    let f = post(&app, &b, &format!("/v1/claims/batches/{batch}/fhir")).await;
    assert_eq!(f.status, 201, "{}", f.text);
    assert_eq!(f.body["files"].as_array().unwrap().len(), 2);
    let r = app
        .client
        .get(format!(
            "{}/v1/claims/batches/{batch}/file?format=fhir",
            app.base
        ))
        .bearer_auth(b.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/fhir+json");
    let bundle = r.bytes().await.unwrap();
    let kinds = praxis_tests::fhir::validate_r4(&bundle).unwrap();
    assert_eq!(
        kinds,
        r#"{"Claim": 3, "Coverage": 2, "Organization": 2, "Patient": 2, "ServiceRequest": 1}"#
    );
    let doc: Value = serde_json::from_slice(&bundle).unwrap();
    let credit = doc["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["resource"]["resourceType"] == "Claim"
                && e["resource"]["total"]["value"] == json!(-24.37)
        })
        .expect("the credit line as a Claim with a negative total");
    assert_eq!(
        credit["resource"]["related"][0]["claim"]["identifier"]["value"],
        format!("{}/1", first["number"].as_str().unwrap())
    );
    // The credit rests on Claes's prescription, a ServiceRequest by its prescriber.
    let request = doc["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "ServiceRequest")
        .unwrap();
    assert_eq!(
        credit["resource"]["referral"]["reference"],
        request["fullUrl"]
    );
    assert_eq!(
        (
            request["resource"]["authoredOn"].as_str(),
            request["resource"]["requester"]["identifier"]["value"].as_str()
        ),
        (Some("2026-02-20"), Some("10000106003"))
    );
    let bad = app
        .call(
            "GET",
            &format!("/v1/claims/batches/{batch}/file?format=xml"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.body["field"], "format");

    // The mutuality's answer: the first invoice's line faulted (B100017), the others accepted.
    let s = post(&app, &b, &format!("/v1/claims/batches/{batch}/sent")).await;
    assert_eq!(s.status, 200, "{}", s.text);
    let faulted = format!("{}/1", first["number"].as_str().unwrap());
    let answer = praxis_tests::insurer::efact_answer(&file, "920900", &[(&faulted, "B100017")]);
    let garbled = upload(&app, &b, answer[..answer.len() - 1].to_vec()).await;
    assert_eq!(garbled.status, 422, "{}", garbled.text);
    assert_eq!(garbled.body["code"], "return_file_invalid");
    let other = Billing::setup(&app).await;
    let foreign = upload(&app, &other, answer.clone()).await;
    assert_eq!(
        foreign.body["code"], "return_file_unknown",
        "{}",
        foreign.text
    );
    let a = upload(&app, &b, answer).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        (
            a.body["accepted"].as_i64(),
            a.body["rejected"].as_i64(),
            a.body["batch"]["outcome"].as_str()
        ),
        (Some(2), Some(1), Some("partly"))
    );
    let r = app
        .call("GET", "/v1/claims/lines?state=rejected", b.token(), None)
        .await;
    assert_eq!(r.body[0]["reference"], faulted.as_str());
    assert_eq!(r.body[0]["return_codes"], json!(["B100017"]));
    // Answered once; an acknowledgement afterwards is refused.
    let ack = praxis_tests::insurer::efact_answer(&file, "931000", &[]);
    let again = upload(&app, &b, ack).await;
    assert_eq!(again.status, 409, "{}", again.text);
}

#[tokio::test]
async fn the_outbox_delivers_generated_files_and_reads_the_return_files_left_for_it() {
    let dir = std::env::temp_dir().join(format!("praxis-outbox-{}", uuid::Uuid::now_v7()));
    let app = praxis_tests::spawn_app_with(&[("CLAIMS_OUTBOX_DIR", dir.to_str().unwrap())]).await;
    let (b, _, _) = dutch_practice(&app).await;
    let r = new_batch(&app, &b, "3311").await;
    let batch = r.body["batch_id"].as_str().unwrap().to_owned();
    let g = post(&app, &b, &format!("/v1/claims/batches/{batch}/generate")).await;
    assert_eq!(g.status, 200, "{}", g.text);
    let name = g.body["files"][0]["name"].as_str().unwrap().to_owned();
    let practice = domain::PracticeId::from_uuid(b.clinic.admin.practice_id);
    let outbox = claims::transport::Outbox::new(&dir);
    let sweep = || claims::transport::sweep_practice(&app.state, &outbox, practice);

    // Delivered: the file as generated, complete, and the batch is sent.
    assert_eq!(sweep().await.unwrap(), 1);
    let here = claims::transport::practice_dir(&dir, practice);
    let delivered = std::fs::read(here.join("out").join(&name)).unwrap();
    let (_, file, _) = download(&app, &b, &batch).await;
    assert_eq!(delivered, file);
    let left: Vec<String> = std::fs::read_dir(here.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec![name.clone()], "no partial file left behind");
    let one = app
        .call(
            "GET",
            &format!("/v1/claims/batches/{batch}"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(one.body["state"], "sent");
    assert_eq!(sweep().await.unwrap(), 0, "delivered once");

    // A garbled return file is refused with its reasons; a good one answers the batch.
    let answer = praxis_tests::insurer::answer(&file, &[], "20260420");
    let incoming = here.join("in");
    std::fs::create_dir_all(&incoming).unwrap();
    let mut garbled = answer.clone();
    garbled.remove(1000);
    std::fs::write(incoming.join("a-garbled.asc"), &garbled).unwrap();
    std::fs::write(incoming.join("b-answer.asc"), &answer).unwrap();
    assert_eq!(sweep().await.unwrap(), 2);
    let reason =
        std::fs::read_to_string(incoming.join("refused").join("a-garbled.asc.reason")).unwrap();
    assert!(reason.contains("record_length"), "{reason}");
    assert!(incoming.join("done").join("b-answer.asc").exists());
    let one = app
        .call(
            "GET",
            &format!("/v1/claims/batches/{batch}"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(
        (one.body["state"].as_str(), one.body["outcome"].as_str()),
        (Some("answered"), Some("accepted"))
    );
    assert_eq!(
        app.count("select count(*) from core.audit_event where event = 'claim_file_delivered'")
            .await,
        2,
        "the delivery names both patients"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn efact_answers_read_as_acknowledgements_refusals_and_errors() {
    use claims::efact::answer::{Verdict, read};
    let sent = include_bytes!("../../../services/claims/fixtures/efact-920000-golden.efact");
    let ack = read(&praxis_tests::insurer::efact_answer(sent, "931000", &[])).unwrap();
    assert_eq!(
        (ack.message.as_str(), ack.file_number.as_str()),
        ("931000", "202600000001")
    );
    assert_eq!(ack.verdict, Verdict::Accepted);
    let refused = read(&praxis_tests::insurer::efact_answer(sent, "920999", &[])).unwrap();
    assert_eq!(refused.verdict, Verdict::Rejected(vec!["12".to_owned()]));
    let errors = praxis_tests::insurer::efact_answer(
        sent,
        "920900",
        &[
            ("2026-000101/2", "B100017"),
            ("CN-2026-000004/1", "R200001"),
        ],
    );
    let Verdict::Errors(faulted) = read(&errors).unwrap().verdict else {
        panic!("errors in detail");
    };
    let got: Vec<(&str, &str, Vec<String>)> = faulted
        .iter()
        .map(|f| (f.kind.as_str(), f.reference.as_str(), f.codes.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("50", "2026-000101/2", vec!["B100017".to_owned()]),
            ("50", "CN-2026-000004/1", vec!["R200001".to_owned()])
        ]
    );
    // Broken: cut short, an unknown message, a detail whose index is not a number.
    let rules =
        |b: &[u8]| -> Vec<&'static str> { read(b).unwrap_err().iter().map(|f| f.rule).collect() };
    assert_eq!(rules(&errors[..errors.len() - 10]), vec!["record_length"]);
    let mut unknown = errors.clone();
    unknown[..6].copy_from_slice(b"123456");
    assert_eq!(rules(&unknown), vec!["message"]);
    let mut index = errors.clone();
    let at = 67 + 610 + 794;
    index[at..at + 6].copy_from_slice(b"00000X");
    assert_eq!(rules(&index), vec!["numeric"]);
}
