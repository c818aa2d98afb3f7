//! Claim lines over HTTP, for billing staff: list them by state (the invalid ones with what to
//! correct), read one, and check the invalid ones again after a correction. Every read is
//! audited with the lines' patients.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use domain::claims::{ClaimLineKind, ClaimLineState};
use domain::practice::Permission;
use domain::{ClaimBatchId, ClaimLineId, InvoiceId, PatientId, ReferralId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::{ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::lines::{self, Checked};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_claim_lines))
        .routes(routes!(get_claim_line))
        .routes(routes!(check_claim_lines))
        .routes(routes!(resubmit_claim_line))
        .routes(routes!(rebill_claim_line))
}

async fn line(tx: &mut platform::db::TenantTx, id: ClaimLineId) -> Result<ClaimLine, ApiError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from claims.claim_line where line_id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("claim_line_not_found", "line_id"))
}

/// A problem of a claim line: the rule, the field to correct and the Vektis retourcode where
/// one exists.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineProblem {
    /// The rule (`bsn_eleven_proof`, `insz_mod97`, `service_after_invoice`, …).
    pub rule: String,
    /// What to correct (`patient.national_number`, `practice.provider_number`, `line.code`, …).
    pub field: String,
    /// The Vektis retourcode an insurer would answer with.
    pub retourcode: Option<String>,
}

/// The insurer's share of one invoice or credit note line.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ClaimLine {
    /// The line.
    pub line_id: ClaimLineId,
    /// Stable for ever: `<invoice number>/<line number>`.
    pub reference: String,
    /// The invoice or credit note.
    pub invoice_id: InvoiceId,
    /// Its line.
    pub invoice_line_no: i32,
    /// `debit` or `credit`.
    #[schema(value_type = String)]
    pub kind: ClaimLineKind,
    /// A credit line: the debit line it takes back.
    pub corrects_line_id: Option<ClaimLineId>,
    /// The patient.
    pub patient_id: PatientId,
    /// `BE` or `NL`.
    pub country: String,
    /// UZOVI or mutuality code.
    pub insurer: Option<String>,
    /// Prestatiecode or nomenclature code.
    pub code: String,
    /// The service date.
    pub service_date: NaiveDate,
    /// The invoice date.
    pub invoice_date: NaiveDate,
    /// Quantity.
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// The insurer's share (positive; `kind` gives the sign).
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "24.37")]
    pub amount: Decimal,
    /// `invalid`, `ready`, `batched`, `accepted` or `rejected`.
    #[schema(value_type = String)]
    pub state: ClaimLineState,
    /// What fails the rules (empty when ready).
    #[schema(value_type = Vec<LineProblem>)]
    pub problems: sqlx::types::Json<Vec<LineProblem>>,
    /// When the rules last ran on it.
    pub checked_at: DateTime<Utc>,
    /// The batch that holds it.
    pub batch_id: Option<ClaimBatchId>,
    /// Once answered: what the insurer granted.
    #[serde(serialize_with = "domain::money::serialize_cents_opt")]
    #[schema(value_type = Option<String>, example = "24.37")]
    pub granted: Option<Decimal>,
    /// Once answered: the insurer's retourcodes (empty: no remark).
    pub return_codes: Vec<String>,
    /// `invoice`, `credit_note`, `correction` (a credit taking back a rejected line) or
    /// `resubmission` (a rejected line claimed again).
    pub origin: String,
    /// A rejected line, once dealt with: `resubmitted` or `rebilled`.
    pub settled: Option<String>,
    /// A resubmission: the rejected line it replaces.
    pub replaces_line_id: Option<ClaimLineId>,
    /// The patient's referral the line rests on (the one covering its service date when it
    /// was last checked); the file names its date and prescriber.
    pub referral_id: Option<ReferralId>,
}

const COLUMNS: &str = "line_id, reference, invoice_id, invoice_line_no, kind, corrects_line_id, patient_id, country, insurer, \
     code, service_date, invoice_date, quantity, amount, state, problems, checked_at, batch_id, granted, return_codes, origin, settled, \
     replaces_line_id, referral_id";

/// Filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LineFilter {
    /// Only lines in this state.
    #[param(value_type = Option<String>, pattern = "^(invalid|ready|batched|accepted|rejected)$")]
    pub state: Option<ClaimLineState>,
    /// Only lines of this invoice or credit note.
    pub invoice_id: Option<InvoiceId>,
    /// At most this many (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Lists claim lines, newest first; `state=invalid` gives what billing staff must correct.
