//! SMS consent and the restriction of processing (GDPR art. 18).

use axum::Json;
use axum::extract::State;
use domain::PatientId;
use domain::practice::Permission;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiResult, AppState};
use uuid::Uuid;

use super::model::*;
use super::store::*;

/// Records the patient's consent to SMS messages.
#[utoipa::path(post, path = "/v1/patients/{patient_id}/sms-consent", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)), request_body = ConsentInput,
    responses((status = 200, body = Patient), (status = 404, body = platform::error::Problem)))]
pub async fn give_sms_consent(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ConsentInput>,
) -> ApiResult<Json<Patient>> {
    staff.require(&state, Permission::PatientWrite).await?;
    let at = consent_time(&body)?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    load(&mut tx, &state, practice, id, true).await?;
    let pid = PatientId::from_uuid(id);
    set_consent(&mut tx, pid, body.method, at).await?;
    let mut ev = staff.audit("sensitive_update", Action::Update, Some(pid), "success");
    ev.reason = Some("sms_consent_given");
    audit::record(&mut tx, practice, &ev).await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    tx.commit().await?;
    Ok(Json(redact(patient, |p| staff.can(p))))
}

/// Records that the patient withdrew SMS consent; no SMS goes out from then on.
#[utoipa::path(delete, path = "/v1/patients/{patient_id}/sms-consent", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Patient), (status = 404, body = platform::error::Problem)))]
pub async fn withdraw_sms_consent(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Patient>> {
    staff.require(&state, Permission::PatientWrite).await?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    load(&mut tx, &state, practice, id, true).await?;
    sqlx::query("update core.patient set sms_consent_withdrawn_at = now() where patient_id = $1 and sms_consent_withdrawn_at is null")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let pid = PatientId::from_uuid(id);
    let mut ev = staff.audit("sensitive_update", Action::Update, Some(pid), "success");
    ev.reason = Some("sms_consent_withdrawn");
    audit::record(&mut tx, practice, &ev).await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    tx.commit().await?;
    Ok(Json(redact(patient, |p| staff.can(p))))
}

/// Restricts processing of the patient's data (GDPR art. 18): no message goes to the patient
/// while the restriction lasts. Privacy managers (practice admins) only.
#[utoipa::path(post, path = "/v1/patients/{patient_id}/processing-restriction", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = platform::error::Problem), (status = 404, body = platform::error::Problem)))]
pub async fn restrict_processing(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::http::StatusCode> {
    set_restriction(&state, &staff, id, true).await
}

/// Lifts a restriction of processing.
#[utoipa::path(delete, path = "/v1/patients/{patient_id}/processing-restriction", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = platform::error::Problem), (status = 404, body = platform::error::Problem)))]
pub async fn lift_restriction(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::http::StatusCode> {
    set_restriction(&state, &staff, id, false).await
}

async fn set_restriction(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    restricted: bool,
) -> ApiResult<axum::http::StatusCode> {
    staff.require(state, Permission::PrivacyManage).await?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    load(&mut tx, state, practice, id, true).await?;
    sqlx::query(
        "update core.patient set processing_restricted_at = case when $2 then coalesce(processing_restricted_at, now()) end where patient_id = $1",
    )
    .bind(id)
    .bind(restricted)
    .execute(&mut *tx)
    .await?;
    let mut ev = staff.audit(
        "sensitive_update",
        Action::Update,
        Some(PatientId::from_uuid(id)),
        "success",
    );
    ev.reason = Some(if restricted {
        "processing_restricted"
    } else {
        "processing_restriction_lifted"
    });
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
