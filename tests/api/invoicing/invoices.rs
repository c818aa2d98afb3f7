//! Drafts, issue, credit notes: amounts by the rounding rule, immutability once issued.

use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn a_draft_copies_its_tariff_and_rounds_each_line_once() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let d = b
        .draft(
            &app,
            json!([b.tariff_line("2"),
                   {"code": "MAT01", "label": "Elastische tape", "unit_price": "12.40", "vat_category": "S",
                    "vat_rate": "21", "service_date": "2026-03-02", "quantity": "2"}]),
        )
        .await;
    assert_eq!(d["status"], "draft");
    assert!(d["number"].is_null(), "{d}");
    let l = &d["lines"];
    // Tariff line: 2 × 32.50; insurer 2 × 24.37; the patient the rest.
    assert_eq!(l[0]["code"], "560011");
    assert_eq!(l[0]["net_amount"], "65.00");
    assert_eq!(l[0]["insurer_share"], "48.74");
    assert_eq!(l[0]["patient_share"], "16.26");
    assert_eq!(l[0]["vat_category"], "E");
    assert_eq!(l[0]["vat_exemption_reason"], "VATEX-EU-132-1C");
    // Free line: 2 × 12.40 = 24.80, VAT 21 % = 5.208 → 5.21 (half-up, per line).
    assert_eq!(l[1]["net_amount"], "24.80");
    assert_eq!(l[1]["vat_amount"], "5.21");
    assert_eq!(l[1]["patient_share"], "30.01");
    assert_eq!(d["net_total"], "89.80");
    assert_eq!(d["vat_total"], "5.21");
    assert_eq!(d["total"], "95.01");
    assert_eq!(d["insurer_total"], "48.74");
    assert_eq!(d["patient_total"], "46.27");
    assert_eq!(d["balance"], "46.27");
}

#[tokio::test]
async fn issuing_numbers_the_invoice_and_fixes_it() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let d = b.draft(&app, json!([b.tariff_line("1")])).await;
    let id = d["invoice_id"].as_str().unwrap();
    // A draft may change.
    let more = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/lines"),
            t,
            Some(&json!({"lines": [b.tariff_line("1")]})),
        )
        .await;
    assert_eq!(more.status, 200, "{}", more.text);
    let less = app
        .call("DELETE", &format!("/v1/invoices/{id}/lines/2"), t, None)
        .await;
    assert_eq!(less.status, 200, "{}", less.text);
    assert_eq!(less.body["lines"].as_array().unwrap().len(), 1);

    let issued = b.issue(&app, id).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let inv = &issued.body;
    let year = &inv["issue_date"].as_str().unwrap()[..4];
    assert_eq!(inv["status"], "issued");
    assert_eq!(inv["number"], format!("{year}-000001"));
    // Belgian structured communication: year's last two digits and the sequence, mod 97.
    let base: u64 = format!("{}00000001", &year[2..]).parse().unwrap();
    let check = match base % 97 {
        0 => 97,
        r => r,
    };
    let digits = format!("{base:010}{check:02}");
    assert_eq!(
        inv["payment_reference"],
        format!("+++{}/{}/{}+++", &digits[..3], &digits[3..7], &digits[7..])
    );
    assert!(inv["due_date"].as_str().unwrap() > inv["issue_date"].as_str().unwrap());

    // Nothing about it changes any more, and it is not thrown away.
    let again = b.issue(&app, id).await;
    again.problem(409, "invalid_transition");
    app.call(
        "POST",
        &format!("/v1/invoices/{id}/lines"),
        t,
        Some(&json!({"lines": [b.tariff_line("1")]})),
    )
    .await
    .problem(409, "invoice_not_draft");
    app.call("DELETE", &format!("/v1/invoices/{id}/lines/1"), t, None)
        .await
        .problem(409, "invoice_not_draft");
    app.call("DELETE", &format!("/v1/invoices/{id}"), t, None)
        .await
        .problem(409, "invoice_not_draft");

    // A later tariff change leaves the issued invoice as it was.
    let end = app
        .call(
            "POST",
            &format!("/v1/tariffs/{}/end", b.tariff_id),
            t,
            Some(&json!({"valid_until": "2026-12-31"})),
        )
        .await;
    assert_eq!(end.status, 200, "{}", end.text);
    let new = app
        .call("POST", "/v1/tariffs", t, Some(&json!({"appointment_type_id": b.clinic.type_id, "code": "560011",
              "label": "Zitting kinesitherapie", "valid_from": "2027-01-01", "fee": "40.00", "insurer_share": "30.00"})))
        .await;
    assert_eq!(new.status, 201, "{}", new.text);
    let read = app
        .call("GET", &format!("/v1/invoices/{id}"), t, None)
        .await;
    assert_eq!(read.body["lines"], inv["lines"]);
    assert_eq!(read.body["total"], "32.50");
}