#[utoipa::path(get, path = "/v1/claims/lines", tag = "claims", security(("session" = [])), params(LineFilter),
    responses((status = 200, body = Vec<ClaimLine>)))]
pub async fn list_claim_lines(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(f): ApiQuery<LineFilter>,
) -> ApiResult<Json<Vec<ClaimLine>>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let limit = platform::json::page_limit(f.limit, 100, 500)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows: Vec<ClaimLine> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from claims.claim_line
          where ($1::text is null or state = $1) and ($2::uuid is null or invoice_id = $2)
          order by created_at desc, line_id limit $3"
    )))
    .bind(f.state)
    .bind(f.invoice_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut patients: Vec<Option<PatientId>> = rows.iter().map(|r| Some(r.patient_id)).collect();
    patients.sort();
    patients.dedup();
    let ev = staff.audit("claim_lines_listed", Action::Read, None, "success");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// One claim line.
#[utoipa::path(get, path = "/v1/claims/lines/{line_id}", tag = "claims", security(("session" = [])),
    params(("line_id" = ClaimLineId, Path, description = "The line")),
    responses((status = 200, body = ClaimLine), (status = 404, body = platform::error::Problem)))]
pub async fn get_claim_line(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimLineId>,
) -> ApiResult<Json<ClaimLine>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = line(&mut tx, id).await?;
    let ev = staff.audit(
        "claim_line_read",
        Action::Read,
        Some(row.patient_id),
        "success",
    );
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(Json(row))
}

/// Checks the invalid lines again, after the patient's or the practice's data was corrected;
/// the lines that now pass become ready for the next batch.
#[utoipa::path(post, path = "/v1/claims/lines/check", tag = "claims", security(("session" = [])),
    responses((status = 200, body = Checked)))]
pub async fn check_claim_lines(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Checked>> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let checked = lines::recheck(&state, &mut tx, staff.practice())
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await?;
    Ok(Json(checked))
}

/// The lines a resubmission made: a credit taking back the rejected line and a new debit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resubmitted {
    /// Mirrors the rejected line (`corrects_line_id`), ready for the next batch.
    pub credit: ClaimLine,
    /// Claims it again, checked against the patient's data as it now stands.
    pub debit: ClaimLine,
}

/// Resubmits a rejected line after its data was corrected: a credit line mirroring it and a new
/// debit line go into the next batch of its insurer. Once per line.
#[utoipa::path(post, path = "/v1/claims/lines/{line_id}/resubmit", tag = "claims", security(("session" = [])),
    params(("line_id" = ClaimLineId, Path, description = "The rejected line")),
    responses((status = 201, body = Resubmitted), (status = 404, body = platform::error::Problem),
              (status = 409, description = "Not a rejected debit line, or already resubmitted or re-billed", body = platform::error::Problem)))]
pub async fn resubmit_claim_line(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimLineId>,
) -> ApiResult<(axum::http::StatusCode, Json<Resubmitted>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (credit, debit) =
        crate::corrections::resubmit(&state, &mut tx, staff.practice(), id).await?;
    let (credit, debit) = (line(&mut tx, credit).await?, line(&mut tx, debit).await?);
    let ev = staff.audit(
        "claim_line_resubmitted",
        Action::Create,
        Some(debit.patient_id),
        "success",
    );
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(Resubmitted { credit, debit }),
    ))
}

/// Bills a rejected line to the patient instead: invoicing drafts the patient's invoice for the
/// refused amount (answered 202: the draft follows). Once per line.
#[utoipa::path(post, path = "/v1/claims/lines/{line_id}/rebill", tag = "claims", security(("session" = [])),
    params(("line_id" = ClaimLineId, Path, description = "The rejected line")),
    responses((status = 202, body = ClaimLine), (status = 404, body = platform::error::Problem),
              (status = 409, description = "Not a rejected debit line, or already resubmitted or re-billed", body = platform::error::Problem)))]
pub async fn rebill_claim_line(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimLineId>,
) -> ApiResult<(axum::http::StatusCode, Json<ClaimLine>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let patient = crate::corrections::rebill(&mut tx, staff.practice(), id).await?;
    let ev = staff.audit(
        "claim_line_rebilled",
        Action::Update,
        Some(patient),
        "success",
    );
    audit::record(&mut tx, staff.practice(), &ev).await?;
    let row = line(&mut tx, id).await?;
    tx.commit().await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(row)))
}
