//! The practice's invoicing details: its legal identity on invoices (name, address, KBO/BCE or
//! KvK, VAT status, IBAN/BIC, RIZIV/INAMI or AGB number) and how numbers look. Issuing needs
//! the identity complete.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use domain::identifiers::{parse_bic, parse_iban, parse_registration_number, parse_vat_number};
use domain::practice::{Country, Permission};
use domain::text::Line;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::json::ApiJson;
use platform::versions::{IfMatch, etag};
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::error::InvoiceError;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(get_invoicing_settings, put_invoicing_settings))
}

/// The practice's invoicing details.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct InvoicingSettings {
    /// Legal name on invoices.
    pub legal_name: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// House number.
    pub house_number: Option<String>,
    /// Box or addition.
    #[sqlx(rename = "box")]
    pub box_number: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country of the address (`BE` or `NL`).
    pub country: Option<String>,
    /// BE: KBO/BCE enterprise number (10 digits); NL: KvK number (8 digits).
    pub enterprise_number: Option<String>,
    /// VAT number; absent when the practice is not VAT-registered (medical care is exempt).
    pub vat_number: Option<String>,
    /// IBAN payments go to.
    pub iban: Option<String>,
    /// BIC of that account.
    pub bic: Option<String>,
    /// BE: RIZIV/INAMI number; NL: AGB code of the practice.
    pub provider_number: Option<String>,
    /// Prefix of invoice numbers (may be empty).
    pub invoice_prefix: String,
    /// Prefix of credit note numbers.
    pub credit_note_prefix: String,
    /// Digits of the sequence part of a number.
    pub number_digits: i32,
    /// Days from issue to the due date.
    pub payment_terms_days: i32,
    /// The practice's Stripe account (connected to the operator's platform), where online
    /// payments go; without it, payment links offer bank transfer only.
    pub stripe_account: Option<String>,
    /// Days after the due date on which an unpaid invoice gets an SMS with a payment link.
    pub reminder_days: Vec<i32>,
    /// Raised by every change (0: never set); the `ETag`.
    pub version: i32,
}

/// New invoicing details (replaces them all).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"legal_name": "Kinepraktijk De Linde BV", "street": "Lindestraat", "house_number": "12", "postcode": "9000", "city": "Gent", "country": "BE", "enterprise_number": "0403019261", "iban": "BE68539007547034", "bic": "GEBABEBB", "provider_number": "51234567890", "invoice_prefix": "", "credit_note_prefix": "C", "number_digits": 6, "payment_terms_days": 30}))]
pub struct InvoicingSettingsInput {
    /// Legal name on invoices.
    pub legal_name: Line<200>,
    /// Street.
    pub street: Line<200>,
    /// House number.
    pub house_number: Line<10>,
    /// Box or addition.
    #[serde(default, rename = "box")]
    pub box_number: Option<Line<10>>,
    /// Postcode (BE: 4 digits; NL: 4 digits and 2 letters).
    pub postcode: Line<7>,
    /// City.
    pub city: Line<100>,
    /// Country of the address.
    pub country: Country,
    /// BE: KBO/BCE enterprise number; NL: KvK number.
    pub enterprise_number: Line<14>,
    /// VAT number, when VAT-registered.
    #[serde(default)]
    pub vat_number: Option<Line<16>>,
    /// IBAN.
    pub iban: Line<42>,
    /// BIC.
    #[serde(default)]
    pub bic: Option<Line<11>>,
    /// BE: RIZIV/INAMI number; NL: AGB code.
    #[serde(default)]
    pub provider_number: Option<Line<14>>,
    /// Prefix of invoice numbers: up to 8 digits or capitals, may be empty.
    #[schema(pattern = "^[A-Z0-9]{0,8}$")]
    pub invoice_prefix: String,
    /// Prefix of credit note numbers: 1 to 8 digits or capitals, not the invoice prefix.
    #[schema(pattern = "^[A-Z0-9]{1,8}$")]
    pub credit_note_prefix: String,
    /// Digits of the sequence part, 3 to 9.
    #[schema(minimum = 3, maximum = 9)]
    pub number_digits: i32,
    /// Days from issue to due date, 0 to 120.
    #[schema(minimum = 0, maximum = 120)]
    pub payment_terms_days: i32,
    /// The practice's connected Stripe account (`acct_…`).
    #[serde(default)]
    #[schema(pattern = "^acct_[A-Za-z0-9]{6,40}$")]
    pub stripe_account: Option<String>,
    /// Days after the due date for payment reminders by SMS: up to 6 distinct days from 1 to
    /// 120, in increasing order; empty for none. Default 7 and 21.
    #[serde(default = "default_reminder_days")]
    #[schema(max_items = 6)]
    pub reminder_days: Vec<i32>,
}

fn default_reminder_days() -> Vec<i32> {
    vec![7, 21]
}

