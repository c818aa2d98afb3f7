//! Time-boxed support access. Operator staff see no practice data unless a practice admin
//! grants it here: the grant names the operator's reference and reason, lasts at most eight
//! hours, can be revoked at any time, and every use is audited with its id. Support access is
//! read-only and never shows clinical text.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use domain::SupportGrantId;
use domain::bounded::Int;
use domain::practice::Permission;
use domain::text::Line;
use platform::ApiRouter;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::auth::session::new_support_token;
use platform::crypto::token_hash;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;
use uuid::Uuid;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_support_grants, create_support_grant))
        .routes(routes!(revoke_support_grant))
}

/// The longest a grant may last.
pub const MAX_MINUTES: i64 = 8 * 60;

/// A new grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSupportGrant {
    /// The operator's ticket or employee reference (not a name).
    pub operator_ref: Line<100>,
    /// Why access is needed.
    pub reason: Line<500>,
    /// How long, 5 to 480 minutes.
    pub minutes: Int<5, { MAX_MINUTES }>,
}

/// A grant as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportGrant {
    /// The grant.
    pub grant_id: SupportGrantId,
    /// Operator reference.
    pub operator_ref: String,
    /// Reason.
    pub reason: String,
    /// Starts.
    pub starts_at: DateTime<Utc>,
    /// Ends.
    pub expires_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new grant with its token, shown once; hand it to the operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSupportGrant {
    /// The grant.
    #[serde(flatten)]
    pub grant: SupportGrant,
    /// Bearer token for read-only access until `expires_at`.
    pub support_token: String,
}

/// Grants operator support read access for a limited time.
#[utoipa::path(post, path = "/v1/support-grants", tag = "support", security(("session" = [])), request_body = NewSupportGrant,
    responses((status = 201, body = CreatedSupportGrant), (status = 403, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn create_support_grant(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<NewSupportGrant>,
) -> ApiResult<(StatusCode, Json<CreatedSupportGrant>)> {
    staff.require(&state, Permission::SupportGrant).await?;
    let operator_ref = body.operator_ref.as_str();
    let reason = body.reason.as_str();
    let grant_id = SupportGrantId::new();
    let token = new_support_token(staff.practice());
    let starts_at = Utc::now();
    let expires_at = starts_at + Duration::minutes(body.minutes.get());
    let mut tx = state.db().tenant(staff.practice()).await?;
    sqlx::query(
        r#"insert into core.support_grant (practice_id, grant_id, granted_by, operator_ref, reason, starts_at, expires_at, token_hash)
           values ($1, $2, $3, $4, $5, $6, $7, $8)"#,
    )
    .bind(staff.practice().as_uuid())
    .bind(grant_id.as_uuid())
    .bind(staff.staff_id().as_uuid())
    .bind(operator_ref)
    .bind(reason)
    .bind(starts_at)
    .bind(expires_at)
    .bind(token_hash(&token))
    .execute(&mut *tx)
    .await?;
    let mut ev = staff.audit("support_access_granted", Action::Create, None, "success");
    ev.support_grant = Some(grant_id);
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSupportGrant {
            grant: SupportGrant {
                grant_id,
                operator_ref: operator_ref.to_owned(),
                reason: reason.to_owned(),
                starts_at,
                expires_at,
                revoked_at: None,
            },
            support_token: token,
        }),
    ))
}

/// Lists the practice's support grants, newest first.
#[utoipa::path(get, path = "/v1/support-grants", tag = "support", security(("session" = [])),
    responses((status = 200, body = [SupportGrant]), (status = 403, body = platform::error::Problem)))]
pub async fn list_support_grants(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<SupportGrant>>> {
    staff.require(&state, Permission::SupportGrant).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows: Vec<GrantRow> = sqlx::query_as(
        "select grant_id, operator_ref, reason, starts_at, expires_at, revoked_at from core.support_grant order by starts_at desc",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| SupportGrant {
                grant_id: SupportGrantId::from_uuid(r.grant_id),
                operator_ref: r.operator_ref,
                reason: r.reason,
                starts_at: r.starts_at,
                expires_at: r.expires_at,
                revoked_at: r.revoked_at,
            })
            .collect(),
    ))
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    grant_id: Uuid,
    operator_ref: String,
    reason: String,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Ends a support grant now.
#[utoipa::path(delete, path = "/v1/support-grants/{grant_id}", tag = "support", security(("session" = [])),
    params(("grant_id" = Uuid, Path)), responses((status = 204), (status = 404, body = platform::error::Problem)))]
pub async fn revoke_support_grant(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::SupportGrant).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let found = sqlx::query("update core.support_grant set revoked_at = coalesce(revoked_at, now()) where grant_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if found == 0 {
        return Err(ApiError::not_found("support_grant_not_found", "grant_id"));
    }
    let mut ev = staff.audit("support_access_revoked", Action::Update, None, "success");
    ev.support_grant = Some(SupportGrantId::from_uuid(id));
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
