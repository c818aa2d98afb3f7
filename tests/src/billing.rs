//! A practice ready to invoice, built through the API on top of a [`Clinic`]: its invoicing
//! details and one tariff for the clinic's appointment type (fee 32.50, insurer 24.37).

use std::str::FromStr;

use chrono::NaiveDate;
use domain::invoice::{InvoiceKind, LineAmounts, MEDICAL_EXEMPTION, Totals, VatCategory};
use domain::money::Currency;
use domain::people::PostalAddress;
use domain::practice::{Country, Language};
use invoicing::documents::{Buyer, DocumentData, DocumentLine, DocumentTotals, Seller};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::clinic::Clinic;
use crate::{Reply, TestApp};

/// A clinic that can issue invoices.
pub struct Billing {
    /// The clinic (its admin also does the billing here).
    pub clinic: Clinic,
    /// The tariff of the clinic's appointment type, valid from 2020 on.
    pub tariff_id: String,
}

/// Complete invoicing details for a practice in `country`.
pub fn settings_body(country: &str) -> Value {
    match country {
        "NL" => {
            json!({"legal_name": "Fysiotherapie De Linde BV", "street": "Lindelaan", "house_number": "4",
                       "postcode": "3511 AB", "city": "Utrecht", "country": "NL", "enterprise_number": "12345678",
                       "iban": "NL91ABNA0417164300", "bic": "ABNANL2A", "provider_number": "04012345",
                       "invoice_prefix": "", "credit_note_prefix": "C", "number_digits": 6, "payment_terms_days": 14})
        }
        _ => {
            json!({"legal_name": "Kinepraktijk De Linde BV", "street": "Lindestraat", "house_number": "12",
                    "postcode": "9000", "city": "Gent", "country": "BE", "enterprise_number": "0403019261",
                    "iban": "BE68539007547034", "bic": "GEBABEBB", "provider_number": "54263481527",
                    "invoice_prefix": "", "credit_note_prefix": "C", "number_digits": 6, "payment_terms_days": 30})
        }
    }
}

impl Billing {
    /// A Belgian clinic with invoicing details and a tariff.
    pub async fn setup(app: &TestApp) -> Billing {
        Self::setup_in(app, "BE").await
    }

    /// A clinic of `country` with invoicing details and a tariff.
    pub async fn setup_in(app: &TestApp, country: &str) -> Billing {
        let clinic = Clinic::builder(app).country(country).build().await;
        let t = clinic.token();
        let s = app
            .call(
                "PUT",
                "/v1/invoicing/settings",
                t,
                Some(&settings_body(country)),
            )
            .await;
        assert_eq!(s.status, 200, "{}", s.text);
        let tariff = app
            .call(
                "POST",
                "/v1/tariffs",
                t,
                Some(&json!({"appointment_type_id": clinic.type_id, "code": "560011", "label": "Zitting kinesitherapie",
                             "valid_from": "2020-01-01", "fee": "32.50", "insurer_share": "24.37"})),
            )
            .await;
        assert_eq!(tariff.status, 201, "{}", tariff.text);
        Billing {
            tariff_id: tariff.body["tariff_id"].as_str().unwrap().to_owned(),
            clinic,
        }
    }

    /// The admin's token.
    pub fn token(&self) -> Option<&str> {
        self.clinic.token()
    }

    /// A tariff line of `quantity` on 2026-03-02.
    pub fn tariff_line(&self, quantity: &str) -> Value {
        json!({"tariff_id": self.tariff_id, "service_date": "2026-03-02", "quantity": quantity})
    }

    /// Drafts an invoice for the clinic's patient with `lines`; answers the reply.
    pub async fn try_draft(&self, app: &TestApp, lines: Value) -> Reply {
        app.call(
            "POST",
            "/v1/invoices",
            self.token(),
            Some(&json!({"patient_id": self.clinic.patient, "lines": lines})),
        )
        .await
    }