const SELECT: &str = "select s.legal_name, s.street, s.house_number, s.box, s.postcode, s.city, s.country, s.enterprise_number,
        s.vat_number, s.iban, s.bic, s.provider_number, coalesce(s.invoice_prefix, '') as invoice_prefix,
        coalesce(s.credit_note_prefix, 'C') as credit_note_prefix, coalesce(s.number_digits, 6) as number_digits,
        coalesce(s.payment_terms_days, 30) as payment_terms_days, s.stripe_account,
        coalesce(s.reminder_days, '{7,21}') as reminder_days, coalesce(s.version, 0) as version
   from core.practice p left join invoicing.settings s on s.practice_id = p.practice_id";

/// The practice's settings (defaults where none were set).
pub(crate) async fn load(tx: &mut TenantTx) -> Result<InvoicingSettings, sqlx::Error> {
    sqlx::query_as(SELECT).fetch_one(&mut **tx).await
}

/// The settings and where the practice is, in one read.
pub(crate) async fn load_with_place(
    tx: &mut TenantTx,
) -> Result<(InvoicingSettings, crate::place::PracticePlace), InvoiceError> {
    #[derive(sqlx::FromRow)]
    struct WithPlace {
        #[sqlx(flatten)]
        settings: InvoicingSettings,
        time_zone: String,
        practice_country: String,
    }
    let r: WithPlace = sqlx::query_as(sqlx::AssertSqlSafe(SELECT.replacen(
        "select ",
        "select p.time_zone, p.country as practice_country, ",
        1,
    )))
    .fetch_one(&mut **tx)
    .await?;
    let place = crate::place::PracticePlace::parse(&r.time_zone, &r.practice_country)?;
    Ok((r.settings, place))
}

impl InvoicingSettings {
    /// What issuing needs: the legal identity and where to pay.
    pub(crate) fn check_complete(&self) -> Result<(), InvoiceError> {
        let required = [
            ("legal_name", &self.legal_name),
            ("street", &self.street),
            ("postcode", &self.postcode),
            ("city", &self.city),
            ("country", &self.country),
            ("enterprise_number", &self.enterprise_number),
            ("iban", &self.iban),
        ];
        match required.into_iter().find(|(_, v)| v.is_none()) {
            Some((field, _)) => Err(InvoiceError::SettingsIncomplete(field)),
            None => Ok(()),
        }
    }
}

/// Reads the practice's invoicing details.
#[utoipa::path(get, path = "/v1/invoicing/settings", tag = "invoicing", security(("session" = [])),
    responses((status = 200, body = InvoicingSettings, headers(("ETag" = String, description = "The settings' version")))))]
pub async fn get_invoicing_settings(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<impl IntoResponse> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let s = load(&mut tx).await?;
    tx.commit().await?;
    Ok((etag(s.version), Json(s)))
}

fn postcode(country: Country, input: &str) -> Result<String, ApiError> {
    let s: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let b = s.as_bytes();
    let ok = match country {
        Country::BE => b.len() == 4 && b.iter().all(u8::is_ascii_digit) && b[0] != b'0',
        Country::NL => {
            b.len() == 6
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[0] != b'0'
                && b[4..].iter().all(u8::is_ascii_uppercase)
        }
    };
    if ok {
        Ok(if country == Country::NL {
            format!("{} {}", &s[..4], &s[4..])
        } else {
            s
        })
    } else {
        Err(ApiError::invalid_field(
            "postcode",
            "not a postcode of the country (BE: 4 digits; NL: 4 digits and 2 letters)",
        ))
    }
}

/// Replaces the practice's invoicing details. Invoices already issued keep what they printed.
#[utoipa::path(put, path = "/v1/invoicing/settings", tag = "invoicing", security(("session" = [])), request_body = InvoicingSettingsInput,
    params(("If-Match" = Option<String>, Header, pattern = r#"^(|\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#, description = "The version (`ETag`) the change was made from; a stale one answers 412 and nothing is written (empty: no condition)")),
    responses((status = 200, body = InvoicingSettings, headers(("ETag" = String, description = "The settings' new version"))), (status = 422, body = platform::error::Problem)))]
