//! Patients: identity, contact, SMS consent, insurance and a clinical summary.
//!
//! National numbers and clinical text are encrypted with the practice data key, bound to
//! practice, table, column and row; national numbers also get a blind index for exact search.
//! Every read, create and update writes an audit row per patient, in the same transaction.
//! Roles without clinical access neither see nor write the clinical summary.
//!
//! The parts: [`model`] (inputs and views), [`store`] (validation, encryption, the row),
//! [`consent`] (SMS consent and restriction), [`referrals`] (the referrals claims rest on); the
//! handlers below.

mod consent;
mod model;
mod referrals;
mod store;

pub use consent::*;
pub use model::*;
pub use referrals::*;
pub use store::insert;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use domain::PatientId;
use domain::identifiers::NationalNumber;
use domain::practice::{Country, Permission};
use platform::audit::{self, Action};
use platform::auth::{Reader, Staff};
use platform::db::TenantTx;
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::versions::{IfMatch, etag};
use platform::{ApiError, ApiResult, AppState};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use platform::ApiRouter;
use store::*;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_patients, create_patient))
        .routes(routes!(search_patients))
        .routes(routes!(get_patient, update_patient))
        .routes(routes!(give_sms_consent, withdraw_sms_consent))
        .routes(routes!(restrict_processing, lift_restriction))
        .routes(routes!(list_referrals, create_referral))
        .routes(routes!(delete_referral))
}

/// Creates a patient.
#[utoipa::path(post, path = "/v1/patients", tag = "patients", security(("session" = [])), request_body = NewPatient,
    responses((status = 201, body = Patient), (status = 400, body = platform::error::Problem),
              (status = 403, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn create_patient(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<NewPatient>,
) -> ApiResult<(StatusCode, Json<Patient>)> {
    staff.require(&state, Permission::PatientWrite).await?;
    if body.clinical_summary.is_some() {
        require_clinical(&state, &staff).await?;
    }
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let id = insert(&mut tx, &state, practice, body).await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit("sensitive_create", Action::Create, Some(id), "success"),
    )
    .await?;
    let (patient, _) = load(&mut tx, &state, practice, id.as_uuid(), false).await?;
    tx.commit().await?;
    tracing::info!(practice.id = %practice, patient.id = %id, "patient created");
    Ok((StatusCode::CREATED, Json(redact(patient, |p| staff.can(p)))))
}

/// Reads a patient.
#[utoipa::path(get, path = "/v1/patients/{patient_id}", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Patient, headers(("ETag" = String, description = "The patient's version"))), (status = 404, body = platform::error::Problem)))]
pub async fn get_patient(
    State(state): State<AppState>,
    staff: Reader,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<impl IntoResponse> {
    staff.require(&state, Permission::PatientRead).await?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit(
            "sensitive_read",
            Action::Read,
            Some(patient.patient_id),
            "success",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((
        etag(patient.version),
        Json(redact(patient, |p| staff.can(p))),
    ))
}

/// Changes a patient: absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/patients/{patient_id}", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path), ("If-Match" = Option<String>, Header, pattern = r#"^(|\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#, description = "The version (`ETag`) the change was made from; a stale one answers 412 and nothing is written (empty: no condition)")), request_body = PatientPatch,
    responses((status = 200, body = Patient, headers(("ETag" = String, description = "The patient's new version"))), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn update_patient(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    if_match: IfMatch,
    ApiJson(p): ApiJson<PatientPatch>,
) -> ApiResult<impl IntoResponse> {
    staff.require(&state, Permission::PatientWrite).await?;
    if p.clinical_summary.touches() {
        require_clinical(&state, &staff).await?;
    }
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let (country, _) = practice_defaults(&mut tx).await?;
    let (locked, cur) = load(&mut tx, &state, practice, id, true).await?;
    if_match.check(locked.version)?;
    let data = PatientData {
        family_name: p
            .family_name
            .apply_required(cur.family_name, "family_name")?,
        given_names: p
            .given_names
            .apply_required(cur.given_names, "given_names")?,
        birth_date: p.birth_date.apply_required(cur.birth_date, "birth_date")?,
        sex: p.sex.apply_required(cur.sex, "sex")?,
        mobile: p.mobile.apply_opt(cur.mobile),
        email: p.email.apply_opt(cur.email),
        preferred_language: p
            .preferred_language
            .apply_required(cur.preferred_language, "preferred_language")?,
        insurance_country: p.insurance_country.apply_opt(cur.insurance_country),
        mutuality_code: p.mutuality_code.apply_opt(cur.mutuality_code),
        uzovi: p.uzovi.apply_opt(cur.uzovi),
        policy_number: p.policy_number.apply_opt(cur.policy_number),
        insurance_valid_from: p.insurance_valid_from.apply_opt(cur.insurance_valid_from),
        insurance_valid_until: p.insurance_valid_until.apply_opt(cur.insurance_valid_until),
        national_number: p.national_number.apply_opt(cur.national_number),
        gp_name: p.gp_name.apply_opt(cur.gp_name),
        clinical_summary: p.clinical_summary.apply_opt(cur.clinical_summary),
        address: p.address.apply_opt(cur.address),
    }
    .normalise(country)?;
    let pid = PatientId::from_uuid(id);
    let keys = state.practice_keys(&mut tx, practice).await?;
    write(&mut tx, &keys, practice, pid, &data, false).await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit("sensitive_update", Action::Update, Some(pid), "success"),
    )
    .await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    tx.commit().await?;
    Ok((
        etag(patient.version),
        Json(redact(patient, |p| staff.can(p))),
    ))
}

/// Paging parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<Uuid>,
}

fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    platform::json::page_limit(limit, 50, 200)
}

async fn page(
    tx: &mut TenantTx,
    staff: &Reader,
    reason: &'static str,
    limit: i64,
    rows: Vec<(Uuid, String, String, NaiveDate)>,
) -> ApiResult<PatientPage> {
    let has_more = rows.len() as i64 > limit;
    let items: Vec<PatientSummary> = rows
        .into_iter()
        .take(limit as usize)
        .map(
            |(id, family_name, given_names, birth_date)| PatientSummary {
                patient_id: PatientId::from_uuid(id),
                family_name,
                given_names,
                birth_date,
            },
        )
        .collect();
    let shown: Vec<Option<PatientId>> = items.iter().map(|p| Some(p.patient_id)).collect();
    let mut ev = staff.audit("sensitive_read", Action::Read, None, "success");
    ev.reason = Some(reason);
    audit::record_for_patients(tx, staff.practice(), &ev, &shown).await?;
    let next_cursor = if has_more {
        items.last().map(|p| p.patient_id)
    } else {
        None
    };
    Ok(PatientPage { items, next_cursor })
}

/// Lists patients, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/patients", tag = "patients", security(("session" = [])), params(PageQuery),
    responses((status = 200, body = PatientPage), (status = 400, body = platform::error::Problem)))]
