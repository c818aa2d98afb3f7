//! Tariffs as data: what an appointment type costs from a date on, optionally for one insurer
//! (UZOVI, NL) or mutuality (BE) and one convention or contract, with the insurer's share and
//! the VAT treatment. A tariff is never edited: ending it (`valid_until`) and adding the next
//! one is how fees change, and an invoice line keeps a copy of the tariff it was made from.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use domain::invoice::{MEDICAL_EXEMPTION, VatCategory};
use domain::money::Amount;
use domain::practice::Permission;
use domain::text::Line;
use domain::{AppointmentTypeId, TariffId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::error::ResultExt;
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_tariffs, create_tariff))
        .routes(routes!(end_tariff))
}

/// A new tariff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"appointment_type_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a03", "code": "560011", "label": "Kinesitherapie zitting", "valid_from": "2027-01-01", "fee": "32.50", "insurer_share": "24.37", "referral_required": true}))]
pub struct NewTariff {
    /// The appointment type it prices.
    pub appointment_type_id: AppointmentTypeId,
    /// BE: the RIZIV/INAMI nomenclature code; NL: the prestatiecode. 3 to 12 digits or
    /// capitals.
    pub code: Line<12>,
    /// What the invoice line says.
    pub label: Line<200>,
    /// Only for this insurer: a UZOVI number (4 digits) or a mutuality code (3 digits).
    #[serde(default)]
    pub insurer: Option<Line<4>>,
    /// Only under this convention or contract.
    #[serde(default)]
    pub convention: Option<Line<100>>,
    /// First day it applies.
    pub valid_from: NaiveDate,
    /// Last day it applies; open-ended when absent.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// The fee per unit, before VAT.
    pub fee: Amount,
    /// What the insurer pays per unit (at most the fee with VAT); 0 when absent.
    #[serde(default)]
    pub insurer_share: Option<Amount>,
    /// `E` (exempt medical care, the default) or `S` (standard-rated).
    #[serde(default)]
    pub vat_category: Option<VatCategory>,
    /// The VAT rate in percent for category `S` (e.g. `21`).
    #[serde(default)]
    pub vat_rate: Option<Amount>,
    /// The insurer pays this code only on a referral or prescription (BE: most kinesitherapy
    /// codes; NL: care outside direct access). A claim line of it waits for the patient's
    /// referral covering the service date. `false` when absent.
    #[serde(default)]
    pub referral_required: Option<bool>,
}

/// The end of a tariff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"valid_until": "2027-12-31"}))]
pub struct EndTariff {
    /// The last day it applies (not before its first).
    pub valid_until: NaiveDate,
}

/// A tariff.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Tariff {
    /// Id.
    pub tariff_id: TariffId,
    /// The appointment type.
    #[sqlx(rename = "type_id")]
    pub appointment_type_id: AppointmentTypeId,
    /// Nomenclature code or prestatiecode.
    pub code: String,
    /// Line text.
    pub label: String,
    /// The insurer it is limited to.
    pub insurer: Option<String>,
    /// The convention it is limited to.
    pub convention: Option<String>,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day.
    pub valid_until: Option<NaiveDate>,
    /// Fee per unit before VAT.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "32.50")]
    pub fee: Decimal,
    /// The insurer's share per unit.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "24.37")]
    pub insurer_share: Decimal,
    /// VAT category.
    pub vat_category: VatCategory,
    /// VAT rate in percent.
    #[schema(value_type = String, example = "0")]
    pub vat_rate: Decimal,
    /// The exemption reason code of category `E`.
    pub vat_exemption_reason: Option<String>,
    /// Paid only on a referral.
    pub referral_required: bool,
}

const COLUMNS: &str = "tariff_id, type_id, code, label, insurer, convention, valid_from, valid_until, fee, insurer_share, \
     vat_category, vat_rate, vat_exemption_reason, referral_required";

/// Filters of the tariff list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TariffQuery {
    /// Only this appointment type.
    pub appointment_type_id: Option<AppointmentTypeId>,
    /// Only tariffs that apply on this day.
    pub on: Option<NaiveDate>,
}

/// Lists the practice's tariffs.
#[utoipa::path(get, path = "/v1/tariffs", tag = "invoicing", security(("session" = [])), params(TariffQuery),
    responses((status = 200, body = Vec<Tariff>)))]
pub async fn list_tariffs(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<TariffQuery>,
) -> ApiResult<Json<Vec<Tariff>>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.tariff
          where ($1::uuid is null or type_id = $1)
            and ($2::date is null or (valid_from <= $2 and (valid_until is null or valid_until >= $2)))
          order by type_id, code, valid_from, tariff_id
          limit 1000"
    )))
    .bind(q.appointment_type_id)
    .bind(q.on)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Adds a tariff. Two tariffs of one appointment type, insurer and convention cannot apply on
