//! CAMT.053 bank statement import: transfers matched to invoices by structured communication
//! or invoice number, recorded once, the rest listed with why; bad files refused with nothing
//! written.

use praxis_tests::billing::Billing;
use praxis_tests::{TestApp, spawn_app};
use serde_json::Value;

fn entry(amount: &str, credit: bool, bank_ref: &str, remittance: &str) -> String {
    format!(
        "<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
         <BookgDt><Dt>2026-12-03</Dt></BookgDt><AcctSvcrRef>{bank_ref}</AcctSvcrRef>\
         <NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Canary Betaler Qz</Nm></Dbtr>\
         <DbtrAcct><Id><IBAN>BE71096123456769</IBAN></Id></DbtrAcct></RltdPties>{remittance}</TxDtls></NtryDtls></Ntry>",
        if credit { "CRDT" } else { "DBIT" }
    )
}

fn strd(digits: &str) -> String {
    format!(
        "<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>BBA</Issr></Tp><Ref>{digits}</Ref></CdtrRefInf></Strd></RmtInf>"
    )
}

fn ustrd(text: &str) -> String {
    format!("<RmtInf><Ustrd>{text}</Ustrd></RmtInf>")
}

fn statement(entries: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-12-03T18:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>\
         <Acct><Id><IBAN>BE68539007547034</IBAN></Id></Acct>{}</Stmt></BkToCstmrStmt></Document>",
        entries.concat()
    )
}

async fn import(app: &TestApp, b: &Billing, xml: &str, content_type: &str) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/v1/invoicing/bank-statements", app.base))
        .bearer_auth(b.token().unwrap())
        .header("content-type", content_type)
        .body(xml.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn digits(printed: &Value) -> String {
    printed
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[tokio::test]
async fn a_statement_pays_the_invoices_it_names_once_and_lists_the_rest() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let (one, two, three) = (
        b.issued(&app).await,
        b.issued(&app).await,
        b.issued(&app).await,
    );
    // A valid structured communication no invoice has.
    let stranger =
        domain::payment_reference::StructuredCommunication::for_invoice(2019, 4242).unwrap();
    let ogm3 = digits(&three["payment_reference"]);
    let starred = format!("***{}/{}/{}***", &ogm3[..3], &ogm3[3..7], &ogm3[7..]);
    let xml = statement(&[
        entry(
            "8.13",
            true,
            "R1",
            &strd(&digits(&one["payment_reference"])),
        ),
        // A batch: two transactions with their own amounts.
        format!(
            "<Ntry><Amt Ccy=\"EUR\">13.13</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-12-03</Dt></BookgDt><AcctSvcrRef>R2</AcctSvcrRef><NtryDtls>\
             <TxDtls><AmtDtls><TxAmt><Amt Ccy=\"EUR\">5.00</Amt></TxAmt></AmtDtls>{}</TxDtls>\
             <TxDtls><AmtDtls><TxAmt><Amt Ccy=\"EUR\">8.13</Amt></TxAmt></AmtDtls>{}</TxDtls></NtryDtls></Ntry>",
            ustrd(&format!(
                "factuur {} dank u &amp; tot ziens",
                two["number"].as_str().unwrap()
            )),
            ustrd(&format!("betaling {starred}"))
        ),
        entry("99.00", false, "R3", ""),
        entry("12.00", true, "R4", &ustrd(&format!("+++{}+++", stranger))),
        entry(
            "7.00",
            true,
            "R5",
            &ustrd("voor de behandeling van vorige week"),
        ),
        entry(
            "8.13",
            true,
            "R6",
            &strd(&digits(&one["payment_reference"])),
        ),
    ]);
    let (status, report) = import(&app, &b, &xml, "application/xml").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["entries"], 7);
    let matched: Vec<(i64, &str, &str)> = report["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["index"].as_i64().unwrap(),
                m["invoice_id"].as_str().unwrap(),
                m["amount"].as_str().unwrap(),
            )
        })
        .collect();
    let id = |v: &Value| v["invoice_id"].as_str().unwrap().to_owned();
    assert_eq!(
        matched,
        [
            (1, id(&one).as_str(), "8.13"),
            (2, id(&two).as_str(), "5.00"),
            (2, id(&three).as_str(), "8.13")
        ]
    );
    let reasons: Vec<(i64, &str)> = report["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["index"].as_i64().unwrap(), u["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        [
            (3, "debit"),
            (4, "unknown_reference"),
            (5, "no_reference"),
            (6, "invoice_closed")
        ]
    );
    assert_eq!(report["unmatched"][1]["reference"], stranger.to_string());
    let text = report.to_string();
    assert!(
        !text.contains("Canary")
            && !text.contains("BE71096123456769")
            && !text.contains("behandeling"),
        "nothing of the payer: {text}"
    );
    let status_of = |v: &Value| {
        let id = id(v);
        let app = &app;
        let b = &b;
        async move {
            app.call("GET", &format!("/v1/invoices/{id}"), b.token(), None)
                .await
                .body["status"]
                .clone()
        }
    };
    assert_eq!(status_of(&one).await, "paid");
    assert_eq!(status_of(&two).await, "partially_paid");
    assert_eq!(status_of(&three).await, "paid");

    // The same statement again: nothing recorded twice.
    let (status, again) = import(&app, &b, &xml, "application/xml; charset=utf-8").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["matched"], serde_json::json!([]));
    let already = again["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["reason"] == "already_imported")
        .count();
    assert_eq!(already, 3);
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 3);
    // Nothing of the payer stays in the database.
    let dump: String = sqlx::query_scalar(
        "select coalesce(string_agg(t::text, ' '), '') from (select * from invoicing.payment) t",
    )
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert!(!dump.contains("Canary") && !dump.contains("BE71096123456769"));
}

#[tokio::test]
async fn a_bad_statement_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let one = b.issued(&app).await;
    let good = entry(
        "8.13",
        true,
        "R1",
        &strd(&digits(&one["payment_reference"])),
    );
    let cases = [
        (
            statement(std::slice::from_ref(&good)).replace("</Document>", ""),
            "application/xml",
            400,
            None,
        ),
        (
            "<Document><CstmrCdtTrfInitn/></Document>".to_owned(),
            "application/xml",
            422,
            Some("body"),
        ),
        (
            statement(&[good.clone(), good.replace(">8.13<", ">8,13<")]),
            "application/xml",
            422,
            Some("body.Amt"),
        ),
        (
            statement(&[good.replace("<Dt>2026-12-03</Dt>", "<Dt>3 dec</Dt>")]),
            "text/xml",
            422,
            Some("body.BookgDt"),
        ),
        (
            statement(std::slice::from_ref(&good)),
            "application/json",
            415,
            None,
        ),
    ];
    for (xml, ct, status, field) in cases {
        let (s, problem) = import(&app, &b, &xml, ct).await;
        assert_eq!(s, status, "{problem}");
        if let Some(f) = field {
            assert_eq!(problem["field"], f, "{problem}");
        }
    }
    assert_eq!(app.count("select count(*) from invoicing.payment").await, 0);
    assert_eq!(
        app.count("select count(*) from invoicing.bank_entry").await,
        0
    );
}
