//! The PDF of an issued invoice or credit note: opens, carries what the law asks in the
//! patient's language, is written once and served unchanged, and is stored encrypted.

use domain::jobs::RENDER_DOCUMENTS;
use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

/// The text of a PDF, extracted by poppler's `pdftotext` (which also proves it opens). The PDF
/// is kept under target/artefacts.
/// Outside CI, a machine without poppler-utils skips the text checks (`None`), like the browser
/// checks; under `CI=true` a missing `pdftotext` fails.
fn text_of(pdf: &[u8], name: &str) -> Option<String> {
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/pdf");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let Ok(out) = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
    else {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs pdftotext: apt-get install poppler-utils"
        );
        eprintln!("pdftotext is not installed: the PDF text checks are skipped");
        return None;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

async fn pdf(app: &TestApp, b: &Billing, id: &str) -> Vec<u8> {
    let r = app
        .client
        .get(format!("{}/v1/invoices/{id}/pdf", app.base))
        .bearer_auth(&b.clinic.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn every_pdf_carries_the_required_mentions_in_the_patients_language() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let patient = format!("/v1/patients/{}", b.clinic.patient);
    let address = json!({"street": "Veldstraat", "number": "12", "box": "3", "postcode": "9000", "city": "Gent", "country": "BE"});
    let words = [
        (
            "nl",
            "Factuur",
            "Vrijgesteld van btw",
            "Te betalen",
            "Creditnota",
            "Corrigeert factuur",
        ),
        (
            "fr",
            "Facture",
            "Exemption de TVA",
            "À payer",
            "Note de crédit",
            "Corrige la facture",
        ),
        (
            "en",
            "Invoice",
            "Exempt from VAT",
            "To pay",
            "Credit note",
            "Corrects invoice",
        ),
        (
            "de",
            "Rechnung",
            "Von der MwSt. befreit",
            "Zu zahlen",
            "Gutschrift",
            "Berichtigt Rechnung",
        ),
    ];
    for (lang, title, exemption, to_pay, credit_title, corrects) in words {
        let r = app
            .call(
                "PATCH",
                &patient,
                t,
                Some(&json!({"preferred_language": lang, "address": address})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let inv = b.issued(&app).await;
        let id = inv["invoice_id"].as_str().unwrap();
        let number = inv["number"].as_str().unwrap();
        app.drain(&[RENDER_DOCUMENTS]).await;
        let Some(text) = text_of(&pdf(&app, &b, id).await, &format!("invoice-{lang}")) else {
            return;
        };
        let reference = inv["payment_reference"].as_str().unwrap();
        for needle in [
            title,
            number,
            "Kinepraktijk De Linde BV",
            "Lindestraat 12",
            "9000 Gent",
            "KBO 0403019261",
            "RIZIV 54263481527",
            exemption,
            "Test Peeters",
            "Veldstraat 12 3",
            "560011",
            "Zitting kinesitherapie",
            to_pay,
            "BE68 5390 0754 7034",
            reference,
        ] {
            let needle = if lang == "fr" {
                needle.replace("KBO", "BCE").replace("RIZIV", "INAMI")
            } else if lang == "de" {
                needle.replace("KBO", "ZDU").replace("RIZIV", "LIKIV")
            } else {
                needle.to_owned()
            };
            assert!(
                text.contains(&needle),
                "{lang}: {needle:?} missing in:\n{text}"
            );
        }
        let amount = match lang {
            "nl" => "€ 8,13",
            "en" => "€8.13",
            _ => "8,13 €",
        };
        assert!(
            text.contains(amount),
            "{lang}: {amount} missing in:\n{text}"
        );
        // The credit note of it.
        let cn = app
            .call(
                "POST",
                &format!("/v1/invoices/{id}/credit-notes"),
                t,
                Some(&json!({})),
            )
            .await;
        assert_eq!(cn.status, 201, "{}", cn.text);
        let Some(cn_text) = text_of(
            &pdf(&app, &b, cn.body["invoice_id"].as_str().unwrap()).await,
            &format!("credit-note-{lang}"),
        ) else {
            return;
        };
        assert!(cn_text.contains(credit_title), "{lang}:\n{cn_text}");
        assert!(
            cn_text.contains(&format!("{corrects}: {number}")),
            "{lang}:\n{cn_text}"
        );
    }
}

#[tokio::test]
async fn a_pdf_is_written_once_served_unchanged_and_stored_encrypted() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let draft = b.draft(&app, json!([b.tariff_line("1")])).await;
    let did = draft["invoice_id"].as_str().unwrap();
    app.call("GET", &format!("/v1/invoices/{did}/pdf"), t, None)
        .await
        .problem(409, "invoice_not_issued");
    let inv = b.issued(&app).await;
    let id = inv["invoice_id"].as_str().unwrap();
    // Before the job ran, the first download writes it.
    let first = pdf(&app, &b, id).await;
    app.drain(&[RENDER_DOCUMENTS]).await;
    assert_eq!(
        app.count("select count(*) from invoicing.document").await,
        1
    );
    // Later changes to the practice or the patient do not change the issued document.
    let mut s = billing::settings_body("BE");
    s["legal_name"] = json!("Een Andere Naam BV");
    assert_eq!(
        app.call("PUT", "/v1/invoicing/settings", t, Some(&s))
            .await
            .status,
        200
    );
    app.call(
        "PATCH",
        &format!("/v1/patients/{}", b.clinic.patient),
        t,
        Some(&json!({"family_name": "Janssens"})),
    )
    .await;
    let again = pdf(&app, &b, id).await;
    assert_eq!(first, again, "served unchanged");
    if let Some(text) = text_of(&again, "unchanged") {
        assert!(text.contains("Kinepraktijk De Linde BV"));
    }
    // Stored encrypted: neither the patient's name nor the PDF header is readable in the row.
    let plain: i64 = app
        .count("select count(*) from invoicing.document where position('Peeters'::bytea in content_enc) > 0 or position('%PDF'::bytea in content_enc) > 0")
        .await;
    assert_eq!(plain, 0);
    // The application role cannot change or delete it.
    let pool = app.app_pool().await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("select set_config('app.practice_id', $1, true)")
        .bind(b.clinic.admin.practice_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("update invoicing.document set content_enc = ''::bytea")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn an_invoice_to_an_organisation_has_a_peppol_e_invoice_that_passes_the_validator() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let payer = app
        .call("POST", "/v1/payers", t, Some(&json!({"kind": "organisation", "name": "Arbeidsgeneeskundige Dienst NV",
              "address": {"street": "Kerkstraat", "number": "2", "postcode": "2000", "city": "Antwerpen", "country": "BE"},
              "enterprise_number": "0202239951", "peppol_id": "0208:0202239951"})))
        .await;
    assert_eq!(payer.status, 201, "{}", payer.text);
    let payer_id = payer.body["payer_id"].as_str().unwrap();
    // Bad payers: a person with a Peppol id, an enterprise number that fails its check digits.
    let person = app
        .call("POST", "/v1/payers", t, Some(&json!({"kind": "person", "name": "An Peeters", "peppol_id": "0208:0202239951",
              "address": {"street": "Kerkstraat", "number": "2", "postcode": "2000", "city": "Antwerpen", "country": "BE"}})))
        .await;
    assert_eq!(person.problem(422, "invalid_field")["field"], "kind");
    let digits = app
        .call("POST", "/v1/payers", t, Some(&json!({"kind": "organisation", "name": "X NV", "enterprise_number": "0202239952",
              "address": {"street": "Kerkstraat", "number": "2", "postcode": "2000", "city": "Antwerpen", "country": "BE"}})))
        .await;
    assert_eq!(
        digits.problem(422, "invalid_field")["field"],
        "enterprise_number"
    );
    let unknown = app
        .call("POST", "/v1/invoices", t, Some(&json!({"patient_id": b.clinic.patient, "payer_id": uuid::Uuid::now_v7(), "lines": []})))
        .await;
    assert_eq!(unknown.problem(404, "payer_not_found")["field"], "payer_id");

    let draft = app
        .call("POST", "/v1/invoices", t, Some(&json!({"patient_id": b.clinic.patient, "payer_id": payer_id,
              "lines": [b.tariff_line("2"), {"code": "MAT01", "label": "Tape", "unit_price": "4.15", "quantity": "3",
                        "vat_category": "S", "vat_rate": "21", "service_date": "2026-03-02"}]})))
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let id = draft.body["invoice_id"].as_str().unwrap();
    let issued = b.issue(&app, id).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    app.drain(&[RENDER_DOCUMENTS]).await;
    assert_eq!(
        app.count("select count(*) from invoicing.document where format = 'ubl'")
            .await,
        1
    );
    let credit = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/credit-notes"),
            t,
            Some(&json!({})),
        )
        .await;
    assert_eq!(credit.status, 201, "{}", credit.text);
    let cn = credit.body["invoice_id"].as_str().unwrap();

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/ubl");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (doc, name) in [(id, "payer-invoice"), (cn, "payer-credit-note")] {
        let r = app
            .client
            .get(format!("{}/v1/invoices/{doc}/ubl", app.base))
            .bearer_auth(&b.clinic.admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/xml");
        let xml = r.text().await.unwrap();
        assert!(
            xml.contains("0202239951") && xml.contains("Arbeidsgeneeskundige Dienst NV"),
            "{xml}"
        );
        let path = dir.join(format!("{name}.xml"));
        std::fs::write(&path, xml).unwrap();
        files.push(path);
    }
    for (file, fatal, report) in praxis_tests::peppol::validate(&files) {
        assert_eq!(fatal, 0, "{}:\n{report}", file.display());
    }
    // The PDF is addressed to the payer.
    if let Some(text) = text_of(&pdf(&app, &b, id).await, "payer-invoice") {
        assert!(
            text.contains("Arbeidsgeneeskundige Dienst NV") && text.contains("2000 Antwerpen"),
            "{text}"
        );
    }
    // A patient's own invoice has no Peppol document.
    let own = b.issued(&app).await;
    let r = app
        .call(
            "GET",
            &format!("/v1/invoices/{}/ubl", own["invoice_id"].as_str().unwrap()),
            t,
            None,
        )
        .await;
    assert_eq!(r.problem(409, "no_peppol_participant")["field"], "payer_id");
}