#[tokio::test]
async fn a_draft_is_discarded_and_an_empty_one_is_not_issued() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let empty = b.draft(&app, json!([])).await;
    let id = empty["invoice_id"].as_str().unwrap();
    let r = b.issue(&app, id).await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "lines");
    assert_eq!(
        app.count("select count(*) from invoicing.number_counter")
            .await,
        0
    );
    let gone = app
        .call("DELETE", &format!("/v1/invoices/{id}"), t, None)
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    app.call("GET", &format!("/v1/invoices/{id}"), t, None)
        .await
        .problem(404, "invoice_not_found");
}

#[tokio::test]
async fn issuing_needs_the_practices_invoicing_details() {
    let app = spawn_app().await;
    let c = praxis_tests::clinic::Clinic::builder(&app).build().await;
    let t = c.token();
    let d = app
        .call("POST", "/v1/invoices", t, Some(&json!({"patient_id": c.patient, "lines": [
            {"code": "X1", "label": "Consult", "unit_price": "30", "service_date": "2026-03-02"}]})))
        .await;
    assert_eq!(d.status, 201, "{}", d.text);
    let id = d.body["invoice_id"].as_str().unwrap();
    let r = app
        .call("POST", &format!("/v1/invoices/{id}/issue"), t, None)
        .await;
    assert_eq!(
        r.problem(409, "invoicing_settings_incomplete")["field"],
        "legal_name"
    );
    assert_eq!(
        app.count("select count(*) from invoicing.number_counter")
            .await,
        0
    );
}

#[tokio::test]
async fn credit_notes_negate_their_lines_exactly_in_their_own_series() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let d = b
        .draft(&app, json!([b.tariff_line("1"), b.tariff_line("3"),
            {"code": "MAT01", "label": "Tape", "unit_price": "3.33", "quantity": "3", "service_date": "2026-03-02"}]))
        .await;
    assert_eq!(d["total"], "139.99");
    let id = d["invoice_id"].as_str().unwrap().to_owned();
    let _ = b.issue(&app, &id).await;
    let partial = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/credit-notes"),
            t,
            Some(&json!({"line_nos": [2]})),
        )
        .await;
    assert_eq!(partial.status, 201, "{}", partial.text);
    let cn = &partial.body;
    let year = &cn["issue_date"].as_str().unwrap()[..4];
    assert_eq!(cn["kind"], "credit_note");
    assert_eq!(cn["number"], format!("C{year}-000001"));
    assert_eq!(cn["corrects_invoice_id"], id.as_str());
    assert_eq!(cn["lines"][0]["corrects_line_no"], 2);
    assert_eq!(cn["total"], "97.50");
    assert_eq!(cn["insurer_total"], "73.11");
    let inv = app
        .call("GET", &format!("/v1/invoices/{id}"), t, None)
        .await
        .body;
    assert_eq!(inv["status"], "issued");
    assert_eq!(inv["credited"], "97.50");
    assert_eq!(inv["credit_notes"].as_array().unwrap().len(), 1);
    // The same line twice: refused, nothing written.
    let twice = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/credit-notes"),
            t,
            Some(&json!({"line_nos": [2]})),
        )
        .await;
    assert_eq!(
        twice.problem(409, "line_already_credited")["field"],
        "line_nos[0]"
    );
    let unknown = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/credit-notes"),
            t,
            Some(&json!({"line_nos": [9]})),
        )
        .await;
    assert_eq!(
        unknown.problem(422, "invalid_field")["field"],
        "line_nos[0]"
    );
    // The rest: the invoice is credited in full, the two notes add up to it.
    let rest = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/credit-notes"),
            t,
            Some(&json!({})),
        )
        .await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["number"], format!("C{year}-000002"));
    let inv = app
        .call("GET", &format!("/v1/invoices/{id}"), t, None)
        .await
        .body;
    assert_eq!(inv["status"], "credited");
    assert_eq!(inv["credited"], inv["total"]);
    assert_eq!(inv["balance"], "0.00");
    // A credited invoice takes no payment and no further credit.
    app.call(
        "POST",
        &format!("/v1/invoices/{id}/payments"),
        t,
        Some(&json!({"method": "cash", "amount": "5.00"})),
    )
    .await
    .problem(409, "invalid_transition");
    app.call(
        "POST",
        &format!("/v1/invoices/{id}/credit-notes"),
        t,
        Some(&json!({})),
    )
    .await
    .problem(409, "invalid_transition");
    // A credit note is not itself credited.
    let cn_id = cn["invoice_id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/v1/invoices/{cn_id}/credit-notes"),
        t,
        Some(&json!({})),
    )
    .await
    .problem(409, "invalid_transition");
    assert_eq!(
        app.count("select count(*) from invoicing.invoice where kind = 'credit_note'")
            .await,
        2
    );
}