pub async fn put_invoicing_settings(
    State(state): State<AppState>,
    staff: Staff,
    if_match: IfMatch,
    ApiJson(b): ApiJson<InvoicingSettingsInput>,
) -> ApiResult<impl IntoResponse> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let enterprise = parse_registration_number(b.country, b.enterprise_number.as_str())
        .map_err(|e| ApiError::invalid_field("enterprise_number", e.to_string()))?;
    let vat = b
        .vat_number
        .as_ref()
        .map(|v| parse_vat_number(b.country, v.as_str()))
        .transpose()
        .map_err(|e| ApiError::invalid_field("vat_number", e.to_string()))?;
    let iban = parse_iban(b.iban.as_str())
        .map_err(|_| ApiError::invalid_field("iban", "not a valid IBAN"))?;
    let bic = b
        .bic
        .as_ref()
        .map(|v| parse_bic(v.as_str()))
        .transpose()
        .map_err(|e| ApiError::invalid_field("bic", e.to_string()))?;
    let provider = b
        .provider_number
        .as_ref()
        .map(|v| match b.country {
            Country::BE => domain::identifiers::parse_riziv(v.as_str()),
            Country::NL => domain::identifiers::parse_agb(v.as_str()),
        })
        .transpose()
        .map_err(|e| ApiError::invalid_field("provider_number", e.to_string()))?;
    let postcode = postcode(b.country, b.postcode.as_str())?;
    let prefix_ok = |p: &str, min: usize| {
        (min..=8).contains(&p.len())
            && p.bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    };
    if !prefix_ok(&b.invoice_prefix, 0) {
        return Err(ApiError::invalid_field(
            "invoice_prefix",
            "up to 8 digits or capitals",
        ));
    }
    if !prefix_ok(&b.credit_note_prefix, 1) || b.credit_note_prefix == b.invoice_prefix {
        return Err(ApiError::invalid_field(
            "credit_note_prefix",
            "1 to 8 digits or capitals, not the invoice prefix",
        ));
    }
    platform::json::range("number_digits", b.number_digits.into(), 3, 9)?;
    platform::json::range("payment_terms_days", b.payment_terms_days.into(), 0, 120)?;
    if let Some(a) = &b.stripe_account {
        let ok = a.strip_prefix("acct_").is_some_and(|id| {
            (6..=40).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_alphanumeric())
        });
        if !ok {
            return Err(ApiError::invalid_field(
                "stripe_account",
                "a Stripe account id: acct_ and 6 to 40 letters or digits",
            ));
        }
    }
    let days_ok = b.reminder_days.len() <= 6
        && b.reminder_days.iter().all(|d| (1..=120).contains(d))
        && b.reminder_days.windows(2).all(|w| w[0] < w[1]);
    if !days_ok {
        return Err(ApiError::invalid_field(
            "reminder_days",
            "up to 6 days from 1 to 120, each later than the one before",
        ));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    // The row exists (version 0 until first set) and is locked before the version is
    // compared, so two edits from one version cannot both pass.
    sqlx::query("insert into invoicing.settings (practice_id, version) values ($1, 0) on conflict do nothing")
        .bind(staff.practice())
        .execute(&mut *tx)
        .await?;
    let current: i32 = sqlx::query_scalar("select version from invoicing.settings for update")
        .fetch_one(&mut *tx)
        .await?;
    if_match.check(current)?;
    sqlx::query(
        r#"insert into invoicing.settings (practice_id, legal_name, street, house_number, box, postcode, city, country,
               enterprise_number, vat_number, iban, bic, provider_number, invoice_prefix, credit_note_prefix,
               number_digits, payment_terms_days, stripe_account, reminder_days)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
           on conflict (practice_id) do update set legal_name = excluded.legal_name, street = excluded.street,
               house_number = excluded.house_number, box = excluded.box, postcode = excluded.postcode,
               city = excluded.city, country = excluded.country, enterprise_number = excluded.enterprise_number,
               vat_number = excluded.vat_number, iban = excluded.iban, bic = excluded.bic,
               provider_number = excluded.provider_number, invoice_prefix = excluded.invoice_prefix,
               credit_note_prefix = excluded.credit_note_prefix, number_digits = excluded.number_digits,
               payment_terms_days = excluded.payment_terms_days, stripe_account = excluded.stripe_account,
               reminder_days = excluded.reminder_days, version = settings.version + 1, updated_at = now()"#,
    )
    .bind(staff.practice())
    .bind(b.legal_name.as_str())
    .bind(b.street.as_str())
    .bind(b.house_number.as_str())
    .bind(b.box_number.as_ref().map(Line::as_str))
    .bind(&postcode)
    .bind(b.city.as_str())
    .bind(b.country.as_str())
    .bind(&enterprise)
    .bind(vat.as_deref())
    .bind(&iban)
    .bind(bic.as_deref())
    .bind(provider.as_deref())
    .bind(&b.invoice_prefix)
    .bind(&b.credit_note_prefix)
    .bind(b.number_digits)
    .bind(b.payment_terms_days)
    .bind(b.stripe_account.as_deref())
    .bind(&b.reminder_days)
    .execute(&mut *tx)
    .await?;
    // Stripe's events name the account: it routes them to this practice.
    sqlx::query("delete from invoicing.route where reference like 'account:%'")
        .execute(&mut *tx)
        .await?;
    if let Some(a) = &b.stripe_account {
        sqlx::query("insert into invoicing.route (reference, practice_id) values ($1, $2)")
            .bind(format!("account:{a}"))
            .bind(staff.practice())
            .execute(&mut *tx)
            .await
            .map_err(|e| match platform::db::violated_constraint(&e) {
                Some("route_pkey") => ApiError::conflict(
                    "stripe_account_taken",
                    "this Stripe account is another practice's",
                )
                .with_field("stripe_account"),
                _ => e.into(),
            })?;
    }
    let ev = staff.audit(
        "invoicing_settings_changed",
        Action::Update,
        None,
        "success",
    );
    audit::record(&mut tx, staff.practice(), &ev).await?;
    let s = load(&mut tx).await?;
    tx.commit().await?;
    Ok((etag(s.version), Json(s)))
}