pub async fn list_patients(
    State(state): State<AppState>,
    staff: Reader,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<PatientPage>> {
    staff.require(&state, Permission::PatientRead).await?;
    let limit = page_limit(q.limit)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(
        r#"select patient_id, family_name, given_names, birth_date from core.patient
            where ($1::uuid is null or patient_id > $1) order by patient_id limit $2"#,
    )
    .bind(q.cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let out = page(&mut tx, &staff, "list", limit, rows).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Search criteria; at least one. Sent in the body so that national numbers never appear in
/// URLs or access logs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"family_name": "Peeters", "birth_date": "1985-04-12", "limit": 20}))]
pub struct PatientSearch {
    /// Family name prefix, any case.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Exact birth date.
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    /// Exact national number (INSZ/NISS or BSN).
    #[serde(default)]
    pub national_number: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<Uuid>,
}

/// Finds patients by family name prefix, birth date or national number.
#[utoipa::path(post, path = "/v1/patients/search", tag = "patients", security(("session" = [])), request_body = PatientSearch,
    responses((status = 200, body = PatientPage), (status = 422, body = platform::error::Problem)))]
pub async fn search_patients(
    State(state): State<AppState>,
    staff: Reader,
    ApiJson(q): ApiJson<PatientSearch>,
) -> ApiResult<Json<PatientPage>> {
    staff.require(&state, Permission::PatientRead).await?;
    let limit = page_limit(q.limit).map_err(|e| e.with_field("limit"))?;
    let name = opt_line("family_name", q.family_name, MAX_TEXT)?;
    if name.is_none() && q.birth_date.is_none() && q.national_number.is_none() {
        return Err(ApiError::invalid_field(
            "family_name",
            "give family_name, birth_date or national_number",
        ));
    }
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let bidx = match q.national_number {
        Some(n) => {
            // Either scheme: a BE practice may treat a patient with Dutch insurance.
            let digits = NationalNumber::parse(Country::BE, &n)
                .or_else(|_| NationalNumber::parse(Country::NL, &n))
                .map_err(|_| {
                    ApiError::invalid_field("national_number", "not a valid INSZ/NISS or BSN")
                })?;
            let keys = state.practice_keys(&mut tx, practice).await?;
            Some(keys.blind_index(NATIONAL_NUMBER_INDEX, digits.digits()))
        }
        None => None,
    };
    let pattern = name.map(|n| {
        format!(
            "{}%",
            n.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query_as(
        r#"select patient_id, family_name, given_names, birth_date from core.patient
            where ($1::text is null or lower(family_name) like $1)
              and ($2::date is null or birth_date = $2)
              and ($3::bytea is null or national_number_bidx = $3)
              and ($4::uuid is null or patient_id > $4)
            order by patient_id limit $5"#,
    )
    .bind(pattern)
    .bind(q.birth_date)
    .bind(bidx)
    .bind(q.cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let out = page(&mut tx, &staff, "search", limit, rows).await?;
    tx.commit().await?;
    Ok(Json(out))
}