#[tokio::test]
async fn another_practices_invoices_tariffs_and_patients_are_not_found() {
    let app = spawn_app().await;
    let a = Billing::setup(&app).await;
    let b = Billing::setup_in(&app, "NL").await;
    let draft = b.draft(&app, json!([b.tariff_line("1")])).await;
    let issued = b.issued(&app).await;
    let before: Vec<String> =
        sqlx::query_scalar("select i::text from invoicing.invoice i order by invoice_id")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    let t = a.token();
    for id in [
        draft["invoice_id"].as_str().unwrap(),
        issued["invoice_id"].as_str().unwrap(),
    ] {
        let calls = [
            ("GET", format!("/v1/invoices/{id}"), None),
            ("DELETE", format!("/v1/invoices/{id}"), None),
            (
                "POST",
                format!("/v1/invoices/{id}/lines"),
                Some(json!({"lines": [a.tariff_line("1")]})),
            ),
            ("DELETE", format!("/v1/invoices/{id}/lines/1"), None),
            ("POST", format!("/v1/invoices/{id}/issue"), None),
            (
                "POST",
                format!("/v1/invoices/{id}/credit-notes"),
                Some(json!({})),
            ),
            ("POST", format!("/v1/invoices/{id}/write-off"), None),
            (
                "POST",
                format!("/v1/invoices/{id}/payments"),
                Some(json!({"method": "cash", "amount": "1.00"})),
            ),
        ];
        for (method, path, body) in calls {
            let r = app.call(method, &path, t, body.as_ref()).await;
            r.problem(404, "invoice_not_found");
        }
    }
    let foreign_patient = app
        .call(
            "POST",
            "/v1/invoices",
            t,
            Some(&json!({"patient_id": b.clinic.patient, "lines": []})),
        )
        .await;
    foreign_patient.problem(404, "patient_not_found");
    let foreign_tariff = a.try_draft(&app, json!([b.tariff_line("1")])).await;
    assert_eq!(
        foreign_tariff.problem(404, "tariff_not_found")["field"],
        "lines[0].tariff_id"
    );
    app.call(
        "POST",
        &format!("/v1/tariffs/{}/end", b.tariff_id),
        t,
        Some(&json!({"valid_until": "2030-01-01"})),
    )
    .await
    .problem(404, "tariff_not_found");
    let listed = app.call("GET", "/v1/invoices", t, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 0, "{}", listed.text);
    // B's payer is invisible to A and cannot be named on A's invoices.
    let payer = app
        .call("POST", "/v1/payers", b.token(), Some(&json!({"kind": "person", "name": "Ouder Bakker",
              "address": {"street": "Lindelaan", "number": "4", "postcode": "3511AB", "city": "Utrecht", "country": "NL"}})))
        .await;
    assert_eq!(payer.status, 201, "{}", payer.text);
    let payer_id = payer.body["payer_id"].as_str().unwrap();
    app.call("GET", &format!("/v1/payers/{payer_id}"), t, None)
        .await
        .problem(404, "payer_not_found");
    let named = app
        .call(
            "POST",
            "/v1/invoices",
            t,
            Some(&json!({"patient_id": a.clinic.patient, "payer_id": payer_id, "lines": []})),
        )
        .await;
    named.problem(404, "payer_not_found");
    assert_eq!(
        app.call("GET", "/v1/payers", t, None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let after: Vec<String> =
        sqlx::query_scalar("select i::text from invoicing.invoice i order by invoice_id")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(before, after);
}