    /// Drafts an invoice for the clinic's patient with `lines`; answers it.
    pub async fn draft(&self, app: &TestApp, lines: Value) -> Value {
        let r = self.try_draft(app, lines).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    /// Issues invoice `id`; answers the reply.
    pub async fn issue(&self, app: &TestApp, id: &str) -> Reply {
        app.call(
            "POST",
            &format!("/v1/invoices/{id}/issue"),
            self.token(),
            None,
        )
        .await
    }

    /// An issued invoice of one tariff line.
    pub async fn issued(&self, app: &TestApp) -> Value {
        let d = self.draft(app, json!([self.tariff_line("1")])).await;
        let r = self.issue(app, d["invoice_id"].as_str().unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn addr(street: &str, postcode: &str, city: &str, country: &str) -> PostalAddress {
    PostalAddress {
        street: street.into(),
        number: "12".into(),
        box_number: None,
        postcode: postcode.into(),
        city: city.into(),
        country: country.into(),
    }
}

/// A document of three lines (care with an insurer share, two products at 21 % VAT) from a
/// Belgian or Dutch practice to a company with a Peppol participant id: what the UBL writer's
/// validation test and the document benchmark write.
pub fn sample_document(country: Country, kind: InvoiceKind) -> DocumentData {
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    // Care (exempt, with an insurer share) and a product sold at the desk (21 % VAT).
    let specs = [
        (
            "560011",
            "Zitting kinesitherapie",
            "2",
            "32.50",
            "0",
            "24.37",
            VatCategory::Exempt,
        ),
        (
            "MAT01",
            "Elastische tape & zo",
            "3",
            "4.15",
            "21",
            "0",
            VatCategory::Standard,
        ),
        (
            "MAT02",
            "Coldpack",
            "1",
            "9.99",
            "21",
            "0",
            VatCategory::Standard,
        ),
    ];
    let mut lines = Vec::new();
    let mut amounts = Vec::new();
    for (code, label, q, price, rate, insurer, cat) in specs {
        let a = LineAmounts::compute(d(q), d(price), d(rate), d(insurer), Currency::Eur);
        amounts.push(a);
        lines.push(DocumentLine {
            service_date: day,
            code: code.into(),
            label: label.into(),
            quantity: d(q),
            unit_price: d(price),
            net: a.net.amount(),
            vat_category: cat,
            vat_rate: d(rate),
            vat: a.vat.amount(),
            exemption_reason: (cat == VatCategory::Exempt).then(|| MEDICAL_EXEMPTION.to_owned()),
        });
    }
    let t = Totals::of(Currency::Eur, &amounts);
    let (seller, enterprise, vat, reference) = match country {
        Country::BE => (
            addr("Lindestraat", "9000", "Gent", "BE"),
            "0403019261",
            None,
            "+++260/0000/00170+++",
        ),
        Country::NL => (
            addr("Lindelaan", "3511 AB", "Utrecht", "NL"),
            "12345678",
            Some("NL123456789B01".to_owned()),
            "2026-000001",
        ),
    };
    DocumentData {
        kind,
        language: Language::Nl,
        country,
        number: match kind {
            InvoiceKind::Invoice => "2026-000001".into(),
            InvoiceKind::CreditNote => "C2026-000001".into(),
        },
        issue_date: day,
        due_date: day + chrono::Duration::days(30),
        corrects: (kind == InvoiceKind::CreditNote).then(|| "2026-000001".to_owned()),
        seller: Seller {
            name: "Kinepraktijk De Linde BV".into(),
            address: seller,
            enterprise_number: enterprise.into(),
            vat_number: vat,
            provider_number: Some("54263481527".into()),
            iban: "BE68539007547034".into(),
            bic: Some("GEBABEBB".into()),
        },
        buyer: Buyer {
            name: "Arbeidsgeneeskundige Dienst NV".into(),
            address: Some(addr("Kerkstraat", "2000", "Antwerpen", "BE")),
            peppol_id: Some("0208:0202239951".into()),
        },
        lines,
        totals: DocumentTotals {
            net: t.net.amount(),
            vat: t.vat.amount(),
            total: t.total().amount(),
            insurer: t.insurer.amount(),
            patient: t.patient.amount(),
        },
        payment_reference: Some(reference.into()),
    }
}

impl Billing {
    /// Connects the practice to a Stripe account (the simulator must know it).
    pub async fn enable_stripe(&self, app: &TestApp, account: &str) {
        let mut body = settings_body("BE");
        body["stripe_account"] = json!(account);
        let r = app
            .call("PUT", "/v1/invoicing/settings", self.token(), Some(&body))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// A payment link for invoice `id` (its URL).
    pub async fn payment_link(&self, app: &TestApp, id: &str) -> String {
        let r = app
            .call(
                "POST",
                &format!("/v1/invoices/{id}/payment-links"),
                self.token(),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["url"].as_str().unwrap().to_owned()
    }

    /// An issued invoice of one tariff line for `patient`.
    pub async fn issued_for(&self, app: &TestApp, patient: &str) -> Value {
        self.issued_with(app, patient, json!([self.tariff_line("1")]))
            .await
    }

    /// An issued invoice of `lines` for `patient`.
    pub async fn issued_with(&self, app: &TestApp, patient: &str, lines: Value) -> Value {
        let r = app
            .call(
                "POST",
                "/v1/invoices",
                self.token(),
                Some(&json!({"patient_id": patient, "lines": lines})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = self
            .issue(app, r.body["invoice_id"].as_str().unwrap())
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }
}

/// Presses "pay" on a payment link page: the reply (303 to Stripe's page, or a page).
pub async fn press_pay(app: &TestApp, url: &str) -> Reply {
    let r = app
        .client
        .post(format!("{url}/pay"))
        .send()
        .await
        .expect("pay");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// The session id in a 303 to Stripe's page.
pub fn session_of(r: &Reply) -> String {
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.headers["location"].to_str().unwrap();
    location.rsplit('/').next().expect("session id").to_owned()
}
