//! A practice ready to invoice, built through the API on top of a [`Clinic`]: its invoicing
//! details and one tariff for the clinic's appointment type (fee 32.50, insurer 24.37).

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
