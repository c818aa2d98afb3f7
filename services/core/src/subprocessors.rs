//! The subprocessor register as practices see it, their objections, and the disclosure log of
//! what left the system for each practice.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::practice::Permission;
use platform::ApiRouter;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::error::ResultExt;
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;
use uuid::Uuid;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_subprocessors))
        .routes(routes!(object, withdraw_objection))
        .routes(routes!(list_disclosures))
}

/// A subprocessor in the register.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Subprocessor {
    /// Register id.
    pub subprocessor_id: String,
    /// Legal entity.
    pub legal_entity: String,
    /// Country (ISO 3166-1).
    pub country: String,
    /// In the EU/EEA.
    pub eu_eea: bool,
    /// Transfer basis outside the EU/EEA.
    pub transfer_basis: Option<String>,
    /// What it does for us.
    pub activities: String,
    /// Data categories it receives.
    pub data_categories: Vec<String>,
    /// In use.
    pub active: bool,
    /// When announced.
    pub announced_at: DateTime<Utc>,
    /// End of the objection window.
    pub effective_at: DateTime<Utc>,
    /// Whether this practice objected.
    pub objected: bool,
}

/// The register, with this practice's objections.
#[utoipa::path(get, path = "/v1/subprocessors", tag = "privacy", security(("session" = [])),
    responses((status = 200, body = [Subprocessor])))]
pub async fn list_subprocessors(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<Subprocessor>>> {
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(
        r#"select s.subprocessor_id, s.legal_entity, s.country, s.eu_eea, s.transfer_basis, s.activities, s.data_categories,
                  s.active, s.announced_at, s.effective_at,
                  exists (select 1 from core.subprocessor_objection o where o.subprocessor_id = s.subprocessor_id) as objected
             from core.subprocessor s order by s.subprocessor_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// An objection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Objection {
    /// Why (not empty; line breaks allowed).
    pub reason: domain::text::Text<1000>,
}

/// Objects to a subprocessor: from now on the gate refuses every call to it for this practice.
#[utoipa::path(post, path = "/v1/subprocessors/{subprocessor_id}/objection", tag = "privacy", security(("session" = [])),
    params(("subprocessor_id" = String, Path)), request_body = Objection,
    responses((status = 204), (status = 404, body = platform::error::Problem), (status = 403, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn object(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<Objection>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::PrivacyManage).await?;
    let reason = b.reason.as_str();
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query(
        r#"insert into core.subprocessor_objection (practice_id, subprocessor_id, objected_by, reason) values ($1, $2, $3, $4)
           on conflict (practice_id, subprocessor_id) do update set reason = excluded.reason"#,
    )
    .bind(staff.practice().as_uuid())
    .bind(&id)
    .bind(staff.staff_id().as_uuid())
    .bind(reason)
    .execute(&mut *tx)
    .await
    .on_constraint("subprocessor_objection_subprocessor_id_fkey", || {
        ApiError::not_found("subprocessor_not_found", "subprocessor_id")
    })?;
    let mut ev = staff.audit("subprocessor_objected", Action::Execute, None, "success");
    ev.purpose = "privacy";
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraws an objection.
#[utoipa::path(delete, path = "/v1/subprocessors/{subprocessor_id}/objection", tag = "privacy", security(("session" = [])),
    params(("subprocessor_id" = String, Path)), responses((status = 204), (status = 404, body = platform::error::Problem)))]
pub async fn withdraw_objection(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::PrivacyManage).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let n = sqlx::query("delete from core.subprocessor_objection where subprocessor_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found(
            "objection_not_found",
            "subprocessor_id",
        ));
    }
    let mut ev = staff.audit(
        "subprocessor_objection_withdrawn",
        Action::Execute,
        None,
        "success",
    );
    ev.purpose = "privacy";
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disclosure log filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DisclosureQuery {
    /// From this instant.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Only this subprocessor.
    #[serde(default)]
    pub subprocessor_id: Option<String>,
    /// At most this many (1 to 500, default 100), newest first.
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One disclosure.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct DisclosureView {
    /// Id.
    pub disclosure_id: Uuid,
    /// To whom.
    pub subprocessor_id: String,
    /// Why.
    pub purpose: String,
    /// Data categories.
    pub data_categories: Vec<String>,
    /// Field names (never values).
    pub fields: Vec<String>,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// `sent`, `failed` or `refused`.
    pub outcome: String,
    /// Refusal reason or error class.
    pub detail: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
}

/// What left the system for this practice, newest first.
#[utoipa::path(get, path = "/v1/disclosures", tag = "privacy", security(("session" = [])), params(DisclosureQuery),
    responses((status = 200, body = [DisclosureView]), (status = 403, body = platform::error::Problem)))]
pub async fn list_disclosures(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<DisclosureQuery>,
) -> ApiResult<Json<Vec<DisclosureView>>> {
    staff.require(&state, Permission::PrivacyManage).await?;
    let limit = platform::json::page_limit(q.limit, 100, 500)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(
        r#"select disclosure_id, subprocessor_id, purpose, data_categories, fields, occurred_at, outcome, detail, correlation_id
             from core.disclosure
            where ($1::timestamptz is null or occurred_at >= $1) and ($2::text is null or subprocessor_id = $2)
            order by occurred_at desc, disclosure_id desc limit $3"#,
    )
    .bind(q.from)
    .bind(q.subprocessor_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut ev = staff.audit("disclosure_log_read", Action::Read, None, "success");
    ev.purpose = "privacy";
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(Json(rows))
}