/// the same day.
#[utoipa::path(post, path = "/v1/tariffs", tag = "invoicing", security(("session" = [])), request_body = NewTariff,
    responses((status = 201, body = Tariff), (status = 409, description = "Another tariff applies on some of these days", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn create_tariff(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewTariff>,
) -> ApiResult<(StatusCode, Json<Tariff>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let code = b.code.into_inner();
    if !(3..=12).contains(&code.len())
        || !code
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return Err(ApiError::invalid_field(
            "code",
            "3 to 12 digits or capital letters",
        ));
    }
    let insurer = b.insurer.map(Line::into_inner);
    if let Some(i) = &insurer
        && !((3..=4).contains(&i.len()) && i.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(ApiError::invalid_field(
            "insurer",
            "a UZOVI number (4 digits) or a mutuality code (3 digits)",
        ));
    }
    if b.valid_until.is_some_and(|u| u < b.valid_from) {
        return Err(ApiError::invalid_field(
            "valid_until",
            "must not be before valid_from",
        ));
    }
    let category = b.vat_category.unwrap_or(VatCategory::Exempt);
    let (rate, reason) = match (category, b.vat_rate.map(Amount::get)) {
        (VatCategory::Exempt, None) => (Decimal::ZERO, Some(MEDICAL_EXEMPTION)),
        (VatCategory::Exempt, Some(r)) if r.is_zero() => (Decimal::ZERO, Some(MEDICAL_EXEMPTION)),
        (VatCategory::Exempt, Some(_)) => {
            return Err(ApiError::invalid_field(
                "vat_rate",
                "an exempt tariff has no VAT rate",
            ));
        }
        (VatCategory::Standard, Some(r)) if r > Decimal::ZERO && r < Decimal::ONE_HUNDRED => {
            (r, None)
        }
        (VatCategory::Standard, _) => {
            return Err(ApiError::invalid_field(
                "vat_rate",
                "a standard-rated tariff needs a rate above 0 and below 100",
            ));
        }
    };
    let fee = b.fee.get();
    let share = b.insurer_share.map_or(Decimal::ZERO, Amount::get);
    if share > fee * (Decimal::ONE + rate / Decimal::ONE_HUNDRED) {
        return Err(ApiError::invalid_field(
            "insurer_share",
            "must not be more than the fee with VAT",
        ));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row: Tariff = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into invoicing.tariff (practice_id, tariff_id, type_id, code, label, insurer, convention, valid_from,
             valid_until, fee, insurer_share, vat_category, vat_rate, vat_exemption_reason, referral_required)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         returning {COLUMNS}"
    )))
    .bind(staff.practice())
    .bind(TariffId::new())
    .bind(b.appointment_type_id)
    .bind(&code)
    .bind(b.label.as_str())
    .bind(insurer.as_deref())
    .bind(b.convention.as_ref().map(Line::as_str))
    .bind(b.valid_from)
    .bind(b.valid_until)
    .bind(fee)
    .bind(share)
    .bind(category)
    .bind(rate)
    .bind(reason)
    .bind(b.referral_required.unwrap_or(false))
    .fetch_one(&mut *tx)
    .await
    .on_constraint("tariff_type_fkey", || {
        ApiError::not_found("appointment_type_not_found", "appointment_type_id")
    })
    .on_constraint("tariff_no_overlap", tariff_overlap)?;
    audit_change(&mut tx, &staff, Action::Create).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

fn tariff_overlap() -> ApiError {
    ApiError::conflict(
        "tariff_overlap",
        "another tariff of this appointment type, insurer and convention applies on some of these days",
    )
    .with_field("valid_from")
}

async fn audit_change(tx: &mut TenantTx, staff: &Staff, action: Action) -> ApiResult<()> {
    let ev = staff.audit("tariff_changed", action, None, "success");
    audit::record(tx, staff.practice(), &ev).await?;
    Ok(())
}

/// Ends a tariff: it applies up to and including `valid_until`. Invoices already made keep the
/// amounts they copied.
#[utoipa::path(post, path = "/v1/tariffs/{tariff_id}/end", tag = "invoicing", security(("session" = [])),
    params(("tariff_id" = TariffId, Path, description = "The tariff")), request_body = EndTariff,
    responses((status = 200, body = Tariff), (status = 409, description = "The new end makes it overlap another tariff", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn end_tariff(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(tariff_id): ApiPath<TariffId>,
    ApiJson(b): ApiJson<EndTariff>,
) -> ApiResult<Json<Tariff>> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row: Option<Tariff> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update invoicing.tariff set valid_until = $2 where tariff_id = $1 returning {COLUMNS}"
    )))
    .bind(tariff_id)
    .bind(b.valid_until)
    .fetch_optional(&mut *tx)
    .await
    .on_constraint("tariff_validity", || {
        ApiError::invalid_field("valid_until", "must not be before valid_from")
    })
    .on_constraint("tariff_no_overlap", tariff_overlap)?;
    let row = row.ok_or_else(|| ApiError::not_found("tariff_not_found", "tariff_id"))?;
    audit_change(&mut tx, &staff, Action::Update).await?;
    tx.commit().await?;
    Ok(Json(row))
}

/// One tariff, by id.
pub(crate) async fn load(tx: &mut TenantTx, id: TariffId) -> Result<Option<Tariff>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.tariff where tariff_id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The tariff of an appointment type on `day` for a patient insured with `insurer`: the
/// insurer's own tariff when there is one, else the general one.
pub(crate) async fn applicable(
    tx: &mut TenantTx,
    type_id: AppointmentTypeId,
    insurer: Option<&str>,
    day: NaiveDate,
) -> Result<Option<Tariff>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.tariff
          where type_id = $1 and valid_from <= $3 and (valid_until is null or valid_until >= $3)
            and (insurer is null or insurer = $2) and convention is null
          order by insurer nulls last
          limit 1"
    )))
    .bind(type_id)
    .bind(insurer)
    .bind(day)
    .fetch_optional(&mut **tx)
    .await
}

impl Tariff {
    /// Whether it applies on `day`.
    pub(crate) fn applies_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_until.is_none_or(|u| u >= day)
    }
}
