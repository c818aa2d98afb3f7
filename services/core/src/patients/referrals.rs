//! Referrals (NL verwijzing, BE voorschrift): the doctor's referral or prescription a patient's
//! care rests on — its date, how long it runs and the prescriber's AGB or RIZIV/INAMI number.
//! Claims take the one covering a service's date for codes whose tariff needs one
//! (`domain::referral::covering`) and write it into the claim file. A referral is never
//! edited: a wrong one is deleted, while no claim line rests on it, and entered again.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use domain::practice::Permission;
use domain::referral::parse_prescriber;
use domain::text::Line;
use domain::{PatientId, PracticeId, ReferralId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::error::ResultExt;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::practice_defaults;

/// A new referral.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"prescriber_number": "01012345", "prescriber_specialism": "0100", "referral_date": "2027-01-11", "valid_until": "2027-07-10"}))]
pub struct NewReferral {
    /// The prescriber's number in the practice's country: an AGB code (NL, 8 digits) or a
    /// RIZIV/INAMI number (BE, 11 digits with their check digits).
    pub prescriber_number: Line<20>,
    /// NL: the prescriber's specialism (Vektis COD016, 4 digits), when known.
    #[serde(default)]
    pub prescriber_specialism: Option<Line<4>>,
    /// The day of the referral or prescription.
    pub referral_date: NaiveDate,
    /// The last day it covers; open-ended when absent.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
}

/// A referral.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Referral {
    /// Id.
    pub referral_id: ReferralId,
    /// The patient.
    pub patient_id: PatientId,
    /// AGB (NL) or RIZIV/INAMI (BE) of the prescriber.
    pub prescriber_number: String,
    /// NL: the prescriber's specialism.
    pub prescriber_specialism: Option<String>,
    /// The day of the referral.
    pub referral_date: NaiveDate,
    /// The last day it covers.
    pub valid_until: Option<NaiveDate>,
    /// When it was entered.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "referral_id, patient_id, prescriber_number, prescriber_specialism, referral_date, valid_until, created_at";

/// A referral as it is stored: the prescriber's number in its canonical form.
struct Checked {
    prescriber_number: String,
    prescriber_specialism: Option<String>,
    referral_date: NaiveDate,
    valid_until: Option<NaiveDate>,
}

impl NewReferral {
    /// The referral as stored, or the field that is wrong.
    async fn check(self, tx: &mut TenantTx) -> ApiResult<Checked> {
        let (country, _) = practice_defaults(tx).await?;
        let prescriber_number = parse_prescriber(country, self.prescriber_number.as_str())
            .map_err(|e| {
                ApiError::invalid_field(
                    "prescriber_number",
                    format!("not a valid prescriber number: {e}"),
                )
            })?;
        let prescriber_specialism = self
            .prescriber_specialism
            .map(Line::into_inner)
            .filter(|s| !s.is_empty());
        if prescriber_specialism
            .as_deref()
            .is_some_and(|s| s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ApiError::invalid_field(
                "prescriber_specialism",
                "must be 4 digits",
            ));
        }
        if self
            .valid_until
            .is_some_and(|until| until < self.referral_date)
        {
            return Err(ApiError::invalid_field(
                "valid_until",
                "may not be before referral_date",
            ));
        }
        Ok(Checked {
            prescriber_number,
            prescriber_specialism,
            referral_date: self.referral_date,
            valid_until: self.valid_until,
        })
    }
}

async fn insert(
    tx: &mut TenantTx,
    practice: PracticeId,
    patient: PatientId,
    r: &Checked,
) -> Result<Referral, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into core.referral (practice_id, referral_id, patient_id, prescriber_number, prescriber_specialism,
                                    referral_date, valid_until)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(practice)
    .bind(ReferralId::new())
    .bind(patient)
    .bind(&r.prescriber_number)
    .bind(r.prescriber_specialism.as_deref())
    .bind(r.referral_date)
    .bind(r.valid_until)
    .fetch_one(&mut **tx)
    .await
}

/// Records a referral of the patient.
#[utoipa::path(post, path = "/v1/patients/{patient_id}/referrals", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)), request_body = NewReferral,
    responses((status = 201, body = Referral), (status = 404, body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn create_referral(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NewReferral>,
) -> ApiResult<(StatusCode, Json<Referral>)> {
    staff.require(&state, Permission::PatientWrite).await?;
    let practice = staff.practice();
    let patient = PatientId::from_uuid(id);
    let mut tx = state.db().tenant(practice).await?;
    platform::patients::require(&mut tx, patient).await?;
    let body = body.check(&mut tx).await?;
    let referral = insert(&mut tx, practice, patient, &body).await?;
    let mut ev = staff.audit("sensitive_create", Action::Create, Some(patient), "success");
    ev.reason = Some("referral_added");
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    tracing::info!(practice.id = %practice, patient.id = %patient, referral.id = %referral.referral_id, "referral recorded");
    Ok((StatusCode::CREATED, Json(referral)))
}

/// Lists the patient's referrals, newest first.
#[utoipa::path(get, path = "/v1/patients/{patient_id}/referrals", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Referral>), (status = 404, body = platform::error::Problem)))]
pub async fn list_referrals(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Referral>>> {
    staff.require(&state, Permission::PatientRead).await?;
    let practice = staff.practice();
    let patient = PatientId::from_uuid(id);
    let mut tx = state.db().tenant(practice).await?;
    platform::patients::require(&mut tx, patient).await?;
    let rows: Vec<Referral> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from core.referral where patient_id = $1
          order by referral_date desc, referral_id desc limit 1000"
    )))
    .bind(patient)
    .fetch_all(&mut *tx)
    .await?;
    let mut ev = staff.audit("sensitive_read", Action::Read, Some(patient), "success");
    ev.reason = Some("referrals_listed");
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Deletes a referral entered by mistake; refused (409 `referral_in_use`) once a claim line
/// rests on it.
#[utoipa::path(delete, path = "/v1/patients/{patient_id}/referrals/{referral_id}", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path), ("referral_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem), (status = 409, body = platform::error::Problem)))]
pub async fn delete_referral(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath((id, referral)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::PatientWrite).await?;
    let practice = staff.practice();
    let patient = PatientId::from_uuid(id);
    let mut tx = state.db().tenant(practice).await?;
    platform::patients::require(&mut tx, patient).await?;
    let deleted =
        sqlx::query("delete from core.referral where referral_id = $1 and patient_id = $2")
            .bind(referral)
            .bind(patient)
            .execute(&mut *tx)
            .await
            .on_constraint("claim_line_referral_fkey", || {
                ApiError::conflict("referral_in_use", "a claim line rests on this referral")
            })?
            .rows_affected();
    if deleted == 0 {
        return Err(ApiError::not_found("referral_not_found", "referral_id"));
    }
    let mut ev = staff.audit("sensitive_delete", Action::Delete, Some(patient), "success");
    ev.reason = Some("referral_deleted");
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
